package bench

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/placement"
	"github.com/flotilla-gitops/flotilla/render"
)

// rendered is what the fleet at one commit renders for each logical
// cluster, through the same load, placement and render stages as the
// controller.
type rendered struct {
	// objects are the rendered objects per cluster.
	objects map[string][]*unstructured.Unstructured
	// digests are the manifest digests per cluster.
	digests map[string]string
}

// renderFleet loads, places and renders the fleet checked out at root.
func renderFleet(ctx context.Context, root string) (*rendered, error) {
	fl, diags := fleet.Load(root)
	var errs []string
	for _, d := range diags {
		if d.Severity != fleet.SeverityWarning {
			errs = append(errs, d.String())
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("load generated fleet %s: %s", root, strings.Join(errs, "; "))
	}
	placed := placement.Place(fl)
	if len(placed.Errors) > 0 {
		return nil, fmt.Errorf("place generated fleet %s: %v", root, placed.Errors)
	}
	out := &rendered{objects: map[string][]*unstructured.Unstructured{}, digests: map[string]string{}}
	for _, res := range render.New(render.Options{}).RenderAll(ctx, root, placed.Targets) {
		if res.Err != nil {
			return nil, fmt.Errorf("render generated fleet %s: %w", root, res.Err)
		}
		out.objects[res.Target.Cluster] = res.Manifest.Objects
		out.digests[res.Target.Cluster] = res.Manifest.Digest
	}
	return out, nil
}
