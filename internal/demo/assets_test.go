package demo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindAssetsSaysHowToBuildMissingBinaries(t *testing.T) {
	dir := t.TempDir()
	// Only some binaries present: the error lists the others.
	for _, name := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil { //nolint:gosec // a fake executable
			t.Fatal(err)
		}
	}
	_, err := findAssets(dir)
	if !errors.Is(err, ErrBinariesMissing) {
		t.Fatalf("findAssets = %v, want ErrBinariesMissing", err)
	}
	for _, want := range []string{"kube-controller-manager", "kube-scheduler", "kwok", "make test-binaries", "7 minutes", dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "lacks kube-apiserver") {
		t.Errorf("error lists a binary that is present: %v", err)
	}
}

func TestFindAssetsAcceptsCompleteFolder(t *testing.T) {
	dir := t.TempDir()
	for _, name := range requiredBinaries {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil { //nolint:gosec // a fake executable
			t.Fatal(err)
		}
	}
	got, err := findAssets(dir)
	if err != nil || got != dir {
		t.Fatalf("findAssets = %q, %v", got, err)
	}
}
