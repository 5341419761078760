package fleet

import (
	"fmt"
	"strings"
	"testing"
)

// More cluster files than the limit: one error naming the limit, the count
// and the flag, and no file is read (these do not even parse).
func TestLoadRefusesMoreClustersThanTheLimitBeforeReadingThem(t *testing.T) {
	files := baseFiles()
	for i := range 5 {
		files[fmt.Sprintf("clusters/extra-%d.yaml", i)] = "{not yaml"
	}
	f, diags := Load(writeFleet(t, files), WithLimits(Limits{Clusters: 6}))
	if f == nil {
		t.Fatalf("Load returned no fleet: %v", diags)
	}
	if len(diags) != 1 || diags[0].File != ClustersDir || diags[0].Severity != SeverityError {
		t.Fatalf("diagnostics = %v, want one error on clusters/ (no file read)", diags)
	}
	for _, want := range []string{"too many clusters", "7 cluster files", "limit of 6", "--max-clusters"} {
		if !strings.Contains(diags[0].Message, want) {
			t.Errorf("%q does not say %q", diags[0].Message, want)
		}
	}
	if len(f.Clusters) != 0 {
		t.Errorf("an over-limit fleet holds %d clusters, want none", len(f.Clusters))
	}

	// At the limit it loads (and reports the broken files).
	_, diags = Load(writeFleet(t, files), WithLimits(Limits{Clusters: 7}))
	if len(errorsOf(diags)) != 5 || strings.Contains(diags[0].Message, "too many") {
		t.Errorf("at the limit: diagnostics %v, want the 5 parse errors", diags)
	}
}

func TestLoadRefusesMoreAppsThanTheLimit(t *testing.T) {
	files := baseFiles()
	files["apps/api/app.yaml"] = "{not yaml"
	files["apps/db/"] = ""
	_, diags := Load(writeFleet(t, files), WithLimits(Limits{Apps: 2}))
	if len(diags) != 1 || diags[0].File != AppsDir || !strings.Contains(diags[0].Message, "too many apps: 3 app folders, over the limit of 2") ||
		!strings.Contains(diags[0].Message, "--max-apps") {
		t.Fatalf("diagnostics = %v, want one error on apps/ naming the limit, the count and --max-apps", diags)
	}
}

func TestLimitsDefaults(t *testing.T) {
	got := Limits{Apps: 5, Targets: -1}.WithDefaults()
	want := Limits{Clusters: DefaultMaxClusters, Apps: 5, Targets: DefaultMaxTargets}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}
