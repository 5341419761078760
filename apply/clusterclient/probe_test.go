package clusterclient

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestProbeReportsVersionNodesAndAllocatable(t *testing.T) {
	ctx := testCtx(t)
	c, err := New("factory-a", memberCfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	nodes := []struct {
		name           string
		cpu, mem, gpus string
		ready          bool
	}{
		{"gpu-node", "16", "64Gi", "4", true},
		{"cpu-node", "8", "32Gi", "", true},
		{"small-node", "2500m", "7680Mi", "1", false},
	}
	for _, n := range nodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name}}
		if err := c.Client().Create(ctx, node); err != nil {
			t.Fatalf("create node %s: %v", n.name, err)
		}
		alloc := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(n.cpu),
			corev1.ResourceMemory: resource.MustParse(n.mem),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
		if n.gpus != "" {
			alloc[ResourceGPU] = resource.MustParse(n.gpus)
		}
		node.Status.Capacity = alloc
		node.Status.Allocatable = alloc
		readyStatus := corev1.ConditionFalse
		if n.ready {
			readyStatus = corev1.ConditionTrue
		}
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: readyStatus}}
		if err := c.Client().Status().Update(ctx, node); err != nil {
			t.Fatalf("set status of node %s: %v", n.name, err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = c.Client().Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name}})
		}
	})

	info, err := Probe(ctx, c)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	// The test apiserver is built without version stamping, so compare
	// with what client-go's own discovery reports.
	want, err := kubernetes.NewForConfigOrDie(memberCfg).Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if info.KubernetesVersion == "" || info.KubernetesVersion != want.GitVersion {
		t.Errorf("KubernetesVersion = %q, want %q", info.KubernetesVersion, want.GitVersion)
	}
	if info.Nodes != 3 || info.ReadyNodes != 2 {
		t.Errorf("Nodes/ReadyNodes = %d/%d, want 3/2", info.Nodes, info.ReadyNodes)
	}
	for name, tc := range map[string]struct {
		got  resource.Quantity
		want string
	}{
		"cpu":    {info.CPU, "26500m"},
		"memory": {info.Memory, "105984Mi"}, // 64Gi + 32Gi + 7680Mi
		"gpu":    {info.GPU, "5"},
	} {
		if tc.got.Cmp(resource.MustParse(tc.want)) != 0 {
			t.Errorf("%s = %s, want %s", name, tc.got.String(), tc.want)
		}
	}
}

func TestProbeOfAnUnreachableClusterFailsWithinTheTimeout(t *testing.T) {
	requireMember(t)
	// Nothing listens on a closed port; a hanging listener accepts and
	// never answers.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	_ = closed.Close()
	hanging, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hanging.Close()
	go func() {
		for {
			c, err := hanging.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	for name, addr := range map[string]string{"closed port": closedAddr, "no answer": hanging.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			cfg := rest.CopyConfig(memberCfg)
			cfg.Host = "https://" + addr
			c, err := New("factory-down", cfg, Options{Timeout: time.Second})
			if err != nil {
				t.Fatalf("New must not contact the cluster: %v", err)
			}
			start := time.Now()
			_, err = Probe(context.Background(), c)
			if err == nil {
				t.Fatal("Probe of an unreachable cluster succeeded")
			}
			if !strings.HasPrefix(err.Error(), "cluster factory-down: get server version failed: ") {
				t.Errorf("err = %q, want it to start with the cluster and the call", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Probe took %s with a 1s timeout", d)
			}
		})
	}
}
