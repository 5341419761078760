package demo

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
	"github.com/flotilla-gitops/flotilla/render"
)

// HubName is the hub cluster's name: its folder, and its context in the
// demo's kubeconfig. No member may use it.
const HubName = "hub"

// clusterStartTimeout bounds the start of each control plane: several start
// at once, and the machine may have few cores.
const clusterStartTimeout = 3 * time.Minute

// Demo is a running demo: a hub with the controller, member clusters and a
// Git server. Start makes one; Close stops it.
type Demo struct {
	opts      Options
	layout    Layout
	temporary bool
	progress  *progress
	assets    string

	fleet    *fleet.Fleet
	targets  int
	repoName string
	nodes    map[string][]testenv.NodeSpec

	git       *testenv.GitServer
	repo      *testenv.GitRepository
	hub       *testenv.Cluster
	members   map[string]*testenv.Cluster
	names     []string        // member names, sorted
	pull      map[string]bool // the members declared with access mode Pull
	hubClient client.Client

	// agents are the agent processes of the pull clusters, by name.
	agentsMu sync.Mutex
	agents   map[string]*testenv.Process

	logFile        *os.File
	stopController context.CancelFunc
	controllerDone chan struct{} // closed when the controller stopped
	controllerErr  error         // set before controllerDone is closed
	control        *controlServer

	ready     atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Start validates the fleet, then starts the Git server, the hub and one
// member cluster per cluster file (concurrently), installs the CRDs, creates
// the namespace, Secrets and FleetRepository, and starts the controller in
// this process, printing progress to opts.Out. It does not wait for the
// fleet to sync: see WaitSynced. On error everything started is stopped
// again. ctx bounds the start; once Start returns, the demo runs until Close.
//
// Start sets controller-runtime's global logger, and the standard library's
// (which the Git server uses), to write to the demo's log file
// (Layout.ControllerLog); Close points the standard logger back at stderr.
func Start(ctx context.Context, opts Options) (_ *Demo, retErr error) {
	opts = opts.withDefaults()
	if opts.FleetDir == "" {
		return nil, errors.New("start the demo: no fleet folder given; pass --fleet with the folder that holds clusters/ and apps/")
	}
	d := &Demo{opts: opts, progress: &progress{out: opts.Out}, members: map[string]*testenv.Cluster{}, nodes: map[string][]testenv.NodeSpec{},
		pull: map[string]bool{}, agents: map[string]*testenv.Process{}}
	if err := d.loadFleet(ctx); err != nil {
		return nil, err
	}
	assets, err := findAssets(opts.AssetsDir)
	if err != nil {
		return nil, err
	}
	d.assets = assets
	d.progress.ok("control-plane binaries in %s", assets)

	if opts.ControlSocket != "-" {
		// The socket doubles as a lock: one demo per socket.
		ln, err := listenControl(opts.ControlSocket)
		if err != nil {
			return nil, err
		}
		d.control = d.serveControl(ln)
	}
	defer func() {
		if retErr != nil {
			_ = d.Close()
		}
	}()
	if d.layout, d.temporary, err = prepareDir(opts.Dir); err != nil {
		return nil, err
	}
	if d.logFile, err = os.OpenFile(d.layout.ControllerLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, fmt.Errorf("open the controller log: %w", err)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(d.logFile)))
	// The Git server logs each request with the standard logger: keep that
	// out of the terminal too.
	log.SetOutput(d.logFile)

	if err := d.startGit(ctx); err != nil {
		return nil, err
	}
	if err := d.startClusters(ctx); err != nil {
		return nil, err
	}
	if err := d.setUpHub(ctx); err != nil {
		return nil, err
	}
	if err := d.writeAccessFiles(); err != nil {
		return nil, err
	}
	if err := d.startController(); err != nil {
		return nil, err
	}
	if err := d.startAgents(ctx); err != nil {
		return nil, err
	}
	d.ready.Store(true)
	return d, nil
}

// loadFleet validates the fleet folder offline, as `flotilla validate`
// does, and sizes each cluster's nodes: nothing starts for a broken fleet.
func (d *Demo) loadFleet(ctx context.Context) error {
	if info, err := os.Stat(d.opts.FleetDir); err != nil || !info.IsDir() {
		return fmt.Errorf("the fleet folder %s does not exist here: run the demo from the Flotilla checkout, or pass --fleet with the folder that holds clusters/ and apps/", d.opts.FleetDir)
	}
	out, err := pipeline.Run(ctx, d.opts.FleetDir, render.New(render.Options{}))
	if err != nil {
		return fmt.Errorf("load the fleet: %w", err)
	}
	if errs := out.Errors(); len(errs) > 0 {
		lines := make([]string, 0, len(errs))
		for _, e := range errs {
			lines = append(lines, "  "+e.String())
		}
		return fmt.Errorf("the fleet %s has %d error(s); fix them (flotilla validate --repo %s lists them) and start again:\n%s",
			d.opts.FleetDir, len(errs), d.opts.FleetDir, strings.Join(lines, "\n"))
	}
	if len(out.Fleet.Clusters) == 0 {
		return fmt.Errorf("the fleet %s declares no cluster: add clusters/<name>.yaml files", d.opts.FleetDir)
	}
	for _, c := range out.Fleet.Clusters {
		file := out.Fleet.ClusterFiles[c.Name]
		if c.Name == HubName {
			return fmt.Errorf("%s: the demo names its hub %q: rename this cluster", file, HubName)
		}
		if c.Spec.Access.Mode == flotillav1.AccessPull {
			if d.opts.FlotillaBinary == "" {
				return fmt.Errorf("%s: spec.access.mode is Pull: the demo runs its agent as `flotilla agent`, a process of its own, and needs the flotilla binary for it: start the demo with `flotilla demo`", file)
			}
			d.pull[c.Name] = true
		}
		nodes, err := NodesFor(c, file)
		if err != nil {
			return err
		}
		d.nodes[c.Name] = nodes
		d.names = append(d.names, c.Name)
	}
	sort.Strings(d.names)
	d.fleet = out.Fleet
	d.targets = len(out.Placement.Targets)
	d.repoName = repositoryName(out.Fleet.Root)
	d.progress.ok("fleet %s: %s, %s, %s", d.opts.FleetDir, plural(len(out.Fleet.Clusters), "cluster"), plural(len(out.Fleet.Apps), "app"), plural(d.targets, "target"))
	return nil
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// repositoryName derives the Git repository and FleetRepository name from
// the fleet folder's name: "factory-fleet" for examples/factory-fleet.
func repositoryName(root string) string {
	base := strings.ToLower(filepath.Base(root))
	name := strings.Trim(nonName.ReplaceAllString(base, "-"), "-")
	if len(name) > 40 {
		name = strings.Trim(name[:40], "-")
	}
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = strings.Trim("fleet-"+name, "-")
	}
	return name
}

// startGit starts the Git server and seeds the repository from the fleet.
func (d *Demo) startGit(ctx context.Context) error {
	start := time.Now()
	git, err := testenv.StartGitServer(testenv.GitServerOptions{Dir: d.layout.GitDir()})
	if err != nil {
		return err
	}
	d.git = git
	repo, err := git.CreateRepository(ctx, d.repoName, d.fleet.Root)
	if err != nil {
		return err
	}
	d.repo = repo
	d.progress.ok("Git server: %s, seeded from %s (%s)", repo.HTTPURL, d.opts.FleetDir, since(start))
	return nil
}

// startClusters starts the hub and the members concurrently, reporting each
// as it becomes ready. On error the ones started are closed by Close.
func (d *Demo) startClusters(ctx context.Context) error {
	d.progress.step("starting the hub and %s: an API server and etcd each, and for each member a", plural(len(d.names), "cluster"))
	d.progress.info("controller-manager, a scheduler and kwok running simulated nodes (a minute or two)")
	start := time.Now()
	type result struct {
		name    string
		cluster *testenv.Cluster
		err     error
	}
	results := make(chan result)
	launch := func(opts testenv.ClusterOptions, describe string) {
		opts.AssetsDir, opts.StartTimeout = d.assets, clusterStartTimeout
		go func() {
			c, err := testenv.StartCluster(ctx, opts)
			if err == nil {
				d.progress.ok("%-18s ready in %s: %s", opts.Name, since(start), describe)
			} else {
				d.progress.fail("%-18s did not start: %v", opts.Name, err)
			}
			results <- result{name: opts.Name, cluster: c, err: err}
		}()
	}
	launch(testenv.ClusterOptions{Name: HubName, Dir: d.layout.HubDir()}, "control plane for Flotilla's objects")
	for _, name := range d.names {
		launch(testenv.ClusterOptions{
			Name:      name,
			Dir:       d.layout.ClusterDir(name),
			Workloads: &testenv.WorkloadOptions{Nodes: d.nodes[name]},
		}, describeNodes(d.nodes[name]))
	}
	var errs []error
	for range len(d.names) + 1 {
		r := <-results
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case r.name == HubName:
			d.hub = r.cluster
		default:
			d.members[r.name] = r.cluster
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("start the clusters: %w", err)
	}
	return nil
}

// describeNodes summarises simulated nodes: "2 nodes, each 4 CPU, 16Gi, 3 GPUs".
func describeNodes(nodes []testenv.NodeSpec) string {
	if len(nodes) == 0 {
		return "no node"
	}
	n := nodes[0]
	each := fmt.Sprintf("%s CPU, %s memory", n.CPU, n.Memory)
	if n.GPUs > 0 {
		each += fmt.Sprintf(", %d GPU", n.GPUs)
		if n.GPUs > 1 {
			each += "s"
		}
	}
	if len(nodes) == 1 {
		return "1 node: " + each
	}
	return fmt.Sprintf("%d nodes, each %s", len(nodes), each)
}

// Layout returns the demo folder's layout.
func (d *Demo) Layout() Layout { return d.layout }

// Hub returns the hub cluster.
func (d *Demo) Hub() *testenv.Cluster { return d.hub }

// Member returns a member cluster by name, or nil.
func (d *Demo) Member(name string) *testenv.Cluster { return d.members[name] }

// Repository returns the Git repository the FleetRepository syncs.
func (d *Demo) Repository() *testenv.GitRepository { return d.repo }

// Close stops the controller, the control socket, every cluster and the Git
// server, and removes the demo folder when it was temporary. It is safe to
// call more than once.
func (d *Demo) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.close() })
	return d.closeErr
}

func (d *Demo) close() error {
	var errs []error
	d.ready.Store(false)
	// The agents first: a site's agent must not outlive the hub it reports to.
	if err := d.stopAgents(); err != nil {
		errs = append(errs, err)
	}
	if d.stopController != nil {
		d.stopController()
		<-d.controllerDone
		if d.controllerErr != nil {
			errs = append(errs, fmt.Errorf("stop the controller: %w", d.controllerErr))
		}
	}
	if d.control != nil {
		if err := d.control.close(); err != nil {
			errs = append(errs, err)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	all := []*testenv.Cluster{d.hub}
	for _, name := range d.names {
		all = append(all, d.members[name])
	}
	for _, c := range all {
		if c == nil {
			continue
		}
		wg.Go(func() {
			if err := c.Close(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if d.git != nil {
		if err := d.git.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if d.logFile != nil {
		log.SetOutput(os.Stderr)
		_ = d.logFile.Close()
	}
	if d.temporary && d.layout.Root != "" {
		if err := os.RemoveAll(d.layout.Root); err != nil {
			errs = append(errs, fmt.Errorf("remove the demo folder: %w", err))
		}
	}
	return errors.Join(errs...)
}
