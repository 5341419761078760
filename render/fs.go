package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// virtualDirName is the folder, directly under the repository root, where
// the in-memory Kustomization of a target lives. Nothing is ever written
// there: the filesystem answers for it from memory and shadows any real
// folder of that name.
const virtualDirName = ".flotilla-render-target"

// syntheticFileName is the in-memory Kustomization's file name.
const syntheticFileName = "kustomization.yaml"

// probeOp is a filesystem question a build asked.
type probeOp uint8

const (
	opRead    probeOp = iota // ReadFile: the file's bytes
	opAbs                    // CleanedAbs: existence, kind and real path
	opIsDir                  // IsDir
	opExists                 // Exists
	opReadDir                // ReadDir: the names in a folder
	opGlob                   // Glob: the matching paths
)

// probe is one question a build asked and a fingerprint of the answer it
// got. A cached build is valid for a root when every probe, asked again
// under that root, gets the same fingerprint.
type probe struct {
	op   probeOp
	path string // relative to the root, slash-separated; "." is the root
	fp   string
}

// probeKey identifies a probe within a build.
type probeKey struct {
	op   probeOp
	path string
}

// graphEdge is a reference from one kustomization to a folder, kept to
// explain kustomization cycles.
type graphEdge struct {
	file  string // referring kustomization file, relative to the root
	field string // "resources" or "components"
	entry string // the entry as written
	to    string // the referenced folder, real, relative to the root
}

// recorder collects what one build asked the filesystem.
type recorder struct {
	mu        sync.Mutex
	seen      map[probeKey]bool
	probes    []probe
	violation *reason
	// uncacheable is set when the build read outside the root (a remote
	// clone): such a build is never reused.
	uncacheable bool
	reads       int
	// bytesRead is the total of every read of the build.
	bytesRead int64
	edges     map[string][]graphEdge // keyed by the referring folder
	// warnings are what the build's kustomization files use that
	// kustomize deprecates, once per file and message.
	warnings []Warning
}

// warn records a warning once.
func (r *recorder) warn(w Warning) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.warnings {
		if x == w {
			return
		}
	}
	r.warnings = append(r.warnings, w)
}

func newRecorder() *recorder {
	return &recorder{seen: map[probeKey]bool{}, edges: map[string][]graphEdge{}}
}

func (r *recorder) record(op probeOp, rel, fp string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := probeKey{op, rel}
	if r.seen[k] {
		return
	}
	r.seen[k] = true
	r.probes = append(r.probes, probe{op: op, path: rel, fp: fp})
}

// violate records the first confinement violation. It always returns v so
// callers can return it to kustomize.
func (r *recorder) violate(v *reason) *reason {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.violation == nil {
		r.violation = v
	}
	return v
}

func (r *recorder) firstViolation() *reason {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.violation
}

func (r *recorder) markUncacheable() {
	r.mu.Lock()
	r.uncacheable = true
	r.mu.Unlock()
}

func (r *recorder) addEdge(fromDir string, e graphEdge) {
	r.mu.Lock()
	r.edges[fromDir] = append(r.edges[fromDir], e)
	r.mu.Unlock()
}

// confinedFS is the filesys.FileSystem kustomize builds on. It refuses every
// path that leaves root (lexically, by absolute path or through a symbolic
// link), caps file sizes, is read-only, serves the target's in-memory
// Kustomization, and records every question with a fingerprint of its
// answer.
type confinedFS struct {
	ctx  context.Context
	opts *Options
	// root is the repository root: absolute, clean, symbolic links
	// resolved.
	root string
	// allow are extra real prefixes a build may read below (remote clones
	// when Options.AllowRemoteBases is set).
	allow []string
	// virt is root/virtualDirName; synthetic is its kustomization.yaml.
	virt      string
	synthetic []byte
	// rec is nil when the filesystem only replays probes.
	rec *recorder
	// excl is created on first use, by exclOnce.
	exclOnce sync.Once
	excl     *excludedRules
}

var _ filesys.FileSystem = (*confinedFS)(nil)

// excluded returns the rules of paths inside the root that may not be
// read (.git, ignored files).
func (f *confinedFS) excluded() *excludedRules {
	f.exclOnce.Do(func() { f.excl = newExcludedRules(f.root) })
	return f.excl
}

// rel returns p (absolute, clean) relative to the root, slash-separated,
// and whether p is the root or below it.
func (f *confinedFS) rel(p string) (string, bool) {
	return relBelow(f.root, p)
}

// relBelow returns p relative to dir and whether p is dir or below it.
func relBelow(dir, p string) (string, bool) {
	if p == dir {
		return ".", true
	}
	if strings.HasPrefix(p, dir) && len(p) > len(dir) && p[len(dir)] == filepath.Separator {
		return filepath.ToSlash(p[len(dir)+1:]), true
	}
	return "", false
}

// allowed reports whether p is below one of the extra allowed prefixes.
func (f *confinedFS) allowed(p string) bool {
	for _, a := range f.allow {
		if strings.HasPrefix(p, a) {
			return true
		}
	}
	return false
}

// clean makes p absolute (relative paths are taken from the root) and
// clean.
func (f *confinedFS) clean(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(f.root, p)
	}
	return filepath.Clean(p)
}

// isVirtual reports whether p (clean) is the virtual folder or below it.
func (f *confinedFS) isVirtual(p string) bool {
	_, ok := relBelow(f.virt, p)
	return ok
}

// errNotExist is returned for paths that do not exist, including every path
// of the virtual folder except its kustomization.yaml.
func errNotExist(p string) error {
	return &iofs.PathError{Op: "open", Path: p, Err: iofs.ErrNotExist}
}

// resolve confines p: it returns the real path (symbolic links resolved)
// and p relative to the root. outside is true for paths below an allowed
// prefix (never cached). A violation is recorded and returned as a
// *reason; a path that does not exist returns an error wrapping
// fs.ErrNotExist. A path the excluded rules refuse (.git, ignored files),
// by its name or its real path, returns a *reason that is not recorded:
// probing it is harmless, ReadFile records it.
func (f *confinedFS) resolve(p string) (real, rel string, outside bool, err error) {
	cp := f.clean(p)
	rel, in := f.rel(cp)
	if !in {
		if f.allowed(cp) {
			real, err = filepath.EvalSymlinks(cp)
			if err == nil && !f.allowed(real) {
				return "", "", true, f.violate(newReason(ErrOutsideRoot, "",
					"%s is a symbolic link that resolves to %s, outside the remote base it belongs to", cp, real))
			}
			return real, "", true, err
		}
		return "", "", false, f.violate(newReason(ErrOutsideRoot, "",
			"%s is outside the repository: every file a build reads must be inside the repository", p))
	}
	if f.excluded().excluded(rel) {
		return "", rel, false, excludedReason(rel)
	}
	real, err = filepath.EvalSymlinks(cp)
	if err != nil {
		return "", rel, false, err
	}
	realRel, ok := f.rel(real)
	if !ok {
		return "", rel, false, f.violate(newReason(ErrOutsideRoot, rel,
			"symbolic link resolves to %s, outside the repository root: replace the link with the file's content", real))
	}
	if realRel != rel && f.excluded().excluded(realRel) {
		return "", rel, false, excludedReason(realRel)
	}
	return real, rel, false, nil
}

// violate records v when recording and returns it.
func (f *confinedFS) violate(v *reason) *reason {
	if f.rec != nil {
		return f.rec.violate(v)
	}
	return v
}

func (f *confinedFS) record(op probeOp, rel, fp string, outside bool) {
	if f.rec == nil {
		return
	}
	if outside {
		f.rec.markUncacheable()
		return
	}
	f.rec.record(op, rel, fp)
}

// checkCtx fails every filesystem call once the build's context is done,
// which stops kustomize at its next file access.
func (f *confinedFS) checkCtx() error {
	if f.ctx == nil {
		return nil
	}
	return f.ctx.Err()
}

// errFingerprint classifies an error for a probe fingerprint. Two answers
// with the same class lead kustomize down the same path.
func errFingerprint(err error) string {
	var r *reason
	switch {
	case errors.As(err, &r):
		return "violation:" + r.msg
	case errors.Is(err, iofs.ErrNotExist):
		return "missing"
	default:
		return "error"
	}
}

// ReadFile returns a file's bytes after confinement and size checks, and
// records their hash. Reading a kustomization file also checks it for
// remote bases, plugins, Helm charts and paths that leave the root.
func (f *confinedFS) ReadFile(p string) ([]byte, error) {
	if err := f.checkCtx(); err != nil {
		return nil, err
	}
	cp := f.clean(p)
	if f.isVirtual(cp) {
		if cp == filepath.Join(f.virt, syntheticFileName) {
			return slices.Clone(f.synthetic), nil
		}
		return nil, errNotExist(p)
	}
	if f.rec != nil {
		f.rec.mu.Lock()
		f.rec.reads++
		n := f.rec.reads
		f.rec.mu.Unlock()
		if n > f.opts.MaxFileReads {
			return nil, f.violate(newReason(ErrTooManyFiles, "",
				"the build read more than %d files (Options.MaxFileReads): the kustomizations include each other too many times", f.opts.MaxFileReads))
		}
	}
	data, rel, outside, err := f.readConfined(cp)
	if err != nil {
		var r *reason
		if errors.As(err, &r) {
			// Reading an excluded file fails the build even if kustomize
			// would go on without it.
			f.violate(r)
		}
		f.record(opRead, rel, errFingerprint(err), outside)
		return nil, err
	}
	f.record(opRead, rel, hashBytes(data), outside)
	if err := f.checkLimits(cp, rel, outside, data); err != nil {
		return nil, err
	}
	if f.rec != nil && isKustomizationFile(cp) {
		if v := f.scanKustomization(cp, rel, outside, data); v != nil {
			return nil, f.rec.violate(v)
		}
	}
	return data, nil
}

// checkLimits counts a read against the build's limits: the total bytes
// read, the nesting depth of a kustomization file and the expansion of
// YAML aliases.
func (f *confinedFS) checkLimits(cp, rel string, outside bool, data []byte) error {
	if f.rec == nil {
		return nil
	}
	name := rel
	if outside {
		name = cp
	}
	f.rec.mu.Lock()
	f.rec.bytesRead += int64(len(data))
	total := f.rec.bytesRead
	f.rec.mu.Unlock()
	if total > f.opts.MaxTotalRead {
		return f.rec.violate(totalReadReason(name, f.opts.MaxTotalRead))
	}
	if isKustomizationFile(cp) {
		if d := nestingDepth(); d > f.opts.MaxNestingDepth {
			f.rec.violate(nestingReason(name, d, f.opts.MaxNestingDepth))
			return errNestedTooDeep
		}
	}
	if v := checkAliases(name, data); v != nil {
		return f.rec.violate(v)
	}
	return nil
}

// readConfined reads a confined, regular file of at most MaxFileSize
// bytes.
func (f *confinedFS) readConfined(cp string) ([]byte, string, bool, error) {
	real, rel, outside, err := f.resolve(cp)
	if err != nil {
		return nil, rel, outside, err
	}
	name := rel
	if outside {
		name = cp
	}
	fh, err := os.Open(real)
	if err != nil {
		return nil, rel, outside, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, rel, outside, err
	}
	if st.IsDir() {
		return nil, rel, outside, &iofs.PathError{Op: "read", Path: cp, Err: errors.New("is a directory")}
	}
	if !st.Mode().IsRegular() {
		return nil, rel, outside, f.violate(newReason(ErrOutsideRoot, name,
			"not a regular file (%s): only regular files and folders may be read", st.Mode().Type()))
	}
	if st.Size() > f.opts.MaxFileSize {
		return nil, rel, outside, f.violate(tooLarge(name, st.Size(), f.opts.MaxFileSize))
	}
	data, err := io.ReadAll(io.LimitReader(fh, f.opts.MaxFileSize+1))
	if err != nil {
		return nil, rel, outside, err
	}
	if int64(len(data)) > f.opts.MaxFileSize {
		return nil, rel, outside, f.violate(tooLarge(name, int64(len(data)), f.opts.MaxFileSize))
	}
	return data, rel, outside, nil
}

func tooLarge(name string, size, limit int64) *reason {
	return newReason(ErrFileTooLarge, name,
		"file is %d bytes, larger than the %d-byte limit (Options.MaxFileSize): split it into smaller files", size, limit)
}

// isKustomizationFile reports whether p's name is one kustomize recognises.
func isKustomizationFile(p string) bool {
	return slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(p))
}

// hashBytes is the fingerprint of a file's content.
func hashBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return "h:" + hex.EncodeToString(sum[:])
}

// CleanedAbs resolves p into a real folder and, for a file, its name.
func (f *confinedFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	if err := f.checkCtx(); err != nil {
		return "", "", err
	}
	cp := f.clean(p)
	if f.isVirtual(cp) {
		switch cp {
		case f.virt:
			return filesys.ConfirmedDir(f.virt), "", nil
		case filepath.Join(f.virt, syntheticFileName):
			return filesys.ConfirmedDir(f.virt), syntheticFileName, nil
		}
		return "", "", errNotExist(p)
	}
	d, name, fp, rel, outside, err := f.cleanedAbs(cp)
	f.record(opAbs, rel, fp, outside)
	return d, name, err
}

func (f *confinedFS) cleanedAbs(cp string) (d filesys.ConfirmedDir, name, fp, rel string, outside bool, err error) {
	real, rel, outside, err := f.resolve(cp)
	if err != nil {
		return "", "", errFingerprint(err), rel, outside, fmt.Errorf("evalsymlink failure on '%s' : %w", cp, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", "", errFingerprint(err), rel, outside, err
	}
	realRel, _ := f.rel(real)
	if st.IsDir() {
		return filesys.ConfirmedDir(real), "", "d:" + realRel, rel, outside, nil
	}
	return filesys.ConfirmedDir(filepath.Dir(real)), filepath.Base(real), "f:" + realRel, rel, outside, nil
}

// IsDir reports whether p is a folder inside the root.
func (f *confinedFS) IsDir(p string) bool {
	if f.checkCtx() != nil {
		return false
	}
	cp := f.clean(p)
	if f.isVirtual(cp) {
		return cp == f.virt
	}
	ok, rel, outside := f.isDir(cp)
	f.record(opIsDir, rel, fmt.Sprint(ok), outside)
	return ok
}

func (f *confinedFS) isDir(cp string) (bool, string, bool) {
	real, rel, outside, err := f.resolve(cp)
	if err != nil {
		return false, rel, outside
	}
	st, err := os.Stat(real)
	return err == nil && st.IsDir(), rel, outside
}

// Exists reports whether p exists inside the root.
func (f *confinedFS) Exists(p string) bool {
	if f.checkCtx() != nil {
		return false
	}
	cp := f.clean(p)
	if f.isVirtual(cp) {
		return cp == f.virt || cp == filepath.Join(f.virt, syntheticFileName)
	}
	ok, rel, outside := f.exists(cp)
	f.record(opExists, rel, fmt.Sprint(ok), outside)
	return ok
}

func (f *confinedFS) exists(cp string) (bool, string, bool) {
	real, rel, outside, err := f.resolve(cp)
	if err != nil {
		return false, rel, outside
	}
	_, err = os.Stat(real)
	return err == nil, rel, outside
}

// ReadDir lists the names in a folder inside the root.
func (f *confinedFS) ReadDir(p string) ([]string, error) {
	if err := f.checkCtx(); err != nil {
		return nil, err
	}
	cp := f.clean(p)
	if f.isVirtual(cp) {
		if cp == f.virt {
			return []string{syntheticFileName}, nil
		}
		return nil, errNotExist(p)
	}
	names, fp, rel, outside, err := f.readDir(cp)
	f.record(opReadDir, rel, fp, outside)
	return names, err
}

func (f *confinedFS) readDir(cp string) ([]string, string, string, bool, error) {
	real, rel, outside, err := f.resolve(cp)
	if err != nil {
		return nil, errFingerprint(err), rel, outside, err
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return nil, errFingerprint(err), rel, outside, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !outside && f.excluded().excluded(path.Join(rel, e.Name())) {
			continue
		}
		names = append(names, e.Name())
	}
	return names, hashBytes([]byte(strings.Join(names, "\x00"))), rel, outside, nil
}

// Glob returns the paths matching pattern that are inside the root,
// leaving out hidden files unless the pattern names them, as kustomize's
// on-disk filesystem does.
func (f *confinedFS) Glob(pattern string) ([]string, error) {
	if err := f.checkCtx(); err != nil {
		return nil, err
	}
	cp := f.clean(pattern)
	matches, fp, rel, outside, err := f.glob(cp)
	f.record(opGlob, rel, fp, outside)
	return matches, err
}

func (f *confinedFS) glob(cp string) ([]string, string, string, bool, error) {
	rel, in := f.rel(cp)
	outside := false
	if !in {
		if !f.allowed(cp) {
			return nil, "", "", false, f.violate(newReason(ErrOutsideRoot, "",
				"glob %s is outside the repository", cp))
		}
		outside = true
	}
	all, err := filepath.Glob(cp)
	if err != nil {
		return nil, errFingerprint(err), rel, outside, err
	}
	if !filesys.IsHiddenFilePath(cp) {
		all = filesys.RemoveHiddenFiles(all)
	}
	var out []string
	for _, m := range all {
		if f.isVirtual(m) {
			continue
		}
		if mrel, ok := f.rel(m); ok && f.excluded().excluded(mrel) {
			continue
		}
		if _, _, _, err := f.resolve(m); err != nil {
			var r *reason
			if errors.As(err, &r) {
				return nil, errFingerprint(err), rel, outside, err
			}
			continue
		}
		out = append(out, m)
	}
	rels := make([]string, len(out))
	for i, m := range out {
		rels[i], _ = f.rel(m)
	}
	return out, hashBytes([]byte(strings.Join(rels, "\x00"))), rel, outside, nil
}

// errReadOnly is returned by every call that would change the disk.
func errReadOnly(op, p string) error {
	return fmt.Errorf("%s %s: the render filesystem is read-only", op, p)
}

// Create is refused: builds never write.
func (f *confinedFS) Create(p string) (filesys.File, error) { return nil, errReadOnly("create", p) }

// Mkdir is refused: builds never write.
func (f *confinedFS) Mkdir(p string) error { return errReadOnly("mkdir", p) }

// MkdirAll is refused: builds never write.
func (f *confinedFS) MkdirAll(p string) error { return errReadOnly("mkdir", p) }

// WriteFile is refused: builds never write.
func (f *confinedFS) WriteFile(p string, _ []byte) error { return errReadOnly("write", p) }

// RemoveAll only removes remote clones kustomize made below an allowed
// prefix; anything else is refused.
func (f *confinedFS) RemoveAll(p string) error {
	cp := filepath.Clean(p)
	if filepath.IsAbs(cp) && f.allowed(cp) {
		return os.RemoveAll(cp)
	}
	return errReadOnly("remove", p)
}

// Open is not used by kustomize builds and is refused.
func (f *confinedFS) Open(p string) (filesys.File, error) {
	return nil, fmt.Errorf("open %s: not supported by the render filesystem", p)
}

// Walk is not used by kustomize builds and is refused.
func (f *confinedFS) Walk(p string, _ filepath.WalkFunc) error {
	return fmt.Errorf("walk %s: not supported by the render filesystem", p)
}

// answer asks a recorded question again (without recording) and returns
// the fingerprint of the answer, to check whether a cached build is still
// valid under this filesystem's root.
func (f *confinedFS) answer(op probeOp, rel string) string {
	cp := filepath.Join(f.root, filepath.FromSlash(rel))
	switch op {
	case opRead:
		data, _, _, err := f.readConfined(cp)
		if err != nil {
			return errFingerprint(err)
		}
		return hashBytes(data)
	case opAbs:
		_, _, fp, _, _, _ := f.cleanedAbs(cp)
		return fp
	case opIsDir:
		ok, _, _ := f.isDir(cp)
		return fmt.Sprint(ok)
	case opExists:
		ok, _, _ := f.exists(cp)
		return fmt.Sprint(ok)
	case opReadDir:
		_, fp, _, _, _ := f.readDir(cp)
		return fp
	case opGlob:
		_, fp, _, _, _ := f.glob(cp)
		return fp
	}
	return "unknown"
}
