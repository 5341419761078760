package demo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// markerFile marks a folder made by a demo, so that a later demo given the
// same --dir may empty it.
const markerFile = ".flotilla-demo"

// Layout names the files and folders of a demo folder.
type Layout struct {
	// Root is the demo folder, absolute.
	Root string
}

// Kubeconfig is the merged kubeconfig: one context per cluster, named after
// it ("hub", "central", "factory-lyon", ...), current context "hub".
func (l Layout) Kubeconfig() string { return filepath.Join(l.Root, "kubeconfig") }

// ControllerLog is the hub controller's log file.
func (l Layout) ControllerLog() string { return filepath.Join(l.Root, "controller.log") }

// EnvFile holds the shell exports `flotilla demo env` prints.
func (l Layout) EnvFile() string { return filepath.Join(l.Root, "demo.env") }

// Bin holds links to kubectl (and flotilla), to put on PATH.
func (l Layout) Bin() string { return filepath.Join(l.Root, "bin") }

// HubDir is the hub cluster's folder (etcd data, certificates, kubeconfig, logs).
func (l Layout) HubDir() string { return filepath.Join(l.Root, "hub") }

// ClusterDir is a member cluster's folder.
func (l Layout) ClusterDir(name string) string { return filepath.Join(l.Root, "clusters", name) }

// GitDir is the Git server's folder.
func (l Layout) GitDir() string { return filepath.Join(l.Root, "git") }

// CacheDir is the controller's Git cache.
func (l Layout) CacheDir() string { return filepath.Join(l.Root, "cache") }

// CRDDir receives the embedded CustomResourceDefinitions before they are
// installed.
func (l Layout) CRDDir() string { return filepath.Join(l.Root, "crds") }

// prepareDir returns the demo folder: a new temporary one when dir is empty
// (temporary is then true), else dir, created when missing. An existing
// folder must be empty or made by an earlier demo, which is then emptied.
func prepareDir(dir string) (_ Layout, temporary bool, _ error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "flotilla-demo-")
		if err != nil {
			return Layout{}, false, fmt.Errorf("create the demo folder: %w", err)
		}
		if err := writeMarker(tmp); err != nil {
			_ = os.RemoveAll(tmp)
			return Layout{}, false, err
		}
		return Layout{Root: tmp}, true, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Layout{}, false, fmt.Errorf("resolve --dir %q: %w", dir, err)
	}
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return Layout{}, false, fmt.Errorf("create the demo folder %s: %w", abs, err)
		}
	case err != nil:
		return Layout{}, false, fmt.Errorf("read the demo folder %s: %w", abs, err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(abs, markerFile)); err != nil {
			return Layout{}, false, fmt.Errorf("the demo folder %s is not empty and was not made by flotilla demo: pass an empty or new folder to --dir", abs)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(abs, e.Name())); err != nil {
				return Layout{}, false, fmt.Errorf("empty the demo folder %s left by an earlier demo: %w", abs, err)
			}
		}
	}
	if err := writeMarker(abs); err != nil {
		return Layout{}, false, err
	}
	return Layout{Root: abs}, false, nil
}

func writeMarker(dir string) error {
	const text = "This folder was made by `flotilla demo`; a later demo given it as --dir empties it first.\n"
	if err := os.WriteFile(filepath.Join(dir, markerFile), []byte(text), 0o600); err != nil {
		return fmt.Errorf("write %s in the demo folder: %w", markerFile, err)
	}
	return nil
}
