package placement

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
)

// weightRE is the syntax of a weight taken from a label or var: a
// non-negative decimal number.
var weightRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// divideReplicas computes, for every replica division of the app, each
// chosen cluster's share and records it on the targets.
func (p *appPlacement) divideReplicas(chosen []candidate, targets []Target) {
	if len(chosen) == 0 {
		return
	}
	p.facts.divisions = make([]division, len(p.app.Spec.Placement.Replicas))
	for i, d := range p.app.Spec.Placement.Replicas {
		kind := d.Workload.Kind
		if kind == "" {
			kind = fleet.DefaultWorkloadKind
		}
		weights, how, ok := p.weights(i, d, chosen)
		if !ok {
			continue
		}
		var shares []int64
		var sum *big.Rat
		if caps := p.replicaCaps(d, chosen); caps != nil {
			var fitted bool
			shares, sum, fitted = divideCapped(int64(d.Total), weights, caps, clusterNames(chosen))
			if !fitted && shares != nil {
				p.warnf([]any{"spec", "placement", "replicas", i}, "spec.placement.replicas[%d]: the %d replicas of %s %s need %s each (requires), but the clusters app %s is placed on have room for %d; the shares ignore the capacity; free capacity, add clusters or lower the total",
					i, d.Total, kind, d.Workload.Name, describeQuantity(d.WeightBy.Available, p.app.Spec.Placement.Requires), p.app.Name, sumCaps(caps))
			}
		} else {
			shares, sum = divide(int64(d.Total), weights, clusterNames(chosen))
		}
		if shares == nil {
			if d.Total > 0 {
				p.errorf([]any{"spec", "placement", "replicas", i}, "spec.placement.replicas[%d]: every cluster app %s is placed on weighs 0 %s, so the %d replicas of %s %s cannot be divided; give at least one of %s a weight",
					i, p.app.Name, how, d.Total, kind, d.Workload.Name, listNames(clusterNames(chosen)))
			}
			// With nothing to divide every cluster runs 0 replicas.
			shares = make([]int64, len(chosen))
		}
		p.facts.divisions[i] = division{divided: true, sum: formatRat(sum)}
		for j := range chosen {
			targets[j].Replicas = append(targets[j].Replicas, Replicas{Kind: kind, Name: d.Workload.Name, Count: int32(shares[j])}) //nolint:gosec // divide keeps every share between 0 and d.Total, an int32, so it fits
		}
	}
}

// replicaReasons records on d, for chosen cluster c with target t, its
// share of each division the app divided, with its weight.
func (p *appPlacement) replicaReasons(c candidate, t *Target, d *Decision) {
	r := 0
	for i, div := range p.app.Spec.Placement.Replicas {
		if i >= len(p.facts.divisions) || !p.facts.divisions[i].divided || r >= len(t.Replicas) {
			continue
		}
		weights, how, _ := p.weights(i, div, []candidate{c})
		d.Reasons = append(d.Reasons, fmt.Sprintf("replicas %s: %d of %d (weight %s/%s %s)",
			div.Workload.Name, t.Replicas[r].Count, div.Total, formatRat(weights[0]), p.facts.divisions[i].sum, how))
		r++
	}
}

// weights returns the weight of each chosen cluster for division i and a
// description of where the weights come from.
func (p *appPlacement) weights(i int, d flotillav1.ReplicaDivision, chosen []candidate) ([]*big.Rat, string, bool) {
	weights := make([]*big.Rat, len(chosen))
	switch {
	case d.WeightBy != nil && d.WeightBy.Available != "":
		for j, c := range chosen {
			weights[j] = ratFromQuantity(p.knownAvailable(c.idx, d.WeightBy.Available))
		}
		return weights, "by " + describeSource(*d.WeightBy), true
	case d.WeightBy != nil:
		how := "by " + describeSource(*d.WeightBy)
		ok := true
		var t *valueTable
		if p.placing() {
			t = p.x.values(*d.WeightBy)
		}
		for j, c := range chosen {
			if t != nil && (!t.set[c.idx] || t.weight[c.idx] != nil) {
				weights[j] = t.weight[c.idx]
				if weights[j] == nil {
					weights[j] = new(big.Rat)
				}
				continue
			}
			weights[j] = new(big.Rat)
			v, set := valueOf(c.cluster, *d.WeightBy)
			if !set {
				continue
			}
			v = strings.TrimSpace(v)
			if !weightRE.MatchString(v) {
				p.errorf([]any{"spec", "placement", "replicas", i, "weightBy"}, "spec.placement.replicas[%d].weightBy: cluster %s has %s=%q, which is not a non-negative number; set a number such as 4 in %s",
					i, c.cluster.Name, describeSource(*d.WeightBy), v, p.clusterFile(c.cluster.Name))
				ok = false
				continue
			}
			weights[j].SetString(v)
		}
		return weights, how, ok
	case len(d.StaticWeights) > 0:
		static := map[string]int32{}
		for _, sw := range d.StaticWeights {
			for _, name := range sw.Clusters {
				if _, dup := static[name]; !dup {
					static[name] = sw.Weight
				}
			}
		}
		for j, c := range chosen {
			weights[j] = big.NewRat(int64(max(static[c.cluster.Name], 0)), 1)
		}
		return weights, "static", true
	default:
		for j := range chosen {
			weights[j] = big.NewRat(1, 1)
		}
		return weights, "equal", true
	}
}

// clusterFile names the file of a cluster for messages.
func (p *appPlacement) clusterFile(name string) string {
	if f := p.f.ClusterFiles[name]; f != "" {
		return f
	}
	return "clusters/" + name + ".yaml"
}

// divide splits total by weight with the largest-remainder method: each
// share is the floor of its exact quota, and the replicas left over go one
// each to the largest fractional parts, ties broken by name. The shares
// always sum to total. It returns nil when every weight is zero, and the sum
// of the weights. The arithmetic is exact: the weights are scaled to
// integers over their common denominator.
func divide(total int64, weights []*big.Rat, names []string) ([]int64, *big.Rat) {
	denom := big.NewInt(1)
	for _, w := range weights {
		if !w.IsInt() {
			g := new(big.Int).GCD(nil, nil, denom, w.Denom())
			denom.Mul(denom, new(big.Int).Quo(w.Denom(), g))
		}
	}
	scaled := make([]*big.Int, len(weights))
	sum := new(big.Int)
	for i, w := range weights {
		scaled[i] = new(big.Int).Mul(w.Num(), new(big.Int).Quo(denom, w.Denom()))
		sum.Add(sum, scaled[i])
	}
	sumRat := new(big.Rat).SetFrac(sum, denom)
	if sum.Sign() == 0 {
		return nil, sumRat
	}
	bigTotal := big.NewInt(total)
	shares := make([]int64, len(weights))
	rems := make([]*big.Int, len(weights))
	left := total
	for i, w := range scaled {
		// share = floor(total * w / sum); the remainder over sum is the
		// fractional part, comparable across clusters.
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(bigTotal, w), sum, new(big.Int))
		shares[i], rems[i] = q.Int64(), r
		left -= shares[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := rems[b].Cmp(rems[a]); c != 0 {
			return c
		}
		return strings.Compare(names[a], names[b])
	})
	for k := 0; left > 0 && k < len(order); k++ {
		shares[order[k]]++
		left--
	}
	return shares, sumRat
}

// formatRat prints a weight: "4", or "1.5" for decimals.
func formatRat(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	s := strings.TrimRight(r.FloatString(6), "0")
	return strings.TrimSuffix(s, ".")
}

func clusterNames(cands []candidate) []string {
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i] = c.cluster.Name
	}
	return out
}

// replicaCaps returns, for a division weighted by an available resource
// that the app also requires, how many replicas fit on each chosen cluster
// (each replica needing the required amount), or nil when no cap applies.
func (p *appPlacement) replicaCaps(d flotillav1.ReplicaDivision, chosen []candidate) []int64 {
	if d.WeightBy == nil || d.WeightBy.Available == "" {
		return nil
	}
	want, ok := p.app.Spec.Placement.Requires[d.WeightBy.Available]
	if !ok || want.Sign() <= 0 {
		return nil
	}
	wantRat := ratFromQuantity(want)
	caps := make([]int64, len(chosen))
	for j, c := range chosen {
		n := new(big.Rat).Quo(ratFromQuantity(p.knownAvailable(c.idx, d.WeightBy.Available)), wantRat)
		fl := new(big.Int).Quo(n.Num(), n.Denom())
		if fl.IsInt64() {
			caps[j] = fl.Int64()
		} else {
			caps[j] = int64(d.Total)
		}
	}
	return caps
}

// divideCapped divides total by weight like divide, with no share above
// its cap: a share over its cap is set to the cap and the rest is divided
// again among the others, until every share fits. fitted is false when the
// caps add up to less than total; the shares are then divide's, ignoring
// the caps, so that they still sum to total.
func divideCapped(total int64, weights []*big.Rat, caps []int64, names []string) (shares []int64, sum *big.Rat, fitted bool) {
	if sumCaps(caps) < total {
		shares, sum = divide(total, weights, names)
		return shares, sum, false
	}
	shares, sum = divide(total, weights, names)
	if shares == nil {
		return nil, sum, true
	}
	fixed := make([]bool, len(weights))
	for {
		over := false
		for i, s := range shares {
			if !fixed[i] && s > caps[i] {
				fixed[i], over = true, true
			}
		}
		if !over {
			return shares, sum, true
		}
		left := total
		var idx []int
		for i := range weights {
			if fixed[i] {
				shares[i] = caps[i]
				left -= caps[i]
			} else {
				idx = append(idx, i)
			}
		}
		sub := make([]*big.Rat, len(idx))
		subNames := make([]string, len(idx))
		for k, i := range idx {
			sub[k], subNames[k] = weights[i], names[i]
		}
		part, _ := divide(left, sub, subNames)
		if part == nil {
			// The clusters left weigh nothing: fill them up to their caps
			// in name order (the caps add up to at least total).
			part = make([]int64, len(idx))
			for k, i := range idx {
				part[k] = min(caps[i], left)
				left -= part[k]
			}
		}
		for k, i := range idx {
			shares[i] = part[k]
		}
	}
}

// sumCaps adds the caps.
func sumCaps(caps []int64) int64 {
	var n int64
	for _, c := range caps {
		n += c
	}
	return n
}

// describeQuantity prints the amount of a resource in a list, "nvidia.com/gpu=4".
func describeQuantity(name corev1.ResourceName, rl corev1.ResourceList) string {
	q := rl[name]
	return string(name) + "=" + q.String()
}
