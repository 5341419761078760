package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/gitkit"
	"github.com/fluxcd/pkg/gittestserver"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DefaultGitUsername is the HTTP user of a GitServer when none is given.
const DefaultGitUsername = "flotilla"

// sshListenMu serialises the start of SSH listeners: gittestserver keeps the
// SSH public-key check in a package variable that ListenSSH copies.
var sshListenMu sync.Mutex

// GitServerOptions configures a GitServer.
type GitServerOptions struct {
	// Dir is the server's folder (bare repositories and keys). Empty means a
	// new temporary folder that Close removes; a folder given here is kept.
	Dir string
	// Username and Password are the HTTP basic-auth credentials. Empty means
	// DefaultGitUsername and a random password.
	Username string
	Password string
}

// GitServer is a real Git server (fluxcd/pkg/gittestserver) serving bare
// repositories over HTTP with basic auth and over SSH with public-key auth.
// Its SSH host key and the one authorised client key are ed25519 keys made at
// start; KnownHosts lets clients verify the host key.
type GitServer struct {
	srv       *gittestserver.GitServer
	dir       string
	removeDir bool
	username  string
	password  string

	hostKey        ssh.PublicKey
	knownHosts     []byte
	knownHostsPath string
	identity       []byte
	identityPath   string

	sshDone chan error
	closeMu sync.Mutex
	closed  bool
}

// StartGitServer starts a Git server listening on 127.0.0.1 over HTTP and SSH.
// Add repositories with CreateRepository; call Close when done.
func StartGitServer(opts GitServerOptions) (_ *GitServer, retErr error) {
	s := &GitServer{username: opts.Username, password: opts.Password}
	if s.username == "" {
		s.username = DefaultGitUsername
	}
	if s.password == "" {
		buf := make([]byte, 16)
		if _, err := rand.Read(buf); err != nil {
			return nil, fmt.Errorf("starting git server: making a password: %w", err)
		}
		s.password = hex.EncodeToString(buf)
	}
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "flotilla-testenv-git-")
		if err != nil {
			return nil, fmt.Errorf("starting git server: creating its folder: %w", err)
		}
		dir, s.removeDir = tmp, true
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("starting git server: resolving GitServerOptions.Dir %q: %w", dir, err)
	}
	s.dir = abs
	defer func() {
		if retErr != nil {
			_ = s.Close()
		}
	}()
	for _, sub := range []string{"repos", "host-keys", "client"} {
		if err := os.MkdirAll(filepath.Join(s.dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("starting git server: creating %s folder: %w", sub, err)
		}
	}

	// gitkit reads the host key from <KeyDir>/gitkit.rsa (any key type
	// x/crypto/ssh parses) and generates an RSA key only when it is absent.
	hostKey, hostPEM, err := newEd25519Key("flotilla-testenv-host")
	if err != nil {
		return nil, fmt.Errorf("starting git server: making host key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "host-keys", "gitkit.rsa"), hostPEM, 0o600); err != nil {
		return nil, fmt.Errorf("starting git server: writing host key: %w", err)
	}
	s.hostKey = hostKey
	clientKey, clientPEM, err := newEd25519Key("flotilla-testenv-client")
	if err != nil {
		return nil, fmt.Errorf("starting git server: making client key: %w", err)
	}
	s.identity = clientPEM
	s.identityPath = filepath.Join(s.dir, "client", "id_ed25519")
	if err := os.WriteFile(s.identityPath, clientPEM, 0o600); err != nil {
		return nil, fmt.Errorf("starting git server: writing client key: %w", err)
	}
	authorised := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(clientKey)))

	s.srv = gittestserver.NewGitServer(filepath.Join(s.dir, "repos")).
		Auth(s.username, s.password).
		KeyDir(filepath.Join(s.dir, "host-keys"))
	if err := s.srv.StartHTTP(); err != nil {
		return nil, fmt.Errorf("starting git server over HTTP: %w", err)
	}

	sshListenMu.Lock()
	s.srv.PublicKeyLookupFunc(func(content string) (*gitkit.PublicKey, error) {
		if strings.TrimSpace(content) != authorised {
			return nil, errors.New("unknown public key")
		}
		return &gitkit.PublicKey{Id: "flotilla-testenv-client"}, nil
	})
	err = s.srv.ListenSSH()
	sshListenMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("starting git server over SSH: %w", err)
	}
	s.sshDone = make(chan error, 1)
	go func() { s.sshDone <- s.srv.StartSSH() }()

	hostPort := strings.TrimPrefix(s.srv.SSHAddress(), "ssh://git@")
	if _, _, err := net.SplitHostPort(hostPort); err != nil {
		return nil, fmt.Errorf("starting git server: unexpected SSH address %q: %w", s.srv.SSHAddress(), err)
	}
	s.knownHosts = []byte(knownhosts.Line([]string{knownhosts.Normalize(hostPort)}, hostKey) + "\n")
	s.knownHostsPath = filepath.Join(s.dir, "client", "known_hosts")
	if err := os.WriteFile(s.knownHostsPath, s.knownHosts, 0o600); err != nil {
		return nil, fmt.Errorf("starting git server: writing known_hosts: %w", err)
	}
	return s, nil
}

// Close stops both listeners and, when the folder was temporary, removes it.
// Close is idempotent.
func (s *GitServer) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.srv != nil {
		s.srv.StopHTTP()
		if s.sshDone != nil {
			if err := s.srv.StopSSH(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
			select {
			case err := <-s.sshDone:
				if err != nil && !errors.Is(err, net.ErrClosed) {
					errs = append(errs, fmt.Errorf("SSH server: %w", err))
				}
			case <-time.After(5 * time.Second):
				errs = append(errs, errors.New("SSH server did not stop within 5s"))
			}
		}
	}
	if s.removeDir && s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing git server: %w", err)
	}
	return nil
}

// Dir returns the server's folder.
func (s *GitServer) Dir() string { return s.dir }

// Username returns the HTTP basic-auth user.
func (s *GitServer) Username() string { return s.username }

// Password returns the HTTP basic-auth password.
func (s *GitServer) Password() string { return s.password }

// HTTPAuth returns go-git basic-auth credentials for HTTP URLs.
func (s *GitServer) HTTPAuth() *githttp.BasicAuth {
	return &githttp.BasicAuth{Username: s.username, Password: s.password}
}

// HostKey returns the SSH host key.
func (s *GitServer) HostKey() ssh.PublicKey { return s.hostKey }

// KnownHosts returns the known_hosts line ("[127.0.0.1]:PORT ssh-ed25519
// AAAA...") that verifies the server's SSH host key.
func (s *GitServer) KnownHosts() []byte { return append([]byte(nil), s.knownHosts...) }

// KnownHostsFile returns the path of a known_hosts file holding KnownHosts.
func (s *GitServer) KnownHostsFile() string { return s.knownHostsPath }

// SSHIdentity returns the PEM (OpenSSH format) private key of the one client
// key the SSH server accepts.
func (s *GitServer) SSHIdentity() []byte { return append([]byte(nil), s.identity...) }

// SSHIdentityFile returns the path of the file holding SSHIdentity (mode 0600).
func (s *GitServer) SSHIdentityFile() string { return s.identityPath }

// SSHAuth returns go-git SSH credentials: the client key, and a host-key
// check against KnownHosts (a changed host key is refused).
func (s *GitServer) SSHAuth() (*gitssh.PublicKeys, error) {
	auth, err := gitssh.NewPublicKeys("git", s.identity, "")
	if err != nil {
		return nil, fmt.Errorf("loading git server client key: %w", err)
	}
	db, err := gitssh.NewKnownHostsDb(s.knownHostsPath)
	if err != nil {
		return nil, fmt.Errorf("loading git server known_hosts: %w", err)
	}
	auth.HostKeyCallback = db.HostKeyCallback()
	return auth, nil
}

// GitSSHCommand returns a value for GIT_SSH_COMMAND that makes the real git
// use the client key and verify the host key against KnownHostsFile, ignoring
// the user's SSH configuration.
func (s *GitServer) GitSSHCommand() string {
	return strings.Join([]string{
		"ssh", "-F", "/dev/null",
		"-i", shellQuote(s.identityPath),
		"-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=" + shellQuote(s.knownHostsPath),
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
	}, " ")
}

// GitSSHEnv returns the environment (GIT_SSH_COMMAND) to pass to Clone for
// pushing with the real git over SSH.
func (s *GitServer) GitSSHEnv() []string {
	return []string{"GIT_SSH_COMMAND=" + s.GitSSHCommand()}
}
