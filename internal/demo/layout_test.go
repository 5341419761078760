package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareDir(t *testing.T) {
	t.Run("temporary folder with a marker", func(t *testing.T) {
		t.Setenv("TMPDIR", t.TempDir())
		l, temporary, err := prepareDir("")
		if err != nil {
			t.Fatal(err)
		}
		if !temporary || !strings.HasPrefix(l.Root, os.Getenv("TMPDIR")) {
			t.Fatalf("prepareDir(\"\") = %s, temporary %v", l.Root, temporary)
		}
		if _, err := os.Stat(filepath.Join(l.Root, markerFile)); err != nil {
			t.Fatalf("no marker: %v", err)
		}
	})
	t.Run("new folder is created and kept", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "demo")
		l, temporary, err := prepareDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if temporary || l.Root != dir {
			t.Fatalf("prepareDir = %s, temporary %v", l.Root, temporary)
		}
	})
	t.Run("a foreign non-empty folder is refused and left alone", func(t *testing.T) {
		dir := t.TempDir()
		keep := filepath.Join(dir, "precious.txt")
		if err := os.WriteFile(keep, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := prepareDir(dir)
		if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "--dir") {
			t.Fatalf("prepareDir of a foreign folder: %v", err)
		}
		if _, err := os.Stat(keep); err != nil {
			t.Fatalf("the foreign file was touched: %v", err)
		}
	})
	t.Run("a folder of an earlier demo is emptied", func(t *testing.T) {
		dir := t.TempDir()
		if _, _, err := prepareDir(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "clusters", "old"), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, _, err := prepareDir(dir); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != markerFile {
			t.Fatalf("left over: %v", entries)
		}
	})
}
