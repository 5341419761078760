package render

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/yaml"
)

var (
	schemaOnce     sync.Once
	schemaInitTime time.Duration
)

// initSchema parses kustomize's builtin Kubernetes OpenAPI schema, once per
// process. kustomize keeps it in a process-wide variable and only parses it
// again when something resets it; render never does (it refuses the
// openapi field, the only per-build way to change it).
func initSchema() {
	schemaOnce.Do(func() {
		start := time.Now()
		_ = openapi.Schema()
		schemaInitTime = time.Since(start)
	})
}

// SchemaInitDuration reports how long the one-per-process kustomize schema
// initialisation took, running it first if no Renderer has yet.
func SchemaInitDuration() time.Duration {
	initSchema()
	return schemaInitTime
}

// buildKey identifies a build: its output depends only on these and on the
// files the build read. A build substitutes no variable, except a variant
// build (vars set), which builds the inputs with one cluster's values.
type buildKey struct {
	base      string
	overlays  string // overlay paths joined by "\n"
	namespace string
	// namespaceDefault sets namespace only where an object has none
	// (spec.namespaceMode: Default) instead of forcing it.
	namespaceDefault bool
	// vars is, for a variant build, the digest of the cluster's name and
	// the values of the variables the inputs reference.
	vars string
}

func (k buildKey) overlayPaths() []string {
	if k.overlays == "" {
		return nil
	}
	return strings.Split(k.overlays, "\n")
}

// builtObject is one object of a build, shared read-only by every target
// of the build.
type builtObject struct {
	// yaml is the object as kustomize prints it.
	yaml []byte
	// obj is yaml parsed; targets get a deep copy.
	obj *unstructured.Unstructured
	// id is Kind/namespace/name (Kind/name when cluster-scoped), before
	// substitution, for error messages.
	id string
	// tmpl is set when yaml contains "${" (a variable or an escape). It is
	// parsed from kyaml's text of the object, not from yaml, to keep the
	// source's quoting.
	tmpl *template
	// plan is the fast path of tmpl, when the object has one.
	plan *fastPlan
	// src is the text tmpl was parsed from, to check that a substitution
	// changes scalars only.
	src []byte
}

// synthetic returns the in-memory Kustomization of a build key and its
// composition (see compose), with paths relative to the virtual folder
// under the root. A forced namespace is
// kustomize's namespace field; a default namespace is kustomize's builtin
// NamespaceTransformer with unsetOnly, inline, which sets only the
// namespace fields that are empty (so a Namespace object keeps its name).
func synthetic(k buildKey, c composition) ([]byte, error) {
	kust := types.Kustomization{
		TypeMeta:   types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources:  c.resources,
		Components: c.components,
	}
	switch {
	case k.namespace == "":
	case k.namespaceDefault:
		t, err := defaultNamespaceTransformer(k.namespace)
		if err != nil {
			return nil, err
		}
		kust.Transformers = []string{t}
	default:
		kust.Namespace = k.namespace
	}
	return yaml.Marshal(kust)
}

// defaultNamespaceTransformer is the inline configuration of kustomize's
// builtin NamespaceTransformer that sets ns only where a namespace field is
// empty. Its field specs are those kustomize's namespace field uses (it
// keeps them internal) but the name of Namespace objects, which is never
// empty; metadata.namespace of namespaced kinds and the subjects of role
// bindings named "default" are handled by the transformer itself.
func defaultNamespaceTransformer(ns string) (string, error) {
	type fieldSpec struct {
		Group  string `json:"group,omitempty"`
		Kind   string `json:"kind,omitempty"`
		Path   string `json:"path"`
		Create bool   `json:"create,omitempty"`
	}
	cfg := struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   map[string]string `json:"metadata"`
		UnsetOnly  bool              `json:"unsetOnly"`
		FieldSpecs []fieldSpec       `json:"fieldSpecs"`
	}{
		APIVersion: "builtin",
		Kind:       "NamespaceTransformer",
		Metadata:   map[string]string{"name": "flotilla-default-namespace", "namespace": ns},
		UnsetOnly:  true,
		FieldSpecs: []fieldSpec{
			{Group: "apiregistration.k8s.io", Kind: "APIService", Path: "spec/service/namespace", Create: true},
			{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Path: "spec/conversion/webhook/clientConfig/service/namespace"},
		},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("encoding the default namespace transformer: %w", err)
	}
	return string(b), nil
}

// kustomizeOptions are the krusty options of every build: the kustomize
// CLI's default order (legacy, unless a sortOptions field), files may be
// loaded from anywhere inside the repository (the confined filesystem
// enforces the root), builtin plugins only, no Helm.
func kustomizeOptions() *krusty.Options {
	return &krusty.Options{
		Reorder:          krusty.ReorderOptionUnspecified,
		LoadRestrictions: types.LoadRestrictionsNone,
		PluginConfig:     types.DisabledPluginConfig(),
	}
}

// remoteClonePrefix is where kustomize clones remote bases.
func remoteClonePrefix() (string, error) {
	tmp, err := filepath.EvalSymlinks(os.TempDir())
	if err != nil {
		return "", fmt.Errorf("resolving the temporary folder for remote bases: %w", err)
	}
	return filepath.Join(tmp, "kustomize-"), nil
}

// buildOutcome is what one kustomize build produced.
type buildOutcome struct {
	objects   []builtObject
	variables []string
	// inputs are the build's variables in its inputs; for a variant
	// build, the plan of the build it is a variant of.
	inputs      *inputPlan
	size        int64
	probes      []probe
	uncacheable bool
	// rootDependent is set when the output mentions the root: it is valid
	// for that root only.
	rootDependent bool
	// err is a failure that another build of the same key on the same,
	// unchanged root would repeat.
	err error
	// warnings are the deprecated fields the build's files use.
	warnings []Warning
}

// variantInput is what a variant build substitutes in its inputs.
type variantInput struct {
	plan    *inputPlan
	cluster string
	vars    map[string]string
}

// build runs kustomize for key under root (real, absolute). A returned
// error is transient (the context ended) and must not be cached; a build
// failure is in outcome.err. When v is set, the variant build of v.cluster:
// every file read has v.vars substituted.
func (r *Renderer) build(ctx context.Context, root string, key buildKey, v *variantInput) (*buildOutcome, error) {
	start := time.Now()
	defer func() {
		r.counters.builds.Add(1)
		r.counters.buildNanos.Add(int64(time.Since(start)))
	}()

	rec := newRecorder()
	fs := &confinedFS{
		ctx:  ctx,
		opts: &r.opts,
		root: root,
		virt: filepath.Join(root, virtualDirName),
		rec:  rec,
	}
	if r.opts.AllowRemoteBases {
		prefix, err := remoteClonePrefix()
		if err != nil {
			return nil, err
		}
		fs.allow = []string{prefix}
	}
	comp, compErr := compose(fs, key)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if v := rec.firstViolation(); v != nil || compErr != nil {
		out := &buildOutcome{probes: rec.probes, uncacheable: rec.uncacheable, err: compErr}
		if v != nil {
			out.err = v
		}
		return out, nil
	}
	synth, err := synthetic(key, comp)
	if err != nil {
		return nil, fmt.Errorf("encoding the in-memory kustomization: %w", err)
	}
	fs.synthetic = synth
	r.seedEdges(fs, key)
	in := &inputFS{confinedFS: fs}
	if v != nil {
		in.vars, in.roles, in.cluster, in.budget = v.vars, v.plan.roles, v.cluster, r.opts.MaxOutputSize
	}

	m, runErr := runKustomize(in, fs.virt)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := &buildOutcome{probes: rec.probes, uncacheable: rec.uncacheable, warnings: rec.warnings}
	switch v := rec.firstViolation(); {
	case v != nil:
		// Refused even if kustomize tolerated it (for example a link
		// leaving the root named kustomization.yml next to a
		// kustomization.yaml).
		out.err = v
		return out, nil
	case in.err != nil:
		out.err = in.err
		return out, nil
	case runErr != nil:
		out.err = explainBuildError(runErr, rec, root)
		return out, nil
	}

	if v != nil {
		out.inputs = v.plan
	} else {
		out.inputs = in.planInputs(m)
	}
	// A variant build's output has its values in; a "${" there comes from
	// an escape and is kept.
	templates := v == nil && !out.inputs.variant
	var size int64
	for _, res := range m.Resources() {
		bo, err := newBuiltObject(res, templates)
		if err != nil {
			out.err = newBuildError(err, root)
			return out, nil
		}
		size += int64(len(bo.yaml)) + int64(len(docSeparator))
		if size > r.opts.MaxOutputSize {
			out.err = newReason(ErrOutputTooLarge, "",
				"the build output is larger than the %d-byte limit (Options.MaxOutputSize): split the app or raise the limit", r.opts.MaxOutputSize)
			return out, nil
		}
		if bo.tmpl != nil {
			out.variables = appendUnique(out.variables, bo.tmpl.names...)
		}
		out.objects = append(out.objects, bo)
		if len(out.objects) > r.opts.MaxObjects {
			out.err = objectsReason(r.opts.MaxObjects)
			return out, nil
		}
	}
	if !templates {
		out.variables = slices.Clone(out.inputs.names)
	}
	out.size = size
	// An output that names the root (origin annotations, for example)
	// cannot be shared with another checkout.
	for _, o := range out.objects {
		if bytes.Contains(o.yaml, []byte(root)) {
			out.rootDependent = true
			break
		}
	}
	return out, nil
}

// newBuiltObject prepares one object of a build for every target: its
// YAML as kustomize prints it, its parsed form and, when templates is set
// and it references variables, its substitution template and fast path.
func newBuiltObject(res *resource.Resource, templates bool) (builtObject, error) {
	js, err := res.MarshalJSON()
	if err != nil {
		return builtObject{}, fmt.Errorf("encoding %s: %w", res.CurId(), err)
	}
	y, err := yaml.JSONToYAML(js)
	if err != nil {
		return builtObject{}, fmt.Errorf("encoding %s: %w", res.CurId(), err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		return builtObject{}, fmt.Errorf("decoding %s: %w", res.CurId(), err)
	}
	bo := builtObject{yaml: y, obj: obj, id: objectID(obj)}
	if !templates || !bytes.Contains(y, []byte("${")) {
		return bo, nil
	}
	// Substitute in kyaml's text of the object, which keeps the field
	// order and the quoting of the source files: a quoted
	// "${cluster.vars.port}" stays a string once substituted.
	src, err := res.RNode.String() // Resource.String differs: kyaml's text is wanted
	if err != nil {
		return builtObject{}, fmt.Errorf("encoding %s: %w", res.CurId(), err)
	}
	bo.src = []byte(src)
	bo.tmpl = parseTemplate(bo.src)
	if bo.tmpl.err == nil {
		bo.plan = planFast(res.YNode(), obj.Object)
	}
	return bo, nil
}

// runKustomize runs krusty on fs, turning a panic into an error: a bad
// repository must never crash the process.
func runKustomize(fs filesys.FileSystem, dir string) (m resmap.ResMap, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("kustomize panicked: %v", p)
		}
	}()
	return krusty.MakeKustomizer(kustomizeOptions()).Run(fs, dir)
}

// seedEdges records the target's own references (base and overlays) as
// edges from the virtual folder, to explain cycles.
func (r *Renderer) seedEdges(fs *confinedFS, key buildKey) {
	add := func(field, p string) {
		real, err := filepath.EvalSymlinks(filepath.Join(fs.root, p))
		if err != nil {
			return
		}
		if to, ok := fs.rel(real); ok {
			fs.rec.addEdge(virtualDirName, graphEdge{field: field, entry: p, to: to})
		}
	}
	add("base", key.base)
	for _, o := range key.overlayPaths() {
		add("overlay", o)
	}
}

// explainBuildError turns kustomize's error into a reason: a cycle is
// explained from the references the build recorded; anything else keeps
// kustomize's message, with the root removed from paths.
func explainBuildError(err error, rec *recorder, root string) error {
	if r := remoteFetchReason(err, root); r != nil {
		return r
	}
	if strings.Contains(err.Error(), "cycle detected") {
		rec.mu.Lock()
		chain := findCycle(rec.edges, virtualDirName)
		rec.mu.Unlock()
		if len(chain) > 0 {
			return cycleReason(chain)
		}
		return &reason{kind: ErrKustomizationCycle, msg: newBuildError(err, root).msg, cause: err}
	}
	if strings.Contains(err.Error(), "namespace transformation produces ID conflict") {
		// Two objects (typically two Namespace objects, both renamed)
		// become one once the namespace is forced.
		return &reason{kind: ErrBuild, cause: err, msg: newBuildError(err, root).msg +
			": forcing the app's spec.namespace on every object makes two of them the same (two Namespace objects are both renamed to it, or objects of the same name in different namespaces): set spec.namespaceMode: Default in the app's app.yaml to keep the namespaces objects set"}
	}
	if types.IsErrOnlyBuiltinPluginsAllowed(err) || strings.Contains(err.Error(), "external plugins disabled") {
		// A plugin configuration reached through a folder: the scan of the
		// kustomization files cannot see it, kustomize refuses it.
		return &reason{kind: ErrPluginNotAllowed, cause: err, msg: newBuildError(err, root).msg +
			": only kustomize's builtin generators and transformers run (apiVersion builtin); remove the plugin configuration"}
	}
	return newBuildError(err, root)
}

// findCycle searches the recorded references for one that leads back to a
// folder (or a parent of a folder) already on the path, as kustomize's own
// check does. It returns the path of references, or nil.
func findCycle(edges map[string][]graphEdge, start string) []graphEdge {
	var (
		stack []string
		path  []graphEdge
		steps int
	)
	var dfs func(d string) []graphEdge
	dfs = func(d string) []graphEdge {
		stack = append(stack, d)
		defer func() { stack = stack[:len(stack)-1] }()
		for _, e := range edges[d] {
			steps++
			if steps > 100000 {
				return nil
			}
			path = append(path, e)
			for _, s := range stack {
				if e.to == s || e.to == "." || strings.HasPrefix(s, e.to+"/") {
					return append([]graphEdge(nil), path...)
				}
			}
			if c := dfs(e.to); c != nil {
				return c
			}
			path = path[:len(path)-1]
		}
		return nil
	}
	return dfs(start)
}

// cycleReason explains a cycle as the chain of references that forms it.
func cycleReason(chain []graphEdge) *reason {
	var steps []string
	last := chain[len(chain)-1]
	for _, e := range chain {
		if e.file == "" {
			continue // the target's own base or overlay
		}
		steps = append(steps, fmt.Sprintf("%s %s %q", e.file, e.field, e.entry))
	}
	return newReason(ErrKustomizationCycle, last.file,
		"kustomization cycle: %s, which leads back to %s: a kustomization must not include itself or a folder that contains it; remove one of these references",
		strings.Join(steps, " -> "), last.to)
}

// objectID is Kind/namespace/name, or Kind/name for cluster-scoped objects.
func objectID(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return o.GetKind() + "/" + ns + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetName()
}

func appendUnique(list []string, names ...string) []string {
	for _, n := range names {
		found := false
		for _, l := range list {
			if l == n {
				found = true
				break
			}
		}
		if !found {
			list = append(list, n)
		}
	}
	return list
}
