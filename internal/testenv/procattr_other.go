//go:build !linux

package testenv

import "syscall"

// childSysProcAttr returns nil: the parent-death signal exists only on Linux,
// so elsewhere children are stopped only by Stop/Close.
func childSysProcAttr() *syscall.SysProcAttr {
	return nil
}
