package fleet

import (
	"fmt"
	"testing"
	"time"
)

// fuzzSeeds are inputs that reach the interesting parts of the decoder.
var fuzzSeeds = []string{
	"",
	"---\n",
	"- a\n",
	"kind: [\n",
	clusterHeader,
	clusterHeader + "spec:\n  taints:\n  - {key: a, value: b, effect: NoSchedule}\n  access: {mode: Pull}\n",
	clusterHeader + "  labels: &l {a: b}\n  annotations: *l\nspec:\n  vars: *l\n",
	clusterHeader + "spec:\n  vars: {a: 1.10, b: true, c: ~, d: 0x1F}\n  unknown: 1\n",
	appHeader + "  placement:\n    clusterSelector: {matchExpressions: [{key: a, operator: In, values: [b]}]}\n    maxClusters: 2\n    spread: {labelKey: region}\n    rankBy: {var: lines, descending: true}\n    replicas:\n    - workload: {name: x}\n      total: 3\n      staticWeights: [{clusters: [a], weight: 1}]\n",
	appHeader + "  overlays:\n  - name: gpu\n    clusterSelector: {}\n  dependsOn: [db]\n  rollout: {canary: [a], maxUnavailable: 1}\n  healthTimeout: 5m\n  prune: false\n",
	appHeader + "  placement:\n    <<: {maxClusters: 1}\n",
	appHeader + "  placement:\n    maxClusters: 99999999999999999999\n",
	appHeader + "status: {}\n",
	"a: &a [*a]\n",
	"? [a]\n: b\n",
	"apiVersion: !!binary aGVsbG8=\nkind: !custom App\n",
}

// watchdog fails the fuzz worker loudly when one input takes too long, so
// that a hang is saved as a failing input instead of stalling the run.
func watchdog(data []byte) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			panic(fmt.Sprintf("decoding did not finish in 10s for %q", data))
		}
	}()
	return func() { close(done) }
}

// checkDiagnostics checks the invariants of a decode.
func checkDiagnostics(t *testing.T, file string, decoded bool, r *reporter, data []byte) {
	if !decoded && len(r.diags) == 0 {
		t.Fatalf("no object and no diagnostic for %q", data)
	}
	for _, d := range r.diags {
		if d.File != file || d.Message == "" || d.Line < 0 {
			t.Fatalf("bad diagnostic %+v", d)
		}
	}
}

func FuzzLoadClusterFile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(data)()
		c, r := decodeClusterFile("clusters/eu-1.yaml", data)
		checkDiagnostics(t, "clusters/eu-1.yaml", c != nil, r, data)
		if c != nil {
			DefaultCluster(c)
		}
	})
}

func FuzzLoadAppFile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(data)()
		a, r := decodeAppFile("apps/web/app.yaml", data)
		checkDiagnostics(t, "apps/web/app.yaml", a != nil, r, data)
		if a != nil {
			DefaultApp(a)
		}
	})
}
