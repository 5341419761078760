package placement

import (
	"cmp"
	"fmt"
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
// ties by name), or by name without rankBy. It records on the app's facts
// whether the order was numeric.
func (p *appPlacement) rank(cands []candidate) []candidate {
	if p.roomRanked() {
		return p.rankByRoom(cands)
	}
	rb := p.app.Spec.Placement.RankBy
	if rb == nil {
		return cands // already in name order
	}
	t := p.x.values(rb.ValueSource)
	numeric := true
	for _, c := range cands {
		if t.set[c.idx] && !t.isNum[c.idx] {
			numeric = false
			break
		}
	}
	p.facts.numeric = numeric
	if numeric {
		return rankNumeric(cands, t, rb.Descending)
	}
	// The candidates are in name order: their positions break ties.
	order := make([]int32, len(cands))
	for k := range order {
		order[k] = int32(k) //nolint:gosec // a candidate's position, capped by fleet.Limits
	}
	idx := func(k int32) int { return cands[k].idx }
	slices.SortFunc(order, func(a, b int32) int {
		sa, sb := t.set[idx(a)], t.set[idx(b)]
		if sa != sb {
			if sa {
				return -1
			}
			return 1
		}
		var c int
		if sa {
			if numeric {
				c = cmp.Compare(t.num[idx(a)], t.num[idx(b)])
			} else {
				c = strings.Compare(t.value[idx(a)], t.value[idx(b)])
			}
			if rb.Descending {
				c = -c
			}
		}
		return cmp.Or(c, cmp.Compare(a, b))
	})
	out := make([]candidate, len(order))
	for k, pos := range order {
		out[k] = cands[pos]
	}
	return out
}

// rankNumeric is rank when every value set is a number.
func rankNumeric(cands []candidate, t *valueTable, descending bool) []candidate {
	type key struct {
		num float64
		pos int32
		set bool
	}
	keys := make([]key, len(cands))
	for k, c := range cands {
		keys[k] = key{num: t.num[c.idx], pos: int32(k), set: t.set[c.idx]} //nolint:gosec // a candidate's position, capped by fleet.Limits
	}
	// The candidates are in name order: their positions break ties.
	slices.SortFunc(keys, func(a, b key) int {
		if a.set != b.set {
			if a.set {
				return -1
			}
			return 1
		}
		var c int
		if a.set {
			c = cmp.Compare(a.num, b.num)
			if descending {
				c = -c
			}
		}
		return cmp.Or(c, cmp.Compare(a.pos, b.pos))
	})
	out := make([]candidate, len(keys))
	for k, key := range keys {
		out[k] = cands[key.pos]
	}
	return out
}

// ranks says whether rank orders the app's candidates (and each says
// where it ranked).
func (p *appPlacement) ranks() bool {
	return p.roomRanked() || p.app.Spec.Placement.RankBy != nil
}

// rankReason says where cluster i ranked: pos (from 0) of n candidates.
// d holds the figures fits recorded.
func (p *appPlacement) rankReason(i, pos, n int, d *Decision) string {
	if p.roomRanked() {
		return p.roomRankReason(i, pos, n, d)
	}
	rb := p.app.Spec.Placement.RankBy
	src := describeSource(rb.ValueSource)
	v, set := valueOf(p.x.clusters[i], rb.ValueSource)
	if !set {
		return fmt.Sprintf("ranked %d of %d: %s is not set, so it ranks after the clusters that set it", pos+1, n, src)
	}
	order := "ascending"
	if rb.Descending {
		order = "descending"
	}
	kind := "lexical"
	if p.facts.numeric {
		kind = "numeric"
	}
	return fmt.Sprintf("ranked %d of %d by %s=%s (%s, %s)", pos+1, n, src, v, kind, order)
}

// chooseStep is what choose did with one candidate.
type chooseStep struct {
	kind chooseKind
	// n and limit: the count and the maximum the step compared.
	n, limit int
}

type chooseKind uint8

const (
	// maxClustersReached: not chosen, maxClusters clusters already are.
	maxClustersReached chooseKind = iota
	// spreadFull: not chosen, its spread group already has limit.
	spreadFull
	// spreadCounted: its spread group now has n of limit.
	spreadCounted
	// chosenOf: chosen, the n-th of maxClusters limit.
	chosenOf
)

// reason says a step in words; c is the candidate's cluster.
func (s chooseStep) reason(p *appPlacement, c *flotillav1.Cluster) string {
	switch s.kind {
	case maxClustersReached:
		return fmt.Sprintf("not chosen: maxClusters %d reached", s.limit)
	case spreadFull:
		return fmt.Sprintf("not chosen: spread %s already has %d of max %d", describeGroup(p.app.Spec.Placement.Spread.LabelKey, c), s.n, s.limit)
	case spreadCounted:
		return fmt.Sprintf("spread %s: %d of max %d", describeGroup(p.app.Spec.Placement.Spread.LabelKey, c), s.n, s.limit)
	}
	return fmt.Sprintf("chosen: %d of maxClusters %d", s.n, s.limit)
}

// choose takes the ranked candidates in order, honouring spread and
// maxClusters. The chosen clusters are returned in name order. note, when
// set, is told every step about every candidate (in the order taken);
// without it choose stops once maxClusters are chosen.
func (p *appPlacement) choose(ranked []candidate, note func(c candidate, s chooseStep)) []candidate {
	pl := p.app.Spec.Placement
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
			if note == nil {
				break
			}
			note(c, chooseStep{kind: maxClustersReached, limit: maxClusters})
			continue
		}
		if pl.Spread != nil {
			v := c.cluster.Labels[spreadKey]
			if perValue[v] >= maxPer {
				if note != nil {
					note(c, chooseStep{kind: spreadFull, n: perValue[v], limit: maxPer})
				}
				continue
			}
			perValue[v]++
			if note != nil {
				note(c, chooseStep{kind: spreadCounted, n: perValue[v], limit: maxPer})
			}
		}
		if maxClusters >= 0 && note != nil {
			note(c, chooseStep{kind: chosenOf, n: len(chosen) + 1, limit: maxClusters})
		}
		chosen = append(chosen, c)
	}
	slices.SortFunc(chosen, func(a, b candidate) int { return cmp.Compare(a.idx, b.idx) })
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
		value   float64
		pos     int32
		known   bool
		running bool
	}
	sticky := p.sticky()
	rs := make([]ranked, len(cands))
	for k, c := range cands {
		r := ranked{pos: int32(k), running: sticky && p.running[c.cluster.Name]} //nolint:gosec // a candidate's position, capped by fleet.Limits
		if p.known(c.idx) {
			r.known = true
			r.value = p.roomValue(c.idx)
		}
		rs[k] = r
	}
	// The candidates are in name order: their positions break ties.
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
		return cmp.Or(c, cmp.Compare(a.pos, b.pos))
	})
	out := make([]candidate, len(rs))
	for k, r := range rs {
		out[k] = cands[r.pos]
	}
	return out
}

// roomValue is what rankByRoom orders cluster i (of known capacity) by:
// its available rankBy.available, or its room.
func (p *appPlacement) roomValue(i int) float64 {
	if rb := p.app.Spec.Placement.RankBy; rb != nil {
		return p.approxAvailable(i, rb.Available)
	}
	return p.room(i)
}

// roomRankReason says where cluster i ranked by live capacity.
func (p *appPlacement) roomRankReason(i, pos, n int, d *Decision) string {
	rb := p.app.Spec.Placement.RankBy
	switch {
	case p.sticky() && p.running[p.x.clusters[i].Name]:
		return fmt.Sprintf("ranked %d of %d: the app runs here and it still qualifies, so it stays (hysteresis: it moves only when a site no longer fits)", pos+1, n)
	case !p.known(i):
		return fmt.Sprintf("ranked %d of %d: capacity unknown, so it ranks after the clusters with figures", pos+1, n)
	}
	order := "ascending"
	if rb == nil || rb.Descending {
		order = "descending"
	}
	by := "room (how many times requires fits)"
	if rb != nil {
		by = describeSource(rb.ValueSource)
	}
	var b strings.Builder
	b.Grow(48 + len(by))
	b.WriteString("ranked ")
	b.WriteString(strconv.Itoa(pos + 1))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(n))
	b.WriteString(" by ")
	b.WriteString(by)
	b.WriteByte('=')
	if rb != nil {
		writeQuantity(&b, figure(d, rb.Available).Available)
	} else {
		b.WriteString(strconv.FormatFloat(p.room(i), 'f', -1, 64))
	}
	b.WriteString(" (")
	b.WriteString(order)
	b.WriteByte(')')
	return b.String()
}
