package testenv_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// fakeAssets makes dir hold executable files with the given names.
func fakeAssets(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAssetsDir(t *testing.T) {
	t.Run("KUBEBUILDER_ASSETS wins", func(t *testing.T) {
		dir := t.TempDir()
		fakeAssets(t, dir, "kube-apiserver", "etcd", "kubectl")
		t.Setenv(testenv.AssetsEnv, dir)
		got, err := testenv.AssetsDir()
		if err != nil {
			t.Fatal(err)
		}
		if got != dir {
			t.Errorf("AssetsDir() = %q, want %q", got, dir)
		}
	})

	t.Run("KUBEBUILDER_ASSETS lacking a binary is an error naming it", func(t *testing.T) {
		dir := t.TempDir()
		fakeAssets(t, dir, "kube-apiserver", "kubectl")
		t.Setenv(testenv.AssetsEnv, dir)
		_, err := testenv.AssetsDir()
		if !errors.Is(err, testenv.ErrAssetsNotFound) || !strings.Contains(err.Error(), "etcd") {
			t.Errorf("AssetsDir() error = %v, want ErrAssetsNotFound naming etcd", err)
		}
	})

	t.Run("otherwise bin/k8s/VERSION is found in a parent folder", func(t *testing.T) {
		root := t.TempDir()
		assets := filepath.Join(root, "bin", "k8s", testenv.KubernetesVersion)
		fakeAssets(t, assets, "kube-apiserver", "etcd", "kubectl")
		deep := filepath.Join(root, "internal", "testenv")
		if err := os.MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv(testenv.AssetsEnv, "")
		t.Chdir(deep)
		got, err := testenv.AssetsDir()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := filepath.EvalSymlinks(assets)
		if gotReal, _ := filepath.EvalSymlinks(got); gotReal != want {
			t.Errorf("AssetsDir() = %q, want %q", got, assets)
		}
	})

	t.Run("nothing found is ErrAssetsNotFound with a hint", func(t *testing.T) {
		t.Setenv(testenv.AssetsEnv, "")
		t.Chdir(t.TempDir())
		_, err := testenv.AssetsDir()
		if !errors.Is(err, testenv.ErrAssetsNotFound) || !strings.Contains(err.Error(), "make test") {
			t.Errorf("AssetsDir() error = %v, want ErrAssetsNotFound with a hint", err)
		}
	})
}
