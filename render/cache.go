package render

import (
	"container/list"
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// entry is a cached build: its output and every filesystem answer it
// depended on. Entries are immutable once stored.
type entry struct {
	key buildKey
	// root is the root the build ran under.
	root string
	// rootOnly: valid for root only (failed builds, output naming the
	// root); otherwise valid for any root whose probes answer the same.
	rootOnly  bool
	probes    []probe
	objects   []builtObject
	variables []string
	warnings  []Warning
	inputs    *inputPlan
	err       error
	cost      int64
	elem      *list.Element
}

// entryCost approximates the memory an entry holds: its YAML, the parsed
// objects (about twice the YAML) and the probes.
func entryCost(o *buildOutcome) int64 {
	c := int64(256)
	for _, obj := range o.objects {
		c += 3 * int64(len(obj.yaml))
	}
	for _, p := range o.probes {
		c += int64(len(p.path)+len(p.fp)) + 32
	}
	if o.inputs != nil {
		for _, in := range o.inputs.files {
			c += 2 * int64(in.size)
		}
	}
	return c
}

// flightKey identifies a build in progress.
type flightKey struct {
	key  buildKey
	root string
}

// flight is a build in progress that other renders of the same key and
// root wait for instead of building again.
type flight struct {
	done  chan struct{}
	entry *entry
	err   error
}

// cache holds builds by key, least recently used first out, within a byte
// budget.
type cache struct {
	mu      sync.Mutex
	max     int64
	bytes   int64
	entries map[buildKey]*entry
	lru     *list.List // front: most recently used
	flights map[flightKey]*flight
}

func newCache(max int64) *cache {
	return &cache{max: max, entries: map[buildKey]*entry{}, lru: list.New(), flights: map[flightKey]*flight{}}
}

// get returns the entry of key, if any.
func (c *cache) get(key buildKey) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e != nil {
		c.lru.MoveToFront(e.elem)
	}
	return e
}

// put stores e, replacing the previous entry of its key, and evicts least
// recently used entries beyond the budget. It returns the evictions.
func (c *cache) put(e *entry) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[e.key]; old != nil {
		c.lru.Remove(old.elem)
		c.bytes -= old.cost
	}
	e.elem = c.lru.PushFront(e)
	c.entries[e.key] = e
	c.bytes += e.cost
	evicted := 0
	for c.bytes > c.max && c.lru.Len() > 1 {
		back := c.lru.Back()
		old := back.Value.(*entry)
		c.lru.Remove(back)
		delete(c.entries, old.key)
		c.bytes -= old.cost
		evicted++
	}
	return evicted
}

// size returns the number of entries and their cost.
func (c *cache) size() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.bytes
}

// session memoises, for one Render or RenderAll call, the answers of the
// filesystem under each root and which entries were found valid. Within a
// call the repository is assumed not to change; between calls every
// answer is asked again, by content.
type session struct {
	r       *Renderer
	mu      sync.Mutex
	fss     map[string]*confinedFS
	answers map[answerKey]string
	valid   map[validKey]bool
}

type answerKey struct {
	root string
	op   probeOp
	path string
}

type validKey struct {
	e    *entry
	root string
}

func (r *Renderer) newSession() *session {
	return &session{r: r, fss: map[string]*confinedFS{}, answers: map[answerKey]string{}, valid: map[validKey]bool{}}
}

// answer returns the fingerprint of the filesystem's answer to a probe
// under root, asking the disk once per session.
func (s *session) answer(root string, p probe) string {
	k := answerKey{root, p.op, p.path}
	s.mu.Lock()
	fp, ok := s.answers[k]
	fs := s.fss[root]
	if fs == nil {
		fs = &confinedFS{opts: &s.r.opts, root: root, virt: filepath.Join(root, virtualDirName)}
		s.fss[root] = fs
	}
	s.mu.Unlock()
	if ok {
		return fp
	}
	fp = fs.answer(p.op, p.path)
	s.r.counters.filesChecked.Add(1)
	s.mu.Lock()
	s.answers[k] = fp
	s.mu.Unlock()
	return fp
}

// isValid reports whether a cached build still holds under root: every
// probe answers as it did when the build ran.
func (s *session) isValid(e *entry, root string) bool {
	if e.rootOnly && e.root != root {
		return false
	}
	k := validKey{e, root}
	s.mu.Lock()
	v, ok := s.valid[k]
	s.mu.Unlock()
	if ok {
		return v
	}
	v = true
	for _, p := range e.probes {
		if s.answer(root, p) != p.fp {
			v = false
			break
		}
	}
	s.mu.Lock()
	s.valid[k] = v
	s.mu.Unlock()
	return v
}

// markValid records that e was just built under root in this session.
func (s *session) markValid(e *entry, root string) {
	s.mu.Lock()
	s.valid[validKey{e, root}] = true
	for _, p := range e.probes {
		s.answers[answerKey{root, p.op, p.path}] = p.fp
	}
	s.mu.Unlock()
}

// lookup returns a valid build of key under root: from the cache, from a
// build in progress, or by building it with v (see Renderer.build). Only
// one build of a key and root runs at a time.
func (s *session) lookup(ctx context.Context, root string, key buildKey, v *variantInput) (*entry, error) {
	r := s.r
	c := r.cache
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := c.get(key)
		if e != nil && s.isValid(e, root) {
			r.counters.hits.Add(1)
			return e, nil
		}
		if e != nil {
			r.counters.stale.Add(1)
		}
		fk := flightKey{key, root}
		c.mu.Lock()
		if cur := c.entries[key]; cur != e {
			// Another render stored a fresh build meanwhile: check it.
			c.mu.Unlock()
			continue
		}
		if fl, ok := c.flights[fk]; ok {
			c.mu.Unlock()
			select {
			case <-fl.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if fl.err != nil {
				continue // the builder's context ended; try again with ours
			}
			r.counters.hits.Add(1)
			return fl.entry, nil
		}
		fl := &flight{done: make(chan struct{})}
		c.flights[fk] = fl
		c.mu.Unlock()

		e, err := s.buildEntry(ctx, root, key, v)
		fl.entry, fl.err = e, err
		c.mu.Lock()
		delete(c.flights, fk)
		c.mu.Unlock()
		close(fl.done)
		return e, err
	}
}

// buildEntry builds key under root and caches the result when it can be
// reused.
func (s *session) buildEntry(ctx context.Context, root string, key buildKey, v *variantInput) (*entry, error) {
	r := s.r
	start := time.Now()
	build := r.build
	if r.opts.Isolate {
		build = r.buildIsolated
	}
	out, err := build(ctx, root, key, v)
	if err != nil {
		return nil, err
	}
	log := logr.FromContextOrDiscard(ctx).V(1)
	if log.Enabled() {
		kv := []any{"base", key.base, "overlays", len(key.overlayPaths()), "namespace", key.namespace,
			"objects", len(out.objects), "filesRead", len(out.probes), "duration", time.Since(start)}
		if v != nil {
			kv = append(kv, "variantOf", v.cluster)
		} else if out.inputs != nil && out.inputs.variant {
			kv = append(kv, "variantBuilds", out.inputs.why)
		}
		if out.err != nil {
			kv = append(kv, "error", out.err.Error())
		}
		log.Info("kustomize build", kv...)
	}
	e := &entry{
		key:       key,
		root:      root,
		rootOnly:  out.rootDependent || out.err != nil,
		probes:    out.probes,
		objects:   out.objects,
		variables: out.variables,
		warnings:  out.warnings,
		inputs:    out.inputs,
		err:       out.err,
		cost:      entryCost(out),
	}
	if out.uncacheable {
		return e, nil
	}
	s.markValid(e, root)
	if n := r.cache.put(e); n > 0 {
		r.counters.evictions.Add(uint64(n))
	}
	return e, nil
}
