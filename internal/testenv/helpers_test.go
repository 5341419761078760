package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"clone http://user:s3cret@127.0.0.1:80/fleet.git dir": "clone http://user:***@127.0.0.1:80/fleet.git dir",
		"fatal: 'ssh://git@127.0.0.1:22/x.git'":               "fatal: 'ssh://git@127.0.0.1:22/x.git'",
		"no url here":                                         "no url here",
		"a http://u:p@h/ and https://v:q@i/":                  "a http://u:***@h/ and https://v:***@i/",
	}
	for in, want := range cases {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKubeconfigRefusesPlugins(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443", ExecProvider: &clientcmdapi.ExecConfig{Command: "helper"}}
	if _, err := Kubeconfig("x", cfg); err == nil {
		t.Error("Kubeconfig accepted a rest.Config with an exec plugin")
	}
}

func TestNodeSpecResources(t *testing.T) {
	res, err := NodeSpec{Name: "n"}.Resources()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[corev1.ResourceName]string{corev1.ResourceCPU: "16", corev1.ResourceMemory: "64Gi", corev1.ResourcePods: "110"} {
		if q := res[name]; q.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("default %s = %s, want %s", name, q.String(), want)
		}
	}
	if _, ok := res[GPUResource]; ok {
		t.Error("a node without GPUs lists nvidia.com/gpu")
	}
	res, err = NodeSpec{Name: "g", GPUs: 2}.Resources()
	if err != nil {
		t.Fatal(err)
	}
	if q := res[GPUResource]; q.Value() != 2 {
		t.Errorf("GPUs = %s, want 2", q.String())
	}
	_, err = NodeSpec{Name: "bad", Memory: "lots"}.Resources()
	if err == nil || !strings.Contains(err.Error(), "NodeSpec.Memory") {
		t.Errorf("bad memory: got %v, want an error naming NodeSpec.Memory", err)
	}
}

// TestKwokStages checks that the embedded stages are the four "fast" Stage
// objects and that the header kept them valid YAML.
func TestKwokStages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stages.yaml")
	if err := writeKwokStages(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("stage document does not parse: %v", err)
		}
		if obj.Kind != "Stage" {
			t.Errorf("kind %q, want Stage", obj.Kind)
		}
		names = append(names, obj.Metadata.Name)
	}
	want := "node-heartbeat-with-lease,node-initialize,pod-complete,pod-delete,pod-ready"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("stages = %s, want %s", got, want)
	}
}
