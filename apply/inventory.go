package apply

import (
	"fmt"
	"sort"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// ObjectRefFor returns the inventory entry of obj: ID
// "<namespace>_<name>_<group>_<kind>" and the version part of its apiVersion
// (the group is in the ID).
func ObjectRefFor(obj *unstructured.Unstructured) flotillav1.ObjectRef {
	return flotillav1.ObjectRef{
		ID:      object.UnstructuredToObjMetadata(obj).String(),
		Version: obj.GroupVersionKind().Version,
	}
}

// inventoryFromChangeSet lists the applied objects of cs, sorted by ID.
func inventoryFromChangeSet(cs *ssa.ChangeSet) []flotillav1.ObjectRef {
	if cs == nil {
		return []flotillav1.ObjectRef{}
	}
	inv := make([]flotillav1.ObjectRef, 0, len(cs.Entries))
	for _, e := range cs.Entries {
		if e.Action == ssa.SkippedAction || e.Action == ssa.UnknownAction {
			continue
		}
		inv = append(inv, flotillav1.ObjectRef{ID: e.ObjMetadata.String(), Version: e.GroupVersion})
	}
	return sortInventory(inv)
}

// sortInventory sorts by ID and drops duplicate IDs, keeping the first.
func sortInventory(inv []flotillav1.ObjectRef) []flotillav1.ObjectRef {
	sort.SliceStable(inv, func(i, j int) bool { return inv[i].ID < inv[j].ID })
	out := inv[:0]
	for i, r := range inv {
		if i > 0 && r.ID == out[len(out)-1].ID {
			continue
		}
		out = append(out, r)
	}
	return out
}

// mergeInventories returns the union of a and b by ID, sorted; entries of a
// win on conflicts.
func mergeInventories(a, b []flotillav1.ObjectRef) []flotillav1.ObjectRef {
	all := make([]flotillav1.ObjectRef, 0, len(a)+len(b))
	all = append(all, a...)
	all = append(all, b...)
	return sortInventory(all)
}

// staleRefs returns the entries of prev whose ID is not in current.
func staleRefs(prev, current []flotillav1.ObjectRef) []flotillav1.ObjectRef {
	keep := make(map[string]struct{}, len(current))
	for _, r := range current {
		keep[r.ID] = struct{}{}
	}
	var stale []flotillav1.ObjectRef
	for _, r := range prev {
		if _, ok := keep[r.ID]; !ok {
			stale = append(stale, r)
		}
	}
	return stale
}

// objectFromRef builds a stub object (apiVersion, kind, namespace, name)
// from an inventory entry.
func objectFromRef(ref flotillav1.ObjectRef) (*unstructured.Unstructured, error) {
	meta, err := object.ParseObjMetadata(ref.ID)
	if err != nil {
		return nil, fmt.Errorf("inventory entry %q is not <namespace>_<name>_<group>_<kind>: %w", ref.ID, err)
	}
	if ref.Version == "" {
		return nil, fmt.Errorf("inventory entry %q has no version", ref.ID)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(meta.GroupKind.WithVersion(ref.Version))
	u.SetNamespace(meta.Namespace)
	u.SetName(meta.Name)
	return u, nil
}

// objMetadataSet converts an inventory into the set kstatus polls.
func objMetadataSet(inv []flotillav1.ObjectRef) (object.ObjMetadataSet, error) {
	set := make(object.ObjMetadataSet, 0, len(inv))
	for _, r := range inv {
		m, err := object.ParseObjMetadata(r.ID)
		if err != nil {
			return nil, fmt.Errorf("inventory entry %q is not <namespace>_<name>_<group>_<kind>: %w", r.ID, err)
		}
		set = append(set, m)
	}
	return set, nil
}
