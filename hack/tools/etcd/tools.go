//go:build tools

// Package tools pins the etcd server binary that the test environment runs.
package tools

import _ "go.etcd.io/etcd/server/v3"
