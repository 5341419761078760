// Package version holds the version and commit stamped into the binary at
// build time with -ldflags "-X".
package version

import (
	"fmt"
	"runtime"
)

var (
	// Version is the release version, from `git describe`.
	Version = "dev"
	// Commit is the Git commit the binary was built from.
	Commit = "unknown"
)

// String returns the one-line version banner.
func String() string {
	return fmt.Sprintf("flotilla %s (commit %s, %s, %s/%s)", Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
