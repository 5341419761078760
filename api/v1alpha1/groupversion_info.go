// Package v1alpha1 holds the Flotilla API: the Cluster and App kinds that a
// fleet repository declares (and that the hub mirrors with status), the
// FleetRepository that points the hub at a Git repository, and the
// ClusterSync that records one app's sync on one cluster.
//
// +kubebuilder:object:generate=true
// +groupName=flotilla.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every Flotilla kind.
	GroupVersion = schema.GroupVersion{Group: "flotilla.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the Flotilla kinds with a runtime.Scheme.
	SchemeBuilder runtime.SchemeBuilder

	// AddToScheme adds the Flotilla kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// register adds kinds of GroupVersion to the SchemeBuilder; each
// *_types.go file calls it from init for its own kinds.
func register(objects ...runtime.Object) {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, objects...)
		metav1.AddToGroupVersion(s, GroupVersion)
		return nil
	})
}

const (
	// KindCluster is the kind of a cluster file.
	KindCluster = "Cluster"
	// KindApp is the kind of an app file.
	KindApp = "App"
)
