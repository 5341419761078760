package testenv_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestWorkloadCluster proves that a cluster started with Workloads runs pods:
// nodes report the requested capacity (GPUs included), a Deployment becomes
// Available with its pods on a node that has GPUs, a Job completes, a
// DaemonSet is ready on every node, and all of that works again after a
// restart.
func TestWorkloadCluster(t *testing.T) {
	t.Parallel()
	c := testenv.NewCluster(t, testenv.ClusterOptions{
		Name: "factory-gpu",
		Workloads: &testenv.WorkloadOptions{Nodes: []testenv.NodeSpec{
			{Name: "gpu-node", CPU: "8", Memory: "32Gi", GPUs: 4, Labels: map[string]string{"gpu": "true"}},
			{Name: "cpu-node", CPU: "4", Memory: "16Gi", Pods: 50},
		}},
	})
	ctx := t.Context()
	cl, err := c.NewClient(nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("nodes are Ready with the requested capacity", func(t *testing.T) {
		want := map[string]map[corev1.ResourceName]string{
			"gpu-node": {corev1.ResourceCPU: "8", corev1.ResourceMemory: "32Gi", corev1.ResourcePods: "110", testenv.GPUResource: "4"},
			"cpu-node": {corev1.ResourceCPU: "4", corev1.ResourceMemory: "16Gi", corev1.ResourcePods: "50"},
		}
		nodes := map[string]*corev1.Node{}
		for name, res := range want {
			node := &corev1.Node{}
			if err := cl.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
				t.Fatal(err)
			}
			nodes[name] = node
			if !isNodeReady(node) {
				t.Errorf("node %s is not Ready: %+v", name, node.Status.Conditions)
			}
			for rn, q := range res {
				wantQ := resource.MustParse(q)
				for what, list := range map[string]corev1.ResourceList{"capacity": node.Status.Capacity, "allocatable": node.Status.Allocatable} {
					got, ok := list[rn]
					if !ok || got.Cmp(wantQ) != 0 {
						t.Errorf("node %s %s[%s] = %s (present %v), want %s", name, what, rn, got.String(), ok, q)
					}
				}
			}
		}
		if _, ok := nodes["cpu-node"].Status.Capacity[testenv.GPUResource]; ok {
			t.Errorf("cpu-node reports %s capacity, want none", testenv.GPUResource)
		}
		if nodes["gpu-node"].Labels["gpu"] != "true" || nodes["cpu-node"].Labels["gpu"] != "" {
			t.Errorf("node labels: gpu-node %v, cpu-node %v; want gpu=true on gpu-node only", nodes["gpu-node"].Labels, nodes["cpu-node"].Labels)
		}
	})

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "inspection"}}
	if err := cl.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}

	t.Run("the controller manager creates the default ServiceAccount", func(t *testing.T) {
		waitFor(t, ctx, 30*time.Second, "ServiceAccount inspection/default", func() (bool, error) {
			err := cl.Get(ctx, client.ObjectKey{Namespace: "inspection", Name: "default"}, &corev1.ServiceAccount{})
			return err == nil, client.IgnoreNotFound(err)
		})
	})

	t.Run("a pod naming a missing ServiceAccount is refused as in a real cluster", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "inspection"},
			Spec: corev1.PodSpec{
				ServiceAccountName: "does-not-exist",
				Containers:         []corev1.Container{{Name: "c", Image: "registry.example/app:1"}},
			},
		}
		err := cl.Create(ctx, pod)
		if err == nil || !strings.Contains(err.Error(), "does-not-exist") {
			t.Errorf("creating a pod with a missing ServiceAccount: got %v, want an admission error naming it", err)
		}
	})

	deploy := gpuDeployment("inspection", "adc-inference", 2)
	t.Run("a 2-replica Deployment becomes Available on the GPU node", func(t *testing.T) {
		if err := cl.Create(ctx, deploy); err != nil {
			t.Fatal(err)
		}
		waitDeploymentAvailable(t, ctx, cl, deploy, 2)

		pods := &corev1.PodList{}
		if err := cl.List(ctx, pods, client.InNamespace("inspection"), client.MatchingLabels{"app": "adc-inference"}); err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName != "gpu-node" {
				t.Errorf("pod %s asks for a GPU but runs on %q", p.Name, p.Spec.NodeName)
			}
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running != 2 {
			t.Errorf("%d pods Running, want 2", running)
		}
	})

	t.Run("a pod asking for more GPUs than any node has stays unschedulable", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "too-greedy", Namespace: "inspection"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "train", Image: "registry.example/train:1",
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{testenv.GPUResource: resource.MustParse("5")}},
			}}},
		}
		if err := cl.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, 30*time.Second, "pod too-greedy to be reported Unschedulable", func() (bool, error) {
			got := &corev1.Pod{}
			if err := cl.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
				return false, err
			}
			for _, cond := range got.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
					return got.Spec.NodeName == "", nil
				}
			}
			return false, nil
		})
	})

	t.Run("a Job completes and a DaemonSet is ready on every node", func(t *testing.T) {
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "retrain", Namespace: "inspection"},
			Spec: batchv1.JobSpec{
				BackoffLimit: ptr.To[int32](0),
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "train", Image: "registry.example/train:1"}},
				}},
			},
		}
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: "node-agent", Namespace: "inspection"},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "node-agent"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "node-agent"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "registry.example/agent:1"}}},
				},
			},
		}
		for _, obj := range []client.Object{job, ds} {
			if err := cl.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, ctx, 60*time.Second, "Job retrain to complete", func() (bool, error) {
			got := &batchv1.Job{}
			if err := cl.Get(ctx, client.ObjectKeyFromObject(job), got); err != nil {
				return false, err
			}
			for _, cond := range got.Status.Conditions {
				if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
					return true, nil
				}
				if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue {
					return false, fmt.Errorf("job failed: %s", cond.Message)
				}
			}
			return false, nil
		})
		waitFor(t, ctx, 60*time.Second, "DaemonSet node-agent to be ready on both nodes", func() (bool, error) {
			got := &appsv1.DaemonSet{}
			if err := cl.Get(ctx, client.ObjectKeyFromObject(ds), got); err != nil {
				return false, err
			}
			s := got.Status
			return s.ObservedGeneration == got.Generation && s.DesiredNumberScheduled == 2 && s.NumberReady == 2, nil
		})
	})

	t.Run("after a restart the cluster runs workloads again", func(t *testing.T) {
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := c.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		got := &appsv1.Deployment{}
		if err := cl.Get(ctx, client.ObjectKeyFromObject(deploy), got); err != nil {
			t.Fatal(err)
		}
		got.Spec.Replicas = ptr.To[int32](3)
		if err := cl.Update(ctx, got); err != nil {
			t.Fatal(err)
		}
		waitDeploymentAvailable(t, ctx, cl, got, 3)
	})
}

// gpuDeployment returns a Deployment whose pods each ask for one GPU.
func gpuDeployment(namespace, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "inference",
					Image: "harbor.factory.example/adc/inference:1.4.2",
					Resources: corev1.ResourceRequirements{
						Limits: corev1.ResourceList{testenv.GPUResource: resource.MustParse("1")},
					},
				}}},
			},
		},
	}
}

// waitDeploymentAvailable waits until the Deployment has observed its latest
// generation, has replicas available pods, and reports Available=True.
func waitDeploymentAvailable(t *testing.T, ctx context.Context, cl client.Client, d *appsv1.Deployment, replicas int32) {
	t.Helper()
	waitFor(t, ctx, 60*time.Second, fmt.Sprintf("Deployment %s to have %d available replicas", d.Name, replicas), func() (bool, error) {
		got := &appsv1.Deployment{}
		if err := cl.Get(ctx, client.ObjectKeyFromObject(d), got); err != nil {
			return false, err
		}
		if got.Status.ObservedGeneration != got.Generation || got.Status.AvailableReplicas != replicas || got.Status.UpdatedReplicas != replicas {
			return false, nil
		}
		for _, cond := range got.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable {
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
}

// waitFor polls cond every 100ms until it is true, fails, or timeout passes.
func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// isNodeReady reports whether the node's Ready condition is True.
func isNodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
