package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	yamlv2 "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/flotilla-gitops/flotilla/placement"
)

// docSeparator separates the documents of Manifest.YAML, as kustomize
// build prints them.
const docSeparator = "---\n"

// Manifest is what one target renders to.
type Manifest struct {
	// Objects are the rendered objects, in the order of YAML. Each
	// Manifest owns its objects: changing them does not affect the cache
	// or other manifests.
	Objects []*unstructured.Unstructured
	// YAML is the exact multi-document YAML of the build, before
	// apply.Prepare adds the owner labels and fixes the namespace of
	// cluster-scoped custom kinds (`flotilla render` prints the prepared
	// objects): the objects in kustomize's output order (the kustomize CLI's default,
	// "legacy" kind order), each printed as kustomize prints it (keys
	// sorted), separated by "---\n".
	YAML []byte
	// Digest is "sha256:<hex>" of YAML.
	Digest string
	// Variables are the variables the build references (names without
	// "${" and "}"), in order of first use.
	Variables []string
	// Warnings are the deprecated kustomization fields the build's files
	// use, by file. kustomize prints them on the process's stderr without
	// a file name; render attributes them instead.
	Warnings []Warning
}

// Warning is something a build's files do that still works but should
// change.
type Warning struct {
	// File is the file concerned, relative to the repository root.
	File string `json:"file"`
	// Message says what to change.
	Message string `json:"message"`
}

// Result is the outcome of one target of RenderAll.
type Result struct {
	// Target is the target rendered.
	Target placement.Target
	// Manifest is set when Err is nil.
	Manifest *Manifest
	// Err is an *Error when the target failed.
	Err error
}

// Digest returns "sha256:<hex>" of b, the form of Manifest.Digest.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// workloadKey names a workload whose replicas a target sets.
type workloadKey struct{ kind, name string }

// finish turns a cached build into t's manifest: variables substituted in
// the objects that reference any, replicas set, YAML assembled.
func (r *Renderer) finish(e *entry, t placement.Target) (*Manifest, error) {
	var wants map[workloadKey]int32
	var found map[workloadKey]bool
	if len(t.Replicas) > 0 {
		wants = make(map[workloadKey]int32, len(t.Replicas))
		found = make(map[workloadKey]bool, len(t.Replicas))
		for _, rp := range t.Replicas {
			wants[workloadKey{rp.Kind, rp.Name}] = rp.Count
		}
	}
	fail := func(object string, err error) (*Manifest, error) {
		return nil, targetError(t.App, t.Cluster, object, err)
	}

	size := 0
	for _, o := range e.objects {
		size += len(o.yaml) + len(docSeparator)
	}
	var buf bytes.Buffer
	buf.Grow(size)
	objs := make([]*unstructured.Unstructured, 0, len(e.objects))
	for i, o := range e.objects {
		rc := &renderContext{cluster: t.Cluster, inputs: e.inputs, limit: r.opts.MaxOutputSize - int64(buf.Len())}
		u, y, err := o.renderFor(t.Vars, true, rc)
		if err != nil {
			var big *errExpandLimit
			if errors.As(err, &big) {
				name := o.tmpl.biggest(t.Vars)
				file := e.inputs.fileReferencing(name)
				from := ""
				if file != "" {
					from = ", referenced in " + file
				}
				return fail(o.id, newReason(ErrOutputTooLarge, file,
					"the rendered YAML would pass the %d-byte limit (Options.MaxOutputSize) once variables are substituted: this object alone would be %d bytes (${%s} is %d bytes%s): use a smaller value or fewer references, split the app or raise the limit",
					r.opts.MaxOutputSize, big.size, name, len(t.Vars[name]), from))
			}
			return fail(o.id, err)
		}
		if wants != nil {
			k := workloadKey{u.GetKind(), u.GetName()}
			if n, ok := wants[k]; ok {
				if err := unstructured.SetNestedField(u.Object, int64(n), "spec", "replicas"); err != nil {
					return fail(objectID(u), fmt.Errorf("setting spec.replicas to %d: %w", n, err))
				}
				found[k] = true
				var err error
				if y, err = printObject(u.Object); err != nil {
					return fail(objectID(u), fmt.Errorf("encoding the object: %w", err))
				}
			}
		}
		if i > 0 {
			buf.WriteString(docSeparator)
		}
		buf.Write(y)
		if int64(buf.Len()) > r.opts.MaxOutputSize {
			return fail("", newReason(ErrOutputTooLarge, "",
				"the rendered YAML is larger than the %d-byte limit (Options.MaxOutputSize) once variables are substituted: split the app or raise the limit", r.opts.MaxOutputSize))
		}
		objs = append(objs, u)
	}
	for _, rp := range t.Replicas {
		if !found[workloadKey{rp.Kind, rp.Name}] {
			return fail("", newReason(ErrWorkloadNotFound, "",
				"replicas for %s %q: the app renders no %s named %q for this cluster: fix the workload's kind and name in the app's replica division",
				rp.Kind, rp.Name, rp.Kind, rp.Name))
		}
	}
	out := buf.Bytes()
	return &Manifest{
		Objects:   objs,
		YAML:      out,
		Digest:    Digest(out),
		Variables: slices.Clone(e.variables),
		Warnings:  slices.Clone(e.warnings),
	}, nil
}

// parseSubstituted parses an object's substituted YAML text as kustomize
// parsed the source (kyaml's YAML 1.2: "on" stays a string, an unquoted 3
// is an integer) into JSON-compatible values.
func parseSubstituted(text []byte) (map[string]any, error) {
	var obj map[string]any
	if err := kyaml.Unmarshal(text, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("the object is empty")
	}
	v, err := jsonCompatible(obj)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// jsonCompatible converts decoded YAML to the types of unstructured
// objects: integers become int64, mapping keys must be strings.
func jsonCompatible(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := jsonCompatible(e)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case []any:
		for i, e := range t {
			c, err := jsonCompatible(e)
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	case int:
		return int64(t), nil
	case float64:
		return jsonNumber(t), nil
	case uint64:
		if t > math.MaxInt64 {
			return float64(t), nil
		}
		return int64(t), nil
	case map[any]any:
		return nil, fmt.Errorf("a mapping has a key that is not a string")
	case nil, string, bool, int64:
		return t, nil
	default:
		return nil, fmt.Errorf("unsupported value %v of type %T", t, t)
	}
}

// printObject prints an object as kustomize build does (its
// resource.AsYAML is JSON, then sigs.k8s.io/yaml.JSONToYAML: go-yaml v2,
// keys sorted), without the JSON round trip.
func printObject(obj map[string]any) ([]byte, error) {
	return yamlv2.Marshal(obj)
}

// jsonNumber returns f as an unstructured object holds it after a JSON
// round trip (as kustomize's objects are): an integral value JSON prints
// without a fraction or exponent is an int64.
func jsonNumber(f float64) any {
	if f != math.Trunc(f) || math.Abs(f) >= 1e21 {
		return f
	}
	b, err := json.Marshal(f)
	if err != nil || bytes.ContainsAny(b, ".eE") {
		return f
	}
	if i, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return i
	}
	return f
}

// renderContext is what renderFor needs beyond the values: the limit of
// the object's substituted text and what error messages name.
type renderContext struct {
	cluster string
	inputs  *inputPlan
	// limit is the most bytes the object's text may have once
	// substituted; negative for no limit.
	limit int64
}

// render is renderFor without a limit.
func (o *builtObject) render(vars map[string]string, fast bool) (*unstructured.Unstructured, []byte, error) {
	return o.renderFor(vars, fast, &renderContext{limit: -1})
}

// renderFor returns the object and its YAML for vars: the cached object
// when it references no variable, else the fast path when fast is set and
// it can decide, else the text path. A text larger than rc.limit once
// substituted is refused with an *errExpandLimit before anything is
// allocated for it.
func (o *builtObject) renderFor(vars map[string]string, fast bool, rc *renderContext) (*unstructured.Unstructured, []byte, error) {
	if o.tmpl == nil {
		return o.obj.DeepCopy(), o.yaml, nil
	}
	if rc.limit >= 0 {
		n, err := o.tmpl.size(vars)
		if err != nil {
			return nil, nil, err
		}
		if n > rc.limit {
			return nil, nil, &errExpandLimit{size: n}
		}
	}
	if fast && o.plan != nil {
		if u, y, ok := o.plan.apply(o.obj, vars); ok {
			return u, y, nil
		}
	}
	text, err := o.tmpl.expand(vars)
	if err != nil {
		return nil, nil, err
	}
	if se := checkScalarsOnly(o.src, text, vars); se != nil {
		return nil, nil, structureReason(o.tmpl, o.src, vars, rc.cluster, "the object", rc.inputs.fileReferencing, se)
	}
	obj, err := parseSubstituted(text)
	if err != nil {
		return nil, nil, fmt.Errorf("the object is not valid YAML once variables are substituted (a value with a ':' or line break?): %w; quote the reference or fix the value", err)
	}
	u := &unstructured.Unstructured{Object: obj}
	if u.GetKind() == "" || u.GetAPIVersion() == "" {
		return nil, nil, fmt.Errorf("the object has no kind or apiVersion once variables are substituted")
	}
	y, err := printObject(obj)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the object: %w", err)
	}
	return u, y, nil
}
