package placement

import (
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// fleetIndex is what Place computes once for the whole fleet and every
// app reads, by cluster index (the clusters sorted by name): their
// variables, taints, distinct label sets and live capacity figures, and
// the label selectors already evaluated. Place fills selectors; once Place
// returns, the index is only read.
type fleetIndex struct {
	clusters []*flotillav1.Cluster
	byName   map[string]int
	// vars are each cluster's substitution variables, shared: clone
	// before use.
	vars []map[string]string
	// taints are each cluster's declared taints followed by the hub's.
	taints [][]corev1.Taint
	// labelSet is, per cluster, the index in sets of its labels: clusters
	// with the same labels share one, so a selector is matched once per
	// distinct label set.
	labelSet []int32
	sets     []labels.Set
	// selectors holds, by selector string, whether the selector matches
	// each label set.
	selectors map[string][]bool
	// known is, per cluster, whether its capacity figures are known.
	known []bool
	// figures are, per resource some app reads, every cluster's figures.
	figures map[corev1.ResourceName]*resourceFigures
	// valueTables are the label and var values apps rank and weigh by,
	// by value source (see values); filled while placing.
	valueTables map[string]*valueTable
}

// resourceFigures are one resource's live figures, by cluster index; zero
// where the cluster's figures are unknown or do not list the resource.
type resourceFigures struct {
	available   []resource.Quantity
	allocatable []resource.Quantity
	// approx is available as a float, for ranking.
	approx []float64
}

// newFleetIndex indexes the clusters (sorted, without repeated names) for
// the apps.
func newFleetIndex(clusters []*flotillav1.Cluster, apps []*flotillav1.App, o *options) *fleetIndex {
	n := len(clusters)
	x := &fleetIndex{
		clusters: clusters, byName: make(map[string]int, n), vars: make([]map[string]string, n),
		taints: make([][]corev1.Taint, n), labelSet: make([]int32, n), selectors: map[string][]bool{},
	}
	setIDs := map[string]int32{}
	var key strings.Builder
	var keys []string
	for i, c := range clusters {
		x.byName[c.Name] = i
		x.vars[i] = clusterVars(c)
		x.taints[i] = c.Spec.Taints
		if hub := o.hubTaints[c.Name]; len(hub) > 0 {
			x.taints[i] = append(slices.Clip(c.Spec.Taints), hub...)
		}
		keys = keys[:0]
		for k := range c.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		key.Reset()
		for _, k := range keys {
			key.WriteString(k)
			key.WriteByte('=')
			key.WriteString(c.Labels[k])
			key.WriteByte(0)
		}
		id, ok := setIDs[key.String()]
		if !ok {
			id = int32(len(x.sets)) //nolint:gosec // at most one label set per cluster, and the clusters are capped by fleet.Limits
			setIDs[key.String()] = id
			x.sets = append(x.sets, labels.Set(c.Labels))
		}
		x.labelSet[i] = id
	}
	if o.capacity == nil {
		return x
	}
	x.known = make([]bool, n)
	for i, c := range clusters {
		_, x.known[i] = o.capacity[c.Name]
	}
	var resources []corev1.ResourceName
	for _, a := range apps {
		resources = append(resources, capacityResources(a)...)
	}
	slices.Sort(resources)
	x.figures = map[corev1.ResourceName]*resourceFigures{}
	for _, name := range slices.Compact(resources) {
		rf := &resourceFigures{available: make([]resource.Quantity, n), allocatable: make([]resource.Quantity, n), approx: make([]float64, n)}
		for i, c := range clusters {
			if !x.known[i] {
				continue
			}
			capa := o.capacity[c.Name]
			rf.available[i] = capa.Available[name]
			rf.allocatable[i] = capa.Allocatable[name]
			rf.approx[i] = rf.available[i].AsApproximateFloat64()
		}
		x.figures[name] = rf
	}
	return x
}

// selectorMatches returns, per label set, whether a compiled selector
// matches it; key is the selector's string, under which the answer is
// kept for the next app with the same selector.
func (x *fleetIndex) selectorMatches(key string, sel labels.Selector) []bool {
	if m, ok := x.selectors[key]; ok {
		return m
	}
	m := make([]bool, len(x.sets))
	for i, set := range x.sets {
		m[i] = sel.Matches(set)
	}
	x.selectors[key] = m
	return m
}

// valueTable is one value source's (label or var) value on every cluster,
// parsed once for every app that ranks or weighs by it.
type valueTable struct {
	value []string
	set   []bool
	// num is the value as a number; isNum says whether it is one (a
	// finite float, as rank reads it).
	num   []float64
	isNum []bool
	// weight is the value as a replica weight, nil where it is not a
	// non-negative decimal number (see weightRE). Read only.
	weight []*big.Rat
}

// values returns the value table of a label or var source. Only Place
// calls it (it fills a cache).
func (x *fleetIndex) values(vs flotillav1.ValueSource) *valueTable {
	key := vs.Label + "\x00" + vs.Var
	if t, ok := x.valueTables[key]; ok {
		return t
	}
	n := len(x.clusters)
	t := &valueTable{value: make([]string, n), set: make([]bool, n), num: make([]float64, n), isNum: make([]bool, n), weight: make([]*big.Rat, n)}
	for i, c := range x.clusters {
		v, ok := valueOf(c, vs)
		if !ok {
			continue
		}
		t.value[i], t.set[i] = v, true
		v = strings.TrimSpace(v)
		f, err := strconv.ParseFloat(v, 64)
		t.num[i], t.isNum[i] = f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
		if weightRE.MatchString(v) {
			t.weight[i], _ = new(big.Rat).SetString(v)
		}
	}
	if x.valueTables == nil {
		x.valueTables = map[string]*valueTable{}
	}
	x.valueTables[key] = t
	return t
}
