package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// syncTracker watches the ClusterSyncs on the hub and records, for one
// commit at a time, when each logical cluster has that commit applied and
// Ready: status.appliedRevision is the commit and Ready is True. Times are
// taken when the controller's informer receives the change (status
// timestamps have a one-second resolution, too coarse for small fleets).
// The fleet has one app, so a ClusterSync stands for its cluster.
type syncTracker struct {
	clusters int

	mu       sync.Mutex
	commit   string
	start    time.Time
	done     map[string]time.Duration
	released map[string]time.Duration
	all      chan struct{}
}

// phaseTimes are the per-cluster times of one commit, from its start.
type phaseTimes struct {
	// synced are the times each cluster ran the commit, sorted. The first
	// one is the latency of fetch, render and one sync; the spread after
	// it is the fleet waiting for workers.
	synced []time.Duration
	// byCluster is when each cluster ran the commit.
	byCluster map[string]time.Duration
	// released is when the app's rollout released the commit to each
	// cluster (ClusterSync spec.rollout.revision), for apps with a rollout.
	released map[string]time.Duration
}

func newSyncTracker(clusters int) *syncTracker {
	return &syncTracker{clusters: clusters}
}

// begin starts timing commit from now; earlier records are dropped.
func (t *syncTracker) begin(commit string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.commit, t.start = commit, time.Now()
	t.done = make(map[string]time.Duration, t.clusters)
	t.released = map[string]time.Duration{}
	t.all = make(chan struct{})
}

// observe records cs if it now runs the tracked commit.
func (t *syncTracker) observe(cs *flotillav1.ClusterSync) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.commit == "" {
		return
	}
	if r := cs.Spec.Rollout; r != nil && strings.Contains(r.Revision, t.commit) {
		if _, ok := t.released[cs.Spec.Cluster]; !ok {
			t.released[cs.Spec.Cluster] = time.Since(t.start)
		}
	}
	if !synced(cs, t.commit) {
		return
	}
	if _, ok := t.done[cs.Spec.Cluster]; ok {
		return
	}
	t.done[cs.Spec.Cluster] = time.Since(t.start)
	if len(t.done) == t.clusters {
		close(t.all)
	}
}

// synced reports whether cs has commit applied and Ready.
func synced(cs *flotillav1.ClusterSync, commit string) bool {
	return strings.Contains(cs.Status.AppliedRevision, commit) &&
		apimeta.IsStatusConditionTrue(cs.Status.Conditions, meta.ReadyCondition)
}

// wait waits until every cluster runs the tracked commit and returns the
// times measured from begin.
func (t *syncTracker) wait(ctx context.Context, timeout time.Duration) (*phaseTimes, error) {
	t.mu.Lock()
	all, commit := t.all, t.commit
	t.mu.Unlock()
	select {
	case <-all:
	case <-time.After(timeout):
		t.mu.Lock()
		n := len(t.done)
		t.mu.Unlock()
		return nil, fmt.Errorf("commit %s reached %d of %d clusters within %s", commit, n, t.clusters, timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := &phaseTimes{byCluster: maps.Clone(t.done), released: maps.Clone(t.released)}
	for _, d := range t.done {
		out.synced = append(out.synced, d)
	}
	slices.Sort(out.synced)
	return out, nil
}

// attach feeds the tracker from the controller's own ClusterSync informer:
// it sees each change when the controller does, and measuring adds no
// watch to the hub and no decoding to this process. Handlers only read
// the shared cached objects.
func (t *syncTracker) attach(ctx context.Context, c cache.Cache) error {
	inf, err := c.GetInformer(ctx, &flotillav1.ClusterSync{})
	if err != nil {
		return fmt.Errorf("get the ClusterSync informer: %w", err)
	}
	observe := func(obj any) {
		if cs, ok := obj.(*flotillav1.ClusterSync); ok {
			t.observe(cs)
		}
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	})
	if err != nil {
		return fmt.Errorf("watch ClusterSyncs through the controller's informer: %w", err)
	}
	return nil
}

// percentile returns the nearest-rank q-quantile (0 < q <= 1) of sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// describeSyncs summarises the ClusterSyncs of namespace by Ready reason,
// for the error of a phase that did not finish.
func describeSyncs(ctx context.Context, cl client.Reader, namespace string) string {
	list := &flotillav1.ClusterSyncList{}
	if err := cl.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return fmt.Sprintf("list ClusterSyncs: %v", err)
	}
	reasons := map[string]int{}
	var sample string
	for i := range list.Items {
		cs := &list.Items[i]
		c := apimeta.FindStatusCondition(cs.Status.Conditions, meta.ReadyCondition)
		key := "no Ready condition"
		if c != nil {
			key = string(c.Status) + "/" + c.Reason
			if c.Status != metav1.ConditionTrue && sample == "" {
				sample = fmt.Sprintf("%s: %s", cs.Name, c.Message)
			}
		}
		reasons[key]++
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, reasons[k]))
	}
	return fmt.Sprintf("%d ClusterSyncs: %s; e.g. %s", len(list.Items), strings.Join(parts, ", "), sample)
}
