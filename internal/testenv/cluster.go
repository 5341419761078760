package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// defaultStartTimeout bounds the start of etcd and of kube-apiserver, each.
// Generous, because tests start several control planes at once on few cores.
const defaultStartTimeout = 90 * time.Second

// controlPlaneStopTimeout bounds the stop of etcd and of kube-apiserver, each.
const controlPlaneStopTimeout = 30 * time.Second

// ClusterOptions configures a cluster started by StartCluster.
type ClusterOptions struct {
	// Name names the cluster: its kubeconfig's cluster, user and context, and
	// its folder. Required: lower-case letters, digits and '-', starting with
	// a letter (for example "hub", "factory-a").
	Name string

	// Dir is the folder for the cluster's etcd data, certificates, kubeconfig
	// and logs. Empty means a new temporary folder that Close removes; a
	// folder given here is created if needed and kept.
	Dir string

	// AssetsDir holds the binaries (kube-apiserver, etcd, kubectl, and for
	// workloads kube-controller-manager, kube-scheduler, kwok). Empty means
	// AssetsDir().
	AssetsDir string

	// CRDDirectoryPaths are files or folders of CustomResourceDefinition YAML
	// installed (and waited for) once the cluster is up. A missing path is an
	// error.
	CRDDirectoryPaths []string

	// Workloads, when set, makes the cluster run workloads: see
	// WorkloadOptions. Nil gives a bare control plane (no controllers, no
	// nodes: Deployments are stored but never run).
	Workloads *WorkloadOptions

	// StartTimeout bounds the start of etcd and of kube-apiserver, each.
	// Zero means 90 seconds.
	StartTimeout time.Duration
}

// Cluster is one real Kubernetes control plane (etcd and kube-apiserver from
// envtest), optionally running workloads. Its address, certificates and data
// survive Stop and Restart, so a kubeconfig or rest.Config taken before Stop
// works again after Restart. Methods are safe for concurrent use.
type Cluster struct {
	name      string
	dir       string
	removeDir bool
	assets    string

	env            *envtest.Environment
	cfg            *rest.Config
	clientset      kubernetes.Interface
	kubeconfig     []byte
	kubeconfigPath string
	logFiles       []*os.File

	workloads *workloads // nil for a bare control plane
	thread    *startThread

	mu      sync.Mutex // serialises Stop, Restart and Close
	running bool
	closed  bool
}

var clusterNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// StartCluster starts a cluster and waits until it serves requests (and, with
// Workloads, until its nodes are Ready). ctx bounds the waits that follow the
// start of the control plane, whose own start is bounded by
// opts.StartTimeout. On error nothing is left running. Call Close when done.
func StartCluster(ctx context.Context, opts ClusterOptions) (_ *Cluster, retErr error) {
	if !clusterNameRE.MatchString(opts.Name) {
		return nil, fmt.Errorf("starting cluster: ClusterOptions.Name %q is invalid: use lower-case letters, digits and '-', starting with a letter", opts.Name)
	}
	c := &Cluster{name: opts.Name, thread: newStartThread()}
	defer func() {
		if retErr != nil {
			_ = c.Close()
		}
	}()

	assets := opts.AssetsDir
	if assets == "" {
		var err error
		if assets, err = AssetsDir(); err != nil {
			return nil, fmt.Errorf("starting cluster %s: %w", c.name, err)
		}
	}
	if err := checkBinaries(assets, controlPlaneBinaries); err != nil {
		return nil, fmt.Errorf("starting cluster %s: %w", c.name, err)
	}
	if opts.Workloads != nil {
		if err := checkBinaries(assets, workloadBinaries); err != nil {
			return nil, fmt.Errorf("starting cluster %s with workloads: %w", c.name, err)
		}
	}
	c.assets = assets

	if err := c.prepareDir(opts.Dir); err != nil {
		return nil, err
	}
	if err := c.newEnvironment(opts); err != nil {
		return nil, err
	}

	var cfg *rest.Config
	err := c.thread.run(func() (err error) {
		cfg, err = c.env.Start()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("starting cluster %s: %w (logs in %s)", c.name, err, c.LogDir())
	}
	c.running = true
	c.cfg = rest.CopyConfig(cfg)
	if c.clientset, err = kubernetes.NewForConfig(c.cfg); err != nil {
		return nil, fmt.Errorf("starting cluster %s: creating clientset: %w", c.name, err)
	}
	if c.kubeconfig, err = Kubeconfig(c.name, c.cfg); err != nil {
		return nil, fmt.Errorf("starting cluster %s: %w", c.name, err)
	}
	c.kubeconfigPath = filepath.Join(c.dir, "kubeconfig")
	if err := os.WriteFile(c.kubeconfigPath, c.kubeconfig, 0o600); err != nil {
		return nil, fmt.Errorf("starting cluster %s: writing kubeconfig: %w", c.name, err)
	}

	if opts.Workloads != nil {
		c.workloads = newWorkloads(c, *opts.Workloads)
		if err := c.workloads.start(ctx); err != nil {
			return nil, fmt.Errorf("starting cluster %s: %w", c.name, err)
		}
	}
	return c, nil
}

// StartClusters starts one cluster per options, concurrently, and returns them
// in the same order. Names must be unique. If any fails, the others are closed
// and the errors are joined.
func StartClusters(ctx context.Context, opts ...ClusterOptions) ([]*Cluster, error) {
	seen := map[string]bool{}
	for _, o := range opts {
		if seen[o.Name] {
			return nil, fmt.Errorf("starting clusters: name %q is used twice; give each ClusterOptions a unique Name", o.Name)
		}
		seen[o.Name] = true
	}
	clusters := make([]*Cluster, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Go(func() {
			clusters[i], errs[i] = StartCluster(ctx, o)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range clusters {
			if c != nil {
				_ = c.Close()
			}
		}
		return nil, err
	}
	return clusters, nil
}

// prepareDir creates the cluster's folder and its sub-folders.
func (c *Cluster) prepareDir(dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "flotilla-testenv-"+c.name+"-")
		if err != nil {
			return fmt.Errorf("starting cluster %s: creating its folder: %w", c.name, err)
		}
		dir, c.removeDir = tmp, true
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("starting cluster %s: resolving ClusterOptions.Dir %q: %w", c.name, dir, err)
	}
	c.dir = abs
	for _, sub := range []string{"etcd", "certs", "logs", "bin", "home"} {
		if err := os.MkdirAll(filepath.Join(c.dir, sub), 0o700); err != nil {
			return fmt.Errorf("starting cluster %s: creating %s folder: %w", c.name, sub, err)
		}
	}
	return nil
}

// newEnvironment configures envtest with fixed folders for certificates and
// etcd data, so that a restart reuses them, and with log files.
func (c *Cluster) newEnvironment(opts ClusterOptions) error {
	etcdLog, err := c.openLog("etcd.log")
	if err != nil {
		return err
	}
	apiLog, err := c.openLog("kube-apiserver.log")
	if err != nil {
		return err
	}
	binDir := filepath.Join(c.dir, "bin")
	etcdPath, err := withDeathSignal(binDir, filepath.Join(c.assets, binEtcd))
	if err != nil {
		return fmt.Errorf("starting cluster %s: %w", c.name, err)
	}
	apiPath, err := withDeathSignal(binDir, filepath.Join(c.assets, binAPIServer))
	if err != nil {
		return fmt.Errorf("starting cluster %s: %w", c.name, err)
	}

	startTimeout := opts.StartTimeout
	if startTimeout == 0 {
		startTimeout = defaultStartTimeout
	}
	useExisting := false
	apiServer := &envtest.APIServer{
		Path:    apiPath,
		CertDir: filepath.Join(c.dir, "certs"),
		Out:     apiLog,
		Err:     apiLog,
	}
	if opts.Workloads != nil {
		// envtest disables the ServiceAccount admission plugin because it runs
		// no controllers. A workload cluster runs kube-controller-manager,
		// which creates the default ServiceAccounts, so keep the plugin on as
		// in a real cluster: a pod naming a missing ServiceAccount is refused.
		apiServer.Configure().Disable("disable-admission-plugins")
	}
	c.env = &envtest.Environment{
		ControlPlane: envtest.ControlPlane{
			APIServer: apiServer,
			Etcd: &envtest.Etcd{
				Path:    etcdPath,
				DataDir: filepath.Join(c.dir, "etcd"),
				Out:     etcdLog,
				Err:     etcdLog,
			},
			KubectlPath: filepath.Join(c.assets, binKubectl),
		},
		BinaryAssetsDirectory:    c.assets,
		UseExistingCluster:       &useExisting,
		ControlPlaneStartTimeout: startTimeout,
		ControlPlaneStopTimeout:  controlPlaneStopTimeout,
		CRDDirectoryPaths:        opts.CRDDirectoryPaths,
		ErrorIfCRDPathMissing:    true,
	}
	return nil
}

// openLog opens (appending) a log file in the cluster's logs folder.
func (c *Cluster) openLog(name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(c.LogDir(), name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("starting cluster %s: opening log %s: %w", c.name, name, err)
	}
	c.logFiles = append(c.logFiles, f)
	return f, nil
}

// Name returns the cluster's name.
func (c *Cluster) Name() string { return c.name }

// Dir returns the cluster's folder (etcd data, certificates, kubeconfig, logs).
func (c *Cluster) Dir() string { return c.dir }

// LogDir returns the folder holding one log file per process of the cluster
// (etcd.log, kube-apiserver.log, and for workloads
// kube-controller-manager.log, kube-scheduler.log, kwok.log).
func (c *Cluster) LogDir() string { return filepath.Join(c.dir, "logs") }

// Config returns a copy of the admin (system:masters) rest.Config, with the
// credentials embedded.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.cfg) }

// Host returns the API server's URL, for example https://127.0.0.1:43121/.
// It does not change across Stop and Restart.
func (c *Cluster) Host() string { return c.cfg.Host }

// KubeconfigPath returns the path of the admin kubeconfig file. It embeds its
// credentials (no exec plugin), so real kubectl and other programs can use it.
func (c *Cluster) KubeconfigPath() string { return c.kubeconfigPath }

// Kubeconfig returns the content of the admin kubeconfig file; its cluster,
// user and context are named after the cluster.
func (c *Cluster) Kubeconfig() []byte { return append([]byte(nil), c.kubeconfig...) }

// RunsWorkloads reports whether the cluster runs kube-controller-manager,
// kube-scheduler and kwok.
func (c *Cluster) RunsWorkloads() bool { return c.workloads != nil }

// Running reports whether the cluster is up (started and not stopped).
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running
}

// NewClient returns a controller-runtime client for the admin user. A nil
// scheme means client-go's scheme (built-in kinds only). Requests that never
// reached the apiserver (connection refused, TLS handshake timeout) are sent
// again until their context ends, so tests pass on a loaded machine; build a
// client from Config to see such errors at once.
func (c *Cluster) NewClient(scheme *runtime.Scheme) (client.Client, error) {
	if scheme == nil {
		scheme = clientgoscheme.Scheme
	}
	cfg := c.Config()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return retryUnsent{next: rt} })
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("creating client for cluster %s: %w", c.name, err)
	}
	return cl, nil
}

// AddUser provisions a user authenticated by a client certificate, member of
// groups, and returns a rest.Config for it. The user has no permissions
// beyond those RBAC gives to its name or groups ("system:masters" makes it an
// admin). Use Kubeconfig to turn the result into a kubeconfig.
func (c *Cluster) AddUser(name string, groups ...string) (*rest.Config, error) {
	u, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, rest.CopyConfig(c.cfg))
	if err != nil {
		return nil, fmt.Errorf("adding user %q to cluster %s: %w", name, c.name, err)
	}
	cfg := u.Config()
	// The admin's client certificate was copied from the base config;
	// AddUser replaced it with the new user's.
	return rest.CopyConfig(cfg), nil
}

// InstallCRDs installs the CustomResourceDefinitions found in paths (files or
// folders of YAML) and waits until they are served. Installing again updates
// them.
func (c *Cluster) InstallCRDs(paths ...string) error {
	_, err := envtest.InstallCRDs(c.Config(), envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true})
	if err != nil {
		return fmt.Errorf("installing CRDs from %v into cluster %s: %w", paths, c.name, err)
	}
	return nil
}
