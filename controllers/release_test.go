package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// TestReleaseToSitesWritesAStageAtOnce checks that one rollout step writes
// its sites' spec.rollout concurrently (at most releaseWorkers at once),
// that every write lands, and that a failed write neither stops the others
// nor goes unreported. A stage of 25 sites released one write after the
// other started its last site a second or more after its first on a busy
// hub (BenchmarkRollout in test/bench).
func TestReleaseToSitesWritesAStageAtOnce(t *testing.T) {
	const sites = 25
	scheme := runtime(t)
	var objs []client.Object
	var writes []siteWrite
	for i := range sites {
		cs := &flotillav1.ClusterSync{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web.site-%02d", i), Namespace: "fleet"},
			Spec:       flotillav1.ClusterSyncSpec{App: "web", Cluster: fmt.Sprintf("site-%02d", i)},
		}
		objs = append(objs, cs.DeepCopy())
		writes = append(writes, siteWrite{sync: cs, want: &flotillav1.SyncRollout{Revision: "main@sha1:abc", Stage: "a"}, released: true})
	}
	var mu sync.Mutex
	inFlight, most := 0, 0
	cl := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond) // a hub round trip
			mu.Lock()
			inFlight--
			mu.Unlock()
			if obj.GetName() == "web.site-07" {
				return fmt.Errorf("the hub refused")
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	}).Build()

	err := releaseToSites(context.Background(), cl, writes)
	if err == nil || !strings.Contains(err.Error(), "site-07") {
		t.Fatalf("releaseToSites = %v, want the error of site-07", err)
	}
	if most < 2 || most > releaseWorkers {
		t.Errorf("at most %d writes in flight at once, want between 2 and %d", most, releaseWorkers)
	}
	for i := range sites {
		cs := &flotillav1.ClusterSync{}
		if err := cl.Get(context.Background(), types.NamespacedName{Namespace: "fleet", Name: fmt.Sprintf("web.site-%02d", i)}, cs); err != nil {
			t.Fatal(err)
		}
		got := cs.Spec.Rollout
		if i == 7 {
			if got != nil {
				t.Errorf("site-07's write failed, yet it has spec.rollout %+v", got)
			}
			continue
		}
		if got == nil || got.Revision != "main@sha1:abc" || got.Stage != "a" {
			t.Errorf("site-%02d has spec.rollout %+v, want revision main@sha1:abc in stage a", i, got)
		}
	}
}
