package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// readyTimeout bounds the wait for a restarted API server to report ready when
// the caller's context has no deadline.
const readyTimeout = 60 * time.Second

// Stop stops the cluster's processes, as if the site went offline: afterwards
// connections to Host are refused. Data, certificates and the address are
// kept, so Restart brings the same cluster back. Stopping a stopped cluster
// does nothing.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("stopping cluster %s: it is closed", c.name)
	}
	if !c.running {
		return nil
	}
	var errs []error
	if c.workloads != nil {
		if err := c.workloads.stopProcesses(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.env.ControlPlane.Stop(); err != nil {
		errs = append(errs, err)
	}
	c.running = false
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stopping cluster %s: %w", c.name, err)
	}
	return nil
}

// Restart starts a stopped cluster again on the same address, with the same
// certificates and data, and waits until it is ready (with workloads: until
// its components run again and its nodes are Ready). Restarting a running
// cluster does nothing.
func (c *Cluster) Restart(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("restarting cluster %s: it is closed", c.name)
	}
	if c.running {
		return nil
	}
	// envtest keeps the ports, the serving certificate and the client CA in
	// the ControlPlane once allocated, and reuses the fixed CertDir and
	// DataDir; starting it again therefore serves the same cluster.
	if err := c.thread.run(c.env.ControlPlane.Start); err != nil {
		_ = c.env.ControlPlane.Stop()
		return fmt.Errorf("restarting cluster %s: %w (logs in %s)", c.name, err, c.LogDir())
	}
	c.running = true
	if err := c.waitReady(ctx); err != nil {
		return fmt.Errorf("restarting cluster %s: %w", c.name, err)
	}
	if c.workloads != nil {
		if err := c.workloads.start(ctx); err != nil {
			return fmt.Errorf("restarting cluster %s: %w", c.name, err)
		}
	}
	return nil
}

// waitReady polls the API server's /readyz until it answers ok.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, last = c.clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return last == nil, nil
	})
	if err != nil {
		if last != nil {
			return fmt.Errorf("waiting for the API server to be ready: %w (last error: %w)", err, last)
		}
		return fmt.Errorf("waiting for the API server to be ready: %w", err)
	}
	return nil
}

// Close stops the cluster for good and, when its folder was temporary,
// removes it. Close is idempotent.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	if c.workloads != nil {
		if err := c.workloads.stopProcesses(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	c.running = false
	for _, f := range c.logFiles {
		_ = f.Close()
	}
	c.thread.close()
	if c.removeDir && c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing cluster %s: %w", c.name, err)
	}
	return nil
}

// Kubectl runs the real kubectl binary against the cluster with the admin
// kubeconfig file and returns its standard output. On failure the error holds
// kubectl's standard error. Transient failures (a TLS handshake timeout, a
// refused connection, ...; see IsTransient) are retried until ctx ends, or for
// DefaultRetryTimeout when ctx has no deadline.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	var out []byte
	err := Retry(ctx, func(ctx context.Context) error {
		var err error
		out, err = c.KubectlOnce(ctx, args...)
		return err
	})
	return out, err
}

// KubectlOnce is Kubectl without retries, for asserting how kubectl fails.
func (c *Cluster) KubectlOnce(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{"--kubeconfig", c.kubeconfigPath}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(c.assets, binKubectl), full...)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(c.dir, "home"), "KUBECONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("running kubectl %s on cluster %s: %w: %s", strings.Join(args, " "), c.name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// withDefaultTimeout adds timeout to ctx unless it already has a deadline.
func withDefaultTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}
