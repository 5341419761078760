package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-gitops/flotilla/agent"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// bootstrapTTL is how long the bootstrap credential the demo hands its
// agents is valid; they register within seconds, and later starts reuse the
// identity stored on their cluster.
const bootstrapTTL = time.Hour

// AgentLog is the log file of a pull cluster's agent, next to its cluster's
// process logs.
func (l Layout) AgentLog(name string) string {
	return filepath.Join(l.ClusterDir(name), "logs", "flotilla-agent.log")
}

// BootstrapKubeconfig is the bootstrap kubeconfig a pull cluster's agent
// registers with.
func (l Layout) BootstrapKubeconfig(name string) string {
	return filepath.Join(l.ClusterDir(name), "bootstrap.kubeconfig")
}

// pullClusters returns the names of the clusters declared with access
// mode Pull, sorted.
func (d *Demo) pullClusters() []string {
	var out []string
	for _, name := range d.names {
		if d.pull[name] {
			out = append(out, name)
		}
	}
	return out
}

// startAgents does for every pull cluster what an operator does on a real
// site (docs/hub.md, "Installing an agent on a site"): the namespace of the
// agent's Secrets on the member, a bootstrap kubeconfig from `flotilla
// cluster bootstrap-token`, and `flotilla agent` as a process of its own,
// given only the hub's URL, CA and bootstrap token, and the member's
// kubeconfig (the agent runs "in" the site). The hub approves the first
// registration of a pull cluster by itself.
func (d *Demo) startAgents(ctx context.Context) error {
	pull := d.pullClusters()
	if len(pull) == 0 {
		return nil
	}
	for _, name := range pull {
		if err := d.prepareSite(ctx, name); err != nil {
			return err
		}
		if err := d.writeBootstrapKubeconfig(ctx, name); err != nil {
			return err
		}
		if err := d.startAgent(name); err != nil {
			return err
		}
		d.progress.ok("%-18s pull mode: its agent runs as a process of its own, registers with a bootstrap token (log: %s)", name, d.layout.AgentLog(name))
	}
	return nil
}

// prepareSite creates the agent's state namespace on the member, as
// config/agent does on a real site.
func (d *Demo) prepareSite(ctx context.Context, name string) error {
	cl, err := d.members[name].NewClient(nil)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: agent.DefaultStateNamespace}}
	err = testenv.Retry(ctx, func(ctx context.Context) error {
		if err := cl.Create(ctx, ns.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create namespace %s for the agent on %s: %w", agent.DefaultStateNamespace, name, err)
	}
	return nil
}

// writeBootstrapKubeconfig runs `flotilla cluster bootstrap-token
// --kubeconfig-out` against the hub, as an operator would.
func (d *Demo) writeBootstrapKubeconfig(ctx context.Context, name string) error {
	args := []string{"cluster", "bootstrap-token", "--kubeconfig", d.hub.KubeconfigPath(), "--namespace", d.opts.Namespace,
		"--ttl", bootstrapTTL.String(), "--kubeconfig-out", d.layout.BootstrapKubeconfig(name)}
	out, err := exec.CommandContext(ctx, d.opts.FlotillaBinary, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("write the bootstrap kubeconfig of pull cluster %s: flotilla %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// agentArgs are the arguments of `flotilla agent` for a pull cluster.
func (d *Demo) agentArgs(name string) []string {
	return []string{"agent",
		"--cluster", name,
		"--fleet-namespace", d.opts.Namespace,
		"--bootstrap-kubeconfig", d.layout.BootstrapKubeconfig(name),
		"--kubeconfig", d.members[name].KubeconfigPath(),
		"--heartbeat-interval", d.opts.Heartbeat.String(),
		"--health-poll-interval", time.Second.String(),
		"--metrics-addr", "0", "--health-addr", "0",
	}
}

// startAgent starts the agent process of a pull cluster; it logs to
// Layout.AgentLog. Starting a running agent does nothing.
func (d *Demo) startAgent(name string) error {
	d.agentsMu.Lock()
	defer d.agentsMu.Unlock()
	if p := d.agents[name]; p != nil && p.Exited() == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(d.layout.AgentLog(name)), 0o700); err != nil {
		return fmt.Errorf("start the agent of %s: %w", name, err)
	}
	p, err := testenv.StartProcess("flotilla agent "+name, d.opts.FlotillaBinary, d.agentArgs(name), os.Environ(), d.layout.AgentLog(name))
	if err != nil {
		return fmt.Errorf("start the agent of pull cluster %s: %w", name, err)
	}
	d.agents[name] = p
	return nil
}

// stopAgent stops the agent of a pull cluster, if it runs.
func (d *Demo) stopAgent(name string) error {
	d.agentsMu.Lock()
	defer d.agentsMu.Unlock()
	p := d.agents[name]
	if p == nil {
		return nil
	}
	delete(d.agents, name)
	if err := p.Stop(); err != nil {
		return fmt.Errorf("stop the agent of %s: %w", name, err)
	}
	return nil
}

// stopAgents stops every agent.
func (d *Demo) stopAgents() error {
	var errs []error
	for _, name := range d.pullClusters() {
		errs = append(errs, d.stopAgent(name))
	}
	return errors.Join(errs...)
}

// agentExited returns why an agent stopped while the demo runs, or nil.
func (d *Demo) agentExited() error {
	d.agentsMu.Lock()
	defer d.agentsMu.Unlock()
	for _, name := range d.pullClusters() {
		if p := d.agents[name]; p != nil {
			if err := p.Exited(); err != nil {
				return fmt.Errorf("the agent of pull cluster %s stopped: %w", name, err)
			}
		}
	}
	return nil
}
