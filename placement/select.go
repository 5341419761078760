package placement

import (
	"fmt"
	"slices"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// clusterSet selects clusters by a label selector and/or a list of names.
type clusterSet struct {
	selector labels.Selector // nil when no selector is set
	selDesc  string
	names    map[string]bool
	// all is true when neither a selector nor names are set and that means
	// every cluster.
	all bool
	// matched, when set (see useIndex), says per label set of x whether
	// the selector matches it.
	matched []bool
	x       *fleetIndex
}

// useIndex makes the set read its selector's matches from the fleet
// index, evaluated once per distinct selector and label set.
func (s *clusterSet) useIndex(x *fleetIndex) {
	if s.selector != nil && x != nil {
		s.matched, s.x = x.selectorMatches(s.selDesc, s.selector), x
	}
}

// bySelector says whether the selector matches cluster c, the i-th of
// the index.
func (s *clusterSet) bySelector(i int, c *flotillav1.Cluster) bool {
	switch {
	case s.selector == nil:
		return false
	case s.matched != nil:
		return s.matched[s.x.labelSet[i]]
	}
	return s.selector.Matches(labels.Set(c.Labels))
}

// newClusterSet compiles a selector and names. An invalid selector selects
// nothing and is returned as an error.
func newClusterSet(sel *metav1.LabelSelector, names []string, emptyMeansAll bool) (clusterSet, error) {
	s := clusterSet{names: map[string]bool{}}
	for _, n := range names {
		s.names[n] = true
	}
	var err error
	if sel != nil {
		s.selector, err = metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			s.selector = labels.Nothing()
		}
		s.selDesc = selectorString(sel)
	}
	s.all = emptyMeansAll && sel == nil && len(names) == 0
	return s, err
}

// selectorString formats a selector the way it is written in a kubectl
// query; the empty selector, which selects everything, is "{}".
func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "(invalid)"
	}
	if str := s.String(); str != "" {
		return str
	}
	return "{}"
}

// match says whether the set holds cluster c, the i-th of the index, and
// why.
func (s *clusterSet) match(i int, c *flotillav1.Cluster) (bool, string) {
	byName := s.names[c.Name]
	bySel := s.bySelector(i, c)
	switch {
	case s.all:
		return true, "every cluster"
	case byName && bySel:
		return true, "listed in clusterNames and clusterSelector " + s.selDesc + " matched"
	case byName:
		return true, "listed in clusterNames"
	case bySel:
		return true, "clusterSelector " + s.selDesc + " matched"
	}
	return false, s.noMatchReason()
}

// noMatchReason says why the set does not hold a cluster that neither its
// names list nor its selector matches.
func (s *clusterSet) noMatchReason() string {
	switch {
	case s.selector != nil && len(s.names) > 0:
		return "clusterSelector " + s.selDesc + " does not match and not listed in clusterNames"
	case s.selector != nil:
		return "clusterSelector " + s.selDesc + " does not match"
	case len(s.names) > 0:
		return "not listed in clusterNames"
	default:
		return "selects no cluster"
	}
}

// placementMatcher is the app's placement selection, with its reasons
// built once (they depend on the placement, not on the cluster).
type placementMatcher struct {
	set                     clusterSet
	byBoth, bySel, notMatch string
}

// placementSelector compiles the app's clusterSelector and clusterNames.
// While placing, an invalid selector is reported and the selector's
// matches come from the fleet index.
func (p *appPlacement) placementSelector() *placementMatcher {
	pl := p.app.Spec.Placement
	set, err := newClusterSet(pl.ClusterSelector, pl.ClusterNames, true)
	if p.placing() {
		if err != nil {
			p.errorf([]any{"spec", "placement", "clusterSelector"}, "spec.placement.clusterSelector: is invalid: %v; fix it so that it selects clusters", err)
		}
		set.useIndex(p.x)
	}
	m := placementMatcher{set: set, byBoth: "selected by clusterNames and by clusterSelector " + set.selDesc, bySel: "selected by clusterSelector " + set.selDesc}
	// A cluster that is not selected is neither listed nor matched: the
	// reason depends on the placement only.
	m.notMatch = "not selected: " + set.noMatchReason()
	return &m
}

// matches says whether the placement selects cluster c, the i-th of the
// index, as a reason.
func (m *placementMatcher) matches(i int, c *flotillav1.Cluster) (bool, string) {
	s := &m.set
	if s.all {
		return true, "selected: placement sets no clusterSelector or clusterNames, so every cluster is a candidate"
	}
	byName := len(s.names) > 0 && s.names[c.Name]
	bySel := s.bySelector(i, c)
	switch {
	case s.all:
		return true, "selected: placement sets no clusterSelector or clusterNames, so every cluster is a candidate"
	case byName && bySel:
		return true, m.byBoth
	case byName:
		return true, "selected by clusterNames"
	case bySel:
		return true, m.bySel
	}
	return false, m.notMatch
}

// describePlacement names what a placement selects by, for messages.
func describePlacement(pl flotillav1.Placement) string {
	switch {
	case pl.ClusterSelector != nil && len(pl.ClusterNames) > 0:
		return fmt.Sprintf("clusterSelector %s with clusterNames %v", selectorString(pl.ClusterSelector), pl.ClusterNames)
	case pl.ClusterSelector != nil:
		return "clusterSelector " + selectorString(pl.ClusterSelector)
	default:
		return fmt.Sprintf("clusterNames %v", pl.ClusterNames)
	}
}

// tolerates checks every taint of the cluster (declared and set by the
// hub) against the app's tolerations, recording each step. The hub's
// unreachable taint is decided by the app's failover instead. PreferNoSchedule taints never keep an
// app off; a NoSchedule taint does not remove an app already running there.
//
// d is the decision being explained, nil while placing.
func (p *appPlacement) tolerates(i int, c *flotillav1.Cluster, d *Decision) bool {
	tolerations := p.app.Spec.Placement.Tolerations
	taints := p.x.taints[i]
	for i := range taints {
		t := &taints[i]
		var why string
		ok := true
		switch {
		case isUnreachableTaint(t):
			if !p.failoverTolerates(c, t, d) {
				return false
			}
			continue
		case t.Effect == corev1.TaintEffectPreferNoSchedule:
			why = " ignored: PreferNoSchedule does not keep apps off"
		case tolerated(tolerations, t):
			why = " tolerated"
		case t.Effect == corev1.TaintEffectNoSchedule && p.running[c.Name]:
			why = " not tolerated, but the app already runs here and NoSchedule only keeps new apps off"
		default:
			why, ok = " not tolerated", false
		}
		if d != nil {
			d.Reasons = append(d.Reasons, "taint "+t.ToString()+why)
		}
		if !ok {
			return false
		}
	}
	return true
}

// tolerated applies the Kubernetes toleration rules (operators Equal,
// Exists, Lt and Gt; an empty key with Exists tolerates every taint; an
// empty effect matches every effect).
func tolerated(tolerations []corev1.Toleration, t *corev1.Taint) bool {
	return slices.ContainsFunc(tolerations, func(tol corev1.Toleration) bool {
		return tol.ToleratesTaint(logr.Discard(), t, true)
	})
}
