package apply

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func TestObjectRefRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		apiVersion, kind, ns, name string
		wantID                     string
	}{
		{"apps/v1", "Deployment", "adc", "adc-inference", "adc_adc-inference_apps_Deployment"},
		{"v1", "ConfigMap", "adc", "model", "adc_model__ConfigMap"},
		{"rbac.authorization.k8s.io/v1", "ClusterRole", "", "system:flotilla", "_system__flotilla_rbac.authorization.k8s.io_ClusterRole"},
	} {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(tc.apiVersion)
		u.SetKind(tc.kind)
		u.SetNamespace(tc.ns)
		u.SetName(tc.name)
		ref := ObjectRefFor(u)
		if ref.ID != tc.wantID {
			t.Errorf("ObjectRefFor(%s %s) ID = %q, want %q", tc.kind, tc.name, ref.ID, tc.wantID)
		}
		back, err := objectFromRef(ref)
		if err != nil {
			t.Fatalf("objectFromRef(%v): %v", ref, err)
		}
		if back.GetAPIVersion() != tc.apiVersion || back.GetKind() != tc.kind || back.GetNamespace() != tc.ns || back.GetName() != tc.name {
			t.Errorf("round trip of %v gave %s %s %s/%s", ref, back.GetAPIVersion(), back.GetKind(), back.GetNamespace(), back.GetName())
		}
	}
	if _, err := objectFromRef(flotillav1.ObjectRef{ID: "garbage", Version: "v1"}); err == nil {
		t.Errorf("objectFromRef accepted a corrupt ID")
	}
	if _, err := objectFromRef(flotillav1.ObjectRef{ID: "a_b__ConfigMap"}); err == nil {
		t.Errorf("objectFromRef accepted an entry without version")
	}
}

func TestInventorySetOperations(t *testing.T) {
	a := flotillav1.ObjectRef{ID: "ns_a__ConfigMap", Version: "v1"}
	b := flotillav1.ObjectRef{ID: "ns_b__ConfigMap", Version: "v1"}
	c := flotillav1.ObjectRef{ID: "ns_c_apps_Deployment", Version: "v1"}
	if got := staleRefs([]flotillav1.ObjectRef{a, b, c}, []flotillav1.ObjectRef{b}); !reflect.DeepEqual(got, []flotillav1.ObjectRef{a, c}) {
		t.Errorf("staleRefs = %v, want [a c]", got)
	}
	if got := mergeInventories([]flotillav1.ObjectRef{c, a}, []flotillav1.ObjectRef{b, a}); !reflect.DeepEqual(got, []flotillav1.ObjectRef{a, b, c}) {
		t.Errorf("mergeInventories = %v, want [a b c] sorted without duplicates", got)
	}
}
