package render

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A builtin plugin configuration names files through fields the
// kustomization scan does not read (path, files, envs, replacements[].path),
// inline in transformers/generators or in a file they list. kustomize's
// loader fetches any of them that looks like a URL. The server must receive
// no request and the build must fail naming the URL.
func TestBuiltinPluginURLsNeverFetched(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n"))
	}))
	defer srv.Close()
	u := srv.URL + "/x.yaml"

	configs := map[string]struct{ field, config string }{
		"PatchTransformer":         {"transformers", "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: " + u + "\n"},
		"PatchJson6902Transformer": {"transformers", "apiVersion: builtin\nkind: PatchJson6902Transformer\nmetadata:\n  name: p\ntarget:\n  kind: ConfigMap\n  name: cm\n  version: v1\npath: " + u + "\n"},
		"ReplacementTransformer":   {"transformers", "apiVersion: builtin\nkind: ReplacementTransformer\nmetadata:\n  name: p\nreplacements:\n- path: " + u + "\n"},
		"ConfigMapGenerator files": {"generators", "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: g\nfiles:\n- " + u + "\n"},
		"ConfigMapGenerator envs":  {"generators", "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: g\nenvs:\n- " + u + "\n"},
		"SecretGenerator files":    {"generators", "apiVersion: builtin\nkind: SecretGenerator\nmetadata:\n  name: g\nfiles:\n- k=" + u + "\n"},
	}
	for name, c := range configs {
		for _, where := range []string{"inline", "file"} {
			t.Run(name+"/"+where, func(t *testing.T) {
				files := map[string]string{"apps/a/base/cm.yaml": cmYAML}
				if where == "inline" {
					files["apps/a/base/kustomization.yaml"] = "resources:\n- cm.yaml\n" + c.field + ":\n- |\n" + indent(c.config, "  ")
				} else {
					files["apps/a/base/plugin.yaml"] = c.config
					files["apps/a/base/kustomization.yaml"] = "resources:\n- cm.yaml\n" + c.field + ":\n- plugin.yaml\n"
				}
				root, _ := badRepo(t, files)
				before := hits.Load()
				_, msg := renderErr(t, New(Options{}), root, target("apps/a/base"), ErrRemoteBase)
				if n := hits.Load() - before; n != 0 {
					t.Fatalf("the server received %d requests", n)
				}
				wantContains(t, msg, u, "remote files are not allowed", "copy the file into the repository")
			})
		}
	}
	// The guard refuses only kustomize's requests: the process's other
	// HTTP clients still work.
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("a request made outside kustomize failed: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("server hits = %d, want 1 (only the direct request)", hits.Load())
	}
}
