//go:build tools

// Package tools pins the developer tools that the Makefile builds:
// controller-gen (deepcopy and CRD generation) and golangci-lint.
package tools

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
