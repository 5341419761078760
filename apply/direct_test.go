package apply

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/fluxcd/pkg/ssa"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// requestLog records the requests a cluster client sends, as "METHOD path".
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) RoundTrip(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

// take returns the requests logged so far and clears the log.
func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSyncSendsOnlyWhatChangedSinceItsLastApply checks the direct path on a
// real API server: after a first, full sync, a sync that knows what it
// applied last sends exactly one apply per changed object (no read, no
// dry-run) and reports the others unchanged; a change made by hand to an
// unchanged object is left to the drift check; a new object, or no record
// of the last apply, falls back to ssa's staged apply.
func TestSyncSendsOnlyWhatChangedSinceItsLastApply(t *testing.T) {
	ctx := testCtx(t)
	log := &requestLog{}
	cl, err := clusterclient.New("direct", memberCfg, clusterclient.Options{
		WrapTransport: func(_ string, rt http.RoundTripper) http.RoundTripper { return log.RoundTrip(rt) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ns := uniqueName("direct")
	req := baseRequest(ns, readObjects(t, ns, webManifest))
	req.Prune = true
	// As the controller does: one namespace memory per cluster client.
	req.Namespaces = NewNamespaces()
	first, err := Sync(ctx, cl, req)
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	if first.Direct || len(first.Applied) != 3 {
		t.Fatalf("first Sync: direct %v, applied %v; want the staged apply and 3 hashes", first.Direct, first.Applied)
	}

	// Someone scales the Deployment by hand; Git changes the ConfigMap only.
	dep := getObject(t, "apps/v1", "Deployment", ns, "web")
	if err := unstructured.SetNestedField(dep.Object, int64(5), "spec", "replicas"); err != nil {
		t.Fatal(err)
	}
	if err := member.Client().Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	log.take()
	req.PreviousInventory, req.LastApplied = first.Inventory, first.Applied
	req.Objects = readObjects(t, ns, replaceAll(webManifest, "model: v1", "model: v2"))
	second, err := Sync(ctx, cl, req)
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	sent := log.take()
	if !second.Direct || len(sent) != 1 || !strings.HasPrefix(sent[0], "PATCH /api/v1/namespaces/"+ns+"/configmaps/web-config") {
		t.Fatalf("second Sync: direct %v, requests %v; want one PATCH of the ConfigMap", second.Direct, sent)
	}
	if strings.Contains(sent[0], "dryRun") {
		t.Fatalf("the direct apply must not be a dry-run: %s", sent[0])
	}
	actions := second.ChangeSet.ToMap()
	if actions["ConfigMap/"+ns+"/web-config"] != ssa.ConfiguredAction || actions["Deployment/"+ns+"/web"] != ssa.UnchangedAction || len(actions) != 3 {
		t.Fatalf("change set %v: want the ConfigMap configured and the others unchanged", actions)
	}
	if got := getObject(t, "v1", "ConfigMap", ns, "web-config"); got.Object["data"].(map[string]any)["model"] != "v2" {
		t.Fatalf("ConfigMap not updated: %v", got.Object["data"])
	}
	if r, _, _ := unstructured.NestedInt64(getObject(t, "apps/v1", "Deployment", ns, "web").Object, "spec", "replicas"); r != 5 {
		t.Fatalf("an object unchanged in Git must not be touched by the sync (drift is the drift check's), replicas = %d", r)
	}
	if len(second.Inventory) != 3 || second.Applied[ids(t, second)["ConfigMap/"+ns+"/web-config"]] == first.Applied[ids(t, second)["ConfigMap/"+ns+"/web-config"]] {
		t.Fatalf("second Sync: inventory %v, applied %v; want 3 objects and the ConfigMap's new hash", second.Inventory, second.Applied)
	}

	// A new object: the staged apply (with its reads and dry-runs) again.
	req.PreviousInventory, req.LastApplied = second.Inventory, second.Applied
	req.Objects = append(req.Objects, readObjects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata: {a: b}\n")...)
	third, err := Sync(ctx, cl, req)
	if err != nil {
		t.Fatalf("third Sync: %v", err)
	}
	if third.Direct || third.ChangeSet.ToMap()["ConfigMap/"+ns+"/extra"] != ssa.CreatedAction {
		t.Fatalf("third Sync: direct %v, change set %v; want the staged apply creating the new ConfigMap", third.Direct, third.ChangeSet)
	}
	if got := log.take(); !containsPrefix(got, "GET ") {
		t.Fatalf("the staged apply reads each object first, requests %v", got)
	}

	// Force (recreate on immutable changes) always takes the staged path.
	req.PreviousInventory, req.LastApplied, req.Force = third.Inventory, third.Applied, true
	if forced, err := Sync(ctx, cl, req); err != nil || forced.Direct {
		t.Fatalf("forced Sync: direct %v, err %v; want the staged apply", forced != nil && forced.Direct, err)
	}
}

// ids maps each change set subject (Kind/namespace/name) to its inventory ID.
func ids(t *testing.T, res *Result) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range res.ChangeSet.Entries {
		out[e.Subject] = e.ObjMetadata.String()
	}
	return out
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
