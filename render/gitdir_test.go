package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A CI checkout is a git working tree whose .git/config holds an access
// token. No build may read .git, or a file the repository's ignore rules
// exclude (a fetched tree would not hold it), by any path: the render
// fails as for a file outside the repository, and the error never carries
// the file's content.
func TestWorkingTreeGitDirAndIgnoredFilesUnreadable(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	const token = "ghs_TOKENFROMCI1234567890"
	const ignoredSecret = "IGNORED-SECRET-VALUE"
	root, _ := badRepo(t, map[string]string{
		".gitignore":                "*.env\nlocal/\n",
		"apps/a/ok.txt":             "fine\n",
		"apps/a/prod.env":           "password=" + ignoredSecret + "\n",
		"local/notes.txt":           ignoredSecret + "\n",
		"apps/a/nested/.gitignore":  "private.txt\n",
		"apps/a/nested/private.txt": ignoredSecret + "\n",
	})
	git := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("git", append([]string{"-C", root}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("config", "remote.origin.url", "https://x-access-token:"+token+"@github.com/org/fleet.git")
	if data, err := os.ReadFile(filepath.Join(root, ".git", "config")); err != nil || !strings.Contains(string(data), token) {
		t.Fatalf(".git/config does not hold the token (err %v)", err)
	}
	symlink(t, "../../.git/config", filepath.Join(root, "apps/a/linked-config"))

	gen := func(field, entry string) string {
		return "configMapGenerator:\n- name: leak\n  " + field + ":\n  - " + entry + "\n"
	}
	// Positive signal first: the same generator with a committed file
	// renders.
	writeFiles(t, root, map[string]string{"apps/a/kustomization.yaml": gen("files", "ok.txt")})
	m := mustRender(t, New(Options{}), root, target("apps/a"))
	wantContains(t, string(m.YAML), "ok.txt: |\n    fine")

	for _, tc := range []struct{ name, kust, want string }{
		{"dot-dot to .git/config", gen("files", "../../.git/config"), ".git/config may not be read"},
		{"key=.git/config", gen("files", "c=../../.git/config"), ".git/config may not be read"},
		{"envs .git/config", gen("envs", "../../.git/config"), ".git/config may not be read"},
		{"symbolic link to .git/config", gen("files", "linked-config"), ".git/config may not be read"},
		{"patch path .git/config", "resources:\n- ok.yaml\npatches:\n- path: ../../.git/config\n", ".git/config may not be read"},
		{"ignored by *.env", gen("envs", "prod.env"), "apps/a/prod.env may not be read"},
		{"ignored folder", gen("files", "../../local/notes.txt"), "local/notes.txt may not be read"},
		{"nested .gitignore", gen("files", "nested/private.txt"), "apps/a/nested/private.txt may not be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeFiles(t, root, map[string]string{
				"apps/a/kustomization.yaml": tc.kust,
				"apps/a/ok.yaml":            cmYAML,
			})
			_, msg := renderErr(t, New(Options{}), root, target("apps/a"), ErrOutsideRoot)
			wantContains(t, msg, tc.want)
			for _, secret := range []string{token, ignoredSecret} {
				if strings.Contains(msg, secret) {
					t.Fatalf("the error carries the file's content %q:\n%s", secret, msg)
				}
			}
		})
	}
}
