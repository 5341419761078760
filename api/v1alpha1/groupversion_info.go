// Package v1alpha1 holds the Flotilla API: the Cluster and App kinds that a
// fleet repository declares (and that the hub mirrors with status), the
// FleetRepository that points the hub at a Git repository, and the
// ClusterSync that records one app's sync on one cluster.
//
// +kubebuilder:object:generate=true
// +groupName=flotilla.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every Flotilla kind.
	GroupVersion = schema.GroupVersion{Group: "flotilla.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the Flotilla kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the Flotilla kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

const (
	// KindCluster is the kind of a cluster file.
	KindCluster = "Cluster"
	// KindApp is the kind of an app file.
	KindApp = "App"
)
