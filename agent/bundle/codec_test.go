package bundle

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func cm(name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "ns"},
		"data":     map[string]any{"v": value},
	}}
}

func TestEncodeDecodeRoundTripAndDigest(t *testing.T) {
	objs := []*unstructured.Unstructured{cm("a", "1"), cm("b", "2")}
	content, digest, err := Encode(objs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(content, digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].GetName() != "b" {
		t.Fatalf("decoded %v", got)
	}
	_, other, _ := Encode(objs[:1])
	if _, err := Decode(content, other); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("Decode with another digest: %v", err)
	}
}

func TestSplitJoinChunks(t *testing.T) {
	buf := make([]byte, 600<<10)
	_, _ = rand.Read(buf)
	big := cm("big", hex.EncodeToString(buf))
	content, digest, err := Encode([]*unstructured.Unstructured{big})
	if err != nil {
		t.Fatal(err)
	}
	parts := Split(content)
	if len(parts) < 2 {
		t.Fatalf("%d bytes split into %d part(s)", len(content), len(parts))
	}
	data := map[string][]byte{}
	var names []string
	for _, p := range parts {
		if len(p) > ChunkSize {
			t.Fatalf("chunk of %d bytes", len(p))
		}
		names = append(names, ChunkName(p))
		data[ChunkName(p)] = p
	}
	joined, err := Join(names, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(joined, digest); err != nil {
		t.Fatal(err)
	}
	data[names[0]] = parts[1]
	if _, err := Join(names, data); err == nil {
		t.Fatal("Join accepted a chunk that does not match its name")
	}
}
