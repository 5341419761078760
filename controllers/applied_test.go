package controllers

import (
	"testing"

	"github.com/flotilla-gitops/flotilla/apply"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// TestAppliedObjectsAreTiedToTheirClient checks that what was applied is
// only offered back for the same cluster client: a new client (a changed
// kubeconfig) must start over with a full staged apply.
func TestAppliedObjectsAreTiedToTheirClient(t *testing.T) {
	var a appliedObjects
	first, second := &clusterclient.Client{}, &clusterclient.Client{}
	a.set("uid-1", first, apply.Applied{"ns_cm__ConfigMap": 1})
	if got := a.get("uid-1", first); got["ns_cm__ConfigMap"] != 1 {
		t.Fatalf("same client: got %v", got)
	}
	if got := a.get("uid-1", second); got != nil {
		t.Fatalf("another client must get nothing, got %v", got)
	}
	if got := a.get("uid-2", first); got != nil {
		t.Fatalf("another ClusterSync must get nothing, got %v", got)
	}
	a.set("uid-1", nil, nil)
	if got := a.get("uid-1", first); got != nil {
		t.Fatalf("forgotten: got %v", got)
	}
}
