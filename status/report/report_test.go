package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func fixture() (*flotillav1.FleetRepository, []flotillav1.Cluster, []flotillav1.ClusterSync) {
	repo := &flotillav1.FleetRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "factories"}}
	repo.Status.Revision = "main@sha1:0123456789abcdef0123456789abcdef01234567"
	seen := metav1.NewTime(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	clusters := []flotillav1.Cluster{
		{ObjectMeta: metav1.ObjectMeta{Name: "factory-b"}, Status: flotillav1.ClusterStatus{
			LastHeartbeatTime: &seen,
			Conditions:        []metav1.Condition{{Type: "Reachable", Status: metav1.ConditionFalse, Reason: "ClusterUnreachable", Message: "connection refused"}},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "factory-a"}, Status: flotillav1.ClusterStatus{
			LastHeartbeatTime: &seen,
			Capacity: &flotillav1.ClusterCapacity{
				Allocatable:  corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("8"), corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi")},
				Available:    corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2"), corev1.ResourceCPU: resource.MustParse("11500m"), corev1.ResourceMemory: resource.MustParse("40Gi")},
				ObservedTime: &seen,
			},
			Conditions: []metav1.Condition{{Type: "Reachable", Status: metav1.ConditionTrue, Reason: "Reachable"}},
		}},
		// A pull site: its agent's heartbeat makes it reachable.
		{ObjectMeta: metav1.ObjectMeta{Name: "factory-c"}, Spec: flotillav1.ClusterSpec{Access: flotillav1.ClusterAccess{Mode: flotillav1.AccessPull}}, Status: flotillav1.ClusterStatus{
			LastHeartbeatTime: &seen,
			Conditions:        []metav1.Condition{{Type: "Reachable", Status: metav1.ConditionTrue, Reason: "Reachable"}},
		}},
	}
	sync := func(app, cluster, revision string, ready metav1.ConditionStatus, reason, msg string) flotillav1.ClusterSync {
		return flotillav1.ClusterSync{
			Spec:   flotillav1.ClusterSyncSpec{App: app, Cluster: cluster},
			Status: flotillav1.ClusterSyncStatus{AppliedDigest: "d1", AppliedRevision: revision, Conditions: []metav1.Condition{{Type: "Ready", Status: ready, Reason: reason, Message: msg}}},
		}
	}
	syncs := []flotillav1.ClusterSync{
		sync("web", "factory-a", repo.Status.Revision, metav1.ConditionTrue, "Synced", ""),
		sync("db", "factory-a", repo.Status.Revision, metav1.ConditionFalse, "HealthCheckFailed", "Deployment db/db: 0/1 available"),
		sync("web", "factory-b", "main@sha1:aaaaaaaaaa", metav1.ConditionFalse, "ClusterUnreachable", "connection refused"),
		sync("web", "factory-c", repo.Status.Revision, metav1.ConditionTrue, "Synced", ""),
	}
	return repo, clusters, syncs
}

func TestBuildFilesAndTable(t *testing.T) {
	repo, clusters, syncs := fixture()
	r := Build(repo, clusters, syncs)
	if len(r.Clusters) != 3 || r.Clusters[0].Cluster != "factory-a" || r.Clusters[1].Cluster != "factory-b" {
		t.Fatalf("clusters not sorted: %+v", r.Clusters)
	}
	if got := strings.Join(r.Apps(), ","); got != "db,web" {
		t.Fatalf("apps = %s", got)
	}
	a, b := r.Clusters[0], r.Clusters[1]
	if a.Revision != repo.Status.Revision || !a.Apps[0].Synced || !a.Apps[1].Synced || b.Apps[0].Synced {
		t.Fatalf("factory-a's apps are at the latest revision and factory-b's are not: %+v", r.Clusters)
	}
	if !b.Stale || b.LastSeen == nil || b.LastError != "connection refused" {
		t.Fatalf("factory-b must be stale with last seen and error: %+v", b)
	}
	if c := r.Clusters[2]; c.Mode != "Pull" || c.Reachable != "True" || c.Stale || !c.Apps[0].Synced || r.Clusters[0].Mode != "Push" {
		t.Fatalf("the pull site factory-c must be reported like a push site, with its mode: %+v; factory-a: %+v", c, r.Clusters[0])
	}
	if r.Clusters[0].LastSeen != nil {
		t.Fatal("a reachable cluster must not record its heartbeat (it would change every interval)")
	}

	files, err := Files(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 || files["status/factory-a.yaml"] == nil || files["status/factory-b.yaml"] == nil || !strings.Contains(string(files["status/factory-c.yaml"]), "mode: Pull") {
		t.Fatalf("want one file per cluster and STATUS.md, got %d files", len(files))
	}
	md := string(files[SummaryFile])
	for _, want := range []string{"| cluster | reachable | mode | revision |", "| factory-a | yes | push | main@0123456 | failed | ready |", "| factory-b | **STALE** | push | main@aaaaaaa | – | offline |", "| factory-c | yes | pull | main@0123456 | – | ready |", "last seen 2026-11-25 10:00:00 UTC", "**db** on **factory-a**: HealthCheckFailed"} {
		if !strings.Contains(md, want) {
			t.Errorf("STATUS.md lacks %q:\n%s", want, md)
		}
	}
	again, _ := Files(Build(repo, clusters, syncs))
	if !bytes.Equal(again[SummaryFile], files[SummaryFile]) || !bytes.Equal(again["status/factory-a.yaml"], files["status/factory-a.yaml"]) {
		t.Fatal("the same fleet must give the same files")
	}

	parsed, err := ParseFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed.Clusters) != 3 || parsed.Clusters[1].Apps[0].Reason != "ClusterUnreachable" || parsed.Clusters[2].Mode != "Pull" {
		t.Fatalf("round trip lost data: %+v", parsed)
	}
	if capa := parsed.Clusters[0].Capacity; capa == nil || capa.Available.Name("nvidia.com/gpu", resource.DecimalSI).Value() != 2 || capa.Allocatable.Cpu().Value() != 16 {
		t.Fatalf("the status file of factory-a lost its capacity: %+v", capa)
	}
	if strings.Contains(string(files["status/factory-a.yaml"]), "observedTime") {
		t.Error("the status file records when the figures were taken: it would change with every heartbeat")
	}

	var out bytes.Buffer
	if err := WriteTable(&out, parsed, time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, want := range []string{"CLUSTER", "MODE", "GPU", "CPU", "MEMORY", "2/8", "11500m/16", "40Gi/64Gi", "DB", "WEB", "factory-b", "STALE", "! factory-b is stale: not reachable since 2026-11-25T10:00:00Z (5m0s ago)", "! db on factory-a: HealthCheckFailed"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestParseFilesRejectsUnknownFields(t *testing.T) {
	_, err := ParseFiles(map[string][]byte{"status/x.yaml": []byte("cluster: x\nbogus: 1\n")})
	if err == nil || !strings.Contains(err.Error(), "status/x.yaml") {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

// TestTableShowsModeOfEachSite prints a mixed fleet: the MODE column says
// pull for the pull site and push for the others, and a site not probed
// yet is "unknown" rather than mistaken for a pull site.
func TestTableShowsModeOfEachSite(t *testing.T) {
	repo, clusters, syncs := fixture()
	clusters = append(clusters, flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "factory-d"}})
	var out bytes.Buffer
	if err := WriteTable(&out, Build(repo, clusters, syncs), time.Now()); err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			rows[f[0]] = f
		}
	}
	if h := rows["CLUSTER"]; h[1] != "REACHABLE" || h[2] != "MODE" {
		t.Fatalf("header %v", h)
	}
	for cluster, want := range map[string][2]string{"factory-a": {"yes", "push"}, "factory-c": {"yes", "pull"}, "factory-d": {"unknown", "push"}} {
		if r := rows[cluster]; len(r) < 3 || r[1] != want[0] || r[2] != want[1] {
			t.Errorf("row of %s: %v, want reachable %s, mode %s\n%s", cluster, r, want[0], want[1], out.String())
		}
	}
}
