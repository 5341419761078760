package placement

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
)

// valueOf returns a cluster's label or var named by a value source.
func valueOf(c *flotillav1.Cluster, vs flotillav1.ValueSource) (string, bool) {
	if vs.Label != "" {
		v, ok := c.Labels[vs.Label]
		return v, ok
	}
	v, ok := c.Spec.Vars[vs.Var]
	return v, ok
}

// describeSource names a value source: "label region", "var lines" or
// "available nvidia.com/gpu".
func describeSource(vs flotillav1.ValueSource) string {
	switch {
	case vs.Label != "":
		return "label " + vs.Label
	case vs.Available != "":
		return "available " + string(vs.Available)
	}
	return "var " + vs.Var
}

// rank orders the candidates by rankBy (numerically when every value that
// is set is a number, lexically otherwise; clusters without the value last;
// ties by name), or by name without rankBy.
func (p *appPlacement) rank(cands []candidate) []candidate {
	if p.roomRanked() {
		return p.rankByRoom(cands)
	}
	rb := p.app.Spec.Placement.RankBy
	if rb == nil {
		return cands // already in name order
	}
	type ranked struct {
		candidate
		value string
		set   bool
		num   float64
	}
	rs := make([]ranked, len(cands))
	numeric := true
	for i, c := range cands {
		v, ok := valueOf(c.cluster, rb.ValueSource)
		rs[i] = ranked{candidate: c, value: v, set: ok}
		if ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				numeric = false
			}
			rs[i].num = f
		}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		if a.set != b.set {
			if a.set {
				return -1
			}
			return 1
		}
		var c int
		if a.set {
			if numeric {
				c = cmp.Compare(a.num, b.num)
			} else {
				c = strings.Compare(a.value, b.value)
			}
			if rb.Descending {
				c = -c
			}
		}
		return cmp.Or(c, strings.Compare(a.cluster.Name, b.cluster.Name))
	})
	order := "ascending"
	if rb.Descending {
		order = "descending"
	}
	kind := "lexical"
	if numeric {
		kind = "numeric"
	}
	src := describeSource(rb.ValueSource)
	out := make([]candidate, len(rs))
	for i, r := range rs {
		out[i] = r.candidate
		if r.set {
			r.decision.Reasons = append(r.decision.Reasons, fmt.Sprintf("ranked %d of %d by %s=%s (%s, %s)", i+1, len(rs), src, r.value, kind, order))
		} else {
			r.decision.Reasons = append(r.decision.Reasons, fmt.Sprintf("ranked %d of %d: %s is not set, so it ranks after the clusters that set it", i+1, len(rs), src))
		}
	}
	return out
}

// choose ranks the candidates and takes them in order, honouring spread
// and maxClusters. The chosen clusters are returned in name order.
func (p *appPlacement) choose(cands []candidate) []candidate {
	pl := p.app.Spec.Placement
	ranked := p.keepRunningFirst(p.rank(cands))
	maxClusters := -1
	if pl.MaxClusters != nil {
		maxClusters = int(*pl.MaxClusters)
	}
	var spreadKey string
	maxPer := fleet.DefaultMaxPerValue
	if pl.Spread != nil {
		spreadKey = pl.Spread.LabelKey
		if pl.Spread.MaxPerValue > 0 {
			maxPer = int(pl.Spread.MaxPerValue)
		}
	}
	perValue := map[string]int{}
	var chosen []candidate
	for _, c := range ranked {
		if maxClusters >= 0 && len(chosen) >= maxClusters {
			c.decision.Reasons = append(c.decision.Reasons, fmt.Sprintf("not chosen: maxClusters %d reached", maxClusters))
			continue
		}
		if pl.Spread != nil {
			group := describeGroup(spreadKey, c.cluster)
			v := c.cluster.Labels[spreadKey]
			if perValue[v] >= maxPer {
				c.decision.Reasons = append(c.decision.Reasons, fmt.Sprintf("not chosen: spread %s already has %d of max %d", group, perValue[v], maxPer))
				continue
			}
			perValue[v]++
			c.decision.Reasons = append(c.decision.Reasons, fmt.Sprintf("spread %s: %d of max %d", group, perValue[v], maxPer))
		}
		if maxClusters >= 0 {
			c.decision.Reasons = append(c.decision.Reasons, fmt.Sprintf("chosen: %d of maxClusters %d", len(chosen)+1, maxClusters))
		}
		chosen = append(chosen, c)
	}
	slices.SortFunc(chosen, func(a, b candidate) int { return strings.Compare(a.cluster.Name, b.cluster.Name) })
	return chosen
}

// describeGroup names a spread group: "region=eu", or for clusters without
// the label (which form one group) "region unset".
func describeGroup(key string, c *flotillav1.Cluster) string {
	if v, ok := c.Labels[key]; ok && v != "" {
		return key + "=" + v
	}
	return key + " unset"
}

// rankByRoom orders the candidates by live capacity: by rankBy.available
// (in its order), or, for requires with maxClusters and no rankBy, by room
// (how many times the requirement fits), most first. Clusters of unknown
// capacity rank last; ties by name.
//
// Hysteresis: the clusters the app runs on now (WithRunning) rank first,
// so that it moves only when a site no longer fits (requires) or is
// otherwise ruled out, never because another site has a little more room
// at this moment. An app with failover.failback Return is not sticky (see
// sticky): it goes back to a recovered site that ranks first.
func (p *appPlacement) rankByRoom(cands []candidate) []candidate {
	rb := p.app.Spec.Placement.RankBy
	descending := rb == nil || rb.Descending
	type ranked struct {
		i       int
		value   float64
		known   bool
		running bool
	}
	rs := make([]ranked, len(cands))
	for i, c := range cands {
		r := ranked{i: i, running: p.running[c.cluster.Name] && p.sticky()}
		// fits recorded the figures of every resource the app reads on
		// each cluster of known capacity.
		if len(c.decision.Figures) > 0 {
			r.known = true
			if rb != nil {
				r.value = figure(c.decision, rb.Available).Available.AsApproximateFloat64()
			} else {
				r.value = room(c.decision)
			}
		}
		rs[i] = r
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		if a.running != b.running {
			if a.running {
				return -1
			}
			return 1
		}
		if a.known != b.known {
			if a.known {
				return -1
			}
			return 1
		}
		c := cmp.Compare(a.value, b.value)
		if descending {
			c = -c
		}
		return cmp.Or(c, strings.Compare(cands[a.i].cluster.Name, cands[b.i].cluster.Name))
	})
	order := "ascending"
	if descending {
		order = "descending"
	}
	by := "room (how many times requires fits)"
	if rb != nil {
		by = describeSource(rb.ValueSource)
	}
	out := make([]candidate, len(rs))
	for k, r := range rs {
		c := cands[r.i]
		out[k] = c
		var why string
		switch {
		case r.running:
			why = fmt.Sprintf("ranked %d of %d: the app runs here and it still qualifies, so it stays (hysteresis: it moves only when a site no longer fits)", k+1, len(rs))
		case !r.known:
			why = fmt.Sprintf("ranked %d of %d: capacity unknown, so it ranks after the clusters with figures", k+1, len(rs))
		default:
			// Built by hand: this runs for every candidate.
			var b strings.Builder
			b.Grow(48 + len(by))
			b.WriteString("ranked ")
			b.WriteString(strconv.Itoa(k + 1))
			b.WriteString(" of ")
			b.WriteString(strconv.Itoa(len(rs)))
			b.WriteString(" by ")
			b.WriteString(by)
			b.WriteByte('=')
			if rb != nil {
				writeQuantity(&b, figure(c.decision, rb.Available).Available)
			} else {
				b.WriteString(strconv.FormatFloat(r.value, 'f', -1, 64))
			}
			b.WriteString(" (")
			b.WriteString(order)
			b.WriteByte(')')
			why = b.String()
		}
		c.decision.Reasons = append(c.decision.Reasons, why)
	}
	return out
}
