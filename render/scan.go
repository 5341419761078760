package render

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
)

// scpUserPrefix matches the "user@" of an scp-style git URL
// (git@github.com:org/repo), which kustomize clones.
var scpUserPrefix = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemote reports whether a kustomization entry would make kustomize
// clone a git repository or fetch a URL: any scheme (https://, ssh://,
// file://, ...), a github.com/ shorthand or an scp-style user@host:path,
// with or without the go-getter "git::" prefix. It errs on the side of
// "remote": a local path never looks like this.
func isRemote(entry string) bool {
	l := strings.ToLower(strings.TrimSpace(entry))
	l = strings.TrimPrefix(l, "git::")
	switch {
	case strings.Contains(l, "://"):
		return true
	case strings.HasPrefix(l, "github.com/"), strings.HasPrefix(l, "github.com:"):
		return true
	case scpUserPrefix.MatchString(l):
		return true
	}
	return false
}

// pathEntry is one path-like entry of a kustomization.
type pathEntry struct {
	field string // as written in the file, e.g. "resources" or "patches[2].path"
	value string
	base  bool // a resources/components/bases entry: may be a folder or a git base
}

// pathEntries lists the entries of k that kustomize resolves as paths or
// URLs.
func pathEntries(k *types.Kustomization) []pathEntry {
	var out []pathEntry
	add := func(field string, base bool, values ...string) {
		for _, v := range values {
			if v != "" {
				out = append(out, pathEntry{field: field, value: v, base: base})
			}
		}
	}
	add("resources", true, k.Resources...)
	// Deprecated fields still load: they are checked like the others.
	add("bases", true, k.Bases...) //nolint:staticcheck // see above
	add("components", true, k.Components...)
	add("crds", false, k.Crds...)
	add("configurations", false, k.Configurations...)
	for i, p := range k.Patches {
		add(fmt.Sprintf("patches[%d].path", i), false, p.Path)
	}
	for i, p := range k.PatchesJson6902 { //nolint:staticcheck // deprecated, still loaded
		add(fmt.Sprintf("patchesJson6902[%d].path", i), false, p.Path)
	}
	for _, p := range k.PatchesStrategicMerge { //nolint:staticcheck // deprecated, still loaded
		// An entry without a line break may be a file; inline patches are
		// YAML and always span lines.
		if s := string(p); !strings.Contains(s, "\n") {
			add("patchesStrategicMerge", false, s)
		}
	}
	for i, r := range k.Replacements {
		add(fmt.Sprintf("replacements[%d].path", i), false, r.Path)
	}
	gen := func(kind string, i int, a types.GeneratorArgs) {
		for _, f := range a.FileSources {
			if _, p, ok := strings.Cut(f, "="); ok {
				f = p
			}
			add(fmt.Sprintf("%s[%d].files", kind, i), false, f)
		}
		add(fmt.Sprintf("%s[%d].envs", kind, i), false, a.EnvSources...)
		add(fmt.Sprintf("%s[%d].env", kind, i), false, a.EnvSource)
	}
	for i, g := range k.ConfigMapGenerator {
		gen("configMapGenerator", i, g.GeneratorArgs)
	}
	for i, g := range k.SecretGenerator {
		gen("secretGenerator", i, g.GeneratorArgs)
	}
	return out
}

// scanKustomization checks a kustomization file before kustomize acts on
// it: no remote bases or files (unless allowed), no absolute paths, no
// path leaving the root by ".." or a symbolic link, no Helm charts, no
// openapi schema, and only builtin generators, transformers and
// validators. It also records the folders the file refers to, to explain
// cycles. cp is the file's clean absolute path, rel the same relative to
// the root (empty when outside it, in a remote clone).
func (f *confinedFS) scanKustomization(cp, rel string, outside bool, data []byte) *reason {
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		// kustomize reports malformed files itself, with the same parser.
		return nil
	}
	file := rel
	if outside {
		file = cp
	}
	dir := filepath.Dir(cp)
	dirRel, _ := f.rel(dir)

	switch {
	case len(k.HelmCharts) > 0 || len(k.HelmChartInflationGenerator) > 0 || k.HelmGlobals != nil:
		return newReason(ErrHelmNotAllowed, file,
			"helmCharts: Helm chart inflation is not allowed: render the chart to plain YAML in the repository (helm template) and list the files under resources")
	case len(k.OpenAPI) > 0:
		return newReason(ErrUnsupportedField, file,
			"openapi: a custom OpenAPI schema is not supported (it would change kustomize's schema for every other build in the process): remove the field; use crds to declare custom resources")
	}

	if !outside {
		for _, msg := range deprecations(&k) {
			f.rec.warn(Warning{File: rel, Message: msg})
		}
	}

	for _, e := range pathEntries(&k) {
		if isRemote(e.value) {
			if f.opts.AllowRemoteBases {
				continue
			}
			what := "remote file"
			if e.base {
				what = "remote base"
			}
			return newReason(ErrRemoteBase, file,
				"%s entry %q is a %s: remote bases and files are not allowed; copy it into the repository and refer to it by a relative path",
				e.field, e.value, what)
		}
		if outside {
			continue
		}
		if v := f.checkLocalEntry(file, dir, e); v != nil {
			return v
		}
		if e.base {
			f.recordEdge(file, dirRel, dir, e)
		}
	}

	for _, list := range []struct {
		field   string
		entries []string
	}{{"generators", k.Generators}, {"transformers", k.Transformers}, {"validators", k.Validators}} {
		for _, entry := range list.entries {
			if v := f.checkPluginEntry(file, dir, outside, list.field, entry); v != nil {
				return v
			}
		}
	}
	return nil
}

// checkLocalEntry refuses an absolute path or a path that leaves the root,
// lexically or through a symbolic link.
func (f *confinedFS) checkLocalEntry(file, dir string, e pathEntry) *reason {
	if filepath.IsAbs(e.value) {
		return newReason(ErrOutsideRoot, file,
			"%s entry %q is an absolute path: use a path relative to the kustomization's folder, inside the repository", e.field, e.value)
	}
	joined := filepath.Join(dir, e.value)
	if _, ok := f.rel(joined); !ok {
		return newReason(ErrOutsideRoot, file,
			"%s entry %q leaves the repository root through \"..\": every base, component and file must be inside the repository", e.field, e.value)
	}
	real, err := filepath.EvalSymlinks(joined)
	if err != nil {
		// Missing: kustomize reports it.
		return nil
	}
	if _, ok := f.rel(real); !ok {
		return newReason(ErrOutsideRoot, file,
			"%s entry %q is, or goes through, a symbolic link that resolves to %s, outside the repository root: replace the link with the content", e.field, e.value, real)
	}
	return nil
}

// recordEdge remembers that the kustomization in dir refers to a folder.
func (f *confinedFS) recordEdge(file, dirRel, dir string, e pathEntry) {
	if f.rec == nil {
		return
	}
	real, err := filepath.EvalSymlinks(filepath.Join(dir, e.value))
	if err != nil {
		return
	}
	st, err := os.Stat(real)
	if err != nil || !st.IsDir() {
		return
	}
	to, ok := f.rel(real)
	if !ok {
		return
	}
	f.rec.addEdge(dirRel, graphEdge{file: file, field: e.field, entry: e.value, to: to})
}

// checkPluginEntry refuses a generators, transformers or validators entry
// that configures anything but one of kustomize's builtin plugins (exec,
// Go and KRM-function plugins, Helm chart inflation). The entry is inline
// YAML or a file; a folder entry is checked when its own kustomization is
// read, and kustomize itself refuses non-builtin plugins there.
func (f *confinedFS) checkPluginEntry(file, dir string, outside bool, field, entry string) *reason {
	rmf := resmap.NewFactory(provider.NewDepProvider().GetResourceFactory())
	label := fmt.Sprintf("%s entry (inline)", field)
	rm, err := rmf.NewResMapFromBytes([]byte(entry))
	if err != nil || rm.Size() == 0 {
		// A path, as kustomize decides it.
		label = fmt.Sprintf("%s entry %q", field, entry)
		if isRemote(entry) {
			if f.opts.AllowRemoteBases {
				return nil
			}
			return newReason(ErrRemoteBase, file,
				"%s is remote: remote plugin configurations are not allowed; copy it into the repository", label)
		}
		if !outside {
			if v := f.checkLocalEntry(file, dir, pathEntry{field: field, value: entry}); v != nil {
				return v
			}
		}
		p := filepath.Join(dir, entry)
		if f.IsDir(p) {
			return nil
		}
		data, err := f.ReadFile(p)
		if err != nil {
			var r *reason
			if errors.As(err, &r) {
				return r
			}
			return nil // missing: kustomize reports it
		}
		rm, err = rmf.NewResMapFromBytes(data)
		if err != nil {
			return nil // malformed: kustomize reports it
		}
	}
	for _, r := range rm.Resources() {
		gvk := r.GetGvk()
		builtin := gvk.Group == "" && gvk.Version == "builtin"
		switch {
		case builtin && gvk.Kind == "HelmChartInflationGenerator":
			return newReason(ErrHelmNotAllowed, file,
				"%s: HelmChartInflationGenerator is not allowed: render the chart to plain YAML in the repository (helm template) and list the files under resources", label)
		case builtin:
			continue
		}
		what := "an exec or Go plugin"
		ann := r.GetAnnotations()
		if _, ok := ann["config.kubernetes.io/function"]; ok {
			what = "a KRM-function plugin"
		} else if _, ok := ann["config.k8s.io/function"]; ok {
			what = "a KRM-function plugin"
		}
		return newReason(ErrPluginNotAllowed, file,
			"%s: kind %s (apiVersion %s) is %s: only kustomize's builtin generators and transformers run (apiVersion builtin, e.g. PatchTransformer, ReplacementTransformer); remove it or use a builtin",
			label, gvk.Kind, gvk.ApiVersion(), what)
	}
	return nil
}

// deprecations lists the fields of k that kustomize deprecates, with what
// to use instead.
func deprecations(k *types.Kustomization) []string {
	var out []string
	add := func(used bool, field, instead, fix string) {
		if used {
			out = append(out, fmt.Sprintf("%s is deprecated by kustomize: use %s instead (%s)", field, instead, fix))
		}
	}
	const editFix = "`kustomize edit fix` in the folder rewrites it"
	add(k.Bases != nil, "bases", "resources", editFix)
	add(k.CommonLabels != nil, "commonLabels", "labels", editFix)
	add(k.ImageTags != nil, "imageTags", "images", editFix)
	add(k.PatchesJson6902 != nil, "patchesJson6902", "patches", editFix)
	add(k.PatchesStrategicMerge != nil, "patchesStrategicMerge", "patches", editFix)
	add(k.Vars != nil, "vars", "replacements", "see kustomize's replacements documentation")
	return out
}
