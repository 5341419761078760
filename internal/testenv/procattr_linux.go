//go:build linux

package testenv

import "syscall"

// childSysProcAttr puts a child in its own process group and asks the kernel to
// kill it when the thread that started it (this process) dies, so that helpers
// never outlive a crashed or timed-out test binary.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
