package demo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// shortTempDir returns a temporary folder with a short path: unix socket
// paths are limited to about 100 bytes.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestControlSocketAnswersAndRefusesBadRequests(t *testing.T) {
	socket := filepath.Join(shortTempDir(t), "c.sock")
	ln, err := listenControl(socket)
	if err != nil {
		t.Fatal(err)
	}
	d := &Demo{names: []string{"factory-a"}, members: map[string]*testenv.Cluster{}}
	d.control = d.serveControl(ln)
	ctx := context.Background()
	c := NewControlClient(socket)

	if info, err := os.Stat(socket); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", info, err)
	}
	if _, err := c.StopCluster(ctx, "factory-a"); err == nil || !strings.Contains(err.Error(), "starting or stopping") {
		t.Fatalf("a demo that has not started must say so: %v", err)
	}
	d.ready.Store(true)
	if _, err := c.StopCluster(ctx, "factory-x"); err == nil || !strings.Contains(err.Error(), `no such member cluster "factory-x"`) || !strings.Contains(err.Error(), "factory-a") {
		t.Fatalf("unknown cluster: %v", err)
	}
	if _, err := c.StartCluster(ctx, HubName); err == nil || !strings.Contains(err.Error(), "hub cannot be stopped or started") {
		t.Fatalf("hub: %v", err)
	}
	if _, err := listenControl(socket); err == nil || !strings.Contains(err.Error(), "another flotilla demo is running") {
		t.Fatalf("a second demo on the same socket must be refused: %v", err)
	}

	if err := d.control.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	if _, err := c.Env(ctx); !errors.Is(err, ErrNoDemo) {
		t.Fatalf("with no demo running: %v, want ErrNoDemo", err)
	}
}

func TestListenControlReplacesStaleSocketOnly(t *testing.T) {
	dir := shortTempDir(t)
	stale := filepath.Join(dir, "stale.sock")
	ln, err := listenControl(stale)
	if err != nil {
		t.Fatal(err)
	}
	// A demo that died leaves its socket file: nothing answers there.
	if l, ok := ln.(interface{ SetUnlinkOnClose(bool) }); ok {
		l.SetUnlinkOnClose(false)
	}
	_ = ln.Close()
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("setup: %v", err)
	}
	ln, err = listenControl(stale)
	if err != nil {
		t.Fatalf("a stale socket must be replaced: %v", err)
	}
	_ = ln.Close()

	plain := filepath.Join(dir, "file")
	if err := os.WriteFile(plain, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listenControl(plain); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("a regular file in the way: %v", err)
	}
	if data, _ := os.ReadFile(plain); string(data) != "keep" {
		t.Fatal("the regular file was replaced")
	}
}
