package placement

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"

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
	for i, d := range p.app.Spec.Placement.Replicas {
		kind := d.Workload.Kind
		if kind == "" {
			kind = fleet.DefaultWorkloadKind
		}
		weights, how, ok := p.weights(i, d, chosen)
		if !ok {
			continue
		}
		shares, sum := divide(int64(d.Total), weights, clusterNames(chosen))
		if shares == nil {
			if d.Total > 0 {
				p.errorf([]any{"spec", "placement", "replicas", i}, "spec.placement.replicas[%d]: every cluster app %s is placed on weighs 0 %s, so the %d replicas of %s %s cannot be divided; give at least one of %s a weight",
					i, p.app.Name, how, d.Total, kind, d.Workload.Name, listNames(clusterNames(chosen)))
			}
			// With nothing to divide every cluster runs 0 replicas.
			shares = make([]int64, len(chosen))
		}
		sumText := formatRat(sum)
		for j, c := range chosen {
			targets[j].Replicas = append(targets[j].Replicas, Replicas{Kind: kind, Name: d.Workload.Name, Count: int32(shares[j])}) //nolint:gosec // divide keeps every share between 0 and d.Total, an int32, so it fits
			c.decision.Reasons = append(c.decision.Reasons, fmt.Sprintf("replicas %s: %d of %d (weight %s/%s %s)",
				d.Workload.Name, shares[j], d.Total, formatRat(weights[j]), sumText, how))
		}
	}
}

// weights returns the weight of each chosen cluster for division i and a
// description of where the weights come from.
func (p *appPlacement) weights(i int, d flotillav1.ReplicaDivision, chosen []candidate) ([]*big.Rat, string, bool) {
	weights := make([]*big.Rat, len(chosen))
	switch {
	case d.WeightBy != nil:
		how := "by " + describeSource(*d.WeightBy)
		ok := true
		for j, c := range chosen {
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
