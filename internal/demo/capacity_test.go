package demo

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

func cluster(ann, vars map[string]string) *flotillav1.Cluster {
	return &flotillav1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "site", Annotations: ann},
		Spec:       flotillav1.ClusterSpec{Vars: vars},
	}
}

func TestNodesFor(t *testing.T) {
	gpu := map[string]string{GPUPresentLabel: "true"}
	tests := []struct {
		name string
		ann  map[string]string
		vars map[string]string
		want []testenv.NodeSpec
	}{
		{
			name: "annotations size every node",
			ann:  map[string]string{AnnotationNodes: "2", AnnotationCPU: "8", AnnotationMemory: "32Gi", AnnotationGPUs: "8"},
			vars: map[string]string{"gpuCount": "3"}, // the annotation wins
			want: []testenv.NodeSpec{
				{Name: "node-1", CPU: "8", Memory: "32Gi", GPUs: 8, Labels: gpu},
				{Name: "node-2", CPU: "8", Memory: "32Gi", GPUs: 8, Labels: gpu},
			},
		},
		{
			name: "defaults without annotations or vars",
			want: []testenv.NodeSpec{{Name: "node-1", CPU: "4", Memory: "16Gi"}},
		},
		{
			name: "gpuCount spread over the nodes, rounded up",
			ann:  map[string]string{AnnotationNodes: "2"},
			vars: map[string]string{"gpuCount": "3"},
			want: []testenv.NodeSpec{
				{Name: "node-1", CPU: "4", Memory: "16Gi", GPUs: 2, Labels: gpu},
				{Name: "node-2", CPU: "4", Memory: "16Gi", GPUs: 2, Labels: gpu},
			},
		},
		{
			name: "zero GPUs: no GPU label",
			ann:  map[string]string{AnnotationGPUs: "0"},
			vars: map[string]string{"gpuCount": "0"},
			want: []testenv.NodeSpec{{Name: "node-1", CPU: "4", Memory: "16Gi"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NodesFor(cluster(tt.ann, tt.vars), "clusters/site.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("NodesFor =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestNodesForErrorsNameFileAndField(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		vars map[string]string
		want string
	}{
		{"nodes not a number", map[string]string{AnnotationNodes: "two"}, nil, AnnotationNodes},
		{"no nodes", map[string]string{AnnotationNodes: "0"}, nil, AnnotationNodes},
		{"too many nodes", map[string]string{AnnotationNodes: "500"}, nil, AnnotationNodes},
		{"cpu not a quantity", map[string]string{AnnotationCPU: "lots"}, nil, AnnotationCPU},
		{"negative memory", map[string]string{AnnotationMemory: "-1Gi"}, nil, AnnotationMemory},
		{"gpus negative", map[string]string{AnnotationGPUs: "-1"}, nil, AnnotationGPUs},
		{"gpuCount not a number", nil, map[string]string{"gpuCount": "many"}, "spec.vars.gpuCount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NodesFor(cluster(tt.ann, tt.vars), "clusters/site.yaml")
			if err == nil {
				t.Fatal("NodesFor accepted a bad value")
			}
			for _, want := range []string{"clusters/site.yaml", tt.want} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not name %q", err, want)
				}
			}
		})
	}
}
