package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-gitops/flotilla/placement"
)

func figures(gpuAvail, gpuAlloc, cpuAvail, cpuAlloc string) placement.Capacity {
	return placement.Capacity{
		Allocatable: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse(gpuAlloc), corev1.ResourceCPU: resource.MustParse(cpuAlloc)},
		Available:   corev1.ResourceList{"nvidia.com/gpu": resource.MustParse(gpuAvail), corev1.ResourceCPU: resource.MustParse(cpuAvail)},
	}
}

func TestCapacityReplansOnlyWhenFiguresMoveEnough(t *testing.T) {
	repo := types.NamespacedName{Namespace: "fleet", Name: "factories"}
	var p capacityPlans
	if p.observe(repo, "a", figures("4", "8", "10", "64"), true) {
		t.Fatal("a repository never placed is marked due")
	}
	p.set(repo, map[string]placement.Capacity{"a": figures("4", "8", "10", "64")})
	for _, tc := range []struct {
		name string
		now  placement.Capacity
		due  bool
	}{
		{"cpu wobbles by 2 of 64 cores (under 5%)", figures("4", "8", "12", "64"), false},
		{"cpu wobbles back", figures("4", "8", "9500m", "64"), false},
		{"one GPU taken", figures("3", "8", "10", "64"), true},
		{"cpu moves by 4 of 64 cores", figures("4", "8", "14", "64"), true},
		{"a node joined", figures("4", "12", "10", "64"), true},
	} {
		p.set(repo, map[string]placement.Capacity{"a": figures("4", "8", "10", "64")})
		if got := p.observe(repo, "a", tc.now, true); got != tc.due || p.isDue(repo) != tc.due {
			t.Errorf("%s: due = %v, want %v", tc.name, got, tc.due)
		}
	}
	p.set(repo, map[string]placement.Capacity{"a": figures("4", "8", "10", "64")})
	if !p.observe(repo, "b", placement.Capacity{}, true) {
		t.Error("a cluster that gained figures does not make the repository due")
	}
}

func TestWorkloadRequests(t *testing.T) {
	var objs []*unstructured.Unstructured
	for _, doc := range []string{`
apiVersion: apps/v1
kind: Deployment
metadata: {name: train}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: t
        resources: {requests: {cpu: 500m, nvidia.com/gpu: 2}}
`, `
apiVersion: batch/v1
kind: Job
metadata: {name: eval}
spec:
  template:
    spec:
      containers:
      - name: e
        resources: {requests: {nvidia.com/gpu: 1}}
`, `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      containers:
      - name: a
        resources: {requests: {cpu: 4}}
`} {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
	}
	got := workloadRequests(objs)
	gpu, cpu := got["nvidia.com/gpu"], got[corev1.ResourceCPU]
	if gpu.Value() != 5 || cpu.MilliValue() != 1000 {
		t.Errorf("requests = gpu %s, cpu %s; want 5 (2×2 + 1) and 1 (2×500m, the DaemonSet left out)", gpu.String(), cpu.String())
	}
}
