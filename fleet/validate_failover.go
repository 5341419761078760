package fleet

import (
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// validateFailover checks spec.placement.failover, and warns about
// tolerations of the hub's unreachable taint, which failover decides.
func validateFailover(r *reporter, p fieldPath, pl flotillav1.Placement) {
	for i, t := range pl.Tolerations {
		if t.Key == flotillav1.TaintUnreachable {
			r.warnf(p.child("tolerations", i, "key"), "%s.key: the hub's %s taint is decided by spec.placement.failover, not by tolerations, so this toleration does nothing; remove it (without failover the app stays on an unreachable cluster anyway) or set failover.tolerationSeconds",
				p.child("tolerations", i), flotillav1.TaintUnreachable)
		}
	}
	fo := pl.Failover
	if fo == nil {
		return
	}
	fp := p.child("failover")
	if fo.TolerationSeconds != nil && *fo.TolerationSeconds < 0 {
		r.errorf(fp.child("tolerationSeconds"), "%s.tolerationSeconds: is %d; set how many seconds the app stays on an unreachable cluster before it fails over (0 or more; 0 leaves at once)",
			fp, *fo.TolerationSeconds)
	}
	switch fo.Failback {
	case "", flotillav1.FailbackStay, flotillav1.FailbackReturn:
	default:
		r.errorf(fp.child("failback"), "%s.failback: %q is not a failback policy; use Stay (the default: stay where the app failed over to) or Return (go back when the cluster recovers)",
			fp, fo.Failback)
	}
}
