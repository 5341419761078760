package placement

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// availableOf returns the amount of a resource cluster i (of known
// capacity) has available for this app: the live figure plus what the app
// itself holds there. A cluster with figures that does not list the
// resource has none of it.
func (p *appPlacement) availableOf(i int, name corev1.ResourceName) resource.Quantity {
	q := p.x.figures[name].available[i]
	if p.held != nil {
		if h, ok := p.held[p.x.clusters[i].Name][name]; ok {
			q = q.DeepCopy()
			q.Add(h)
		}
	}
	return q
}

// approxAvailable is availableOf as a float, for ranking.
func (p *appPlacement) approxAvailable(i int, name corev1.ResourceName) float64 {
	if p.held != nil {
		if _, ok := p.held[p.x.clusters[i].Name][name]; ok {
			q := p.availableOf(i, name)
			return q.AsApproximateFloat64()
		}
	}
	return p.x.figures[name].approx[i]
}

// known says whether the capacity of cluster i is known and the app reads
// some of its figures: the decision then records them (recordFigures).
func (p *appPlacement) known(i int) bool {
	return len(p.resources) > 0 && p.x.known != nil && p.x.known[i]
}

// knownAvailable returns the available amount of a resource on cluster i
// as the app sees it, zero when its capacity is unknown.
func (p *appPlacement) knownAvailable(i int, name corev1.ResourceName) resource.Quantity {
	if !p.known(i) {
		return resource.Quantity{}
	}
	return p.availableOf(i, name)
}

// requirement is one resource of spec.placement.requires, with its
// figures.
type requirement struct {
	name    corev1.ResourceName
	want    resource.Quantity
	figures *resourceFigures
}

// requirements lists the app's requires in resource order, with the
// figures of the index (nil without live capacity).
func requirements(a *flotillav1.App, resources []corev1.ResourceName, x *fleetIndex) []requirement {
	var out []requirement
	for _, name := range resources {
		if want, ok := a.Spec.Placement.Requires[name]; ok {
			out = append(out, requirement{name: name, want: want, figures: x.figures[name]})
		}
	}
	return out
}

// capacityResources are the resources whose figures an app's placement
// reads, sorted.
func capacityResources(a *flotillav1.App) []corev1.ResourceName {
	pl := a.Spec.Placement
	var out []corev1.ResourceName
	for name := range pl.Requires {
		out = append(out, name)
	}
	if pl.RankBy != nil && pl.RankBy.Available != "" {
		out = append(out, pl.RankBy.Available)
	}
	for _, d := range pl.Replicas {
		if d.WeightBy != nil && d.WeightBy.Available != "" {
			out = append(out, d.WeightBy.Available)
		}
	}
	slices.Sort(out)
	return slices.Compact(append(make([]corev1.ResourceName, 0, len(out)), out...))
}

// recordFigures stores on the decision the figures of the resources the
// app reads on cluster i, of known capacity.
func (p *appPlacement) recordFigures(i int, d *Decision) {
	req := p.app.Spec.Placement.Requires
	name := p.x.clusters[i].Name
	d.Figures = make([]Figure, 0, len(p.resources))
	for _, res := range p.resources {
		f := Figure{Resource: res, Available: p.availableOf(i, res), Allocatable: p.x.figures[res].allocatable[i]}
		if h, ok := p.held[name][res]; ok {
			f.Held = h.DeepCopy()
		}
		if r, ok := req[res]; ok {
			r := r.DeepCopy()
			f.Required = &r
		}
		d.Figures = append(d.Figures, f)
	}
}

// fits checks spec.placement.requires against the available figures of
// cluster i (as the app sees them: with what it holds there added back).
// Explaining (d not nil), it records the figures and a reason.
func (p *appPlacement) fits(i int, d *Decision) bool {
	if len(p.resources) == 0 {
		return true
	}
	known := p.known(i)
	if d != nil && known {
		p.recordFigures(i, d)
	}
	req := p.app.Spec.Placement.Requires
	if len(req) == 0 {
		return true
	}
	if !known {
		if d != nil {
			why := "the hub has no figures for it yet"
			if p.capacity == nil {
				why = "live capacity was not used"
			}
			d.Reasons = append(d.Reasons, fmt.Sprintf("does not meet requires %s: capacity unknown (%s)", describeResources(req), why))
		}
		return false
	}
	if d == nil {
		for k := range p.required {
			r := &p.required[k]
			q := r.figures.available[i]
			if p.held != nil {
				q = p.availableOf(i, r.name)
			}
			if q.Cmp(r.want) < 0 {
				return false
			}
		}
		return true
	}
	var b strings.Builder
	b.Grow(64 + 48*len(d.Figures))
	fits := true
	for _, f := range d.Figures {
		if f.Required != nil && f.Available.Cmp(*f.Required) < 0 {
			fits = false
		}
	}
	if !fits {
		b.WriteString("does not meet requires ")
	} else {
		b.WriteString("meets requires ")
	}
	b.WriteString(describeResources(req))
	b.WriteString(": ")
	first := true
	for _, f := range d.Figures {
		if f.Required == nil {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		writeFigure(&b, f)
	}
	if !fits {
		b.WriteString(" too little ")
		first = true
		for _, f := range d.Figures {
			if f.Required != nil && f.Available.Cmp(*f.Required) < 0 {
				if !first {
					b.WriteString(", ")
				}
				first = false
				b.WriteString(string(f.Resource))
			}
		}
	}
	d.Reasons = append(d.Reasons, b.String())
	return fits
}

// writeFigure writes "nvidia.com/gpu 6 available of 8 (4 held by the app)".
func writeFigure(b *strings.Builder, f Figure) {
	b.WriteString(string(f.Resource))
	b.WriteByte(' ')
	writeQuantity(b, f.Available)
	b.WriteString(" available of ")
	writeQuantity(b, f.Allocatable)
	if !f.Held.IsZero() {
		b.WriteString(" (")
		writeQuantity(b, f.Held)
		b.WriteString(" held by the app)")
	}
}

// writeQuantity writes a quantity as Quantity.String does, without
// allocating for whole numbers below 1000 (GPUs, CPUs).
func writeQuantity(b *strings.Builder, q resource.Quantity) {
	if v, ok := q.AsInt64(); ok && v >= 0 && v < 1000 {
		var buf [4]byte
		b.Write(strconv.AppendInt(buf[:0], v, 10))
		return
	}
	b.WriteString(q.String())
}

// describeResources prints a resource list sorted by name: "cpu=2,
// nvidia.com/gpu=4".
func describeResources(rl corev1.ResourceList) string {
	names := make([]string, 0, len(rl))
	for name := range rl {
		names = append(names, string(name))
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		q := rl[corev1.ResourceName(n)]
		parts[i] = n + "=" + q.String()
	}
	return strings.Join(parts, ", ")
}

// roomRanked says whether the app ranks its candidates by live capacity:
// with rankBy.available, or with requires and maxClusters but no rankBy
// (maxClusters then takes the sites with the most room).
func (p *appPlacement) roomRanked() bool {
	pl := p.app.Spec.Placement
	if pl.RankBy != nil {
		return pl.RankBy.Available != ""
	}
	return len(pl.Requires) > 0 && pl.MaxClusters != nil
}

// room is how many times the app's requirement fits in the available
// figures of cluster i, of known capacity: the smallest
// available/required ratio over the required resources (a required
// amount of zero does not limit it).
func (p *appPlacement) room(i int) float64 {
	r, first := 0.0, true
	for _, name := range p.resources {
		want, ok := p.app.Spec.Placement.Requires[name]
		if !ok || want.Sign() <= 0 {
			continue
		}
		ratio := p.approxAvailable(i, name) / want.AsApproximateFloat64()
		if first || ratio < r {
			r, first = ratio, false
		}
	}
	return r
}

// figure returns the decision's figure of a resource, or nil.
func figure(d *Decision, name corev1.ResourceName) *Figure {
	for i := range d.Figures {
		if d.Figures[i].Resource == name {
			return &d.Figures[i]
		}
	}
	return nil
}

// ratFromQuantity returns a quantity as an exact non-negative rational.
func ratFromQuantity(q resource.Quantity) *big.Rat {
	if q.Sign() <= 0 {
		return new(big.Rat)
	}
	if v, ok := q.AsInt64(); ok {
		return new(big.Rat).SetInt64(v)
	}
	// Most fractional figures are whole milli-units (CPU).
	if m := q.MilliValue(); resource.NewMilliQuantity(m, resource.DecimalSI).Cmp(q) == 0 {
		return big.NewRat(m, 1000)
	}
	r, ok := new(big.Rat).SetString(q.AsDec().String())
	if !ok {
		return new(big.Rat)
	}
	return r
}
