package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flotilla-gitops/flotilla/internal/version"
)

func TestVersionPrintsStampedVersionAndCommit(t *testing.T) {
	oldV, oldC := version.Version, version.Commit
	t.Cleanup(func() { version.Version, version.Commit = oldV, oldC })
	version.Version, version.Commit = "v9.8.7", "abc123"

	var out, errOut bytes.Buffer
	if code := Execute([]string{"version"}, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, errOut.String())
	}
	got := out.String()
	if !strings.Contains(got, "v9.8.7") || !strings.Contains(got, "abc123") {
		t.Fatalf("version output %q lacks version or commit", got)
	}
}
