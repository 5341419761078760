package render

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
)

// kustomizeFramePrefix is the start of the function names of kustomize's
// packages in a stack trace.
const kustomizeFramePrefix = "sigs.k8s.io/kustomize/"

// errRemoteFetch is the error kustomize gets when it tries to fetch a URL
// during a build.
type errRemoteFetch struct{ url string }

func (e *errRemoteFetch) Error() string {
	return fmt.Sprintf("flotilla render refused to fetch %s: a build reads only files inside the repository", e.url)
}

// remoteFetchMarker is a part of errRemoteFetch's message, to recognise it
// in kustomize's error text when kustomize does not keep the error chain.
const remoteFetchMarker = "flotilla render refused to fetch "

// noKustomizeFetch is an http.RoundTripper that refuses every request made
// from kustomize's code and passes every other request on. kustomize's file
// loader fetches any path that looks like an http(s) URL, whichever field
// named it (a resource, a patch or replacement path, a generator's files
// or envs, inside a kustomization or inside a builtin plugin
// configuration), with an http.Client that has no timeout and no size
// cap, built on http.DefaultTransport. kustomize offers no way to give it
// another client, so render wraps http.DefaultTransport once per process:
// requests whose call stack runs through kustomize fail before any
// connection is made.
type noKustomizeFetch struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t noKustomizeFetch) RoundTrip(req *http.Request) (*http.Response, error) {
	if calledFromKustomize() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, &errRemoteFetch{url: req.URL.Redacted()}
	}
	return t.next.RoundTrip(req)
}

// calledFromKustomize reports whether the calling goroutine's stack runs
// through one of kustomize's packages.
func calledFromKustomize() bool {
	pcs := make([]uintptr, 256)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, kustomizeFramePrefix) {
			return true
		}
		if !more {
			return false
		}
	}
}

var guardOnce sync.Once

// guardNetwork installs noKustomizeFetch around http.DefaultTransport, once
// per process.
func guardNetwork() {
	guardOnce.Do(func() {
		http.DefaultTransport = noKustomizeFetch{next: http.DefaultTransport}
	})
}

// remoteFetchReason explains a build that failed because kustomize tried to
// fetch a URL, or returns nil.
func remoteFetchReason(err error, root string) *reason {
	if !strings.Contains(err.Error(), remoteFetchMarker) {
		return nil
	}
	what := "a URL"
	var rf *errRemoteFetch
	if errors.As(err, &rf) {
		what = "the URL " + rf.url
	}
	return &reason{kind: ErrRemoteBase, cause: err, msg: fmt.Sprintf(
		"a kustomization or a builtin plugin configuration (a path, files or envs field) names %s: remote files are not allowed; copy the file into the repository and refer to it by a relative path (%s)",
		what, newBuildError(err, root).msg)}
}
