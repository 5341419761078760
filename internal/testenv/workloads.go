package testenv

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// workloadsReadyTimeout bounds the wait for nodes and controllers when the
// caller's context has no deadline.
const workloadsReadyTimeout = 90 * time.Second

// kwokStages holds kwok's "fast" node and pod Stage objects (see
// kwokstages/README.md).
//
//go:embed kwokstages/*.yaml
var kwokStages embed.FS

// WorkloadOptions makes a cluster run workloads: kube-controller-manager
// (every controller but the ServiceAccount token controller),
// kube-scheduler and kwok, all as child processes of this program, with
// simulated nodes. Deployments, ReplicaSets, Jobs, DaemonSets and
// StatefulSets then really become ready; pods are scheduled against the
// nodes' allocatable resources (GPUs included) and kwok marks them Running
// (Job pods Succeeded) without running any container.
//
// Unlike a bare envtest control plane, a workload cluster keeps the
// ServiceAccount admission plugin on, as a real cluster does: a pod naming a
// missing ServiceAccount is refused, and in a namespace created a moment ago
// pods wait (controllers retry) until kube-controller-manager has created its
// "default" ServiceAccount.
type WorkloadOptions struct {
	// Nodes are created once the components run and are Ready when
	// StartCluster returns. Empty means one node, DefaultNode().
	Nodes []NodeSpec
}

// workloads runs the components that make a cluster run pods.
type workloads struct {
	c     *Cluster
	opts  WorkloadOptions
	procs []*childProcess
}

func newWorkloads(c *Cluster, opts WorkloadOptions) *workloads {
	if len(opts.Nodes) == 0 {
		opts.Nodes = []NodeSpec{DefaultNode()}
	}
	return &workloads{c: c, opts: opts}
}

// start launches the components, creates the nodes that do not exist yet and
// waits until the nodes are Ready and the controllers work.
func (w *workloads) start(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, workloadsReadyTimeout)
	defer cancel()
	if err := w.startProcesses(); err != nil {
		return err
	}
	if err := w.c.createNodes(ctx, w.opts.Nodes); err != nil {
		return err
	}
	return w.waitReady(ctx)
}

// startProcesses writes kwok's stages file and starts kube-controller-manager,
// kube-scheduler and kwok against the admin kubeconfig.
func (w *workloads) startProcesses() error {
	stagesPath := filepath.Join(w.c.dir, "kwok-stages.yaml")
	if err := writeKwokStages(stagesPath); err != nil {
		return err
	}
	kubeconfig := "--kubeconfig=" + w.c.kubeconfigPath
	components := []struct {
		bin  string
		args []string
	}{
		{binControllerManager, []string{
			kubeconfig,
			// The token controller needs the service-account signing key; pods
			// get projected tokens from the API server instead.
			"--controllers=*,-serviceaccount-token-controller",
			"--leader-elect=false",
			"--secure-port=0",
		}},
		{binScheduler, []string{
			kubeconfig,
			"--leader-elect=false",
			"--secure-port=0",
		}},
		{binKwok, []string{
			kubeconfig,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=fake",
			"--cidr=10.0.0.1/24",
			"--node-ip=10.0.0.1",
			// Renew node leases (as kwokctl does): without them the node
			// lifecycle controller marks the nodes NotReady after its grace
			// period and every pod becomes unready for good.
			"--node-lease-duration-seconds=40",
			"--config=" + stagesPath,
		}},
	}
	env := append(os.Environ(), "HOME="+filepath.Join(w.c.dir, "home"), "KUBECONFIG=")
	for _, comp := range components {
		var p *childProcess
		err := w.c.thread.run(func() (err error) {
			p, err = startChild(comp.bin, filepath.Join(w.c.assets, comp.bin), comp.args, env,
				filepath.Join(w.c.LogDir(), comp.bin+".log"))
			return err
		})
		if err != nil {
			_ = w.stopProcesses()
			return err
		}
		w.procs = append(w.procs, p)
	}
	return nil
}

// stopProcesses stops the components, in reverse order of start.
func (w *workloads) stopProcesses() error {
	var errs []error
	for i := len(w.procs) - 1; i >= 0; i-- {
		if err := w.procs[i].stop(); err != nil {
			errs = append(errs, err)
		}
	}
	w.procs = nil
	return errors.Join(errs...)
}

// exitErr reports a component that has exited.
func (w *workloads) exitErr() error {
	for _, p := range w.procs {
		if err := p.exitErr(); err != nil {
			return err
		}
	}
	return nil
}

// waitReady waits until every node of the options is Ready (kwok works) and
// the "default" ServiceAccount exists in the default namespace
// (kube-controller-manager works), failing fast when a component exits.
func (w *workloads) waitReady(ctx context.Context) error {
	var pending string
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := w.exitErr(); err != nil {
			return false, err
		}
		for _, n := range w.opts.Nodes {
			node, err := w.c.clientset.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil || !nodeReady(node) {
				pending = "node " + n.Name + " to be Ready (kwok; see kwok.log)"
				return false, nil
			}
		}
		_, err := w.c.clientset.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			pending = "ServiceAccount default/default (kube-controller-manager; see kube-controller-manager.log)"
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w (logs in %s)", pending, err, w.c.LogDir())
	}
	return nil
}

// nodeReady reports whether the node's Ready condition is True.
func nodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// writeKwokStages writes the embedded stages as one multi-document YAML file.
func writeKwokStages(path string) error {
	entries, err := kwokStages.ReadDir("kwokstages")
	if err != nil {
		return fmt.Errorf("reading embedded kwok stages: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	docs := make([]string, 0, len(names))
	for _, name := range names {
		data, err := kwokStages.ReadFile("kwokstages/" + name)
		if err != nil {
			return fmt.Errorf("reading embedded kwok stage %s: %w", name, err)
		}
		docs = append(docs, strings.TrimSpace(string(data)))
	}
	if err := os.WriteFile(path, []byte(strings.Join(docs, "\n---\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing kwok stages: %w", err)
	}
	return nil
}

// ignoreAlreadyExists returns nil for an AlreadyExists error.
func ignoreAlreadyExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
