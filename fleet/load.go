package fleet

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Folders and files of the fleet repository layout.
const (
	// ClustersDir holds one file per cluster: clusters/<name>.yaml.
	ClustersDir = "clusters"
	// AppsDir holds one folder per app: apps/<name>/app.yaml.
	AppsDir = "apps"
	// AppFileName is the name of an app's file inside its folder.
	AppFileName = "app.yaml"
)

// errOutside is returned for paths that leave the repository.
var errOutside = errors.New("leads outside the repository")

// Option changes how Load reads a repository.
type Option func(*loadOptions)

type loadOptions struct {
	maxFileSize int64
	limits      Limits
}

// WithMaxFileSize caps the size of each fleet file read by Load (cluster
// and app files). The default is DefaultMaxFileSize (1 MiB).
func WithMaxFileSize(n int64) Option {
	return func(o *loadOptions) { o.maxFileSize = n }
}

// Load reads and validates the fleet repository whose root folder is root:
// every clusters/*.yaml (and *.yml) and every apps/*/app.yaml. It decodes
// strictly (unknown fields are errors), checks every rule of the format and
// every reference between files and folders, applies the defaults, and
// returns all problems at once, sorted by file then line.
//
// Before reading any file, the cluster files and app folders are counted
// against the limits (WithLimits, or the defaults): a folder over its limit
// is an error and no file is read.
//
// Files are read only inside root: a symbolic link that leads outside it
// is refused. The Fleet is returned even when there are errors, holding
// every cluster and app that decoded and has a valid, unique name, so that
// tools can still explain what they can; callers must not act on it when
// HasErrors(diagnostics) is true. The Fleet is nil only when root itself
// cannot be read.
func Load(root string, opts ...Option) (*Fleet, []Diagnostic) {
	o := loadOptions{maxFileSize: DefaultMaxFileSize, limits: Limits{}.WithDefaults()}
	for _, opt := range opts {
		opt(&o)
	}
	realRoot, err := resolveRoot(root)
	if err != nil {
		return nil, []Diagnostic{{File: ".", Severity: SeverityError,
			Message: fmt.Sprintf("cannot read the fleet repository %s: %v; point to the folder that holds clusters/ and apps/", root, err)}}
	}
	l := &loader{root: realRoot, opts: o}

	clusterFiles := l.loadClusters()
	appFiles := l.loadApps()
	f := &Fleet{
		Root:            realRoot,
		ClusterFiles:    map[string]string{},
		AppFiles:        map[string]string{},
		ClusterOverlays: map[string]map[string]bool{},
		clusterIndex:    map[string]*flotillav1.Cluster{},
		appIndex:        map[string]*flotillav1.App{},
		nodes:           map[string]*yamlNode{},
	}
	clusters, clusterNames := dedupeClusters(clusterFiles)
	apps, appNames := dedupeApps(appFiles)
	if !l.overLimit {
		// Over a limit, nothing was read from that folder: checking
		// references against it would only report them all missing.
		validateReferences(apps, clusterNames, appNames)
		validateDependencyCycles(apps)
	}
	for _, cf := range clusters {
		DefaultCluster(cf.obj)
		f.Clusters = append(f.Clusters, cf.obj)
		f.ClusterFiles[cf.obj.Name] = cf.file
		f.clusterIndex[cf.obj.Name] = cf.obj
	}
	for _, af := range apps {
		DefaultApp(af.obj)
		l.checkAppFolders(af, f, clusterNames)
		f.Apps = append(f.Apps, af.obj)
		f.AppFiles[af.obj.Name] = af.file
		f.appIndex[af.obj.Name] = af.obj
	}
	slices.SortFunc(f.Clusters, func(a, b *flotillav1.Cluster) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(f.Apps, func(a, b *flotillav1.App) int { return strings.Compare(a.Name, b.Name) })

	diags := l.diags
	for _, cf := range clusterFiles {
		diags = append(diags, cf.r.diags...)
		if cf.r.root != nil {
			f.nodes[cf.file] = cf.r.root
		}
	}
	for _, af := range appFiles {
		diags = append(diags, af.r.diags...)
		if af.r.root != nil {
			f.nodes[af.file] = af.r.root
		}
	}
	if len(clusterFiles) == 0 && !l.overLimit {
		diags = append(diags, Diagnostic{File: ClustersDir, Severity: SeverityWarning,
			Message: "no cluster is declared, so no app goes anywhere; declare each cluster in clusters/<name>.yaml"})
	}
	return f, SortDiagnostics(diags)
}

// resolveRoot returns the absolute, symlink-free path of a folder.
func resolveRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", root, err)
	}
	realRoot, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", root, err)
	}
	fi, err := os.Stat(realRoot)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", root, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a folder", root)
	}
	return realRoot, nil
}

// loader reads files inside one repository root.
type loader struct {
	root  string
	opts  loadOptions
	diags []Diagnostic
	// overLimit is set when a folder held more entries than its limit
	// and was not read.
	overLimit bool
}

func (l *loader) report(file string, sev Severity, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{File: file, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// resolve returns the real path of rel, a slash-separated path relative to
// the root, following symbolic links but refusing any path that ends up
// outside the root. A missing path gives an error wrapping fs.ErrNotExist.
func (l *loader) resolve(rel string) (string, error) {
	clean := path.Clean(rel)
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%s: %w", rel, errOutside)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(l.root, filepath.FromSlash(clean)))
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", rel, err)
	}
	if !within(l.root, real) {
		return "", fmt.Errorf("%s: %w", rel, errOutside)
	}
	return real, nil
}

// within reports whether p is root or inside it.
func within(root, p string) bool {
	if p == root {
		return true
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	return strings.HasPrefix(p, prefix)
}

// readFile reads a fleet file inside the root, enforcing the size cap.
func (l *loader) readFile(r *reporter, rel string) ([]byte, bool) {
	real, err := l.resolve(rel)
	switch {
	case errors.Is(err, errOutside):
		r.errorAt(0, "the file is a symbolic link that leads outside the repository; fleet files must stay inside it: replace the link with the file itself")
		return nil, false
	case err != nil:
		r.errorAt(0, "cannot read the file: %v; check that it exists and is readable", err)
		return nil, false
	}
	fi, err := os.Stat(real)
	if err != nil {
		r.errorAt(0, "cannot read the file: %v; check that it exists and is readable", err)
		return nil, false
	}
	if !fi.Mode().IsRegular() {
		r.errorAt(0, "is not a regular file; fleet files must be plain files")
		return nil, false
	}
	max := l.opts.maxFileSize
	if fi.Size() > max {
		r.errorAt(0, "the file is %d bytes, over the limit of %d bytes for a fleet file; make it smaller (large content belongs in the app's kustomize folders)", fi.Size(), max)
		return nil, false
	}
	fh, err := os.Open(real)
	if err != nil {
		r.errorAt(0, "cannot open the file: %v; check that it is readable", err)
		return nil, false
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		r.errorAt(0, "cannot read the file: %v; check that it is readable", err)
		return nil, false
	}
	if int64(len(data)) > max {
		r.errorAt(0, "the file is over the limit of %d bytes for a fleet file; make it smaller (large content belongs in the app's kustomize folders)", max)
		return nil, false
	}
	return data, true
}

// listDir lists a folder inside the root. A missing folder gives no entries
// and no diagnostic.
func (l *loader) listDir(rel string) []os.DirEntry {
	real, err := l.resolve(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, errOutside):
		l.report(rel, SeverityError, "the folder is a symbolic link that leads outside the repository; replace the link with the folder itself")
		return nil
	case err != nil:
		l.report(rel, SeverityError, "cannot read the folder: %v; check that it is readable", err)
		return nil
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		l.report(rel, SeverityError, "cannot read the folder: %v; check that it is a readable folder", err)
		return nil
	}
	return entries
}

// isDir reports whether rel is a folder inside the root, following links.
// A link that leads outside the root is reported.
func (l *loader) isDir(rel string) bool {
	real, err := l.resolve(rel)
	if errors.Is(err, errOutside) {
		l.report(rel, SeverityError, "is a symbolic link that leads outside the repository; replace the link with the folder itself")
		return false
	}
	if err != nil {
		return false
	}
	fi, err := os.Stat(real)
	return err == nil && fi.IsDir()
}

// exists reports whether rel exists (inside or outside the root: readFile
// reports links that leave it).
func (l *loader) exists(rel string) bool {
	_, err := os.Lstat(filepath.Join(l.root, filepath.FromSlash(rel)))
	return err == nil
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// loadClusters decodes every clusters/*.yaml and clusters/*.yml.
func (l *loader) loadClusters() []*clusterFile {
	entries := l.listDir(ClustersDir)
	n := 0
	for _, e := range entries {
		if ext := path.Ext(e.Name()); !hidden(e.Name()) && (ext == ".yaml" || ext == ".yml") {
			n++
		}
	}
	if n > l.opts.limits.Clusters {
		// Count before reading: refuse without decoding a single file.
		l.overLimit = true
		l.report(ClustersDir, SeverityError, "%s", LimitMessage("clusters", "cluster files", n, l.opts.limits.Clusters, "--max-clusters"))
		return nil
	}
	var files []*clusterFile
	for _, e := range entries {
		name := e.Name()
		if hidden(name) {
			continue
		}
		rel := ClustersDir + "/" + name
		if ext := path.Ext(name); ext != ".yaml" && ext != ".yml" {
			if e.IsDir() {
				l.report(rel, SeverityWarning, "folders under clusters/ are ignored; declare each cluster in clusters/<name>.yaml")
			}
			continue
		}
		r := &reporter{file: rel}
		cf := &clusterFile{file: rel, r: r}
		if data, ok := l.readFile(r, rel); ok {
			cf.obj, cf.r = decodeClusterFile(rel, data)
		}
		files = append(files, cf)
	}
	return files
}

// loadApps decodes every apps/<folder>/app.yaml.
func (l *loader) loadApps() []*appFile {
	entries := l.listDir(AppsDir)
	n := 0
	for _, e := range entries {
		if !hidden(e.Name()) && (e.IsDir() || e.Type()&fs.ModeSymlink != 0) {
			n++
		}
	}
	if n > l.opts.limits.Apps {
		l.overLimit = true
		l.report(AppsDir, SeverityError, "%s", LimitMessage("apps", "app folders", n, l.opts.limits.Apps, "--max-apps"))
		return nil
	}
	var files []*appFile
	for _, e := range entries {
		name := e.Name()
		if hidden(name) {
			continue
		}
		dir := AppsDir + "/" + name
		if !l.isDir(dir) {
			continue
		}
		file := dir + "/" + AppFileName
		hasYAML, hasYML := l.exists(file), l.exists(dir+"/app.yml")
		switch {
		case hasYAML && hasYML:
			l.report(dir+"/app.yml", SeverityError, "both app.yaml and app.yml exist in %s; keep app.yaml and remove app.yml", dir)
		case hasYML:
			file = dir + "/app.yml"
		case !hasYAML:
			l.report(dir, SeverityWarning, "the folder has no app.yaml, so it is not loaded as an app; add %s, or move the folder out of apps/ if it only holds shared kustomize files", file)
			continue
		}
		r := &reporter{file: file}
		af := &appFile{file: file, folder: name, r: r}
		if data, ok := l.readFile(r, file); ok {
			af.obj, af.r = decodeAppFile(file, data)
		}
		files = append(files, af)
	}
	return files
}

// checkAppFolders checks that the base and overlay folders of an app exist
// inside the repository, and records its per-cluster overlay folders.
func (l *loader) checkAppFolders(af *appFile, f *Fleet, declaredClusters map[string]bool) {
	a, r := af.obj, af.r
	dir := AppsDir + "/" + af.folder
	l.checkFolder(r, fieldPath{"spec", "path"}, dir, a.Spec.Path,
		"the base folder", "create it (a kustomize base with a kustomization.yaml) or set spec.path to the app's base folder")
	used := map[string]bool{}
	for i, o := range a.Spec.Overlays {
		if o.Name == "" {
			continue
		}
		p := fieldPath{"spec", "overlays", i, "path"}
		l.checkFolder(r, p, dir, o.Path, fmt.Sprintf("the folder of overlay %q", o.Name),
			fmt.Sprintf("create it (a kustomize Component) or set spec.overlays[%d].path", i))
		if path.IsAbs(o.Path) {
			continue
		}
		full := path.Join(dir, o.Path)
		used[full] = true
		if path.Dir(full) == dir+"/"+OverlaysDir && declaredClusters[path.Base(full)] && path.Base(full) != o.Name {
			r.errorf(p, "spec.overlays[%d].path: %s is the per-cluster overlay folder of cluster %s, which applies to that cluster on its own; give overlay %q its own folder",
				i, full, path.Base(full), o.Name)
		}
	}
	overlaysDir := dir + "/" + OverlaysDir
	for _, e := range l.listDir(overlaysDir) {
		name := e.Name()
		rel := overlaysDir + "/" + name
		if hidden(name) || !l.isDir(rel) {
			continue
		}
		if f.clusterIndex[name] != nil {
			if f.ClusterOverlays[a.Name] == nil {
				f.ClusterOverlays[a.Name] = map[string]bool{}
			}
			f.ClusterOverlays[a.Name][name] = true
			continue
		}
		if declaredClusters[name] || usedUnder(used, rel) {
			continue
		}
		l.report(rel, SeverityWarning, "the folder is not used: no overlay of %s declares it and no cluster is named %s; declare it in spec.overlays, rename it after a cluster, or remove it", af.file, name)
	}
}

// usedUnder reports whether rel or a folder under it is a declared overlay.
func usedUnder(used map[string]bool, rel string) bool {
	for p := range used {
		if p == rel || strings.HasPrefix(p, rel+"/") {
			return true
		}
	}
	return false
}

// checkFolder checks that rel, relative to the app folder dir, is a folder
// inside the repository.
func (l *loader) checkFolder(r *reporter, p fieldPath, dir, rel, what, fix string) {
	if rel == "" || path.IsAbs(rel) {
		return // validateRelPath reported absolute paths
	}
	full := path.Join(dir, rel)
	real, err := l.resolve(full)
	switch {
	case errors.Is(err, errOutside) && (full == ".." || strings.HasPrefix(full, "../")):
		r.errorf(p, "%s: %q leads outside the repository; %s must stay inside it", p, rel, what)
		return
	case errors.Is(err, errOutside):
		r.errorf(p, "%s: %s (%s) leads outside the repository through a symbolic link; replace the link with the folder itself", p, what, full)
		return
	case errors.Is(err, fs.ErrNotExist):
		r.errorf(p, "%s: %s, %s, does not exist; %s", p, what, full, fix)
		return
	case err != nil:
		r.errorf(p, "%s: cannot read %s, %s: %v", p, what, full, err)
		return
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.IsDir() {
		r.errorf(p, "%s: %s, %s, is not a folder; %s", p, what, full, fix)
	}
}
