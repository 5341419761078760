package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedFleet checks, without any cluster, the premises the
// benchmark's measurements rest on: every logical cluster gets its own
// objects (named after it, in the shared namespace), the "change" commit
// changes every cluster's render, and the README commit changes none.
func TestGeneratedFleet(t *testing.T) {
	const clusters, members = 6, 4
	dir := t.TempDir()
	if err := writeFleet(dir, clusters, members, "r1"); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	before, err := renderFleet(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(before.objects) != clusters {
		t.Fatalf("rendered %d clusters, want %d", len(before.objects), clusters)
	}
	seen := map[string]string{}
	for i := range clusters {
		name := clusterName(i)
		objs := before.objects[name]
		if len(objs) != benchObjects {
			t.Fatalf("%s renders %d objects, want %d", name, len(objs), benchObjects)
		}
		for _, o := range objs {
			if o.GetNamespace() != benchNamespace {
				t.Errorf("%s: %s/%s is in namespace %q, want %q", name, o.GetKind(), o.GetName(), o.GetNamespace(), benchNamespace)
			}
			id := o.GetKind() + "/" + o.GetName()
			if other, ok := seen[id]; ok {
				t.Errorf("%s and %s both render %s: logical clusters on one API server would collide", other, name, id)
			}
			seen[id] = name
		}
	}

	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(readmePath)), readmeFile("no-op"), 0o644); err != nil {
		t.Fatal(err)
	}
	noop, err := renderFleet(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(objectsPath)), objectsFile("r2"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := renderFleet(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range before.digests {
		if noop.digests[name] != d {
			t.Errorf("%s: the README commit changes the digest %s -> %s; want no change", name, d, noop.digests[name])
		}
		if changed.digests[name] == d {
			t.Errorf("%s: the release commit leaves the digest %s; want a change on every cluster", name, d)
		}
	}
}
