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
	Root      string        `json:"root"`
	Base      string        `json:"base"`
	Overlays  string        `json:"overlays"`
	Namespace string        `json:"namespace"`
	Options   workerOptions `json:"options"`
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
	Objects       []workerObject `json:"objects,omitempty"`
	Size          int64          `json:"size"`
	Probes        []workerProbe  `json:"probes,omitempty"`
	Uncacheable   bool           `json:"uncacheable,omitempty"`
	RootDependent bool           `json:"rootDependent,omitempty"`
	Err           *workerError   `json:"err,omitempty"`
	// Transient is set when the build did not run to its end for a
	// reason that another run may not repeat.
	Transient string `json:"transient,omitempty"`
}

type workerObject struct {
	YAML []byte `json:"yaml"`
	// Text is kyaml's text of the object, when it holds "${".
	Text string `json:"text,omitempty"`
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
}

// errorKinds are the kinds a build error keeps across the worker boundary;
// the index is the wire value.
var errorKinds = []error{ErrBuild, ErrInvalidTarget, ErrOutsideRoot, ErrRemoteBase, ErrPluginNotAllowed,
	ErrHelmNotAllowed, ErrUnsupportedField, ErrFileTooLarge, ErrTooManyFiles, ErrOutputTooLarge,
	ErrKustomizationCycle, ErrLimitExceeded}

func encodeError(err error) *workerError {
	we := &workerError{Msg: err.Error()}
	for i, k := range errorKinds {
		if errors.Is(err, k) {
			we.Kind = i
			break
		}
	}
	var r *reason
	if errors.As(err, &r) {
		we.File = r.file
	}
	return we
}

func (we *workerError) decode() error {
	kind := ErrBuild
	if we.Kind >= 0 && we.Kind < len(errorKinds) {
		kind = errorKinds[we.Kind]
	}
	return &reason{kind: kind, msg: we.Msg, file: we.File}
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
	out, err := r.build(context.Background(), req.Root, buildKey{base: req.Base, overlays: req.Overlays, namespace: req.Namespace})
	if err != nil {
		return &workerResponse{Transient: err.Error()}
	}
	resp := &workerResponse{Size: out.size, Uncacheable: out.uncacheable, RootDependent: out.rootDependent}
	for _, p := range out.probes {
		resp.Probes = append(resp.Probes, workerProbe{Op: p.op, Path: p.path, FP: p.fp})
	}
	if out.err != nil {
		resp.Err = encodeError(out.err)
		return resp
	}
	for _, bo := range out.objects {
		resp.Objects = append(resp.Objects, workerObject{YAML: bo.yaml, Text: bo.text})
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
func (r *Renderer) buildIsolated(ctx context.Context, root string, key buildKey) (*buildOutcome, error) {
	start := time.Now()
	defer func() {
		r.counters.builds.Add(1)
		r.counters.buildNanos.Add(int64(time.Since(start)))
	}()
	o := r.opts
	req := workerRequest{Root: root, Base: key.base, Overlays: key.overlays, Namespace: key.namespace, Options: workerOptions{
		MaxFileSize: o.MaxFileSize, MaxOutputSize: o.MaxOutputSize, MaxFileReads: o.MaxFileReads, MaxTotalRead: o.MaxTotalRead,
		MaxNestingDepth: o.MaxNestingDepth, MaxObjects: o.MaxObjects, MaxWorkerMemory: o.MaxWorkerMemory,
		AllowRemoteBases: o.AllowRemoteBases}}
	for fresh := false; ; fresh = true {
		w, reused, err := r.workers.get(o.WorkerCommand, fresh)
		if err != nil {
			return nil, err
		}
		out, died, err := r.runOn(ctx, w, req, describeKey(key))
		if died && reused {
			// A reused worker may have died while idle, or carry the
			// memory of earlier builds: give the build a fresh one.
			continue
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
	out := &buildOutcome{size: resp.Size, uncacheable: resp.Uncacheable, rootDependent: resp.RootDependent}
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
		if bo.tmpl != nil {
			out.variables = appendUnique(out.variables, bo.tmpl.names...)
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
	bo := builtObject{yaml: wo.YAML, obj: obj, id: objectID(obj), text: wo.Text}
	if wo.Text == "" {
		return bo, nil
	}
	bo.tmpl = parseTemplate([]byte(wo.Text))
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
