package testenv

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// gitCommandTimeout bounds one git command when the caller's context has no
// deadline.
const gitCommandTimeout = 2 * time.Minute

// Default author and committer of commits made by GitWorkdir.
const (
	DefaultAuthorName  = "Flotilla Test"
	DefaultAuthorEmail = "test@flotilla.invalid"
)

// gitEnv returns the environment for the real git: the process environment
// without GIT_* variables, with the user's and the system's git configuration
// ignored, prompts disabled, and extra appended last.
func gitEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "SSH_ASKPASS") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
		// Settings a user's configuration would otherwise decide.
		"GIT_CONFIG_COUNT=3",
		"GIT_CONFIG_KEY_0=init.defaultBranch", "GIT_CONFIG_VALUE_0=main",
		"GIT_CONFIG_KEY_1=commit.gpgSign", "GIT_CONFIG_VALUE_1=false",
		"GIT_CONFIG_KEY_2=core.autocrlf", "GIT_CONFIG_VALUE_2=false",
	)
	return append(env, extra...)
}

// runGit runs the real git in dir and returns its trimmed standard output. The
// error holds git's standard error. Transient failures (a refused connection
// to the Git server, ...; see IsTransient) are retried until ctx ends.
func runGit(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	var out string
	err := Retry(ctx, func(ctx context.Context) error {
		var err error
		out, err = runGitOnce(ctx, dir, env, args...)
		return err
	})
	return out, err
}

// runGitOnce runs git once, bounded by gitCommandTimeout when ctx has no
// deadline.
func runGitOnce(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	ctx, cancel := withDefaultTimeout(ctx, gitCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running git %s: %w: %s", redactArgs(args), err, strings.TrimSpace(redact(stderr.String())))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// redactArgs joins args, hiding passwords in URLs.
func redactArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = redact(a)
	}
	return strings.Join(out, " ")
}

// redact hides the password of any "scheme://user:password@" in s.
func redact(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		s = s[i+3:]
		end := strings.IndexAny(s, "/ \n\t'\"")
		if end < 0 {
			end = len(s)
		}
		if at := strings.LastIndex(s[:end], "@"); at >= 0 {
			if colon := strings.Index(s[:at], ":"); colon >= 0 {
				b.WriteString(s[:colon] + ":***")
				s = s[at:]
			}
		}
	}
}

// newEd25519Key returns a new ed25519 public key and its private key in
// OpenSSH PEM form.
func newEd25519Key(comment string) (ssh.PublicKey, []byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return sshPub, pem.EncodeToMemory(block), nil
}
