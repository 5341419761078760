package demo

import (
	"bytes"
	"strings"
	"testing"

	fluxmeta "github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func TestPrintTable(t *testing.T) {
	s := syncedState()
	cpu, mem, gpu := resource.MustParse("16"), resource.MustParse("64Gi"), resource.MustParse("8")
	s.Clusters[0].Status.Capacity = &flotillav1.ClusterCapacity{Nodes: 2, CPU: &cpu, Memory: &mem, GPU: &gpu}
	s.Syncs[2].Status.Conditions = []metav1.Condition{cond(fluxmeta.ReadyCondition, metav1.ConditionFalse, flotillav1.ReasonClusterUnreachable, "refused", 2)}
	s.Clusters[1].Status.Conditions = []metav1.Condition{cond(flotillav1.ReachableCondition, metav1.ConditionFalse, flotillav1.ReasonClusterUnreachable, "refused", 1)}
	var buf bytes.Buffer
	if err := PrintTable(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// The matrix is `flotilla status`'s: a row per cluster, a column per app.
	for _, want := range []string{"GPU-JOB", "WEB", "b is stale"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	wantCapacity := `CLUSTER  NODES  CPU  MEMORY  GPU
a        2      16   64Gi    8
b        -      -    -       -
`
	if !strings.HasSuffix(out, wantCapacity) {
		t.Fatalf("capacity table:\n%s\nwant it to end with:\n%s", out, wantCapacity)
	}
}

func TestCellOf(t *testing.T) {
	tests := map[string]string{
		flotillav1.ReasonDependencyNotReady: cellWaiting,
		flotillav1.ReasonClusterUnreachable: cellOffline,
		flotillav1.ReasonHealthCheckFailed:  cellFailed,
		flotillav1.ReasonApplyFailed:        cellFailed,
		flotillav1.ReasonKubeconfigInvalid:  cellFailed,
		flotillav1.ReasonClusterTLSFailed:   cellFailed,
		flotillav1.ReasonClusterAuthFailed:  cellFailed,
		flotillav1.ReasonProgressing:        cellSyncing,
	}
	for reason, want := range tests {
		cs := readySync("web", "a")
		cs.Status.Conditions = []metav1.Condition{cond(fluxmeta.ReadyCondition, metav1.ConditionFalse, reason, "", 2)}
		if got := cellOf(&cs, testRev); got != want {
			t.Errorf("cellOf(Ready=False/%s) = %s, want %s", reason, got, want)
		}
	}
	cs := readySync("web", "a")
	if got := cellOf(&cs, testRev); got != cellReady {
		t.Errorf("cellOf(ready) = %s", got)
	}
	// Ready, but for the previous revision: not ready yet.
	if got := cellOf(&cs, "main@sha1:newer"); got == cellReady {
		t.Errorf("cellOf(ready at an older revision) = %s", got)
	}
	cs.Status.Conditions = nil
	if got := cellOf(&cs, testRev); got != cellSyncing {
		t.Errorf("cellOf(no conditions) = %s", got)
	}
}

func TestPrintStateListsProblems(t *testing.T) {
	s := syncedState()
	s.Syncs[1].Status.Conditions = []metav1.Condition{cond(fluxmeta.ReadyCondition, metav1.ConditionFalse, flotillav1.ReasonHealthCheckFailed, "Deployment web: 0/2 available", 2)}
	var buf bytes.Buffer
	if err := printState(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"FleetRepository flotilla-system/fleet at main@0123456", "Not synced:", "web on a: applied but not Ready: HealthCheckFailed: Deployment web: 0/2 available"} {
		if !strings.Contains(out, want) {
			t.Errorf("printState lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := printState(&buf, syncedState()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Synced: every app") {
		t.Errorf("printState of a synced fleet:\n%s", buf.String())
	}
}
