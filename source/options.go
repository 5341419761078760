package source

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Defaults applied when a FetchSpec or an Option leaves a value unset.
const (
	// DefaultTimeout bounds one fetch.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxSize caps the cached repository and each extracted tree.
	DefaultMaxSize int64 = 256 << 20
	// DefaultKeepTrees is how many extracted trees a repository keeps.
	DefaultKeepTrees = 3
	// DefaultBranch is followed when a Ref names nothing.
	DefaultBranch = "main"
)

// Option configures NewFetcher and OpenLocal.
type Option func(*options)

type options struct {
	keepTrees int
	maxSize   int64
}

// WithKeepTrees sets how many of the most recently used extracted trees a
// repository keeps on disk besides those still held by a Snapshot.
// Values below 1 are ignored.
func WithKeepTrees(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.keepTrees = n
		}
	}
}

func newOptions(opts []Option) options {
	o := options{keepTrees: DefaultKeepTrees, maxSize: DefaultMaxSize}
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

func ctrlLog(ctx context.Context) logr.Logger {
	return ctrllog.FromContext(ctx).WithName("source")
}

// repoLock is a mutex whose Lock gives up when the context ends.
type repoLock chan struct{}

func newRepoLock() repoLock { return make(repoLock, 1) }

func (l repoLock) lock(ctx context.Context) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l repoLock) unlock() { <-l }
