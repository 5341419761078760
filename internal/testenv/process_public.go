package testenv

import "errors"

// Process is a long-running child process started by StartProcess: its
// output goes to a log file, it has its own process group, and on Linux the
// kernel kills it when this process dies, so that a demo or test killed
// abruptly leaves it not behind.
type Process struct {
	child  *childProcess
	thread *startThread
}

// StartProcess starts path with args and env (nil: none), appending its
// stdout and stderr to logPath. name names it in errors.
func StartProcess(name, path string, args, env []string, logPath string) (*Process, error) {
	p := &Process{thread: newStartThread()}
	err := p.thread.run(func() (err error) {
		p.child, err = startChild(name, path, args, env, logPath)
		return err
	})
	if err != nil {
		p.thread.close()
		return nil, err
	}
	return p, nil
}

// Exited returns a non-nil error once the process has exited, naming its
// log file.
func (p *Process) Exited() error { return p.child.exitErr() }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.child.done }

// Stop sends SIGTERM, waits up to 10 seconds, then kills the process.
// Stopping a stopped process does nothing.
func (p *Process) Stop() error {
	if p == nil || p.child == nil {
		return errors.New("stop a process that was never started")
	}
	err := p.child.stop()
	p.closeThread()
	return err
}

// closeThread ends the locked thread once the child is gone.
func (p *Process) closeThread() {
	if p.thread != nil {
		p.thread.close()
		p.thread = nil
	}
}
