package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-gitops/flotilla/agent"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/controllers"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

const (
	// pullHeartbeat is the heartbeat interval of both modes in
	// BenchmarkPullSync: the agents' --heartbeat-interval and the hub
	// controller's HeartbeatInterval (push probes each cluster at it; pull
	// calls an agent silent after three of them). Compressed from the
	// default 30 s so that the idle window holds several heartbeats.
	pullHeartbeat = 20 * time.Second
	// idleWindow is the measured window without commits: six heartbeats.
	idleWindow = 6 * pullHeartbeat
	// registering bounds the agents registering at once: each polls its
	// ClusterRegistration every two seconds until the hub approves it.
	registering = 32
)

// BenchmarkPullSync measures pull mode against push mode at the same N, in
// the same run: N logical clusters spread over K real member API servers
// (the fleet, the commits and the hub controller of BenchmarkHubSync),
// first with the hub pushing to them, then, in a new environment, with N
// in-process agents (package agent), each registered through the real
// registration flow with its own identity, pulling their Bundles from the
// hub and applying them to the same kind of member API servers. Run it with
// -benchtime 1x.
//
// Metrics (per sub-benchmark; push-* and pull-* for each mode):
//   - {push,pull}-commit-{p50,p99,max}-s: commit announced -> cluster
//     synced (ClusterSync applied and Ready), the median of the commit
//     rounds; pull/push-{p50,p99,max}: their ratio (the goal is <= 1.5);
//   - {push,pull}-commit-hub-req/cluster: requests the hub API server served
//     per cluster during a commit, heartbeats included;
//   - {push,pull}-commit-hub-cpu-s: hub API server CPU during a commit;
//   - {push,pull}-idle-hub-req/cluster/min: requests the hub API server
//     served per cluster and minute during idleWindow without commits;
//     pull-idle-agent-req/agent/min: the part the agents sent (their
//     resources: agents, bundles, bundlechunks, their token);
//     heartbeat-req/agent/min: one request per heartbeat interval, the
//     goal's yardstick; pull-idle-agent/heartbeat: their ratio (the goal
//     is <= 1);
//   - {push,pull}-idle-hub-cpu-%: hub API server CPU during idleWindow, in
//     percent of one core.
//
// A breakdown (requests by verb and resource, CPU by process) is printed
// after each sub-benchmark.
func BenchmarkPullSync(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) { benchmarkPullSync(b, n) })
	}
}

// modeResult is what one mode cost at one N.
type modeResult struct {
	mode          string
	first, change *phaseResult
	changes       []*phaseResult
	idle          *idleResult
	// split is, for pull, the median commit's Bundles written by the hub
	// and reported by the agents (times from the announcement, sorted).
	written, reported []time.Duration
}

// idleResult is one window without commits.
type idleResult struct {
	wall        time.Duration
	hub, member serverRequests
	cpu         cpuTimes
}

func benchmarkPullSync(b *testing.B, n int) {
	b.StopTimer()
	push := runPushMode(b, n)
	pull := runPullMode(b, n)
	reportPullMetrics(b, n, push, pull)
	printPullDetails(n, push, pull)
}

// controllerOptions are the hub controller's options in both modes.
func pullBenchControllerOptions() controllers.Options {
	return controllers.Options{
		HeartbeatInterval:    pullHeartbeat,
		DefaultDriftInterval: time.Hour,
		SyncWorkers:          syncWorkers,
	}
}

// runPushMode measures push mode at n: the first sync, the commit rounds
// of BenchmarkHubSync, then the idle window; its control planes are
// stopped before it returns.
func runPushMode(b *testing.B, n int) *modeResult {
	ctx := b.Context()
	e := newHubEnv(b, n, memberServers)
	defer e.close()
	timeout := 5*time.Minute + time.Duration(n)*time.Second
	tracker := newSyncTracker(n)
	e.startController(pullBenchControllerOptions(), tracker)
	res := &modeResult{mode: "push"}
	res.first = e.phase(ctx, tracker, "first sync", e.repo.InitialCommit, timeout, false, func() { e.createRepository(ctx) },
		func() { e.waitClustersSettled(ctx, n, timeout) })
	res.changes, res.change = e.commitRounds(ctx, tracker, n, timeout)
	res.idle = e.idle(ctx, idleWindow)
	return res
}

// runPullMode measures pull mode at n in a new environment: every cluster
// is declared Pull, and n agents register with a bootstrap token, obtain
// their own identities and sync their clusters.
func runPullMode(b *testing.B, n int) *modeResult {
	ctx := b.Context()
	e := newHubEnvWith(b, n, memberServers, func(dir string) error {
		files := fleetFiles(n, memberServers, "r1")
		for i := range n {
			files["clusters/"+clusterName(i)+".yaml"] = pullClusterFile(i, memberServers)
		}
		return writeFiles(dir, files)
	})
	defer e.close()
	timeout := 5*time.Minute + 2*time.Duration(n)*time.Second
	bootstrap := e.bootstrapConfig(ctx)
	e.createAgentStateNamespaces(ctx, n)
	tracker := newSyncTracker(n)
	e.startController(pullBenchControllerOptions(), tracker)
	bundles := &bundleTracker{}
	if err := bundles.attach(ctx, e.cache); err != nil {
		b.Fatal(err)
	}
	e.beforeCommit = bundles.begin
	agents := &agentFleet{}
	defer agents.stop()

	res := &modeResult{mode: "pull"}
	// The first sync includes the registration of every agent.
	res.first = e.phase(ctx, tracker, "first sync", e.repo.InitialCommit, timeout, false, func() {
		e.createRepository(ctx)
		go agents.start(b, e, n, bootstrap)
	}, func() { e.waitClustersSettled(ctx, n, timeout) })
	if err := agents.failed(); err != nil {
		b.Fatal(err)
	}
	type split struct{ written, reported []time.Duration }
	splits := map[*phaseResult]split{}
	e.afterCommit = func(p *phaseResult) {
		w, r := bundles.split()
		splits[p] = split{w, r}
	}
	res.changes, res.change = e.commitRounds(ctx, tracker, n, timeout)
	res.written, res.reported = splits[res.change].written, splits[res.change].reported
	res.idle = e.idle(ctx, idleWindow)
	if err := agents.failed(); err != nil {
		b.Fatal(err)
	}
	return res
}

// pullClusterFile is clusterFile for a cluster the hub reaches in pull
// mode.
func pullClusterFile(i, members int) []byte {
	return append(clusterFile(i, members), "  access:\n    mode: Pull\n"...)
}

// commitRounds pushes the commits of BenchmarkHubSync (each changing
// every cluster's objects), announces and times each, checks the result
// and returns every round and the median one.
func (e *hubEnv) commitRounds(ctx context.Context, tracker *syncTracker, n int, timeout time.Duration) ([]*phaseResult, *phaseResult) {
	e.b.Helper()
	var changes []*phaseResult
	var last string
	for round := range commitRounds(n) {
		release := fmt.Sprintf("r%d", round+2)
		e.work.WriteFile(objectsPath, objectsFile(release))
		rev := e.work.CommitAll("release " + release + " on every site")
		e.work.Push()
		ph := e.phase(ctx, tracker, "commit", rev, timeout, true, func() {
			if e.beforeCommit != nil {
				e.beforeCommit(rev)
			}
			e.announce(ctx)
		})
		if e.afterCommit != nil {
			e.afterCommit(ph)
		}
		changes = append(changes, ph)
		last = release
	}
	e.checkApplied(ctx, e.renderAt(ctx, n, last), last)
	return changes, median(changes, func(p *phaseResult) time.Duration { return p.wall })
}

// idle measures a window without commits, after the last commit's
// aftermath (late status writes) has passed.
func (e *hubEnv) idle(ctx context.Context, window time.Duration) *idleResult {
	e.b.Helper()
	time.Sleep(5 * time.Second)
	hub, member := e.scrape(ctx, []*testenv.Cluster{e.hub}), e.scrape(ctx, e.members)
	cpu := e.cpu.read()
	began := time.Now()
	time.Sleep(window)
	cpuUsed := e.cpu.read().sub(cpu)
	return &idleResult{
		wall: time.Since(began), cpu: cpuUsed,
		hub:    e.scrapeSince(ctx, []*testenv.Cluster{e.hub}, hub),
		member: e.scrapeSince(ctx, e.members, member),
	}
}

// close stops the controller and the control planes of e, so that the
// next environment of the run has the machine to itself.
func (e *hubEnv) close() {
	e.stopController()
	for _, c := range append([]*testenv.Cluster{e.hub}, e.members...) {
		_ = c.Close()
	}
}

// bootstrapConfig creates the bootstrap identity as `flotilla cluster
// bootstrap-token` does (ServiceAccount flotilla-bootstrap allowed to
// create and read ClusterRegistrations) and returns a hub config carrying
// a token of it and nothing else.
func (e *hubEnv) bootstrapConfig(ctx context.Context) *rest.Config {
	e.b.Helper()
	name := flotillav1.BootstrapServiceAccount
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: name}}
	e.create(ctx, sa)
	e.create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{flotillav1.GroupVersion.Group}, Resources: []string{"clusterregistrations"}, Verbs: []string{"create", "get", "list", "watch"}}},
	})
	e.create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: fleetNamespace, Name: name}},
	})
	secs := int64(4 * 3600)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}
	if err := testenv.Retry(ctx, func(ctx context.Context) error { return e.hubCl.SubResource("token").Create(ctx, sa, tr) }); err != nil {
		e.b.Fatalf("issue the bootstrap token: %v", err)
	}
	admin := e.hub.Config()
	return &rest.Config{Host: admin.Host, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData}, BearerToken: tr.Status.Token}
}

// agentStateNamespace is the member namespace of logical cluster i's agent
// (its identity and state Secrets): the logical clusters sharing a member
// API server each need their own.
func agentStateNamespace(i int) string { return "agent-" + clusterName(i) }

// createAgentStateNamespaces creates each agent's state namespace on its
// member API server.
func (e *hubEnv) createAgentStateNamespaces(ctx context.Context, n int) {
	e.b.Helper()
	clients := make([]client.Client, len(e.members))
	for k, m := range e.members {
		cl, err := m.NewClient(nil)
		if err != nil {
			e.b.Fatal(err)
		}
		clients[k] = cl
	}
	parallel(e.b, n, 8, func(i int) error {
		return clients[i%len(e.members)].Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: agentStateNamespace(i)}})
	})
}

// agentFleet runs the in-process agents.
type agentFleet struct {
	mu      sync.Mutex
	cancels []context.CancelFunc
	wg      sync.WaitGroup
	err     error
	stopped bool
}

// start starts agent i for every logical cluster: its own bootstrap
// registration, its own identity (a token of its own ServiceAccount, so the
// hub API server authenticates and authorizes each agent on its own), and
// the admin credential of its member API server. At most registering
// agents wait for their identity at once.
func (f *agentFleet) start(b *testing.B, e *hubEnv, n int, bootstrap *rest.Config) {
	slots := make(chan struct{}, registering)
	for i := range n {
		a, err := agent.New(agent.Options{
			Cluster:           clusterName(i),
			FleetNamespace:    fleetNamespace,
			Bootstrap:         rest.CopyConfig(bootstrap),
			Member:            e.members[i%len(e.members)].Config(),
			StateNamespace:    agentStateNamespace(i),
			HeartbeatInterval: pullHeartbeat,
		})
		if err != nil {
			f.fail(fmt.Errorf("agent %s: %w", clusterName(i), err))
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		ctx = ctrl.LoggerInto(ctx, ctrl.Log.WithName("agent"))
		f.mu.Lock()
		if f.stopped {
			f.mu.Unlock()
			cancel()
			return
		}
		f.cancels = append(f.cancels, cancel)
		f.wg.Add(1)
		f.mu.Unlock()
		slots <- struct{}{}
		go func() {
			defer f.wg.Done()
			if err := a.Run(ctx); err != nil && ctx.Err() == nil {
				f.fail(fmt.Errorf("agent %s stopped: %w", clusterName(i), err))
			}
		}()
		go func() {
			select {
			case <-a.Ready():
			case <-ctx.Done():
			}
			<-slots
		}()
	}
}

func (f *agentFleet) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *agentFleet) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// stop ends every agent and waits for them.
func (f *agentFleet) stop() {
	f.mu.Lock()
	f.stopped = true
	for _, c := range f.cancels {
		c()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// agentResources are the resources only agents ask the hub for (the hub
// controller reads them from its cache and writes only Bundle specs).
var agentResources = map[string]bool{
	"agents": true, "agents/status": true, "bundles/status": true, "bundlechunks": true,
	"serviceaccounts/token": true, "clusterregistrations": true,
}

// agentSent is the part of r the agents sent: requests for their own
// resources, and reads of Bundles (the hub controller only creates and
// updates them, and its single watch is negligible).
func (r serverRequests) agentSent() serverRequests {
	out := serverRequests{}
	for k, v := range r {
		verb, resource, _ := strings.Cut(k, " ")
		resource, _, _ = strings.Cut(resource, " ")
		if agentResources[resource] || (resource == "bundles" && (verb == "GET" || verb == "LIST" || verb == "WATCH")) {
			out[k] = v
		}
	}
	return out
}

// perMinute is v per cluster of n and per minute of d.
func perMinute(v float64, n int, d time.Duration) float64 {
	return v / float64(n) / d.Minutes()
}

func reportPullMetrics(b *testing.B, n int, push, pull *modeResult) {
	secs := func(d time.Duration) float64 { return d.Seconds() }
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p99", 0.99}, {"max", 1}} {
		ps, pl := percentile(push.change.times.synced, q.q), percentile(pull.change.times.synced, q.q)
		b.ReportMetric(secs(ps), "push-commit-"+q.name+"-s")
		b.ReportMetric(secs(pl), "pull-commit-"+q.name+"-s")
		b.ReportMetric(secs(pl)/secs(ps), "pull/push-"+q.name)
	}
	for _, m := range []*modeResult{push, pull} {
		b.ReportMetric(m.change.hub.total()/float64(n), m.mode+"-commit-hub-req/cluster")
		b.ReportMetric(m.change.cpu[cpuHubAPIServer].Seconds(), m.mode+"-commit-hub-cpu-s")
		b.ReportMetric(perMinute(m.idle.hub.total(), n, m.idle.wall), m.mode+"-idle-hub-req/cluster/min")
		b.ReportMetric(100*m.idle.cpu[cpuHubAPIServer].Seconds()/m.idle.wall.Seconds(), m.mode+"-idle-hub-cpu-%")
	}
	heartbeat := time.Minute.Seconds() / pullHeartbeat.Seconds()
	agentIdle := perMinute(pull.idle.hub.agentSent().total(), n, pull.idle.wall)
	b.ReportMetric(agentIdle, "pull-idle-agent-req/agent/min")
	b.ReportMetric(heartbeat, "heartbeat-req/agent/min")
	b.ReportMetric(agentIdle/heartbeat, "pull-idle-agent/heartbeat")
}

func printPullDetails(n int, push, pull *modeResult) {
	p := func(format string, args ...any) { fmt.Printf("    "+format+"\n", args...) }
	p("--- PullSync N=%d details", n)
	p("N=%d over K=%d API servers, %d sync workers, heartbeat %s, idle window %s; load average at the end: %s",
		n, memberServers, syncWorkers, pullHeartbeat, idleWindow, loadAverage())
	for _, m := range []*modeResult{push, pull} {
		for _, ph := range []*phaseResult{m.first, m.change} {
			t := ph.times
			p("%s %-10s synced first %7s p50 %7s p99 %7s max %7s", m.mode, ph.name,
				ms(percentile(t.synced, 0)), ms(percentile(t.synced, 0.5)), ms(percentile(t.synced, 0.99)), ms(percentile(t.synced, 1)))
			p("%s %-10s hub API server served per cluster %s", m.mode, ph.name, ph.hub.perCluster(n))
			p("%s %-10s member API servers served per cluster %s", m.mode, ph.name, ph.server.perCluster(n))
			p("%s %-10s CPU in %s: %s", m.mode, ph.name, ms(ph.wall), ph.cpu)
		}
		var rounds []string
		for _, c := range m.changes {
			rounds = append(rounds, ms(c.wall))
		}
		p("%s %d commit rounds, the median reported: %v", m.mode, len(m.changes), rounds)
		if len(m.written) > 0 {
			p("%s median commit: Bundle written by the hub first %s p50 %s max %s; reported applied by the agent first %s p50 %s max %s",
				m.mode, ms(percentile(m.written, 0)), ms(percentile(m.written, 0.5)), ms(percentile(m.written, 1)),
				ms(percentile(m.reported, 0)), ms(percentile(m.reported, 0.5)), ms(percentile(m.reported, 1)))
		}
		id := m.idle
		p("%s idle %s: hub API server served per cluster per minute %s", m.mode, ms(id.wall), scaled(id.hub, n, id.wall).perCluster(1))
		if m.mode == "pull" {
			p("%s idle: of which the agents sent per agent per minute %s", m.mode, scaled(id.hub.agentSent(), n, id.wall).perCluster(1))
		}
		p("%s idle: member API servers served per cluster per minute %s", m.mode, scaled(id.member, n, id.wall).perCluster(1))
		p("%s idle CPU: %s", m.mode, id.cpu)
	}
}

// scaled is r per cluster of n and per minute of d.
func scaled(r serverRequests, n int, d time.Duration) serverRequests {
	out := serverRequests{}
	for k, v := range r {
		out[k] = perMinute(v, n, d)
	}
	return out
}

// bundleTracker follows the Bundles through the hub controller's informer
// and records, for the commit being timed, when the hub wrote each
// cluster's Bundle and when its agent reported it applied and Ready: it
// splits a pull commit into hub -> agent -> hub.
type bundleTracker struct {
	mu                sync.Mutex
	commit            string
	start             time.Time
	written, reported map[string]time.Duration
}

func (t *bundleTracker) begin(commit string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.commit, t.start = commit, time.Now()
	t.written, t.reported = map[string]time.Duration{}, map[string]time.Duration{}
}

func (t *bundleTracker) observe(obj any) {
	bd, ok := obj.(*flotillav1.Bundle)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.commit == "" || !strings.Contains(bd.Spec.Revision, t.commit) {
		return
	}
	c := bd.Spec.Cluster
	if _, ok := t.written[c]; !ok {
		t.written[c] = time.Since(t.start)
	}
	st := &bd.Status
	if _, ok := t.reported[c]; !ok && st.ObservedDigest == bd.Spec.Digest && st.AppliedDigest == bd.Spec.Digest &&
		apimeta.IsStatusConditionTrue(st.Conditions, "Ready") {
		t.reported[c] = time.Since(t.start)
	}
}

// attach feeds the tracker from the controller's Bundle informer.
func (t *bundleTracker) attach(ctx context.Context, c cache.Cache) error {
	inf, err := c.GetInformer(ctx, &flotillav1.Bundle{})
	if err != nil {
		return fmt.Errorf("get the Bundle informer: %w", err)
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    t.observe,
		UpdateFunc: func(_, obj any) { t.observe(obj) },
	})
	return err
}

// split returns, sorted, the times the Bundles were written and reported.
func (t *bundleTracker) split() (written, reported []time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range t.written {
		written = append(written, d)
	}
	for _, d := range t.reported {
		reported = append(reported, d)
	}
	slices.Sort(written)
	slices.Sort(reported)
	return written, reported
}
