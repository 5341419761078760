package render

import "syscall"

// setMemoryRlimit caps the process's data memory (RLIMIT_DATA: on Linux
// the heap and every private writable mapping, which is where the Go heap
// lives; not the address space the Go runtime reserves without using): an
// allocation past it fails and the Go runtime ends the process.
func setMemoryRlimit(limit int64) {
	lim := &syscall.Rlimit{Cur: uint64(limit), Max: uint64(limit)}
	_ = syscall.Setrlimit(syscall.RLIMIT_DATA, lim)
}
