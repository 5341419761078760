package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/flotilla-gitops/flotilla/agent/bundle"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// etcdObjectLimit is the largest request etcd accepts (1.5 MiB): no object
// the hub writes for a pull cluster may come near it.
const etcdObjectLimit = 3 << 19

// pullHub starts a real hub API server with Flotilla's CRDs and returns a
// client of it, with namespace fleetNS, a FleetRepository "repo" and a
// Cluster "site" in pull mode. It returns the hub's test cluster too.
func pullHub(t *testing.T) (client.Client, *testenv.Cluster) {
	t.Helper()
	hubCluster := testenv.NewCluster(t, testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}})
	hub, err := hubCluster.NewClient(runtime(t))
	must(t, err)
	ctx := context.Background()
	retryTransient(t, "create namespace", func() error {
		return ignoreAlreadyExists(hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleetNS}}))
	})
	must(t, hub.Create(ctx, &flotillav1.FleetRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: fleetNS},
		Spec:       flotillav1.FleetRepositorySpec{URL: "https://git.example.invalid/fleet.git"},
	}))
	must(t, hub.Create(ctx, &flotillav1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: fleetNS},
		Spec:       flotillav1.ClusterSpec{Access: flotillav1.ClusterAccess{Mode: flotillav1.AccessPull}},
	}))
	return hub, hubCluster
}

// pullSync creates the ClusterSync of app on cluster "site", with the
// finalizer the mirror gives it.
func pullSync(t *testing.T, hub client.Client, app string) *flotillav1.ClusterSync {
	t.Helper()
	cs := &flotillav1.ClusterSync{
		ObjectMeta: metav1.ObjectMeta{
			Name: syncName(app, "site"), Namespace: fleetNS, Finalizers: []string{syncFinalizer},
			Labels: map[string]string{flotillav1.LabelRepository: "repo"},
		},
		Spec: flotillav1.ClusterSyncSpec{App: app, Cluster: "site"},
	}
	must(t, hub.Create(context.Background(), cs))
	return cs
}

func newPullReconciler(hub client.Client, store *desiredStore) *ClusterSyncReconciler {
	opts := Options{}.withDefaults()
	return &ClusterSyncReconciler{
		Client: hub, APIReader: hub, Recorder: &record.FakeRecorder{}, Store: store, Options: opts,
		Clients: newClusterClients(hub, clusterclient.Options{}, time.Minute),
		Reach:   newReachability(time.Second, time.Minute), Limits: newLimiter(2),
	}
}

// setDesired makes objs the desired state of app on "site".
func setDesired(store *desiredStore, apps map[string]*Desired) {
	repo := types.NamespacedName{Namespace: fleetNS, Name: "repo"}
	next := map[syncKey]*Desired{}
	for app, d := range apps {
		next[syncKey{Repo: repo, App: app, Cluster: "site"}] = d
	}
	store.replaceRepo(repo, next, nil)
}

func cmObject(name string, data map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "web"},
		"data":     data,
	}}
	return u
}

// reconcileSync runs one reconcile and returns the sync as stored (nil
// once it is gone).
func reconcileSync(t *testing.T, r *ClusterSyncReconciler, key client.ObjectKey) (*flotillav1.ClusterSync, ctrl.Result) {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	must(t, err)
	got := &flotillav1.ClusterSync{}
	if err := r.Get(context.Background(), key, got); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, res
		}
		t.Fatal(err)
	}
	return got, res
}

func getBundle(t *testing.T, hub client.Client, app string) (*flotillav1.Bundle, error) {
	t.Helper()
	b := &flotillav1.Bundle{}
	err := hub.Get(context.Background(), types.NamespacedName{Namespace: flotillav1.AgentNamespace(fleetNS, "site"), Name: app}, b)
	return b, err
}

// bundleObjects reads a Bundle's content (inline or from its chunks) and
// decodes it against its digest.
func bundleObjects(t *testing.T, hub client.Client, b *flotillav1.Bundle) []*unstructured.Unstructured {
	t.Helper()
	content := b.Spec.Content
	if len(b.Spec.Chunks) > 0 {
		data := map[string][]byte{}
		for _, name := range b.Spec.Chunks {
			ch := &flotillav1.BundleChunk{}
			must(t, hub.Get(context.Background(), types.NamespacedName{Namespace: b.Namespace, Name: name}, ch))
			data[name] = ch.Data
		}
		var err error
		content, err = bundle.Join(b.Spec.Chunks, data)
		must(t, err)
	}
	objs, err := bundle.Decode(content, b.Spec.Digest)
	must(t, err)
	return objs
}

// reportAsAgent writes a Bundle's status as its agent would, with the hub
// admin client: applied and Ready on the bundle's current digest.
func reportAsAgent(t *testing.T, hub client.Client, b *flotillav1.Bundle, inventory int) {
	t.Helper()
	now := metav1.Now()
	b.Status = flotillav1.BundleStatus{ObservedDigest: b.Spec.Digest}
	b.Status.AppliedDigest = b.Spec.Digest
	b.Status.AppliedRevision = b.Spec.Revision
	b.Status.LastAppliedTime = &now
	for i := range inventory {
		b.Status.Inventory = append(b.Status.Inventory, flotillav1.ObjectRef{ID: fmt.Sprintf("web_cm-%d__ConfigMap", i), Version: "v1"})
	}
	b.Status.Conditions = []metav1.Condition{
		{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: flotillav1.ReasonSynced, Message: "applied and healthy", ObservedGeneration: b.Generation, LastTransitionTime: now},
		{Type: flotillav1.HealthyCondition, Status: metav1.ConditionTrue, Reason: meta.SucceededReason, Message: "all ready", ObservedGeneration: b.Generation, LastTransitionTime: now},
	}
	must(t, hub.Status().Update(context.Background(), b))
}

// TestPullClusterSyncGetsItsBundleAndReportsTheAgentsStatus reconciles, on
// a real hub, the sync of an app on a pull cluster: while the site holds,
// no Bundle is written; then the Bundle in the agent namespace carries the
// rendered objects; a commit that renders the same objects writes nothing;
// the agent's report makes the sync Ready at the new revision and the App
// aggregate counts it; new content keeps the sync Reconciling until the
// agent reports on it.
func TestPullClusterSyncGetsItsBundleAndReportsTheAgentsStatus(t *testing.T) {
	hub, _ := pullHub(t)
	ctx := context.Background()
	cluster := &flotillav1.Cluster{}
	must(t, hub.Get(ctx, types.NamespacedName{Namespace: fleetNS, Name: "site"}, cluster))
	cluster.Status.Hold = &flotillav1.ClusterHold{Since: metav1.Now(), Reason: "lot 4711"}
	must(t, hub.Status().Update(ctx, cluster))

	cs := pullSync(t, hub, "web")
	key := client.ObjectKeyFromObject(cs)
	store := newDesiredStore()
	objs := func(mode string) []*unstructured.Unstructured {
		return []*unstructured.Unstructured{cmObject("a", map[string]any{"mode": mode}), cmObject("b", map[string]any{"x": "1"})}
	}
	setDesired(store, map[string]*Desired{"web": {Revision: "main@sha1:1", Digest: "sha256:render1", Namespace: "web", Objects: objs("fast"), Prune: true, HealthTimeout: time.Minute}})
	r := newPullReconciler(hub, store)

	got, _ := reconcileSync(t, r, key)
	if reason := conditions.GetReason(got, meta.ReadyCondition); reason != flotillav1.ReasonDeferred {
		t.Fatalf("held site: Ready reason %q (%s), want Deferred", reason, conditions.GetMessage(got, meta.ReadyCondition))
	}
	if _, err := getBundle(t, hub, "web"); !apierrors.IsNotFound(err) {
		t.Fatalf("a held site got a Bundle: %v", err)
	}

	must(t, hub.Get(ctx, types.NamespacedName{Namespace: fleetNS, Name: "site"}, cluster))
	cluster.Status.Hold = nil
	must(t, hub.Status().Update(ctx, cluster))
	got, _ = reconcileSync(t, r, key)
	b, err := getBundle(t, hub, "web")
	must(t, err)
	decoded := bundleObjects(t, hub, b)
	if len(decoded) != 2 || decoded[0].GetName() != "a" || decoded[1].GetName() != "b" ||
		decoded[0].Object["data"].(map[string]any)["mode"] != "fast" {
		t.Fatalf("the Bundle's content decodes to %v, want ConfigMaps a (mode fast) and b", decoded)
	}
	if s := b.Spec; s.App != "web" || s.Cluster != "site" || s.Revision != "main@sha1:1" || s.Namespace != "web" || !s.Prune ||
		s.HealthTimeout.Duration != time.Minute || s.DriftInterval.Duration != r.Options.DefaultDriftInterval || len(s.Chunks) != 0 {
		t.Fatalf("Bundle spec %+v", s)
	}
	ns := &corev1.Namespace{}
	must(t, hub.Get(ctx, types.NamespacedName{Name: b.Namespace}, ns))
	if ns.Labels[flotillav1.LabelAgentCluster] != "site" || ns.Labels[flotillav1.LabelAgentFleetNamespace] != fleetNS {
		t.Fatalf("agent namespace labels %v", ns.Labels)
	}
	if !conditions.IsReconciling(got) || conditions.IsTrue(got, meta.ReadyCondition) {
		t.Fatalf("before the agent reports the sync must be Reconciling and not Ready: %v", got.Status.Conditions)
	}

	// A commit that renders the same objects: nothing is written.
	setDesired(store, map[string]*Desired{"web": {Revision: "main@sha1:2", Digest: "sha256:render2", Namespace: "web", Objects: objs("fast"), Prune: true, HealthTimeout: time.Minute}})
	got, _ = reconcileSync(t, r, key)
	if msg := conditions.GetMessage(got, meta.ReadyCondition); !strings.Contains(msg, "main@sha1:2") {
		t.Fatalf("the sync did not act on revision 2: %q", msg)
	}
	same, err := getBundle(t, hub, "web")
	must(t, err)
	if same.ResourceVersion != b.ResourceVersion || same.Generation != b.Generation {
		t.Fatalf("a commit that renders the same objects rewrote the Bundle (resourceVersion %s -> %s)", b.ResourceVersion, same.ResourceVersion)
	}

	// The agent reports the content applied and Ready.
	reportAsAgent(t, hub, same, 2)
	got, _ = reconcileSync(t, r, key)
	if !lastSyncReady(got) || got.Status.AppliedDigest != "sha256:render2" || got.Status.AppliedRevision != "main@sha1:2" ||
		got.Status.LastReadyRevision != "main@sha1:2" || len(got.Status.Inventory) != 2 || conditions.IsReconciling(got) {
		t.Fatalf("after the agent's report the sync must be Ready at revision 2 with its inventory: %+v", got.Status)
	}
	agg := aggregateApp([]flotillav1.ClusterSync{*got}, store.of)
	if agg.Selected != 1 || agg.Synced != 1 || agg.Healthy != 1 || len(agg.Failures) != 0 || agg.Progressing {
		t.Fatalf("App aggregate %+v, want the pull site synced and healthy", agg)
	}

	// New content: the Bundle changes; the agent's report on the older
	// digest keeps the sync Reconciling.
	setDesired(store, map[string]*Desired{"web": {Revision: "main@sha1:3", Digest: "sha256:render3", Namespace: "web", Objects: objs("slow"), Prune: true, HealthTimeout: time.Minute}})
	got, _ = reconcileSync(t, r, key)
	next, err := getBundle(t, hub, "web")
	must(t, err)
	if next.Spec.Digest == same.Spec.Digest || next.Spec.Revision != "main@sha1:3" || bundleObjects(t, hub, next)[0].Object["data"].(map[string]any)["mode"] != "slow" {
		t.Fatalf("new content was not written: %+v", next.Spec)
	}
	if !conditions.IsReconciling(got) || conditions.IsTrue(got, meta.ReadyCondition) || got.Status.AppliedDigest != "sha256:render2" {
		t.Fatalf("a report on the older digest must keep the sync Reconciling at the digest it runs: %+v", got.Status)
	}
	if agg := aggregateApp([]flotillav1.ClusterSync{*got}, store.of); agg.Synced != 0 {
		t.Fatalf("App aggregate counts a site that has not applied the new content: %+v", agg)
	}
}

// randomText returns n random bytes as hex: content gzip cannot shrink
// below n bytes.
func randomText(t *testing.T, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(buf)
}

// objectSizes returns the JSON size of every Bundle and BundleChunk in ns,
// as the API server returns (and etcd stores) them.
func objectSizes(t *testing.T, hub client.Client, ns string) map[string]int {
	t.Helper()
	sizes := map[string]int{}
	for _, kind := range []string{"BundleList", "BundleChunkList"} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(flotillav1.GroupVersion.WithKind(kind))
		must(t, hub.List(context.Background(), list, client.InNamespace(ns)))
		for _, item := range list.Items {
			b, err := json.Marshal(item.Object)
			must(t, err)
			sizes[item.GetKind()+"/"+item.GetName()] = len(b)
		}
	}
	return sizes
}

func chunkNames(t *testing.T, hub client.Client, ns string) map[string]bool {
	t.Helper()
	list := &flotillav1.BundleChunkList{}
	must(t, hub.List(context.Background(), list, client.InNamespace(ns)))
	out := map[string]bool{}
	for _, c := range list.Items {
		out[c.Name] = true
	}
	return out
}

// TestPullLargeContentIsChunkedAndRemovalCollectsIt writes, on a real hub,
// content too large for one object: it goes to BundleChunks, every object
// stays under etcd's limit, and two apps with the same content share the
// chunks. Changing one app's content keeps the chunks the other uses.
// Removing the app asks the agent to prune (the app left the cluster);
// once the agent reports it removed, the Bundle and the chunks only it
// used are gone, and so is the sync. Deleting the FleetRepository makes
// the cluster leave the fleet: without pruneOnRemoval the agent is asked
// to orphan, and afterwards no chunk is left.
func TestPullLargeContentIsChunkedAndRemovalCollectsIt(t *testing.T) {
	hub, _ := pullHub(t)
	ctx := context.Background()
	ns := flotillav1.AgentNamespace(fleetNS, "site")
	big := func() []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for i := range 4 {
			out = append(out, cmObject(fmt.Sprintf("cm-%d", i), map[string]any{"blob": randomText(t, 200<<10)}))
		}
		return out
	}
	first := big()
	store := newDesiredStore()
	desired := func(rev string, objs []*unstructured.Unstructured) *Desired {
		return &Desired{Revision: rev, Digest: "sha256:" + rev, Namespace: "web", Objects: objs, Prune: true, HealthTimeout: time.Minute}
	}
	setDesired(store, map[string]*Desired{"big": desired("1", first), "mirror": desired("1", first)})
	r := newPullReconciler(hub, store)
	bigSync, mirrorSync := pullSync(t, hub, "big"), pullSync(t, hub, "mirror")
	reconcileSync(t, r, client.ObjectKeyFromObject(bigSync))
	reconcileSync(t, r, client.ObjectKeyFromObject(mirrorSync))

	b, err := getBundle(t, hub, "big")
	must(t, err)
	if len(b.Spec.Chunks) < 2 || len(b.Spec.Content) != 0 {
		t.Fatalf("large content: %d chunks, %d inline bytes; want chunks only", len(b.Spec.Chunks), len(b.Spec.Content))
	}
	if objs := bundleObjects(t, hub, b); len(objs) != 4 || objs[3].Object["data"].(map[string]any)["blob"] != first[3].Object["data"].(map[string]any)["blob"] {
		t.Fatalf("the chunked content does not decode to the rendered objects (%d objects)", len(objs))
	}
	sizes := objectSizes(t, hub, ns)
	for name, n := range sizes {
		if n >= etcdObjectLimit {
			t.Errorf("%s is %d bytes, at or over etcd's %d", name, n, etcdObjectLimit)
		}
	}
	if got := len(chunkNames(t, hub, ns)); got != len(b.Spec.Chunks) {
		t.Fatalf("two apps with the same content store %d chunks, want %d (stored once)", got, len(b.Spec.Chunks))
	}
	t.Logf("objects in %s: %v", ns, sizes)

	// New content for big: new chunks; the old ones stay for mirror.
	setDesired(store, map[string]*Desired{"big": desired("2", big()), "mirror": desired("1", first)})
	reconcileSync(t, r, client.ObjectKeyFromObject(bigSync))
	b2, err := getBundle(t, hub, "big")
	must(t, err)
	chunks := chunkNames(t, hub, ns)
	for _, c := range append(append([]string{}, b.Spec.Chunks...), b2.Spec.Chunks...) {
		if !chunks[c] {
			t.Fatalf("chunk %s is missing: old chunks are still used by mirror, new ones by big", c)
		}
	}

	// The app big leaves the cluster: prune.
	must(t, hub.Delete(ctx, bigSync))
	got, _ := reconcileSync(t, r, client.ObjectKeyFromObject(bigSync))
	b2, err = getBundle(t, hub, "big")
	must(t, err)
	if b2.Spec.Deletion != flotillav1.BundleDeletionPrune || got == nil || !strings.Contains(conditions.GetMessage(got, meta.ReadyCondition), "prune") {
		t.Fatalf("removing the app must ask the agent to prune and wait: deletion %q, sync %v", b2.Spec.Deletion, got)
	}
	b2.Status.Removed = true
	must(t, hub.Status().Update(ctx, b2))
	if got, _ := reconcileSync(t, r, client.ObjectKeyFromObject(bigSync)); got != nil {
		t.Fatalf("the sync must go once the agent removed the app: %+v", got.Status)
	}
	if _, err := getBundle(t, hub, "big"); !apierrors.IsNotFound(err) {
		t.Fatalf("the Bundle of a removed app is still there: %v", err)
	}
	chunks = chunkNames(t, hub, ns)
	for _, c := range b2.Spec.Chunks {
		if chunks[c] {
			t.Errorf("chunk %s of the removed app was not collected", c)
		}
	}
	if len(chunks) != len(b.Spec.Chunks) {
		t.Fatalf("%d chunks left, want the %d mirror uses", len(chunks), len(b.Spec.Chunks))
	}

	// The cluster leaves the fleet (its FleetRepository is deleted) without
	// pruneOnRemoval: orphan.
	must(t, hub.Delete(ctx, &flotillav1.FleetRepository{ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: fleetNS}}))
	must(t, hub.Delete(ctx, mirrorSync))
	reconcileSync(t, r, client.ObjectKeyFromObject(mirrorSync))
	m, err := getBundle(t, hub, "mirror")
	must(t, err)
	if m.Spec.Deletion != flotillav1.BundleDeletionOrphan {
		t.Fatalf("a cluster leaving without pruneOnRemoval must orphan, deletion %q", m.Spec.Deletion)
	}
	m.Status.Removed = true
	must(t, hub.Status().Update(ctx, m))
	if got, _ := reconcileSync(t, r, client.ObjectKeyFromObject(mirrorSync)); got != nil {
		t.Fatalf("the sync must go once the agent orphaned the app: %+v", got.Status)
	}
	if left := chunkNames(t, hub, ns); len(left) != 0 {
		t.Fatalf("%d chunks left after every Bundle went", len(left))
	}
}

// TestPullAgentReportReachesTheSyncThroughTheBundleWatch runs the
// ClusterSync reconciler in a real manager: a pull sync gets its Bundle and
// then waits (it asks for no requeue); the agent's status report is the
// only event, and it makes the sync Ready.
func TestPullAgentReportReachesTheSyncThroughTheBundleWatch(t *testing.T) {
	hub, hubCluster := pullHub(t)
	store := newDesiredStore()
	setDesired(store, map[string]*Desired{"web": {Revision: "main@sha1:1", Digest: "sha256:render1", Namespace: "web",
		Objects: []*unstructured.Unstructured{cmObject("a", map[string]any{"k": "v"})}, Prune: true, HealthTimeout: time.Minute}})
	mgr, err := ctrl.NewManager(hubCluster.Config(), ctrl.Options{
		Scheme: runtime(t), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	must(t, setupIndexes(ctx, mgr))
	r := newPullReconciler(mgr.GetClient(), store)
	r.APIReader = mgr.GetAPIReader()
	must(t, r.SetupWithManager(mgr))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	cs := pullSync(t, hub, "web")

	waitFor(t, time.Minute, "the Bundle is written", func() error {
		_, err := getBundle(t, hub, "web")
		return err
	})
	waitFor(t, time.Minute, "the sync waits for the agent", func() error {
		got := &flotillav1.ClusterSync{}
		if err := hub.Get(ctx, client.ObjectKeyFromObject(cs), got); err != nil {
			return err
		}
		if !conditions.IsReconciling(got) {
			return fmt.Errorf("conditions %v", got.Status.Conditions)
		}
		return nil
	})
	retryTransient(t, "report as the agent", func() error {
		fresh, err := getBundle(t, hub, "web")
		if err != nil {
			return err
		}
		reportAsAgent(t, hub, fresh, 1)
		return nil
	})
	waitFor(t, 30*time.Second, "the agent's report reaches the sync", func() error {
		got := &flotillav1.ClusterSync{}
		if err := hub.Get(ctx, client.ObjectKeyFromObject(cs), got); err != nil {
			return err
		}
		if !lastSyncReady(got) || got.Status.AppliedDigest != "sha256:render1" {
			return fmt.Errorf("status %+v", got.Status)
		}
		return nil
	})
}
