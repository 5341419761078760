package controllers

import (
	"encoding/json"
	"testing"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// TestStatusMergePatch checks that the patch carries only what changed in
// the status: changed fields, cleared fields as null, nothing else.
func TestStatusMergePatch(t *testing.T) {
	before := flotillav1.ClusterSyncStatus{AppliedRevision: "r1", AppliedDigest: "d1", LastError: "boom", DriftCorrections: 2}
	after := flotillav1.ClusterSyncStatus{AppliedRevision: "r2", AppliedDigest: "d1", DriftCorrections: 2}
	data, err := statusMergePatch(before, after)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("patch %s is not a status object: %v", data, err)
	}
	status := got["status"]
	if len(got) != 1 || len(status) != 2 || status["appliedRevision"] != "r2" {
		t.Fatalf("patch %s: want only status.appliedRevision and status.lastError", data)
	}
	if v, ok := status["lastError"]; !ok || v != nil {
		t.Fatalf("patch %s: a cleared field must be sent as null", data)
	}
}
