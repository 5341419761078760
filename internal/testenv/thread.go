package testenv

import "runtime"

// startThread runs functions on one goroutine locked to its own OS thread.
//
// Linux delivers a parent-death signal when the *thread* that forked a child
// exits, not the process. The Go runtime ends a thread only when a goroutine
// locked to it returns, so a child forked from an arbitrary thread could be
// killed early if that thread is later taken by such a goroutine. Starting a
// cluster's processes from a thread that the cluster owns, and that ends only
// after Close stopped them all, rules that out.
type startThread struct {
	calls chan func()
}

// newStartThread starts the locked goroutine.
func newStartThread() *startThread {
	t := &startThread{calls: make(chan func())}
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: when calls is closed the goroutine returns
		// locked and the runtime ends the thread, which is what we want once
		// every process it started has been stopped.
		for f := range t.calls {
			f()
		}
	}()
	return t
}

// run calls f on the locked thread and returns its error.
func (t *startThread) run(f func() error) error {
	errc := make(chan error, 1)
	t.calls <- func() { errc <- f() }
	return <-errc
}

// close ends the locked goroutine (and its thread). run must not be called
// afterwards.
func (t *startThread) close() {
	close(t.calls)
}
