package placement

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// WithClusterTaints adds, per cluster name, the taints the hub set on the
// cluster (Cluster status.taints) to the taints the fleet declares for it
// (spec.taints). The hub's flotilla.dev/unreachable NoExecute taint moves
// only apps with spec.placement.failover, after their tolerationSeconds
// counted from the taint's timeAdded (see WithNow); every other app
// tolerates it and stays.
func WithClusterTaints(taints map[string][]corev1.Taint) Option {
	return func(o *options) { o.hubTaints = taints }
}

// WithNow is the time Place compares the unreachable taints' timeAdded
// with. Without it every failover toleration counts as expired: Place
// never reads the clock itself.
func WithNow(now time.Time) Option {
	return func(o *options) { o.now = now }
}

// isUnreachableTaint says whether t is the hub's unreachable taint, which
// failover decides instead of spec.placement.tolerations.
func isUnreachableTaint(t *corev1.Taint) bool {
	return t.Key == flotillav1.TaintUnreachable && t.Effect == corev1.TaintEffectNoExecute
}

// failoverTolerates decides the unreachable taint t of cluster c for the
// app, recording why. An app without failover stays on (and may be placed
// on) the cluster. An app with failover is kept off it, except where it
// already runs: there it stays until tolerationSeconds after the taint was
// added, and the result's RecheckAt asks to be placed again then.
func (p *appPlacement) failoverTolerates(c *flotillav1.Cluster, t *corev1.Taint, d *Decision) bool {
	note := func(format string, args ...any) {
		if d != nil {
			d.Reasons = append(d.Reasons, fmt.Sprintf(format, args...))
		}
	}
	fo := p.app.Spec.Placement.Failover
	if fo == nil {
		note("taint %s tolerated: the app sets no placement.failover, so it stays while the cluster is unreachable", t.ToString())
		return true
	}
	if !p.running[c.Name] {
		note("taint %s not tolerated: placement.failover keeps the app off an unreachable cluster", t.ToString())
		return false
	}
	var secs int64
	if fo.TolerationSeconds != nil {
		secs = max(*fo.TolerationSeconds, 0)
	}
	if t.TimeAdded == nil || p.now.IsZero() {
		note("taint %s not tolerated: failover.tolerationSeconds %d counts as expired (no time to count from)", t.ToString(), secs)
		return false
	}
	until := t.TimeAdded.Add(time.Duration(secs) * time.Second)
	if !p.now.Before(until) {
		note("taint %s not tolerated: failover.tolerationSeconds %d expired at %s, so the app fails over",
			t.ToString(), secs, until.UTC().Format(time.RFC3339))
		return false
	}
	note("taint %s tolerated until %s (failover.tolerationSeconds %d): the app runs here",
		t.ToString(), until.UTC().Format(time.RFC3339), secs)
	if p.placing() && (p.res.RecheckAt.IsZero() || until.Before(p.res.RecheckAt)) {
		p.res.RecheckAt = until
	}
	return true
}

// failback returns the app's failback policy, Stay when unset.
func failback(a *flotillav1.App) flotillav1.FailbackPolicy {
	if fo := a.Spec.Placement.Failover; fo != nil && fo.Failback == flotillav1.FailbackReturn {
		return flotillav1.FailbackReturn
	}
	return flotillav1.FailbackStay
}

// sticky reports whether the app keeps the clusters it runs on ahead of
// better-ranked ones: every app except those with failover.failback
// Return.
func (p *appPlacement) sticky() bool {
	return p.app.Spec.Placement.Failover == nil || failback(p.app) == flotillav1.FailbackStay
}

// keepRunningFirst applies failback Stay: for an app with failover, the
// candidates it already runs on move ahead of the others (keeping their
// ranked order), so it stays where it failed over to while that cluster
// still qualifies. Failback Return, and apps without failover, keep the
// ranked order.
func (p *appPlacement) keepRunningFirst(ranked []candidate) []candidate {
	if !p.prefersRunning() {
		return ranked
	}
	out := make([]candidate, 0, len(ranked))
	for _, c := range ranked {
		if p.running[c.cluster.Name] {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return ranked
	}
	for _, c := range ranked {
		if !p.running[c.cluster.Name] {
			out = append(out, c)
		}
	}
	return out
}

// prefersRunning says whether keepRunningFirst moves the candidates the
// app runs on first (and each of them says so).
func (p *appPlacement) prefersRunning() bool {
	return p.app.Spec.Placement.Failover != nil && failback(p.app) == flotillav1.FailbackStay && len(p.running) > 0
}

// preferredReason is the step keepRunningFirst adds to a candidate the
// app runs on.
const preferredReason = "preferred: failback Stay keeps the app on the clusters it runs on"
