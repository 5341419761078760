package fleet

import "fmt"

// Default size limits of one fleet repository.
const (
	// DefaultMaxClusters is the default cap on cluster files.
	DefaultMaxClusters = 10000
	// DefaultMaxApps is the default cap on app folders.
	DefaultMaxApps = 1000
	// DefaultMaxTargets is the default cap on placed (app, cluster) pairs.
	DefaultMaxTargets = 100000
)

// Limits cap the size of one fleet repository, so that a repository with
// more clusters, apps or targets than the hub is sized for is refused with
// an error instead of exhausting memory. A zero field takes its default.
type Limits struct {
	// Clusters caps the cluster files under clusters/ (--max-clusters).
	Clusters int
	// Apps caps the app folders under apps/ (--max-apps).
	Apps int
	// Targets caps the (app, cluster) pairs placement may produce
	// (--max-targets); placement enforces it.
	Targets int
}

// WithDefaults returns l with every zero or negative field set to its
// default.
func (l Limits) WithDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Clusters, DefaultMaxClusters)
	def(&l.Apps, DefaultMaxApps)
	def(&l.Targets, DefaultMaxTargets)
	return l
}

// WithLimits caps the number of clusters and apps Load reads; see Limits.
// Without it, the defaults apply.
func WithLimits(l Limits) Option {
	return func(o *loadOptions) { o.limits = l.WithDefaults() }
}

// LimitMessage is the message of a diagnostic for a count over a limit: it
// names the limit, the count and the flag that raises it, for example
// LimitMessage("clusters", "cluster files", 12000, 10000, "--max-clusters").
func LimitMessage(limit, counted string, count, max int, flag string) string {
	return fmt.Sprintf("too many %s: %d %s, over the limit of %d; split the fleet across repositories, or raise the limit with %s (flotilla validate, render, diff and controller all take it)",
		limit, count, counted, max, flag)
}
