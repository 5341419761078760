package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// processStopTimeout is how long a child gets to exit after SIGTERM before it
// is killed.
const processStopTimeout = 10 * time.Second

// childProcess is a long-running helper binary (kube-controller-manager,
// kube-scheduler, kwok) whose output goes to a log file.
type childProcess struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	logFile *os.File

	done    chan struct{}
	mu      sync.Mutex
	waitErr error
}

// startChild starts path with args, appending its stdout and stderr to
// logPath. The child gets its own process group (so that a Ctrl-C meant for a
// long-running parent does not reach it before an orderly shutdown) and, on
// Linux, SIGKILL when the parent dies; call it on the cluster's startThread.
func startChild(name, path string, args, env []string, logPath string) (*childProcess, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("starting %s: opening log file: %w", name, err)
	}
	fmt.Fprintf(logFile, "==== %s: starting %s %s\n", time.Now().Format(time.RFC3339Nano), path, strings.Join(args, " "))

	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &childProcess{name: name, logPath: logPath, cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		fmt.Fprintf(logFile, "==== %s: %s exited: %v\n", time.Now().Format(time.RFC3339Nano), name, err)
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exitErr returns a non-nil error when the child has already exited.
func (p *childProcess) exitErr() error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.waitErr == nil {
			return fmt.Errorf("%s exited unexpectedly with status 0; see its log %s", p.name, p.logPath)
		}
		return fmt.Errorf("%s exited unexpectedly (%w); see its log %s", p.name, p.waitErr, p.logPath)
	default:
		return nil
	}
}

// stop sends SIGTERM, waits up to processStopTimeout, then kills the child.
// Stopping a child that has already exited is not an error.
func (p *childProcess) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(processStopTimeout):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s after %s: %w", p.name, processStopTimeout, err)
	}
	<-p.done
	return nil
}
