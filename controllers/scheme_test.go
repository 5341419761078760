package controllers

import (
	"testing"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// runtime returns a scheme with the built-in and Flotilla kinds.
func runtime(t *testing.T) *k8sruntime.Scheme {
	t.Helper()
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := flotillav1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}
