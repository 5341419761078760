package apply

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// OwnerLabels are the labels Flotilla puts on every object it applies for
// app from repository. Pruning deletes an object only when it still carries
// all of them with these values.
func OwnerLabels(app string, repository types.NamespacedName) map[string]string {
	return map[string]string{
		flotillav1.LabelManagedBy:           flotillav1.ManagedByValue,
		flotillav1.LabelApp:                 app,
		flotillav1.LabelRepository:          repository.Name,
		flotillav1.LabelRepositoryNamespace: repository.Namespace,
	}
}

// HasOwnerLabels reports whether labels carry all of want with equal values.
func HasOwnerLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func setLabels(obj *unstructured.Unstructured, add map[string]string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = make(map[string]string, len(add))
	}
	for k, v := range add {
		labels[k] = v
	}
	obj.SetLabels(labels)
}
