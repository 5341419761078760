//go:build !linux

package render

// setMemoryRlimit does nothing outside Linux, where RLIMIT_DATA does not
// reliably cover the Go heap: the worker's heap is then bounded only
// softly, by debug.SetMemoryLimit.
func setMemoryRlimit(int64) {}
