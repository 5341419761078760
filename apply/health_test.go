package apply

import (
	"errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// envtest runs no controllers, so a Deployment never becomes available:
// Sync with Wait must report it, by name, once HealthTimeout has passed.
func TestSyncWaitReportsObjectsThatNeverBecomeReady(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("unhealthy")
	req := baseRequest(ns, readObjects(t, ns, webManifest))
	req.Wait = true
	req.HealthTimeout = 3 * time.Second
	req.HealthInterval = 500 * time.Millisecond

	start := time.Now()
	res, err := Sync(ctx, member, req)
	elapsed := time.Since(start)

	var uerr *UnhealthyError
	if !errors.As(err, &uerr) {
		t.Fatalf("Sync with Wait: err = %v (%T), want *UnhealthyError", err, err)
	}
	if elapsed > 20*time.Second {
		t.Errorf("Sync waited %s, far beyond HealthTimeout 3s", elapsed)
	}
	t.Logf("error: %v", err)
	if res == nil || res.Health == nil || res.Health.Ready {
		t.Fatalf("Result.Health = %+v, want not ready", res)
	}
	if len(res.Inventory) != 3 {
		t.Errorf("Inventory = %v, want the 3 applied objects despite the health failure", res.Inventory)
	}
	if len(res.Health.NotReady) != 1 {
		t.Fatalf("NotReady = %+v, want only the Deployment", res.Health.NotReady)
	}
	got := res.Health.NotReady[0]
	if got.Object != "Deployment/"+ns+"/web" {
		t.Errorf("NotReady object = %q, want Deployment/%s/web", got.Object, ns)
	}
	if got.Status != string(status.InProgressStatus) {
		t.Errorf("NotReady status = %q, want InProgress", got.Status)
	}
	if !strings.Contains(got.Message, "0/2 replicas available") {
		t.Errorf("NotReady message = %q, want it to say 0/2 replicas available", got.Message)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "Deployment/"+ns+"/web: 0/2 replicas available") || !strings.Contains(msg, "cluster member-1") {
		t.Errorf("error = %q, want it to start with the Deployment and its reason and name the cluster", msg)
	}
}

func TestSyncWaitSucceedsForObjectsReadyAtOnce(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("healthy")
	req := baseRequest(ns, readObjects(t, ns, webManifest)[:1]) // the ConfigMap only
	req.Wait = true
	req.HealthTimeout = 10 * time.Second
	res, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("Sync with Wait: %v", err)
	}
	if res.Health == nil || !res.Health.Ready || res.Health.Checked != 1 {
		t.Errorf("Health = %+v, want ready with 1 object checked", res.Health)
	}
}

func TestCheckHealthComputesOnceWithoutWaiting(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("check")
	res, err := Sync(ctx, member, baseRequest(ns, readObjects(t, ns, webManifest)))
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	inv := append(res.Inventory, flotillav1.ObjectRef{ID: ns + "_gone__Service", Version: "v1"})

	start := time.Now()
	h, err := CheckHealth(ctx, member, inv)
	if err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("CheckHealth took %s; it must not wait", time.Since(start))
	}
	if h.Ready || h.Checked != 4 {
		t.Fatalf("Health = %+v, want not ready, 4 checked", h)
	}
	var objects []string
	for _, o := range h.NotReady {
		objects = append(objects, o.Object+"="+o.Status)
	}
	want := "Deployment/" + ns + "/web=InProgress,Service/" + ns + "/gone=NotFound"
	if strings.Join(objects, ",") != want {
		t.Errorf("NotReady = %v, want %s", objects, want)
	}

	// Statusless kinds are not read: ready once stored (drift checks find
	// one deleted by hand), which saves a request per object per sync.
	h, err = CheckHealth(ctx, member, []flotillav1.ObjectRef{
		{ID: ns + "_never-created__ConfigMap", Version: "v1"},
		{ID: ns + "_never-created_rbac.authorization.k8s.io_Role", Version: "v1"},
	})
	if err != nil || !h.Ready || h.Checked != 2 {
		t.Fatalf("statusless kinds: Health = %+v, err %v; want ready without reading them", h, err)
	}
}

func TestPodProblemNamesTheReason(t *testing.T) {
	for name, tc := range map[string]struct {
		pod  corev1.Pod
		want string
	}{
		"unschedulable": {
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "inf-1"},
				Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{
					Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
					Message: "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
				}}},
			},
			want: "pod inf-1 unschedulable: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
		},
		"image pull": {
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "inf-2"},
				Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
					Name:  "model",
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "back-off pulling image"}},
				}}},
			},
			want: "pod inf-2 container model: ImagePullBackOff: back-off pulling image",
		},
		"creating is not a problem": {
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "inf-3"},
				Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
					Name:  "model",
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
				}}},
			},
			want: "",
		},
	} {
		t.Run(name, func(t *testing.T) {
			if got := podProblem(&tc.pod); got != tc.want {
				t.Errorf("podProblem = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHealthSummary(t *testing.T) {
	h := &Health{Checked: 5, NotReady: []ObjectHealth{
		{Object: "Deployment/a/x", Message: "0/2 replicas available"},
		{Object: "Deployment/a/y", Message: "0/1 replicas available"},
		{Object: "Job/a/z", Message: "Failed: BackoffLimitExceeded"},
		{Object: "StatefulSet/a/w", Message: "0/3 replicas ready"},
	}}
	want := "Deployment/a/x: 0/2 replicas available | Deployment/a/y: 0/1 replicas available | Job/a/z: Failed: BackoffLimitExceeded | and 1 more not ready"
	if got := h.Summary(); got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	if got := (&Health{Ready: true, Checked: 5}).Summary(); got != "all 5 objects ready" {
		t.Errorf("ready Summary = %q", got)
	}
}

func TestReadyWhenStoredSkipsOnlyNonLoadBalancerServices(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("svc")
	svc := func(name, typ string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec":     map[string]any{"type": typ},
		}}
		return u
	}
	headless, lb := svc("headless", "ClusterIP"), svc("public", "LoadBalancer")
	// Neither exists on the cluster: only the LoadBalancer one is read.
	inv := []flotillav1.ObjectRef{ObjectRefFor(headless), ObjectRefFor(lb)}
	h, err := CheckHealth(ctx, member, inv, ReadyWhenStored([]*unstructured.Unstructured{headless, lb}))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.NotReady) != 1 || h.NotReady[0].Object != "Service/"+ns+"/public" || h.NotReady[0].Status != "NotFound" {
		t.Fatalf("NotReady = %+v, want only the LoadBalancer Service, not found", h.NotReady)
	}
}
