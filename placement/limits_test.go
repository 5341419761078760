package placement

import (
	"strings"
	"testing"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
)

// More (app, cluster) pairs than the limit: no target at all and one error
// naming the limit, the flag and the app where it was crossed.
func TestPlaceRefusesMoreTargetsThanTheLimit(t *testing.T) {
	clusters := []*flotillav1.Cluster{cl("a"), cl("b"), cl("c")}
	f := fleetOf(clusters, ap("api", flotillav1.Placement{}), ap("web", flotillav1.Placement{}))

	res := Place(f, WithMaxTargets(5))
	if len(res.Targets) != 0 || len(res.Errors) != 1 {
		t.Fatalf("targets %d, errors %v; want no target and one error", len(res.Targets), res.Errors)
	}
	d := res.Errors[0]
	if d.File != "apps/web/app.yaml" || d.Severity != fleet.SeverityError {
		t.Errorf("error %v is not on apps/web/app.yaml", d)
	}
	for _, want := range []string{"too many targets", "6 (app, cluster) pairs", "limit of 5", "--max-targets"} {
		if !strings.Contains(d.Message, want) {
			t.Errorf("%q does not say %q", d.Message, want)
		}
	}

	if res := Place(f, WithMaxTargets(6)); len(res.Targets) != 6 || len(res.Errors) != 0 {
		t.Errorf("at the limit: %d targets, errors %v; want 6 and none", len(res.Targets), res.Errors)
	}
}
