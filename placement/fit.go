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

// availableOf returns the amount of a resource a cluster of known
// capacity has available for this app: the live figure plus what the app
// itself holds there. A cluster with figures that does not list the
// resource has none of it.
func (p *appPlacement) availableOf(capa *Capacity, cluster string, name corev1.ResourceName) resource.Quantity {
	q := capa.Available[name]
	if p.held != nil {
		if h, ok := p.held[cluster][name]; ok {
			q = q.DeepCopy()
			q.Add(h)
		}
	}
	return q
}

// figureAvailable returns the available amount of a resource recorded on
// a decision, zero when the decision has no figure for it (unknown
// capacity).
func figureAvailable(d *Decision, name corev1.ResourceName) resource.Quantity {
	if f := figure(d, name); f != nil {
		return f.Available
	}
	return resource.Quantity{}
}

// capacityResources are the resources whose figures the app's placement
// reads, sorted.
func (p *appPlacement) capacityResources() []corev1.ResourceName {
	pl := p.app.Spec.Placement
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
// app reads. Nothing is stored for a cluster of unknown capacity.
func (p *appPlacement) recordFigures(c *flotillav1.Cluster, d *Decision, resources []corev1.ResourceName) {
	capa, ok := p.capacity[c.Name]
	if !ok {
		return
	}
	p.knownHere = true
	req := p.app.Spec.Placement.Requires
	if len(p.figures) < len(resources) {
		p.figures = make([]Figure, len(resources)*min(len(p.clusters), 1024))
	}
	d.Figures = p.figures[:0:len(resources)]
	p.figures = p.figures[len(resources):]
	for _, name := range resources {
		f := Figure{Resource: name, Available: p.availableOf(&capa, c.Name, name), Allocatable: capa.Allocatable[name]}
		if h, ok := p.held[c.Name][name]; ok {
			f.Held = h.DeepCopy()
		}
		if r, ok := req[name]; ok {
			r := r.DeepCopy()
			f.Required = &r
		}
		d.Figures = append(d.Figures, f)
	}
}

// fits checks spec.placement.requires against the cluster's available
// figures (as the app sees them: with what it holds there added back),
// recording the figures and a reason.
func (p *appPlacement) fits(c *flotillav1.Cluster, d *Decision) bool {
	if p.resources == nil {
		p.resources = p.capacityResources()
	}
	resources := p.resources
	if len(resources) == 0 {
		return true
	}
	p.knownHere = false
	p.recordFigures(c, d, resources)
	req := p.app.Spec.Placement.Requires
	if len(req) == 0 {
		return true
	}
	if !p.knownHere {
		why := "the hub has no figures for it yet"
		if p.capacity == nil {
			why = "live capacity was not used"
		}
		d.Reasons = append(d.Reasons, fmt.Sprintf("does not meet requires %s: capacity unknown (%s)", describeResources(req), why))
		return false
	}
	if p.reqText == "" {
		p.reqText = describeResources(req)
	}
	// Built by hand: this runs for every (app, cluster) pair.
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
	b.WriteString(p.reqText)
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

// room is how many times the app's requirement fits in the cluster's
// available figures: the smallest available/required ratio over the
// required resources (a required amount of zero does not limit it). It
// reads the figures fits recorded on the decision.
func room(d *Decision) float64 {
	r, first := 0.0, true
	for _, f := range d.Figures {
		if f.Required == nil || f.Required.Sign() <= 0 {
			continue
		}
		ratio := f.Available.AsApproximateFloat64() / f.Required.AsApproximateFloat64()
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
	r, ok := new(big.Rat).SetString(q.AsDec().String())
	if !ok {
		return new(big.Rat)
	}
	return r
}
