package bench

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// syncTracker watches the ClusterSyncs on the hub and records, for one
// commit at a time, when each logical cluster has that commit applied and
// Ready: spec.revision is the commit, status.appliedRevision equals it,
// status.appliedDigest equals spec.digest and Ready is True. It also
// records when each ClusterSync's spec first names the commit (the
// repository reconciler has fetched, rendered and mirrored it), which
// splits the time into "to the hub" and "to the cluster". Times are taken
// when the watch event arrives (status timestamps have a one-second
// resolution, too coarse for small fleets). The fleet has one app, so a
// ClusterSync stands for its cluster.
type syncTracker struct {
	clusters int

	mu       sync.Mutex
	commit   string
	start    time.Time
	mirrored map[string]time.Duration
	done     map[string]time.Duration
	all      chan struct{}
}

// phaseTimes are the per-cluster times of one commit, from its start.
type phaseTimes struct {
	// synced are the times each cluster ran the commit, sorted.
	synced []time.Duration
	// mirrored are the times each ClusterSync named the commit, sorted.
	mirrored []time.Duration
	// applied are, per cluster, synced minus mirrored, sorted: the time a
	// ClusterSync waited for a worker and was applied.
	applied []time.Duration
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
	t.mirrored = make(map[string]time.Duration, t.clusters)
	t.all = make(chan struct{})
}

// observe records cs if it now runs the tracked commit.
func (t *syncTracker) observe(cs *flotillav1.ClusterSync) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.commit == "" || !strings.Contains(cs.Spec.Revision, t.commit) {
		return
	}
	now := time.Since(t.start)
	if _, ok := t.mirrored[cs.Spec.Cluster]; !ok {
		t.mirrored[cs.Spec.Cluster] = now
	}
	if _, ok := t.done[cs.Spec.Cluster]; ok || !synced(cs, t.commit) {
		return
	}
	t.done[cs.Spec.Cluster] = now
	if len(t.done) == t.clusters {
		close(t.all)
	}
}

// synced reports whether cs has commit applied and Ready.
func synced(cs *flotillav1.ClusterSync, commit string) bool {
	return strings.Contains(cs.Spec.Revision, commit) &&
		cs.Status.AppliedRevision == cs.Spec.Revision &&
		cs.Status.AppliedDigest == cs.Spec.Digest &&
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
	out := &phaseTimes{}
	for name, d := range t.done {
		out.synced = append(out.synced, d)
		out.mirrored = append(out.mirrored, t.mirrored[name])
		out.applied = append(out.applied, d-t.mirrored[name])
	}
	slices.Sort(out.synced)
	slices.Sort(out.mirrored)
	slices.Sort(out.applied)
	return out, nil
}

// run lists and watches the ClusterSyncs of namespace until ctx ends,
// re-listing when the watch closes. Objects are decoded and dropped: the
// tracker keeps only the completion times, so that it does not weigh on
// the memory the benchmark attributes to the controller.
func (t *syncTracker) run(ctx context.Context, cl client.WithWatch, namespace string) error {
	for ctx.Err() == nil {
		list := &flotillav1.ClusterSyncList{}
		if err := cl.List(ctx, list, client.InNamespace(namespace)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("list ClusterSyncs: %w", err)
		}
		for i := range list.Items {
			t.observe(&list.Items[i])
		}
		w, err := cl.Watch(ctx, &flotillav1.ClusterSyncList{}, &client.ListOptions{
			Namespace: namespace,
			Raw:       &metav1.ListOptions{ResourceVersion: list.ResourceVersion},
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch ClusterSyncs: %w", err)
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				break
			}
			if cs, ok := ev.Object.(*flotillav1.ClusterSync); ok {
				t.observe(cs)
			}
		}
		w.Stop()
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
