package clusterclient

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func TestMeasureCapacityCountsReadySchedulableNodesAndLivePodRequests(t *testing.T) {
	ctx := testCtx(t)
	c, err := New("factory-cap", memberCfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Client()
	type node struct {
		name              string
		cpu, gpus         string
		ready, unschedule bool
	}
	nodes := []node{
		{"cap-gpu", "16", "8", true, false},
		{"cap-cordoned", "8", "4", true, true},
		{"cap-down", "8", "4", false, false},
	}
	for _, n := range nodes {
		obj := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name}, Spec: corev1.NodeSpec{Unschedulable: n.unschedule}}
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatalf("create node %s: %v", n.name, err)
		}
		alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(n.cpu), corev1.ResourceMemory: resource.MustParse("64Gi"), ResourceGPU: resource.MustParse(n.gpus)}
		obj.Status.Capacity, obj.Status.Allocatable = alloc, alloc
		status := corev1.ConditionFalse
		if n.ready {
			status = corev1.ConditionTrue
		}
		obj.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
		if err := cl.Status().Update(ctx, obj); err != nil {
			t.Fatalf("set status of node %s: %v", n.name, err)
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "capacity-test"}}
	if err := cl.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = cl.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name}})
		}
		_ = cl.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(ns.Name), client.GracePeriodSeconds(0))
	})
	req := func(kv ...string) corev1.ResourceRequirements {
		rl := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			rl[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return corev1.ResourceRequirements{Requests: rl, Limits: rl}
	}
	always := corev1.ContainerRestartPolicyAlways
	pods := []struct {
		name  string
		node  string
		phase corev1.PodPhase
		spec  corev1.PodSpec
	}{
		// cpu max(1, init 3) = 3, 2 GPUs.
		{"init", "cap-gpu", corev1.PodRunning, corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "i", Image: "x", Resources: req("cpu", "3")}},
			Containers:     []corev1.Container{{Name: "c", Image: "x", Resources: req("cpu", "1", "nvidia.com/gpu", "2")}}}},
		// A sidecar adds to the app containers: cpu 1.5, 1 GPU.
		{"sidecar", "cap-gpu", corev1.PodRunning, corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "s", Image: "x", RestartPolicy: &always, Resources: req("cpu", "500m")}},
			Containers:     []corev1.Container{{Name: "c", Image: "x", Resources: req("cpu", "1", "nvidia.com/gpu", "1")}}}},
		// Pending and not scheduled yet: it counts (1 GPU).
		{"pending", "", corev1.PodPending, corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "x", Resources: req("nvidia.com/gpu", "1")}}}},
		// Done: it does not count.
		{"done", "cap-gpu", corev1.PodSucceeded, corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "x", Resources: req("nvidia.com/gpu", "4")}}}},
		// On a cordoned node, whose allocatable is not counted either.
		{"cordoned", "cap-cordoned", corev1.PodRunning, corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "x", Resources: req("nvidia.com/gpu", "4")}}}},
	}
	for _, p := range pods {
		obj := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: p.name}, Spec: p.spec}
		obj.Spec.NodeName = p.node
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatalf("create pod %s: %v", p.name, err)
		}
		obj.Status.Phase = p.phase
		if err := cl.Status().Update(ctx, obj); err != nil {
			t.Fatalf("set phase of pod %s: %v", p.name, err)
		}
	}

	capa, err := MeasureCapacity(ctx, cl)
	if err != nil {
		t.Fatalf("MeasureCapacity: %v", err)
	}
	for _, tc := range []struct {
		what string
		list corev1.ResourceList
		name corev1.ResourceName
		want string
	}{
		{"allocatable", capa.Allocatable, corev1.ResourceCPU, "16"},
		{"allocatable", capa.Allocatable, ResourceGPU, "8"},
		{"allocatable", capa.Allocatable, corev1.ResourceMemory, "64Gi"},
		{"available", capa.Available, corev1.ResourceCPU, "11500m"},
		{"available", capa.Available, ResourceGPU, "4"},
		{"available", capa.Available, corev1.ResourceMemory, "64Gi"},
	} {
		got, ok := tc.list[tc.name]
		if !ok || got.Cmp(resource.MustParse(tc.want)) != 0 {
			t.Errorf("%s %s = %s, want %s", tc.what, tc.name, got.String(), tc.want)
		}
	}
	if capa.Nodes != 3 || capa.ObservedTime == nil {
		t.Errorf("Nodes = %d, ObservedTime = %v; want 3 and a time", capa.Nodes, capa.ObservedTime)
	}
}

func TestPodRequestsFollowsTheEffectiveRequestRule(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	r := func(cpu string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
	}
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "side", RestartPolicy: &always, Resources: r("1")},
			{Name: "big-init", Resources: r("4")}, // runs beside the sidecar: 5
			{Name: "side2", RestartPolicy: &always, Resources: r("2")},
		},
		Containers: []corev1.Container{{Name: "a", Resources: r("1")}, {Name: "b", Resources: r("500m")}},
		Overhead:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
	}
	// max(1.5 + sidecars 3, init 5) + overhead 0.25 = 5.25.
	got := PodRequests(spec)[corev1.ResourceCPU]
	if got.Cmp(resource.MustParse("5250m")) != 0 {
		t.Errorf("effective cpu request = %s, want 5250m", got.String())
	}
}

// TestMeasureCapacityWhereListingPodsIsForbidden: a member whose
// kubeconfig may read nodes but not pods still has its heartbeat; what is
// available is unknown.
func TestMeasureCapacityWhereListingPodsIsForbidden(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	node.Status.Allocatable = corev1.ResourceList{ResourceGPU: resource.MustParse("4")}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	cl := fake.NewClientBuilder().WithObjects(node).WithInterceptorFuncs(interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*corev1.PodList); ok {
				return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no RBAC"))
			}
			return c.List(ctx, list, opts...)
		},
	}).Build()
	capa, err := MeasureCapacity(context.Background(), cl)
	if err != nil {
		t.Fatalf("MeasureCapacity: %v", err)
	}
	if q := capa.Allocatable[ResourceGPU]; q.Value() != 4 || capa.Available != nil {
		t.Errorf("allocatable GPUs %s, available %v; want 4 and unknown (nil)", q.String(), capa.Available)
	}
	if got := GPUColumn(capa); got != "?/4" {
		t.Errorf("GPU column = %q, want ?/4", got)
	}
}
