package render

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-gitops/flotilla/placement"
)

// maxBombError bounds the message of a failed render: far below what the
// bombs produced (hundreds of megabytes).
const maxBombError = 16 << 10

// bombRender renders target tg of root, wants ErrLimitExceeded with a
// message naming the file and the parts, bounded in size, and checks that
// the render stayed fast and its allocations bounded.
func bombRender(t *testing.T, root string, tg placement.Target, file string, parts ...string) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	re, msg := renderErr(t, New(Options{}), root, tg, ErrLimitExceeded)
	runtime.ReadMemStats(&after)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the render took %v", d)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<30 {
		t.Errorf("the render allocated %d MiB", alloc>>20)
	}
	if len(msg) > maxBombError {
		t.Errorf("the error is %d bytes long, want at most %d", len(msg), maxBombError)
	}
	if re.File != file {
		t.Errorf("File = %q, want %q", re.File, file)
	}
	wantContains(t, msg, append([]string{file}, parts...)...)
}

// componentOf is a Component kustomization including others.
func componentOf(includes ...string) string {
	return "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncomponents:\n- " + strings.Join(includes, "\n- ") + "\n"
}

// A chain of Components with a missing folder at the bottom: kustomize
// quotes the nested error at each level, doubling it (27 levels made 537 MB
// of error text and killed the process).
func TestComponentChainErrorBounded(t *testing.T) {
	const n = 30
	files := map[string]string{"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\n", "apps/a/base/cm.yaml": cmYAML}
	for i := range n {
		next := fmt.Sprintf("../c%d", i+1)
		if i == n-1 {
			next = "../missing"
		}
		files[fmt.Sprintf("c/c%d/kustomization.yaml", i)] = componentOf(next)
	}
	root, _ := badRepo(t, files)
	bombRender(t, root, target("apps/a/base", "c/c0"), "c/c12/kustomization.yaml",
		"nested 13 levels deep", "limit of 12 (Options.MaxNestingDepth)")
}

// A diamond of Components: every level includes two components of the
// next, which both include the two of the one after (a 134 MB error).
func TestComponentDiamondErrorBounded(t *testing.T) {
	const n = 24
	files := map[string]string{"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\n", "apps/a/base/cm.yaml": cmYAML}
	for i := range n {
		next := []string{fmt.Sprintf("../l%da", i+1), fmt.Sprintf("../l%db", i+1)}
		if i == n-1 {
			next = []string{"../missing"}
		}
		files[fmt.Sprintf("c/l%da/kustomization.yaml", i)] = componentOf(next...)
		files[fmt.Sprintf("c/l%db/kustomization.yaml", i)] = componentOf(next...)
	}
	root, _ := badRepo(t, files)
	bombRender(t, root, target("apps/a/base", "c/l0a"), "c/l12a/kustomization.yaml",
		"nested 13 levels deep", "Options.MaxNestingDepth")
}

// A 586-byte alias bomb in a manifest (the fleet files' alias limit does
// not cover the files kustomize reads).
func TestManifestAliasBomb(t *testing.T) {
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n  annotations:\n    a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, l := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += fmt.Sprintf("    %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", l, l, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = l
	}
	if len(bomb) > 1024 {
		t.Fatalf("the bomb is %d bytes", len(bomb))
	}
	root, _ := badRepo(t, map[string]string{
		"apps/a/base/kustomization.yaml": "resources:\n- bomb.yaml\n",
		"apps/a/base/bomb.yaml":          bomb,
	})
	bombRender(t, root, target("apps/a/base"), "apps/a/base/bomb.yaml", "expands to more than", "aliases")
}

// One 1 MB file listed many times in a generator: every read counts
// against the total (300 entries held 4.2 GB).
func TestRepeatedFileCountsEveryRead(t *testing.T) {
	big := strings.Repeat("x", 1000*1000) + "\n"
	var entries []string
	for i := range 100 {
		entries = append(entries, fmt.Sprintf("k%d=big.txt", i))
	}
	root, _ := badRepo(t, map[string]string{
		"apps/a/base/kustomization.yaml": "configMapGenerator:\n- name: big\n  files:\n  - " + strings.Join(entries, "\n  - ") + "\n",
		"apps/a/base/big.txt":            big,
	})
	bombRender(t, root, target("apps/a/base"), "apps/a/base/big.txt", "Options.MaxTotalRead", "each file counts every time it is read")
}
