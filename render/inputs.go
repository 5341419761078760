package render

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/hasher"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"
)

// Variables in the build's inputs.
//
// Substituting in the output of a cached build is cheap, but it is only
// right when nothing kustomize computes depends on the substituted text.
// These do: the name suffix of a generated ConfigMap or Secret is a hash of
// its content, a generated Secret's data is base64, a JSON 6902 patch's
// values (and some fields kustomize rewrites, such as annotations) lose the
// quoting of the file, and replacements (and legacy vars) copy and cut
// field values.
// When a build has any of them with a variable in it, each target is built
// again on its inputs with the values substituted (a "variant" build, cached
// by the values), so that kustomize itself computes the hashes, the name
// references and the types, exactly as if the values were written in the
// files.

// inputRole is how a file read by a build is substituted.
type inputRole uint8

const (
	// roleYAML: a kustomization, resource, patch, ... read as YAML: the
	// substitution must change scalars only.
	roleYAML inputRole = iota
	// roleData: a generator's file source, copied as is into a ConfigMap
	// or Secret: any value may be inserted.
	roleData
	// roleEnv: a generator's env file, one KEY=value a line: a value must
	// not contain a line break.
	roleEnv
)

// inputFile is a file a build read that contains "${".
type inputFile struct {
	// name is the file relative to the root (or absolute when outside it,
	// for remote bases).
	name string
	tmpl *template
	// size is the file's length, for the cache's memory accounting.
	size int
	// seq is set when the file is a YAML sequence (a JSON 6902 patch).
	seq bool
	// quoted and plain are the values of the file's scalars that
	// reference a variable, by how they are written: quoted (or as a
	// block), or plain, where the value decides the type.
	quoted, plain map[string]bool
}

// inputFS is the filesystem of a build seen by its variables: in capture
// mode it records the files that reference variables; in substitute mode
// (vars set) it returns every file read with the variables substituted.
type inputFS struct {
	*confinedFS
	cluster string
	vars    map[string]string
	roles   map[string]inputRole
	// budget is how many bytes substituted files may still add up to.
	budget int64

	mu       sync.Mutex
	inputs   []inputFile
	captured map[string]bool   // names in inputs: kustomize may read a file twice
	kusts    map[string][]byte // kustomization files by name
	err      *reason           // the first substitution error
}

// name is how a path kustomize asked for is named in inputs and roles.
func (f *inputFS) name(p string) string {
	cp := f.clean(p)
	if rel, ok := f.rel(cp); ok {
		return rel
	}
	return filepath.ToSlash(cp)
}

// ReadFile reads through the confined filesystem, then records or
// substitutes the file's variables.
func (f *inputFS) ReadFile(p string) ([]byte, error) {
	data, err := f.confinedFS.ReadFile(p)
	if err != nil || f.isVirtual(f.clean(p)) {
		return data, err
	}
	name := f.name(p)
	if f.vars == nil {
		f.capture(name, p, data)
		return data, nil
	}
	if !bytes.Contains(data, []byte("${")) {
		return data, nil
	}
	out, r := f.substitute(name, data)
	if r == nil && f.rec != nil && isKustomizationFile(f.clean(p)) {
		// The values may have changed a path: check the kustomization
		// again as it will be built (remote bases, plugins, escapes).
		_, in := f.rel(f.clean(p))
		r = f.scanKustomization(f.clean(p), name, !in, out)
	}
	if r != nil {
		f.mu.Lock()
		if f.err == nil {
			f.err = r
		}
		f.mu.Unlock()
		return nil, r
	}
	return out, nil
}

func (f *inputFS) capture(name, p string, data []byte) {
	isKust := isKustomizationFile(f.clean(p))
	hasVar := bytes.Contains(data, []byte("${"))
	if !isKust && !hasVar {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if isKust {
		if f.kusts == nil {
			f.kusts = map[string][]byte{}
		}
		f.kusts[name] = data
	}
	if hasVar && !f.captured[name] {
		if f.captured == nil {
			f.captured = map[string]bool{}
		}
		f.captured[name] = true
		in := inputFile{name: name, tmpl: parseTemplate(data), size: len(data)}
		if docs, err := decodeDocs(data); err == nil && len(docs) > 0 && len(docs[0].Content) > 0 {
			in.seq = docs[0].Content[0].Kind == kyaml.SequenceNode
			in.quoted, in.plain = map[string]bool{}, map[string]bool{}
			for _, d := range docs {
				walkVarScalars(d, func(n *kyaml.Node) {
					if plainStyle(n) {
						in.plain[n.Value] = true
					} else {
						in.quoted[n.Value] = true
					}
				})
			}
		}
		f.inputs = append(f.inputs, in)
	}
}

// substitute returns data with the variables substituted, within the
// rules of the file's role and the output size budget.
func (f *inputFS) substitute(name string, data []byte) ([]byte, *reason) {
	t := parseTemplate(data)
	if t.err != nil {
		return nil, &reason{kind: t.err.kind, file: name, msg: t.err.msg, cause: t.err}
	}
	f.mu.Lock()
	budget := f.budget
	f.mu.Unlock()
	out, err := t.expandLimit(f.vars, budget)
	if err != nil {
		var big *errExpandLimit
		if errors.As(err, &big) {
			return nil, newReason(ErrOutputTooLarge, name,
				"the file would be %d bytes once ${%s} is substituted, past what is left of the %d-byte limit (Options.MaxOutputSize) for the build's files: use a smaller value or fewer references, or raise the limit",
				big.size, t.biggest(f.vars), f.opts.MaxOutputSize)
		}
		return nil, variableReason(err, name)
	}
	f.mu.Lock()
	f.budget -= int64(len(out))
	f.mu.Unlock()
	switch f.roles[name] {
	case roleData:
	case roleEnv:
		for _, n := range t.names {
			if strings.ContainsAny(f.vars[n], "\n\r") {
				return nil, newReason(ErrVariableStructure, name,
					"variable ${%s} would add lines to the env file %s: its value, set in %s, contains a line break; a variable may only change a value: change the value",
					n, name, definedIn(n, f.cluster))
			}
		}
	default:
		if se := checkScalarsOnly(data, out, f.vars); se != nil {
			return nil, structureReason(t, data, f.vars, f.cluster, name, func(string) string { return name }, se)
		}
	}
	return out, nil
}

// variableReason turns a *VariableError into a reason naming the file.
func variableReason(err error, file string) *reason {
	var ve *VariableError
	if errors.As(err, &ve) {
		return &reason{kind: ve.kind, file: file, msg: ve.msg, cause: ve}
	}
	return &reason{kind: ErrInvalidVariable, file: file, msg: err.Error(), cause: err}
}

// inputPlan is what a build's inputs say about its variables.
type inputPlan struct {
	// variant is set when each target must be built again on its inputs
	// with the values substituted.
	variant bool
	// why says which feature asked for it, for the logs.
	why string
	// files are the inputs that contain "${".
	files []inputFile
	// roles are the substitution rules of the files that are not read as
	// YAML.
	roles map[string]inputRole
	// names are the variables the inputs reference, in order of first use.
	names []string
}

// planInputs decides, after a build in capture mode, whether its targets
// need variant builds.
func (f *inputFS) planInputs(m resmap.ResMap) *inputPlan {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &inputPlan{files: f.inputs, roles: map[string]inputRole{}}
	for _, in := range f.inputs {
		if in.tmpl.err == nil {
			p.names = appendUnique(p.names, in.tmpl.names...)
		}
	}
	if len(f.inputs) == 0 {
		return p
	}
	patchFiles := map[string]bool{}
	for name, data := range f.kusts {
		var k types.Kustomization
		if err := yaml.Unmarshal(data, &k); err != nil {
			continue
		}
		k.FixKustomization()
		dir := path.Dir(name)
		join := func(rel string) string {
			if path.IsAbs(rel) {
				return path.Clean(rel)
			}
			return path.Join(dir, rel)
		}
		var gens []types.GeneratorArgs
		for _, g := range k.ConfigMapGenerator {
			gens = append(gens, g.GeneratorArgs)
		}
		for _, g := range k.SecretGenerator {
			gens = append(gens, g.GeneratorArgs)
		}
		for i, g := range gens {
			var sources []string
			for _, src := range g.FileSources {
				if i := strings.Index(src, "="); i >= 0 {
					src = src[i+1:]
				}
				p.roles[join(src)] = roleData
				sources = append(sources, join(src))
			}
			for _, src := range g.EnvSources {
				p.roles[join(src)] = roleEnv
				sources = append(sources, join(src))
			}
			// A Secret's data is base64 in the output, where no
			// reference can be seen or substituted.
			if i >= len(k.ConfigMapGenerator) && p.why == "" && secretUsesVariables(g, sources, f.inputs) {
				p.why = "the secretGenerator " + g.Name + " in " + name + " references variables"
			}
		}
		for _, pt := range k.Patches {
			if pt.Path != "" {
				patchFiles[join(pt.Path)] = true
			}
			if strings.Contains(pt.Patch, "${") && isSequence([]byte(pt.Patch)) && p.why == "" {
				p.why = "a JSON 6902 patch in " + name + " references variables"
			}
		}
		if (len(k.Replacements) > 0 || len(k.Vars) > 0) && p.why == "" {
			p.why = name + " has replacements or vars, which copy values"
		}
	}
	for _, in := range f.inputs {
		if in.seq && patchFiles[in.name] && p.why == "" {
			p.why = "the JSON 6902 patch " + in.name + " references variables"
		}
	}
	if p.why == "" {
		if id := styleChanged(m, p); id != "" {
			p.why = "kustomize printed a reference in " + id + " with other quotes than its file, which would change its type"
		}
	}
	if p.why == "" {
		if id := hashedWithVariables(m); id != "" {
			p.why = "the generated " + id + " has a content hash suffix and references variables"
		}
	}
	p.variant = p.why != ""
	return p
}

// secretUsesVariables reports whether a secretGenerator's literals or
// source files reference variables.
func secretUsesVariables(g types.GeneratorArgs, sources []string, inputs []inputFile) bool {
	for _, l := range g.LiteralSources {
		if strings.Contains(l, "${") {
			return true
		}
	}
	for _, in := range inputs {
		for _, src := range sources {
			if in.name == src {
				return true
			}
		}
	}
	return false
}

// hashedWithVariables returns the first ConfigMap or Secret of the output
// whose name ends with the hash of its content and whose content contains
// "${", or "".
func hashedWithVariables(m resmap.ResMap) string {
	if m == nil {
		return ""
	}
	var h hasher.Hasher
	for _, res := range m.Resources() {
		if k := res.GetKind(); k != "ConfigMap" && k != "Secret" {
			continue
		}
		s, err := res.RNode.String()
		if err != nil || !strings.Contains(s, "${") {
			continue
		}
		name := res.GetName()
		i := strings.LastIndexByte(name, '-')
		if i <= 0 {
			continue
		}
		c := res.RNode.Copy()
		if err := c.SetName(name[:i]); err != nil {
			continue
		}
		if sum, err := h.Hash(c); err == nil && sum == name[i+1:] {
			return res.CurId().String()
		}
	}
	return ""
}

// walkVarScalars calls fn for every scalar below n that contains "${".
func walkVarScalars(n *kyaml.Node, fn func(*kyaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == kyaml.ScalarNode {
		if strings.Contains(n.Value, "${") {
			fn(n)
		}
		return
	}
	for _, c := range n.Content {
		walkVarScalars(c, fn)
	}
}

// styleChanged returns the first object of the output with a scalar that
// references a variable and is printed plain where the YAML files have it
// quoted, or quoted where they have it plain (kustomize rebuilds some
// fields, such as annotations and JSON 6902 patch values, and loses their
// quotes), or "". Substituted in the output, its value would take another
// type than written in the file.
func styleChanged(m resmap.ResMap, p *inputPlan) string {
	quoted, plain := map[string]bool{}, map[string]bool{}
	for _, in := range p.files {
		if _, ok := p.roles[in.name]; ok || isKustomizationFile(in.name) {
			// Not a manifest: a generator's file is copied as is, a
			// kustomization's values are read as strings.
			continue
		}
		for v := range in.quoted {
			quoted[v] = true
		}
		for v := range in.plain {
			plain[v] = true
		}
	}
	if m == nil {
		return ""
	}
	for _, res := range m.Resources() {
		changed := false
		walkVarScalars(res.YNode(), func(n *kyaml.Node) {
			if plainStyle(n) && quoted[n.Value] || !plainStyle(n) && plain[n.Value] {
				changed = true
			}
		})
		if changed {
			return res.CurId().String()
		}
	}
	return ""
}

// isSequence reports whether text is a YAML document whose top is a
// sequence, as a JSON 6902 patch is.
func isSequence(text []byte) bool {
	docs, err := decodeDocs(text)
	return err == nil && len(docs) > 0 && len(docs[0].Content) > 0 && docs[0].Content[0].Kind == kyaml.SequenceNode
}

// variantKey is the cache key of a cluster's variant build of key: the
// build key, the cluster and the values of the variables the inputs
// reference. It returns an
// error naming the file of a variable that is not defined.
func variantKey(key buildKey, p *inputPlan, cluster string, vars map[string]string) (buildKey, error) {
	var b strings.Builder
	// The cluster is part of the key: a failed build's message names it.
	fmt.Fprintf(&b, "%d:%s\n", len(cluster), cluster)
	for _, in := range p.files {
		if in.tmpl.err != nil {
			return buildKey{}, &reason{kind: in.tmpl.err.kind, file: in.name, msg: in.tmpl.err.msg, cause: in.tmpl.err}
		}
		for _, n := range in.tmpl.names {
			if _, ok := vars[n]; !ok {
				return buildKey{}, variableReason(undefined(n), in.name)
			}
		}
	}
	for _, n := range p.names {
		fmt.Fprintf(&b, "%d:%s=%d:%s\n", len(n), n, len(vars[n]), vars[n])
	}
	key.vars = Digest([]byte(b.String()))
	return key, nil
}

// fileReferencing returns the first input that references variable name.
func (p *inputPlan) fileReferencing(name string) string {
	if p == nil {
		return ""
	}
	for _, in := range p.files {
		for _, n := range in.tmpl.names {
			if n == name {
				return in.name
			}
		}
	}
	return ""
}
