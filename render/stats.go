package render

import (
	"sync/atomic"
	"time"
)

// Stats are a Renderer's counters since New. Take two snapshots and Sub
// them to measure one batch.
type Stats struct {
	// Renders is the number of targets rendered, successfully or not.
	Renders uint64
	// Errors is the number of renders that returned an error.
	Errors uint64
	// Builds is the number of kustomize builds actually executed.
	Builds uint64
	// CacheHits is the number of renders that reused a build: a cached one
	// still valid for the root, or one another render was running at the
	// same time.
	CacheHits uint64
	// Stale is the number of lookups that found a cached build that a
	// changed file had made invalid.
	Stale uint64
	// Evictions is the number of cached builds dropped to stay within
	// Options.MaxCacheBytes.
	Evictions uint64
	// FilesChecked is the number of filesystem answers re-checked (files
	// hashed, folders listed) to validate cached builds.
	FilesChecked uint64
	// BuildTime is the total time spent inside kustomize builds.
	BuildTime time.Duration
	// CachedBuilds is the number of builds the cache holds now (a gauge,
	// not a counter).
	CachedBuilds int
	// CachedBytes is the approximate memory the cache holds now (a gauge).
	CachedBytes int64
}

// Sub returns the counters of s minus those of before; the gauges
// (CachedBuilds, CachedBytes) are s's.
func (s Stats) Sub(before Stats) Stats {
	return Stats{
		Renders:      s.Renders - before.Renders,
		Errors:       s.Errors - before.Errors,
		Builds:       s.Builds - before.Builds,
		CacheHits:    s.CacheHits - before.CacheHits,
		Stale:        s.Stale - before.Stale,
		Evictions:    s.Evictions - before.Evictions,
		FilesChecked: s.FilesChecked - before.FilesChecked,
		BuildTime:    s.BuildTime - before.BuildTime,
		CachedBuilds: s.CachedBuilds,
		CachedBytes:  s.CachedBytes,
	}
}

// counters are the atomic counters behind Stats.
type counters struct {
	renders, errors, builds, hits, stale, evictions, filesChecked atomic.Uint64
	buildNanos                                                    atomic.Int64
}
