package dashboard

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1 "k8s.io/api/core/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// RBAC of the controller for the dashboard: reading Flotilla's events from
// the cache, and checking viewers' tokens and permissions.
// +kubebuilder:rbac:groups="",resources=events,verbs=list;watch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

//go:embed assets
var assets embed.FS

// Informers is the part of the manager's cache the dashboard watches.
type Informers interface {
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// Server serves the dashboard. It is a manager.Runnable that runs on every
// replica (it needs no leader).
type Server struct {
	opts      Options
	reader    client.Reader
	informers Informers
	auth      *authenticator // nil when authentication is off
	listener  net.Listener

	dirty chan struct{}

	mu      sync.RWMutex
	current *snapshot
	subs    map[chan uint64]struct{}
	// batches counts the updates sent (for tests and benchmarks).
	batches uint64
}

// snapshot is the fleet as of one batch of changes, per namespace, with
// each namespace's JSON encoded once for every viewer.
type snapshot struct {
	version   uint64
	generated time.Time
	views     map[string]*NamespaceView
	encoded   map[string][]byte
}

// New returns a dashboard reading from reader (the manager's cache) and
// woken by informers (the same cache). reviews checks tokens and
// permissions when opts.Auth is set; it may be nil otherwise.
func New(reader client.Reader, informers Informers, reviews Reviewer, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, reader: reader, informers: informers, dirty: make(chan struct{}, 1), subs: map[chan uint64]struct{}{}}
	if opts.Auth {
		if reviews == nil {
			return nil, fmt.Errorf("dashboard: authentication is on but no client for TokenReview and SubjectAccessReview was given")
		}
		s.auth = newAuthenticator(reviews, opts.AuthCacheTTL)
	}
	return s, nil
}

// NeedLeaderElection is false: every replica serves the dashboard.
func (s *Server) NeedLeaderElection() bool { return false }

// Listen binds the address now, so callers learn the port (":0") and a
// taken port fails at start-up. It returns the URL of the dashboard.
func (s *Server) Listen() (string, error) {
	l, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return "", fmt.Errorf("dashboard: listen on %s: %w", s.opts.Addr, err)
	}
	s.listener = l
	return s.URL(), nil
}

// URL is the dashboard's address once Listen has run.
func (s *Server) URL() string {
	if s.listener == nil {
		return ""
	}
	scheme := "http"
	if s.opts.TLSCertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + s.listener.Addr().String() + "/"
}

// Start watches the cache, keeps the snapshot current and serves until ctx
// ends.
func (s *Server) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("dashboard")
	if s.listener == nil {
		if _, err := s.Listen(); err != nil {
			return err
		}
	}
	if err := s.watch(ctx); err != nil {
		_ = s.listener.Close()
		return err
	}
	if err := s.rebuild(ctx); err != nil {
		log.Error(err, "build the first dashboard snapshot")
	}
	go s.batchLoop(ctx)

	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("serving the dashboard", "url", s.URL(), "auth", s.opts.Auth)
	var err error
	if s.opts.TLSCertFile != "" {
		err = srv.ServeTLS(s.listener, s.opts.TLSCertFile, s.opts.TLSKeyFile)
	} else {
		err = srv.Serve(s.listener)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dashboard: serve: %w", err)
	}
	return nil
}

// watch adds a handler to the informer of every kind the dashboard shows.
// Each change only marks the snapshot dirty; batchLoop rebuilds it.
func (s *Server) watch(ctx context.Context) error {
	mark := func() {
		select {
		case s.dirty <- struct{}{}:
		default:
		}
	}
	h := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { mark() },
		UpdateFunc: func(any, any) { mark() },
		DeleteFunc: func(any) { mark() },
	}
	for _, obj := range []client.Object{&flotillav1.FleetRepository{}, &flotillav1.Cluster{}, &flotillav1.App{}, &flotillav1.ClusterSync{}, &corev1.Event{}} {
		inf, err := s.informers.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("dashboard: watch %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("dashboard: watch %T: %w", obj, err)
		}
	}
	return nil
}

// batchLoop rebuilds the snapshot once per batch of changes: the first
// change opens a batch, every change within opts.Batch joins it, and the
// open pages get one update for all of them.
func (s *Server) batchLoop(ctx context.Context) {
	log := ctrl.LoggerFrom(ctx).WithName("dashboard")
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dirty:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.opts.Batch):
		}
		// Changes that arrived during the wait are in this batch.
		select {
		case <-s.dirty:
		default:
		}
		if err := s.rebuild(ctx); err != nil {
			log.Error(err, "rebuild the dashboard snapshot")
		}
	}
}

// rebuild reads the cache, encodes each namespace once and tells every
// open page.
func (s *Server) rebuild(ctx context.Context) error {
	views, err := buildFleet(ctx, s.reader)
	if err != nil {
		return err
	}
	enc := make(map[string][]byte, len(views))
	for ns, v := range views {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode namespace %s: %w", ns, err)
		}
		enc[ns] = b
	}
	s.mu.Lock()
	version := uint64(1)
	if s.current != nil {
		version = s.current.version + 1
	}
	s.current = &snapshot{version: version, generated: time.Now(), views: views, encoded: enc}
	s.batches++
	subs := make([]chan uint64, 0, len(s.subs))
	for ch := range s.subs {
		subs = append(subs, ch)
	}
	s.mu.Unlock()
	for _, ch := range subs {
		// Keep only the newest version for a slow reader.
		select {
		case ch <- version:
		default:
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- version:
			default:
			}
		}
	}
	return nil
}

// snap returns the current snapshot (nil before the first build).
func (s *Server) snap() *snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.current
}

// Batches returns how many updates were sent to open pages so far.
func (s *Server) Batches() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.batches
}

// subscribe registers a page for updates.
func (s *Server) subscribe() (chan uint64, func()) {
	ch := make(chan uint64, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

// Handler returns the dashboard's HTTP handler.
func (s *Server) Handler() http.Handler {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded folder exists at build time
	}
	files := http.FileServerFS(static)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { serveFile(w, r, static, "index.html") })
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", files))
	mux.HandleFunc("GET /api/fleet", s.serveFleet)
	mux.HandleFunc("GET /api/cluster", s.serveCluster)
	mux.HandleFunc("GET /api/sync", s.serveSync)
	mux.HandleFunc("GET /api/events", s.serveEvents)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	var h http.Handler = mux
	if s.auth != nil {
		h = s.auth.middleware(mux, static, s.opts.TLSCertFile != "")
	}
	return secureHeaders(h)
}

// serveFile writes one embedded file.
func serveFile(w http.ResponseWriter, r *http.Request, fsys fs.FS, name string) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// contentSecurityPolicy allows only the dashboard's own scripts, styles
// and requests: no inline script or style, no other origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// secureHeaders sets the Content-Security-Policy and the other headers
// that keep the pages from being framed or sniffed.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// allowedNamespaces filters namespaces by the viewer's permissions.
func (s *Server) allowedNamespaces(r *http.Request, names []string) ([]string, error) {
	if s.auth == nil {
		return names, nil
	}
	u := userFrom(r.Context())
	out := make([]string, 0, len(names))
	for _, ns := range names {
		ok, err := s.auth.allowed(r.Context(), u, ns)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, ns)
		}
	}
	return out, nil
}

// serveFleet writes the overview of the namespaces the viewer may see.
func (s *Server) serveFleet(w http.ResponseWriter, r *http.Request) {
	sn := s.snap()
	if sn == nil {
		http.Error(w, "the dashboard is starting: its cache is not synced yet", http.StatusServiceUnavailable)
		return
	}
	names := make([]string, 0, len(sn.encoded))
	for ns := range sn.encoded {
		names = append(names, ns)
	}
	slices.Sort(names)
	names, err := s.allowedNamespaces(r, names)
	if err != nil {
		http.Error(w, "authorization check failed", http.StatusBadGateway)
		return
	}
	var buf bytes.Buffer
	head, _ := json.Marshal(struct {
		Version     uint64    `json:"version"`
		GeneratedAt time.Time `json:"generatedAt"`
		StaleAfter  float64   `json:"staleAfterSeconds"`
	}{sn.version, sn.generated, s.opts.StaleAfter.Seconds()})
	buf.Write(head[:len(head)-1])
	buf.WriteString(`,"namespaces":[`)
	for i, ns := range names {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(sn.encoded[ns])
	}
	buf.WriteString("]}")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}

// serveEvents streams one server-sent event per batch of changes; the
// page then fetches what it shows.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, cancel := s.subscribe()
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(v uint64) bool {
		_, err := fmt.Fprintf(w, "event: fleet\ndata: %d\n\n", v)
		flusher.Flush()
		return err == nil
	}
	if sn := s.snap(); sn != nil && !send(sn.version) {
		return
	}
	keepalive := time.NewTicker(25 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case v := <-ch:
			if !send(v) {
				return
			}
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

// writeJSON writes v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
	}
}
