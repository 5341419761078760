//go:build tools

// Package tools pins the Kubernetes control-plane binaries that the test
// environment runs: kube-apiserver, kube-controller-manager, kube-scheduler
// and kubectl, all from k8s.io/kubernetes.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
