package apply

import (
	"reflect"
	"testing"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// A CRD and a custom resource of that CRD in one set: the CRD is applied
// and established first, then the resource, which has no namespace in the
// manifest and gets the target namespace from the CRD's scope.
func TestSyncAppliesCRDAndItsResourceTogether(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("crd")
	group := ns + ".example.com"
	manifest := `
apiVersion: inspection.GROUP/v1
kind: InspectionLine
metadata:
  name: line-1
spec:
  camera: cam-a
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: inspectionlines.inspection.GROUP
spec:
  group: inspection.GROUP
  scope: Namespaced
  names:
    kind: InspectionLine
    plural: inspectionlines
    singular: inspectionline
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              camera: {type: string}
`
	objs := readObjects(t, ns, replaceAll(manifest, "GROUP", group))
	res, err := Sync(ctx, member, baseRequest(ns, objs))
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	cr := getObject(t, "inspection."+group+"/v1", "InspectionLine", ns, "line-1")
	if cr == nil {
		t.Fatalf("custom resource was not created")
	}
	if cr.GetLabels()[flotillav1.LabelApp] != "adc" {
		t.Errorf("custom resource has no owner labels: %v", cr.GetLabels())
	}
	want := []flotillav1.ObjectRef{
		{ID: "_inspectionlines.inspection." + group + "_apiextensions.k8s.io_CustomResourceDefinition", Version: "v1"},
		{ID: ns + "_line-1_inspection." + group + "_InspectionLine", Version: "v1"},
	}
	if !reflect.DeepEqual(res.Inventory, want) {
		t.Errorf("Inventory = %v, want %v", res.Inventory, want)
	}

	// Drift of the set is clean, and the client keeps working for the
	// CRD-defined kind installed after it was built.
	drifted, err := Drift(ctx, member, baseRequest(ns, objs))
	if err != nil || len(drifted) != 0 {
		t.Errorf("Drift after Sync = %v, %v; want none", drifted, err)
	}
}
