package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// jsonPatchOp is one operation of an RFC 6902 JSON patch.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// release gives an adopted object back: it removes the owner labels in
// want and Flotilla's field ownership, and leaves the object and every
// value in it in place. The patch is conditional on the object's UID, so an
// object recreated since it was read is not touched.
func release(ctx context.Context, cl ClusterClient, existing *unstructured.Unstructured, want map[string]string) error {
	ops := []jsonPatchOp{{Op: "test", Path: "/metadata/uid", Value: string(existing.GetUID())}}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ops = append(ops, jsonPatchOp{Op: "remove", Path: "/metadata/labels/" + escapeJSONPointer(k)})
	}
	var kept []metav1.ManagedFieldsEntry
	for _, e := range existing.GetManagedFields() {
		if e.Manager != flotillav1.FieldManager {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		// An empty list would mean "unchanged"; one empty entry clears them.
		kept = []metav1.ManagedFieldsEntry{{}}
	}
	ops = append(ops, jsonPatchOp{Op: "replace", Path: "/metadata/managedFields", Value: kept})
	data, err := json.Marshal(ops)
	if err != nil {
		return fmt.Errorf("encode the release patch: %w", err)
	}
	return cl.Client().Patch(ctx, existing, client.RawPatch(types.JSONPatchType, data))
}

// escapeJSONPointer escapes a map key for a JSON pointer (RFC 6901).
func escapeJSONPointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
