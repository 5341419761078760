package render

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/flotilla-gitops/flotilla/placement"
)

// Renderer renders targets with kustomize, caching builds across calls. It
// is safe for concurrent use; one Renderer per process is the intended use
// (the cache is its point).
type Renderer struct {
	opts     Options
	cache    *cache
	counters counters
	// workers are the idle render worker processes (Options.Isolate).
	workers workerPool
}

// New returns a Renderer. It initialises kustomize's schema the first time
// it is called in the process.
func New(opts Options) *Renderer {
	initSchema()
	guardNetwork()
	opts = opts.withDefaults()
	return &Renderer{opts: opts, cache: newCache(opts.MaxCacheBytes)}
}

// Options returns the Renderer's options, defaults filled in.
func (r *Renderer) Options() Options { return r.opts }

// Stats returns a snapshot of the Renderer's counters.
func (r *Renderer) Stats() Stats {
	n, b := r.cache.size()
	return Stats{
		Renders:      r.counters.renders.Load(),
		Errors:       r.counters.errors.Load(),
		Builds:       r.counters.builds.Load(),
		CacheHits:    r.counters.hits.Load(),
		Stale:        r.counters.stale.Load(),
		Evictions:    r.counters.evictions.Load(),
		FilesChecked: r.counters.filesChecked.Load(),
		BuildTime:    time.Duration(r.counters.buildNanos.Load()),
		CachedBuilds: n,
		CachedBytes:  b,
	}
}

// Render renders one target from the repository checked out at root. Every
// error is an *Error naming the app, the cluster and, when known, the file
// or object and what to change. Each call checks a cached build against the
// disk again (it hashes the files the build read); to render many targets
// use RenderAll or RenderEach, which check each file once per call.
func (r *Renderer) Render(ctx context.Context, root string, t placement.Target) (*Manifest, error) {
	realRoot, err := resolveRoot(root)
	return r.render(ctx, r.newSession(), realRoot, err, t)
}

// RenderAll renders targets from the repository checked out at root, with
// at most Options.Parallelism renders at a time, and returns the results in
// the order of targets. The repository must not change during the call:
// each file is read (and hashed) at most once per call to validate cached
// builds.
func (r *Renderer) RenderAll(ctx context.Context, root string, targets []placement.Target) []Result {
	results := make([]Result, len(targets))
	r.RenderEach(ctx, root, targets, func(i int, res Result) { results[i] = res })
	return results
}

// RenderEach is RenderAll without holding every manifest: it calls fn with
// the index and result of each target as soon as it is rendered, from up to
// Options.Parallelism goroutines at once (fn must be safe for that). It
// returns when every fn call has returned.
func (r *Renderer) RenderEach(ctx context.Context, root string, targets []placement.Target, fn func(i int, res Result)) {
	if len(targets) == 0 {
		return
	}
	start := time.Now()
	before := r.Stats()
	realRoot, rootErr := resolveRoot(root)
	s := r.newSession()
	workers := min(r.opts.Parallelism, len(targets))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(targets) {
					return
				}
				m, err := r.render(ctx, s, realRoot, rootErr, targets[i])
				fn(i, Result{Target: targets[i], Manifest: m, Err: err})
			}
		})
	}
	wg.Wait()
	d := r.Stats().Sub(before)
	logr.FromContextOrDiscard(ctx).V(1).Info("rendered targets", "targets", len(targets), "errors", d.Errors,
		"builds", d.Builds, "cacheHits", d.CacheHits, "duration", time.Since(start))
}

// render renders t within session s.
func (r *Renderer) render(ctx context.Context, s *session, root string, rootErr error, t placement.Target) (m *Manifest, err error) {
	r.counters.renders.Add(1)
	defer func() {
		if err != nil {
			r.counters.errors.Add(1)
		}
	}()
	if rootErr != nil {
		return nil, targetError(t.App, t.Cluster, "", rootErr)
	}
	key, err := targetKey(t)
	if err != nil {
		return nil, targetError(t.App, t.Cluster, "", err)
	}
	e, err := s.lookup(ctx, root, key, nil)
	if err != nil {
		return nil, targetError(t.App, t.Cluster, "", fmt.Errorf("rendering interrupted: %w", err))
	}
	if e.err != nil {
		return nil, targetError(t.App, t.Cluster, "", e.err)
	}
	if e.inputs != nil && e.inputs.variant {
		// Variables feed something kustomize computes (a hash suffix, a
		// JSON 6902 patch, a replacement): build the inputs with this
		// cluster's values.
		vk, err := variantKey(key, e.inputs, t.Cluster, t.Vars)
		if err != nil {
			return nil, targetError(t.App, t.Cluster, "", err)
		}
		v := &variantInput{plan: e.inputs, cluster: t.Cluster, vars: t.Vars}
		if e, err = s.lookup(ctx, root, vk, v); err != nil {
			return nil, targetError(t.App, t.Cluster, "", fmt.Errorf("rendering interrupted: %w", err))
		}
		if e.err != nil {
			return nil, targetError(t.App, t.Cluster, "", e.err)
		}
	}
	return r.finish(e, t)
}

// resolveRoot returns root absolute, clean, with symbolic links resolved.
func resolveRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("repository root %q: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("repository root %q: %w", root, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("repository root %q: %w", root, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("repository root %q is not a folder", root)
	}
	return real, nil
}

// targetKey validates a target's paths and returns its build key.
func targetKey(t placement.Target) (buildKey, error) {
	base, err := cleanTargetPath("base", t.Base)
	if err != nil {
		return buildKey{}, err
	}
	overlays := make([]string, 0, len(t.Overlays))
	for i, o := range t.Overlays {
		p, err := cleanTargetPath(fmt.Sprintf("overlays[%d] (%s)", i, o.Name), o.Path)
		if err != nil {
			return buildKey{}, err
		}
		overlays = append(overlays, p)
	}
	return buildKey{base: base, overlays: strings.Join(overlays, "\n"), namespace: t.Namespace, namespaceDefault: t.NamespaceDefault}, nil
}

// cleanTargetPath checks that p is a folder path relative to the root,
// below it, and returns it clean and slash-separated.
func cleanTargetPath(field, p string) (string, error) {
	invalid := func(format string, args ...any) error {
		return &reason{kind: ErrInvalidTarget, msg: fmt.Sprintf("target %s %q: ", field, p) + fmt.Sprintf(format, args...)}
	}
	switch {
	case p == "":
		return "", invalid("empty path: set the kustomize folder relative to the repository root")
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/"):
		return "", invalid("absolute path: use a path relative to the repository root")
	case strings.ContainsAny(p, "\n\x00"):
		return "", invalid("the path contains a line break or NUL")
	}
	c := path.Clean(filepath.ToSlash(p))
	switch {
	case c == ".":
		return "", invalid("the repository root itself cannot be built: use a folder below it")
	case c == ".." || strings.HasPrefix(c, "../"):
		return "", invalid("the path leaves the repository root")
	case c == virtualDirName || strings.HasPrefix(c, virtualDirName+"/"):
		return "", invalid("%s is reserved for render's in-memory kustomization", virtualDirName)
	}
	return c, nil
}
