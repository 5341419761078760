package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// GetConditions returns the cluster's status conditions.
func (in *Cluster) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the cluster's status conditions.
func (in *Cluster) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// GetConditions returns the app's status conditions.
func (in *App) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the app's status conditions.
func (in *App) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// GetConditions returns the repository's status conditions.
func (in *FleetRepository) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the repository's status conditions.
func (in *FleetRepository) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// GetConditions returns the sync's status conditions.
func (in *ClusterSync) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the sync's status conditions.
func (in *ClusterSync) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// GetConditions returns the bundle's status conditions.
func (in *Bundle) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the bundle's status conditions.
func (in *Bundle) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }
