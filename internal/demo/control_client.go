package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrNoDemo is returned (wrapped) by ControlClient when no demo answers on
// the socket.
var ErrNoDemo = errors.New("no flotilla demo is running")

// ControlClient talks to a running demo over its control socket.
type ControlClient struct {
	socket string
	http   *http.Client
}

// NewControlClient returns a client for the demo answering on socket;
// empty means DefaultControlSocket().
func NewControlClient(socket string) *ControlClient {
	if socket == "" {
		socket = DefaultControlSocket()
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &ControlClient{
		socket: socket,
		http: &http.Client{
			// A start-cluster waits for a control plane and its nodes.
			Timeout: restartTimeout + 30*time.Second,
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return dialer.DialContext(ctx, "unix", socket)
				},
			},
		},
	}
}

// Info returns the running demo's Info.
func (c *ControlClient) Info(ctx context.Context) (*Info, error) {
	body, err := c.do(ctx, http.MethodGet, "/v1/info")
	if err != nil {
		return nil, err
	}
	info := &Info{}
	if err := json.Unmarshal([]byte(body), info); err != nil {
		return nil, fmt.Errorf("read the demo's info from %s: %w", c.socket, err)
	}
	return info, nil
}

// Env returns the shell exports of the running demo (see Info.Env).
func (c *ControlClient) Env(ctx context.Context) (string, error) {
	return c.do(ctx, http.MethodGet, "/v1/env")
}

// Status returns the fleet table of the running demo.
func (c *ControlClient) Status(ctx context.Context) (string, error) {
	return c.do(ctx, http.MethodGet, "/v1/status")
}

// StopCluster stops a member cluster of the running demo and returns what
// the demo said.
func (c *ControlClient) StopCluster(ctx context.Context, name string) (string, error) {
	return c.do(ctx, http.MethodPost, "/v1/clusters/"+url.PathEscape(name)+"/stop")
}

// StartCluster starts a stopped member cluster again and returns what the
// demo said, once the cluster is ready.
func (c *ControlClient) StartCluster(ctx context.Context, name string) (string, error) {
	return c.do(ctx, http.MethodPost, "/v1/clusters/"+url.PathEscape(name)+"/start")
}

// do sends one request and returns the body of a 2xx answer; any other
// answer is an error holding the body.
func (c *ControlClient) do(ctx context.Context, method, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://flotilla-demo"+path, nil)
	if err != nil {
		return "", fmt.Errorf("build the request %s %s: %w", method, path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			return "", fmt.Errorf("%w: nothing answers on %s; start one with `make demo` (or `flotilla demo`), or point --control-socket (or $%s) at its socket",
				ErrNoDemo, c.socket, ControlSocketEnv)
		}
		return "", fmt.Errorf("%s %s on the demo's control socket %s: %w", method, path, c.socket, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read the demo's answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("the demo refused %s %s: %s", method, path, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}
