package cli

import (
	"strings"
	"testing"
)

// appSection returns the part of explain's output about one app.
func appSection(t *testing.T, out, app string) string {
	t.Helper()
	start := strings.Index(out, "\napp "+app+":")
	if start < 0 {
		t.Fatalf("no section for app %s in:\n%s", app, out)
	}
	rest := out[start+1:]
	if end := strings.Index(rest, "\napp "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

func TestExplainGoldenGPUFactory(t *testing.T) {
	code, out, errOut := runCLI(t, "explain", "--repo", exampleFleet, "--cluster", "factory-lyon")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	checkGolden(t, "explain-factory-lyon.txt", []byte(out))
	wantInOrder(t, out, "cluster factory-lyon", "labels: gpu=true, region=eu, role=factory, site=lyon", "taints: none")

	inference := appSection(t, out, "adc-inference")
	wantInOrder(t, inference,
		"app adc-inference: placed (namespace adc",
		"depends on: monitoring-agent",
		"selected by clusterSelector role=factory",
		"replicas adc-inference: 5 of 12 (weight 8/19 by var inspectionLines)",
		// Overlays in the order declared, each with why.
		"overlays, in the order applied:",
		"1. local-registry (apps/adc-inference/overlays/local-registry): clusterSelector role=factory matched",
		"2. gpu (apps/adc-inference/overlays/gpu): clusterSelector gpu=true matched",
		// The variables the manifests use, with this cluster's values.
		"variables used:",
		`${cluster.name} = "factory-lyon"`,
		`${cluster.vars.inspectionLines} = "8"`,
		`${cluster.vars.modelVersion} = "v4.2.0"`,
		`${cluster.vars.registry} = "harbor.lyon.factory.local"`,
		"rendered: 3 objects, sha256:",
		"replicas:", "Deployment adc-inference: 5")
	if strings.Contains(inference, "overlays/factory-lyon") {
		t.Error("an overlay folder of another cluster applied")
	}

	// defect-training goes to exactly one GPU site, ranked by gpuCount:
	// central (16) wins over factory-lyon (8).
	wantInOrder(t, appSection(t, out, "defect-training"),
		"app defect-training: not placed", "selected by clusterSelector", "ranked 2 of", "gpuCount=8", "not chosen: maxClusters 1 reached")
	wantInOrder(t, appSection(t, out, "fleet-dashboard"), "not placed", "not listed in clusterNames")
}

func TestExplainGoldenTaintedFactory(t *testing.T) {
	code, out, errOut := runCLI(t, "explain", "--repo", exampleFleet, "--cluster", "factory-monterrey")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	checkGolden(t, "explain-factory-monterrey.txt", []byte(out))
	wantInOrder(t, out, "cluster factory-monterrey", "taints: flotilla.dev/maintenance=true:NoSchedule")
	// No toleration: kept off by the taint.
	inference := appSection(t, out, "adc-inference")
	wantInOrder(t, inference, "app adc-inference: not placed", "selected by clusterSelector role=factory",
		"taint flotilla.dev/maintenance=true:NoSchedule not tolerated")
	if strings.Contains(inference, "variables") || strings.Contains(inference, "replicas") {
		t.Errorf("an app not placed shows variables or replicas:\n%s", inference)
	}
	// Tolerations let these through.
	wantInOrder(t, appSection(t, out, "inspection-gateway"), "placed", "taint flotilla.dev/maintenance=true:NoSchedule tolerated",
		"overlays: none", `${cluster.vars.registry} = "harbor.monterrey.factory.local"`, "Deployment inspection-gateway: 1")
	wantInOrder(t, appSection(t, out, "model-sync"), "placed", "tolerated", `${cluster.vars.modelSyncSchedule} = "0 4 * * *"`)
	wantInOrder(t, appSection(t, out, "monitoring-agent"), "placed", "tolerated",
		"overlay region-eu does not apply", "1. region-americas (apps/monitoring-agent/overlays/regions/americas)")
}

func TestExplainOneApp(t *testing.T) {
	code, out, errOut := runCLI(t, "explain", "--repo", exampleFleet, "--cluster", "central", "--app", "fleet-dashboard")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	if n := strings.Count(out, "\napp "); n != 1 {
		t.Errorf("%d app sections, want only fleet-dashboard:\n%s", n, out)
	}
	wantInOrder(t, out, "app fleet-dashboard: placed", "selected by clusterNames")
}

func TestExplainUsageErrors(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"no cluster":      {[]string{"explain", "--repo", exampleFleet}, "set --cluster"},
		"unknown cluster": {[]string{"explain", "--repo", exampleFleet, "--cluster", "x"}, "central, factory-austin"},
		"unknown app":     {[]string{"explain", "--repo", exampleFleet, "--cluster", "central", "--app", "x"}, "adc-inference, adc-shadow"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, errOut, exitUsage, tc.want)
			}
		})
	}
}
