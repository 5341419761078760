package cli

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// prCheckScript is the CI step of the fleet repository template.
const prCheckScript = "../../fleet-repo-template/ci/pr-check.sh"

// buildFlotilla builds the flotilla binary into a temporary folder.
func buildFlotilla(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flotilla")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/flotilla")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// prRepo is a fleet repository with an origin remote holding main, checked
// out on a pull-request branch.
type prRepo struct {
	*gitRepo
	comment string
}

func newPRRepo(t *testing.T) *prRepo {
	t.Helper()
	parent := t.TempDir()
	origin := filepath.Join(parent, "origin.git")
	work := filepath.Join(parent, "work")
	if err := os.Rename(copyTree(t, exampleFleet), work); err != nil {
		t.Fatal(err)
	}
	g := newGitRepo(t, work)
	g.commit("the fleet")
	(&gitRepo{t: t, dir: parent}).git("init", "--quiet", "--bare", origin)
	g.git("remote", "add", "origin", origin)
	g.git("push", "--quiet", "origin", "main")
	g.git("fetch", "--quiet", "origin")
	g.git("checkout", "--quiet", "-b", "pr")
	return &prRepo{gitRepo: g, comment: filepath.Join(parent, "comment.md")}
}

// run runs the script in the work tree with bash and returns its exit code
// and output.
func (r *prRepo) run(bin string, env ...string) (int, string) {
	r.t.Helper()
	script, err := filepath.Abs(prCheckScript)
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "FLOTILLA="+bin, "TARGET_BRANCH=main", "COMMENT_FILE="+r.comment,
		"GITHUB_BASE_REF=", "GITHUB_OUTPUT=", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(out)
		}
		r.t.Fatalf("run %s: %v", script, err)
	}
	return 0, string(out)
}

func (r *prRepo) readComment() string {
	r.t.Helper()
	data, err := os.ReadFile(r.comment)
	if err != nil {
		r.t.Fatalf("no comment file: %v", err)
	}
	return string(data)
}

func TestPRCheckScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the flotilla binary")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	bin := buildFlotilla(t)

	t.Run("a change to one factory", func(t *testing.T) {
		r := newPRRepo(t)
		editFile(t, filepath.Join(r.dir, "apps/adc-inference/overlays/factory-dresden/legacy-line-controllers.yaml"), "memory: 512Mi", "memory: 1Gi")
		r.commit("Dresden needs more memory")
		outputs := filepath.Join(t.TempDir(), "github-output")
		code, out := r.run(bin, "GITHUB_OUTPUT="+outputs)
		if code != 0 {
			t.Fatalf("exit code %d (changes are not a failure), output:\n%s", code, out)
		}
		comment := r.readComment()
		wantInOrder(t, comment, "### Flotilla diff", "`origin/main (", "**1 of 5 sites changes:** factory-dresden",
			"<details><summary><b>factory-dresden</b>", "```diff", "+            memory: 1Gi", "</details>")
		wantInOrder(t, out, "ok: ", "sites change: see "+r.comment)
		gh, err := os.ReadFile(outputs)
		if err != nil || !strings.Contains(string(gh), "changed=true\n") || !strings.Contains(string(gh), "comment-file="+r.comment+"\n") {
			t.Errorf("GitHub step outputs %q (%v)", gh, err)
		}
	})

	t.Run("no change", func(t *testing.T) {
		r := newPRRepo(t)
		writeFiles(t, r.dir, map[string]string{"NOTES.md": "nothing deployable\n"})
		r.commit("notes")
		code, out := r.run(bin)
		if code != 0 {
			t.Fatalf("exit code %d, output:\n%s", code, out)
		}
		if c := r.readComment(); !strings.Contains(c, "**No site changes** (5 sites compared).") {
			t.Errorf("comment:\n%s", c)
		}
	})

	t.Run("the target branch is fetched when missing", func(t *testing.T) {
		r := newPRRepo(t)
		editFile(t, filepath.Join(r.dir, "clusters/factory-austin.yaml"), `modelVersion: v4.2.0`, `modelVersion: v4.2.1`)
		r.commit("Austin gets v4.2.1")
		r.git("update-ref", "-d", "refs/remotes/origin/main")
		code, out := r.run(bin)
		if code != 0 {
			t.Fatalf("exit code %d, output:\n%s", code, out)
		}
		if !strings.Contains(out, "fetching main from origin") {
			t.Errorf("the script did not fetch the target branch:\n%s", out)
		}
		if c := r.readComment(); !strings.Contains(c, "**1 of 5 sites changes:** factory-austin") {
			t.Errorf("comment:\n%s", c)
		}
	})

	t.Run("an invalid fleet fails with the problems in the comment", func(t *testing.T) {
		r := newPRRepo(t)
		editFile(t, filepath.Join(r.dir, "apps/model-sync/app.yaml"), "namespace: adc", "namespace: adc\n  colour: blue")
		r.commit("typo")
		code, out := r.run(bin)
		if code != 1 {
			t.Fatalf("exit code %d, want 1; output:\n%s", code, out)
		}
		wantInOrder(t, r.readComment(), "**The fleet repository is invalid at `HEAD`.**", "~~~~text", "apps/model-sync/app.yaml:", "colour", "~~~~")
	})
}
