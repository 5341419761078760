package testenv

import (
	"errors"
	"os"
	"testing"
)

// RequireAssets returns the folder of the test control-plane binaries, or
// skips the test with a message saying how to build them when they are
// missing. Extra names (for example "kwok") must be present too.
func RequireAssets(t testing.TB, extra ...string) string {
	t.Helper()
	dir, err := AssetsDir()
	if err == nil {
		err = checkBinaries(dir, extra)
	}
	if errors.Is(err, ErrAssetsNotFound) {
		t.Skipf("skipping: needs real control-plane binaries: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// NewCluster starts a cluster for the test and closes it in t.Cleanup. It
// skips the test when the binaries are missing and fails it when the cluster
// does not start. Unless opts.Dir is set, the cluster's folder (logs included)
// is removed after a passing test and kept, and named in the test log, after a
// failing one.
func NewCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	return NewClusters(t, opts)[0]
}

// NewClusters starts clusters concurrently for the test, like StartClusters,
// and closes them in t.Cleanup; see NewCluster.
func NewClusters(t testing.TB, opts ...ClusterOptions) []*Cluster {
	t.Helper()
	needWorkloads := false
	for _, o := range opts {
		needWorkloads = needWorkloads || o.Workloads != nil
	}
	var extra []string
	if needWorkloads {
		extra = workloadBinaries
	}
	assets := RequireAssets(t, extra...)

	opts = append([]ClusterOptions(nil), opts...)
	var keepOnFailure []string
	for i := range opts {
		if opts[i].AssetsDir == "" {
			opts[i].AssetsDir = assets
		}
		if opts[i].Dir == "" {
			dir, err := os.MkdirTemp("", "flotilla-testenv-"+opts[i].Name+"-")
			if err != nil {
				t.Fatalf("creating folder for cluster %s: %v", opts[i].Name, err)
			}
			opts[i].Dir = dir
			keepOnFailure = append(keepOnFailure, dir)
		}
	}
	cleanupDirs := func() {
		for _, dir := range keepOnFailure {
			if t.Failed() {
				t.Logf("testenv: kept %s (cluster data and logs) for debugging", dir)
				continue
			}
			_ = os.RemoveAll(dir)
		}
	}

	clusters, err := StartClusters(t.Context(), opts...)
	if err != nil {
		t.Cleanup(cleanupDirs)
		t.Fatalf("starting clusters: %v", err)
	}
	t.Cleanup(func() {
		for _, c := range clusters {
			if err := c.Close(); err != nil {
				t.Errorf("closing cluster %s: %v", c.Name(), err)
			}
		}
		cleanupDirs()
	})
	return clusters
}
