package render

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"
)

// WorkerEnv is the environment variable that makes a program that links
// this package a render worker: when it is set to "1", the package's
// initialisation serves build requests on the standard input and output
// (ServeWorker) and exits, before the program's main (or a test binary's
// tests) runs. A Renderer with Options.Isolate sets it for the workers it
// starts; nothing else should.
const WorkerEnv = "FLOTILLA_RENDER_WORKER"

func init() {
	if os.Getenv(WorkerEnv) == "1" {
		os.Exit(ServeWorker(os.Stdin, os.Stdout))
	}
}

// workerRequest asks a worker for one kustomize build.
type workerRequest struct {
	Root      string `json:"root"`
	Base      string `json:"base"`
	Overlays  string `json:"overlays"`
	Namespace string `json:"namespace"`
	// NamespaceDefault is buildKey.namespaceDefault.
	NamespaceDefault bool          `json:"namespaceDefault,omitempty"`
	Options          workerOptions `json:"options"`
	// Variant is set for a variant build (see Renderer.build): the
	// cluster's values are substituted in every file the build reads.
	Variant *workerVariant `json:"variant,omitempty"`
}

// workerVariant is what a variant build substitutes: the parts of
// variantInput a build reads (the parent keeps the plan itself).
type workerVariant struct {
	Cluster string               `json:"cluster"`
	Vars    map[string]string    `json:"vars"`
	Roles   map[string]inputRole `json:"roles,omitempty"`
	Names   []string             `json:"names,omitempty"`
}

// workerOptions are the Options a build in a worker runs under.
type workerOptions struct {
	MaxFileSize      int64 `json:"maxFileSize"`
	MaxOutputSize    int64 `json:"maxOutputSize"`
	MaxFileReads     int   `json:"maxFileReads"`
	MaxTotalRead     int64 `json:"maxTotalRead"`
	MaxNestingDepth  int   `json:"maxNestingDepth"`
	MaxObjects       int   `json:"maxObjects"`
	MaxWorkerMemory  int64 `json:"maxWorkerMemory"`
	AllowRemoteBases bool  `json:"allowRemoteBases"`
}

// workerResponse is the outcome of one build in a worker.
type workerResponse struct {
	Objects []workerObject `json:"objects,omitempty"`
	// Variables are the variables the objects reference, or, when the
	// objects carry no template (a variant build, or a build whose
	// targets need one), the variables of the inputs.
	Variables []string `json:"variables,omitempty"`
	// Inputs is the plan of the build's inputs (inputPlan); not sent for a
	// variant build, whose plan the parent has.
	Inputs        *workerPlan   `json:"inputs,omitempty"`
	Size          int64         `json:"size"`
	Probes        []workerProbe `json:"probes,omitempty"`
	Uncacheable   bool          `json:"uncacheable,omitempty"`
	RootDependent bool          `json:"rootDependent,omitempty"`
	Warnings      []Warning     `json:"warnings,omitempty"`
	Err           *workerError  `json:"err,omitempty"`
	// Transient is set when the build did not run to its end for a
	// reason that another run may not repeat.
	Transient string `json:"transient,omitempty"`
}

type workerObject struct {
	YAML []byte `json:"yaml"`
	// Text is kyaml's text of the object, when it holds "${".
	Text string `json:"text,omitempty"`
}

// workerPlan is an inputPlan on the wire.
type workerPlan struct {
	Variant bool                 `json:"variant,omitempty"`
	Why     string               `json:"why,omitempty"`
	Files   []workerInput        `json:"files,omitempty"`
	Roles   map[string]inputRole `json:"roles,omitempty"`
	Names   []string             `json:"names,omitempty"`
}

// workerInput is an inputFile on the wire; its template is sent parsed,
// not as the file's text, which the worker does not keep.
type workerInput struct {
	Name   string         `json:"name"`
	Tmpl   workerTemplate `json:"tmpl"`
	Size   int            `json:"size"`
	Seq    bool           `json:"seq,omitempty"`
	Quoted []string       `json:"quoted,omitempty"`
	Plain  []string       `json:"plain,omitempty"`
}

// workerTemplate is a template on the wire.
type workerTemplate struct {
	Segs  []workerSegment    `json:"segs,omitempty"`
	Names []string           `json:"names,omitempty"`
	Err   *workerVariableErr `json:"err,omitempty"`
}

type workerSegment struct {
	Text  string `json:"t"`
	IsVar bool   `json:"v,omitempty"`
}

// workerVariableErr is a *VariableError on the wire.
type workerVariableErr struct {
	Variable string `json:"variable"`
	Offset   int    `json:"offset"`
	Kind     int    `json:"kind"`
	Msg      string `json:"msg"`
}

type workerProbe struct {
	Op   probeOp `json:"op"`
	Path string  `json:"path"`
	FP   string  `json:"fp"`
}

type workerError struct {
	Kind int    `json:"kind"`
	Msg  string `json:"msg"`
	File string `json:"file,omitempty"`
	// Variable is the *VariableError the error wraps, if any.
	Variable *workerVariableErr `json:"variable,omitempty"`
}

// errorKinds are the kinds a build error keeps across the worker boundary;
// the index is the wire value.
var errorKinds = []error{ErrBuild, ErrInvalidTarget, ErrOutsideRoot, ErrRemoteBase, ErrPluginNotAllowed,
	ErrHelmNotAllowed, ErrUnsupportedField, ErrFileTooLarge, ErrTooManyFiles, ErrOutputTooLarge,
	ErrKustomizationCycle, ErrLimitExceeded, ErrInvalidVariable, ErrUndefinedVariable, ErrVariableStructure}

// errorKind returns the wire value of err's kind (ErrBuild's when none).
func errorKind(err error) int {
	for i, k := range errorKinds {
		if errors.Is(err, k) {
			return i
		}
	}
	return 0
}

func encodeError(err error) *workerError {
	we := &workerError{Msg: err.Error(), Kind: errorKind(err)}
	var r *reason
	if errors.As(err, &r) {
		we.File = r.file
	}
	var ve *VariableError
	if errors.As(err, &ve) {
		we.Variable = encodeVariableError(ve)
	}
	return we
}

func encodeVariableError(ve *VariableError) *workerVariableErr {
	if ve == nil {
		return nil
	}
	return &workerVariableErr{Variable: ve.Variable, Offset: ve.Offset, Kind: errorKind(ve), Msg: ve.msg}
}

func (w *workerVariableErr) decode() *VariableError {
	if w == nil {
		return nil
	}
	kind := ErrInvalidVariable
	if w.Kind >= 0 && w.Kind < len(errorKinds) {
		kind = errorKinds[w.Kind]
	}
	return &VariableError{Variable: w.Variable, Offset: w.Offset, kind: kind, msg: w.Msg}
}

func (we *workerError) decode() error {
	kind := ErrBuild
	if we.Kind >= 0 && we.Kind < len(errorKinds) {
		kind = errorKinds[we.Kind]
	}
	r := &reason{kind: kind, msg: we.Msg, file: we.File}
	if ve := we.Variable.decode(); ve != nil {
		r.cause = ve
	}
	return r
}

func encodeTemplate(t *template) workerTemplate {
	wt := workerTemplate{Names: t.names, Err: encodeVariableError(t.err)}
	for _, sg := range t.segs {
		wt.Segs = append(wt.Segs, workerSegment{Text: sg.text, IsVar: sg.isVar})
	}
	return wt
}

func (wt *workerTemplate) decode() *template {
	t := &template{names: wt.Names, err: wt.Err.decode()}
	for _, sg := range wt.Segs {
		t.segs = append(t.segs, segment{text: sg.Text, isVar: sg.IsVar})
	}
	return t
}

// encodePlan puts a build's input plan on the wire.
func encodePlan(p *inputPlan) *workerPlan {
	if p == nil {
		return nil
	}
	wp := &workerPlan{Variant: p.variant, Why: p.why, Roles: p.roles, Names: p.names}
	for _, in := range p.files {
		wi := workerInput{Name: in.name, Tmpl: encodeTemplate(in.tmpl), Size: in.size, Seq: in.seq}
		wi.Quoted = slicesSorted(mapKeys(in.quoted))
		wi.Plain = slicesSorted(mapKeys(in.plain))
		wp.Files = append(wp.Files, wi)
	}
	return wp
}

// decode rebuilds the inputPlan a worker sent.
func (wp *workerPlan) decode() *inputPlan {
	if wp == nil {
		return nil
	}
	p := &inputPlan{variant: wp.Variant, why: wp.Why, roles: wp.Roles, names: wp.Names}
	if p.roles == nil {
		p.roles = map[string]inputRole{}
	}
	for _, wi := range wp.Files {
		in := inputFile{name: wi.Name, tmpl: wi.Tmpl.decode(), size: wi.Size, seq: wi.Seq}
		if wi.Quoted != nil || wi.Plain != nil {
			in.quoted, in.plain = setOf(wi.Quoted), setOf(wi.Plain)
		}
		p.files = append(p.files, in)
	}
	return p
}

func mapKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func setOf(in []string) map[string]bool {
	m := make(map[string]bool, len(in))
	for _, s := range in {
		m[s] = true
	}
	return m
}

// ServeWorker runs build requests read from in, one JSON document each,
// and writes each outcome to out, until in ends. It is what a render
// worker process does (see WorkerEnv): a Renderer with Options.Isolate
// starts workers as child processes, so that a build that runs away
// (memory, CPU) is killed without taking the caller down. It returns the
// process exit code.
func ServeWorker(in io.Reader, out io.Writer) int {
	dec := json.NewDecoder(bufio.NewReader(in))
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	limited := false
	for {
		var req workerRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintf(os.Stderr, "render worker: decoding a request: %v\n", err)
			return 2
		}
		if !limited && req.Options.MaxWorkerMemory > 0 {
			limitMemory(req.Options.MaxWorkerMemory)
			limited = true
		}
		if err := enc.Encode(serveOne(req)); err != nil {
			fmt.Fprintf(os.Stderr, "render worker: writing a response: %v\n", err)
			return 2
		}
		if err := w.Flush(); err != nil {
			return 2
		}
	}
}

// limitMemory bounds the worker's memory: the Go heap softly (the garbage
// collector works harder near it), the address space hard where the
// platform allows (see setMemoryRlimit): past it the worker dies and the
// parent reports the limit.
func limitMemory(limit int64) {
	debug.SetMemoryLimit(limit / 4 * 3)
	setMemoryRlimit(limit)
}

func serveOne(req workerRequest) *workerResponse {
	o := req.Options
	r := New(Options{MaxFileSize: o.MaxFileSize, MaxOutputSize: o.MaxOutputSize, MaxFileReads: o.MaxFileReads,
		MaxTotalRead: o.MaxTotalRead, MaxNestingDepth: o.MaxNestingDepth, MaxObjects: o.MaxObjects,
		AllowRemoteBases: o.AllowRemoteBases, MaxCacheBytes: 1})
	var v *variantInput
	if wv := req.Variant; wv != nil {
		roles := wv.Roles
		if roles == nil {
			roles = map[string]inputRole{}
		}
		v = &variantInput{plan: &inputPlan{variant: true, roles: roles, names: wv.Names}, cluster: wv.Cluster, vars: wv.Vars}
		if v.vars == nil {
			v.vars = map[string]string{}
		}
	}
	out, err := r.build(context.Background(), req.Root, buildKey{base: req.Base, overlays: req.Overlays, namespace: req.Namespace, namespaceDefault: req.NamespaceDefault}, v)
	if err != nil {
		return &workerResponse{Transient: err.Error()}
	}
	resp := &workerResponse{Size: out.size, Uncacheable: out.uncacheable, RootDependent: out.rootDependent, Variables: out.variables, Warnings: out.warnings}
	if v == nil {
		resp.Inputs = encodePlan(out.inputs)
	}
	for _, p := range out.probes {
		resp.Probes = append(resp.Probes, workerProbe{Op: p.op, Path: p.path, FP: p.fp})
	}
	if out.err != nil {
		resp.Err = encodeError(out.err)
		return resp
	}
	for _, bo := range out.objects {
		resp.Objects = append(resp.Objects, workerObject{YAML: bo.yaml, Text: string(bo.src)})
	}
	return resp
}

// worker is a running render worker process.
type worker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	dec    *json.Decoder
	stderr *headBuffer
	done   chan struct{} // closed when the process has exited
}

// workerPool keeps idle workers for reuse.
type workerPool struct {
	mu   sync.Mutex
	idle []*worker
}

// get returns an idle worker (reused true) or, when there is none or
// fresh is set, a new one.
func (p *workerPool) get(command []string, fresh bool) (w *worker, reused bool, err error) {
	for !fresh {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		w = p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		select {
		case <-w.done:
			// It died while idle: try the next.
		default:
			return w, true, nil
		}
	}
	w, err = startWorker(command)
	return w, false, err
}

func (p *workerPool) put(w *worker, max int) {
	p.mu.Lock()
	if len(p.idle) < max {
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	w.stop()
}

func startWorker(command []string) (*worker, error) {
	if len(command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("starting a render worker: finding this program: %w", err)
		}
		command = []string{exe}
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = append(os.Environ(), WorkerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("starting a render worker: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting a render worker: %w", err)
	}
	w := &worker{cmd: cmd, stdin: stdin, dec: json.NewDecoder(bufio.NewReader(stdout)), stderr: &headBuffer{max: 4096}, done: make(chan struct{})}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting a render worker %s: %w", command[0], err)
	}
	go func() {
		_ = cmd.Wait()
		close(w.done)
	}()
	return w, nil
}

// stop ends the worker (closing its input ends an idle worker; a busy one
// is killed) and waits for it.
func (w *worker) stop() {
	_ = w.stdin.Close()
	select {
	case <-w.done:
	case <-time.After(2 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

func (w *worker) kill() {
	_ = w.cmd.Process.Kill()
	<-w.done
}

// buildIsolated runs build in a worker process, under Options.MaxBuildTime
// and Options.MaxWorkerMemory: a build that goes over either is killed and
// reported as ErrLimitExceeded, and the caller is unharmed.
// A variant build (v set) runs in a worker too, with the cluster's values.
func (r *Renderer) buildIsolated(ctx context.Context, root string, key buildKey, v *variantInput) (*buildOutcome, error) {
	start := time.Now()
	defer func() {
		r.counters.builds.Add(1)
		r.counters.buildNanos.Add(int64(time.Since(start)))
	}()
	o := r.opts
	req := workerRequest{Root: root, Base: key.base, Overlays: key.overlays, Namespace: key.namespace, NamespaceDefault: key.namespaceDefault, Options: workerOptions{
		MaxFileSize: o.MaxFileSize, MaxOutputSize: o.MaxOutputSize, MaxFileReads: o.MaxFileReads, MaxTotalRead: o.MaxTotalRead,
		MaxNestingDepth: o.MaxNestingDepth, MaxObjects: o.MaxObjects, MaxWorkerMemory: o.MaxWorkerMemory,
		AllowRemoteBases: o.AllowRemoteBases}}
	what := describeKey(key)
	if v != nil {
		req.Variant = &workerVariant{Cluster: v.cluster, Vars: v.vars, Roles: v.plan.roles, Names: v.plan.names}
		what += " for cluster " + v.cluster
	}
	for fresh := false; ; fresh = true {
		w, reused, err := r.workers.get(o.WorkerCommand, fresh)
		if err != nil {
			return nil, err
		}
		out, died, err := r.runOn(ctx, w, req, what)
		if died && reused {
			// A reused worker may have died while idle, or carry the
			// memory of earlier builds: give the build a fresh one.
			continue
		}
		if v != nil && out != nil && out.err == nil {
			// As Renderer.build: a variant build's plan is the one of
			// the build it is a variant of.
			out.inputs = v.plan
		}
		return out, err
	}
}

// runOn runs req on worker w. died reports that the worker ended without
// answering (and was not killed for the deadline or the context).
func (r *Renderer) runOn(ctx context.Context, w *worker, req workerRequest, what string) (out *buildOutcome, died bool, err error) {
	o := r.opts
	type result struct {
		resp workerResponse
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		var res result
		if err := json.NewEncoder(w.stdin).Encode(req); err != nil {
			res.err = err
		} else {
			res.err = w.dec.Decode(&res.resp)
		}
		ch <- res
	}()
	timer := time.NewTimer(o.MaxBuildTime)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		w.kill()
		return nil, false, ctx.Err()
	case <-timer.C:
		w.kill()
		return &buildOutcome{uncacheable: true, err: newReason(ErrLimitExceeded, "",
			"building %s took longer than %s (Options.MaxBuildTime) and was stopped: too many objects, patches or replacements; split the app", what, o.MaxBuildTime)}, false, nil
	case res := <-ch:
		if res.err != nil {
			w.kill()
			return &buildOutcome{uncacheable: true, err: workerDied(what, w, o.MaxWorkerMemory)}, true, nil
		}
		r.workers.put(w, o.Parallelism)
		if res.resp.Transient != "" {
			return nil, false, errors.New(res.resp.Transient)
		}
		out, err := outcomeFromWorker(&res.resp)
		return out, false, err
	}
}

// workerDied explains a worker that ended without answering.
func workerDied(what string, w *worker, memLimit int64) error {
	tail := w.stderr.String()
	if strings.Contains(tail, "out of memory") || strings.Contains(tail, "cannot allocate memory") {
		return newReason(ErrLimitExceeded, "",
			"building %s used more than %d bytes of memory (Options.MaxWorkerMemory) and was stopped: too many or too large objects; split the app", what, memLimit)
	}
	state := "it was killed"
	if ps := w.cmd.ProcessState; ps != nil {
		state = ps.String()
	}
	if i := strings.Index(tail, "\n"); i > 0 {
		tail = tail[:i] // the first line: no stack, no content
	}
	return newReason(ErrBuild, "", "building %s: the render worker process failed (%s): %s", what, state, truncateText(tail, 512))
}

func describeKey(key buildKey) string {
	s := "base " + key.base
	if ov := key.overlayPaths(); len(ov) > 0 {
		s += " with overlays " + strings.Join(ov, ", ")
	}
	return s
}

// outcomeFromWorker rebuilds a build's outcome from a worker's response.
func outcomeFromWorker(resp *workerResponse) (*buildOutcome, error) {
	out := &buildOutcome{size: resp.Size, uncacheable: resp.Uncacheable, rootDependent: resp.RootDependent,
		variables: resp.Variables, inputs: resp.Inputs.decode(), warnings: resp.Warnings}
	for _, p := range resp.Probes {
		out.probes = append(out.probes, probe{op: p.Op, path: p.Path, fp: p.FP})
	}
	if resp.Err != nil {
		out.err = resp.Err.decode()
		return out, nil
	}
	for _, wo := range resp.Objects {
		bo, err := objectFromWorker(wo)
		if err != nil {
			return nil, fmt.Errorf("reading the render worker's object: %w", err)
		}
		out.objects = append(out.objects, bo)
	}
	return out, nil
}

// objectFromWorker prepares an object a worker built as newBuiltObject
// prepares one kustomize built.
func objectFromWorker(wo workerObject) (builtObject, error) {
	js, err := yaml.YAMLToJSON(wo.YAML)
	if err != nil {
		return builtObject{}, err
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		return builtObject{}, err
	}
	bo := builtObject{yaml: wo.YAML, obj: obj, id: objectID(obj)}
	if wo.Text == "" {
		return bo, nil
	}
	bo.src = []byte(wo.Text)
	bo.tmpl = parseTemplate(bo.src)
	if bo.tmpl.err == nil {
		rn, err := kyaml.Parse(wo.Text)
		if err != nil {
			return builtObject{}, err
		}
		bo.plan = planFast(rn.YNode(), obj.Object)
	}
	return bo, nil
}

// headBuffer keeps the first max bytes written to it (a Go fatal error
// starts with its reason).
type headBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *headBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (t *headBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
