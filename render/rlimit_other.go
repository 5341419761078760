//go:build !linux

package render

// setMemoryRlimit does nothing where RLIMIT_AS is not available: the
// worker's heap is then bounded only softly, by debug.SetMemoryLimit.
func setMemoryRlimit(int64) {}
