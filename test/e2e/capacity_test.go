package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestFillingASitesGPUsMovesTraining runs two member clusters with one
// simulated node of 4 GPUs each. The training app requires 4 free GPUs
// (its own trainer holds 2 of them) on one site: it starts on gpu-a (both
// sites have the room, names break the tie). Other pods then take gpu-a's
// 2 remaining GPUs: the heartbeat reports it, the hub places again, and
// training moves to gpu-b; App status records the figures. Pods that come
// and go on gpu-b without taking the GPUs training holds do not move it.
func TestFillingASitesGPUsMovesTraining(t *testing.T) {
	gpuNode := []testenv.NodeSpec{{Name: "gpu-node", GPUs: 4}}
	e := newFleetEnv(t, "testdata/gpu-fleet", memberSpec{name: "gpu-a", nodes: gpuNode}, memberSpec{name: "gpu-b", nodes: gpuNode})
	ctx := context.Background()

	eventually(t, 120*time.Second, "training runs on gpu-a", func() error {
		if err := e.expectReady(ctx, "train.gpu-a"); err != nil {
			return err
		}
		return e.deploymentAvailable(ctx, "gpu-a", "train", "trainer")
	})
	eventually(t, 30*time.Second, "gpu-a reports the GPUs training holds", func() error {
		return e.gpus(ctx, "gpu-a", "2/4")
	})
	out := e.kubectl("get", "fclusters", "-n", fleetNamespace)
	if row := lineWith(out, "gpu-a"); !strings.Contains(row, "2/4") {
		t.Fatalf("kubectl get fclusters does not show gpu-a's GPUs as 2/4:\n%s", out)
	}

	// Fill gpu-a: a pod of another team takes its last 2 GPUs.
	e.retry(t, func(ctx context.Context) error { return e.gpuPod(ctx, "gpu-a", "other-team", 2) })
	eventually(t, 120*time.Second, "training moves to gpu-b", func() error {
		if err := e.expectReady(ctx, "train.gpu-b"); err != nil {
			return err
		}
		if err := e.deploymentAvailable(ctx, "gpu-b", "train", "trainer"); err != nil {
			return err
		}
		s, err := e.syncs(ctx)
		if err != nil {
			return err
		}
		if s["train.gpu-a"] != nil {
			return fmt.Errorf("train.gpu-a is still there")
		}
		return nil
	})
	app := &flotillav1.App{}
	e.retry(t, func(ctx context.Context) error {
		return e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "train"}, app)
	})
	pl := app.Status.Placement
	if pl == nil || len(pl.Decisions) != 2 || pl.Decisions[0].Cluster != "gpu-b" || !pl.Decisions[0].Placed ||
		pl.Decisions[1].Cluster != "gpu-a" || pl.Decisions[1].Placed || !strings.Contains(pl.Decisions[1].Reason, "does not meet requires nvidia.com/gpu=4") {
		t.Fatalf("App status.placement does not record the move with its figures: %+v", pl)
	}
	// None free on gpu-a besides the 2 training itself held there, which
	// count for it: 2 of the 4 it requires.
	if avail, held := pl.Decisions[1].Available["nvidia.com/gpu"], pl.Decisions[1].Held["nvidia.com/gpu"]; avail.Value() != 2 || held.Value() != 2 {
		t.Errorf("gpu-a's recorded figures = %s GPUs available to training, %s of them held by it; want 2 and 2", avail.String(), held.String())
	}

	// gpu-b's figures now wobble: a pod of 8 CPUs comes and goes, three
	// times (each swing is far over the replan threshold, so the hub
	// places again each time). Training still fits on gpu-b and stays.
	for i := range 3 {
		name := fmt.Sprintf("wobble-%d", i)
		e.retry(t, func(ctx context.Context) error { return e.cpuPod(ctx, "gpu-b", name, "8") })
		eventually(t, 30*time.Second, "gpu-b reports the busy CPUs", func() error { return e.cpuAvailable(ctx, "gpu-b", "0", "8") })
		e.retry(t, func(ctx context.Context) error {
			return client.IgnoreNotFound(e.member("gpu-b").Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}, client.GracePeriodSeconds(0)))
		})
		eventually(t, 30*time.Second, "gpu-b reports the CPUs free again", func() error { return e.cpuAvailable(ctx, "gpu-b", "15", "16") })
	}
	if err := e.expectReady(ctx, "train.gpu-b"); err != nil {
		t.Fatalf("training left gpu-b while its figures wobbled: %v", err)
	}
	s, err := e.syncs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s["train.gpu-a"] != nil {
		t.Fatal("training came back to gpu-a while gpu-b's figures wobbled")
	}
}

// gpus returns nil when the hub shows the cluster's GPUs as want
// ("available/allocatable").
func (e *fleetEnv) gpus(ctx context.Context, cluster, want string) error {
	c := &flotillav1.Cluster{}
	if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: cluster}, c); err != nil {
		return err
	}
	if c.Status.GPU != want {
		return fmt.Errorf("%s GPU = %q, want %q", cluster, c.Status.GPU, want)
	}
	return nil
}

// cpuAvailable returns nil when the hub shows between lo and hi CPUs
// available on the cluster.
func (e *fleetEnv) cpuAvailable(ctx context.Context, cluster, lo, hi string) error {
	c := &flotillav1.Cluster{}
	if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: cluster}, c); err != nil {
		return err
	}
	if c.Status.Capacity == nil {
		return fmt.Errorf("%s has no capacity yet", cluster)
	}
	if q := c.Status.Capacity.Available[corev1.ResourceCPU]; q.Cmp(resource.MustParse(lo)) < 0 || q.Cmp(resource.MustParse(hi)) > 0 {
		return fmt.Errorf("%s has %s CPUs available, want %s to %s", cluster, q.String(), lo, hi)
	}
	return nil
}

// gpuPod creates a pod requesting gpus GPUs in namespace default of a member.
func (e *fleetEnv) gpuPod(ctx context.Context, site, name string, gpus int64) error {
	q := *resource.NewQuantity(gpus, resource.DecimalSI)
	return e.pod(ctx, site, name, corev1.ResourceList{testenv.GPUResource: q}, corev1.ResourceList{testenv.GPUResource: q})
}

// cpuPod creates a pod requesting cpu CPUs in namespace default of a member.
func (e *fleetEnv) cpuPod(ctx context.Context, site, name, cpu string) error {
	return e.pod(ctx, site, name, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}, nil)
}

func (e *fleetEnv) pod(ctx context.Context, site, name string, requests, limits corev1.ResourceList) error {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "work", Image: "registry.local/work:1",
			Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits},
		}}},
	}
	return client.IgnoreAlreadyExists(e.member(site).Create(ctx, p))
}
