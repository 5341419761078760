package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// Errors of StopCluster and StartCluster.
var (
	// ErrUnknownCluster: no member cluster has that name.
	ErrUnknownCluster = errors.New("no such member cluster")
	// ErrHubCluster: the hub cannot be stopped, the demo needs it.
	ErrHubCluster = errors.New("the hub cannot be stopped or started: the demo runs on it")
)

// restartTimeout bounds a start-cluster: the control plane, then the nodes.
const restartTimeout = 3 * time.Minute

// member returns a member cluster by name, or an error naming the members.
func (d *Demo) member(name string) (*testenv.Cluster, error) {
	if name == HubName {
		return nil, ErrHubCluster
	}
	c, ok := d.members[name]
	if !ok {
		return nil, fmt.Errorf("%w %q: the demo runs %s", ErrUnknownCluster, name, strings.Join(d.names, ", "))
	}
	return c, nil
}

// StopCluster stops a member cluster's processes, as if the site went
// offline: its API server refuses connections until StartCluster, and the
// agent of a pull cluster stops too (the hub then misses its heartbeats).
// Its data and address are kept. Stopping a stopped cluster does nothing.
func (d *Demo) StopCluster(name string) error {
	c, err := d.member(name)
	if err != nil {
		return err
	}
	if d.pull[name] {
		if err := d.stopAgent(name); err != nil {
			return err
		}
	}
	return c.Stop()
}

// StartCluster starts a stopped member cluster again, on the same address
// and with the same data, and waits until its nodes are Ready. Starting a
// running cluster does nothing.
func (d *Demo) StartCluster(ctx context.Context, name string) error {
	c, err := d.member(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	if err := c.Restart(ctx); err != nil {
		return err
	}
	if d.pull[name] {
		// The agent finds its identity in its cluster and reports again.
		return d.startAgent(name)
	}
	return nil
}

// controlServer serves the control API on a unix socket.
type controlServer struct {
	path string
	srv  *http.Server
	done chan error
}

// listenControl listens on the unix socket path, refusing when another
// demo answers there, and replacing a socket file left by a demo that died.
func listenControl(path string) (net.Listener, error) {
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		_ = conn.Close()
		return nil, fmt.Errorf("another flotilla demo is running (it answers on %s): stop it with Ctrl-C first, or give this one another --control-socket", path)
	}
	if info, err := os.Lstat(path); err == nil {
		if info.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("listen on the control socket %s: a file that is not a socket is in the way; remove it or pass another --control-socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove the stale control socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on the control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("restrict the control socket %s to its owner: %w", path, err)
	}
	return ln, nil
}

// serveControl serves the control API on ln until Close.
func (d *Demo) serveControl(ln net.Listener) *controlServer {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/info", d.whenReady(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d.Info())
	}))
	mux.HandleFunc("GET /v1/env", d.whenReady(func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, d.Info().Env())
	}))
	mux.HandleFunc("GET /v1/status", d.whenReady(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := d.PrintStatus(r.Context(), &buf); err != nil {
			writeText(w, http.StatusInternalServerError, err.Error()+"\n")
			return
		}
		writeText(w, http.StatusOK, buf.String())
	}))
	mux.HandleFunc("POST /v1/clusters/{name}/stop", d.whenReady(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := d.StopCluster(name); err != nil {
			writeText(w, errorStatus(err), err.Error()+"\n")
			return
		}
		writeText(w, http.StatusOK, fmt.Sprintf("cluster %s stopped: its API server refuses connections until `flotilla demo start-cluster %s`\n", name, name))
	}))
	mux.HandleFunc("POST /v1/clusters/{name}/start", d.whenReady(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		start := time.Now()
		if err := d.StartCluster(r.Context(), name); err != nil {
			writeText(w, errorStatus(err), err.Error()+"\n")
			return
		}
		writeText(w, http.StatusOK, fmt.Sprintf("cluster %s running again after %s, same address and data\n", name, since(start)))
	}))
	s := &controlServer{
		path: ln.Addr().String(),
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s
}

// whenReady answers 503 until Start has finished, and after Close began.
func (d *Demo) whenReady(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.ready.Load() {
			writeText(w, http.StatusServiceUnavailable, "the demo is starting or stopping; try again in a moment\n")
			return
		}
		h(w, r)
	}
}

func errorStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownCluster):
		return http.StatusNotFound
	case errors.Is(err, ErrHubCluster):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text))
}

// close stops serving and removes the socket file.
func (s *controlServer) close() error {
	err := s.srv.Close()
	if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if rmErr := os.Remove(s.path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		err = errors.Join(err, rmErr)
	}
	if err != nil {
		return fmt.Errorf("close the control socket %s: %w", s.path, err)
	}
	return nil
}
