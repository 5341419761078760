package render

import (
	"runtime"
	"time"
)

// Defaults of Options.
const (
	// DefaultMaxFileSize caps every file a build reads.
	DefaultMaxFileSize int64 = 1 << 20 // 1 MiB
	// DefaultMaxOutputSize caps the YAML of one target.
	DefaultMaxOutputSize int64 = 32 << 20 // 32 MiB
	// DefaultMaxFileReads caps the files one build reads, so that a
	// kustomization graph with many diamonds cannot run for ever.
	DefaultMaxFileReads = 10000
	// DefaultMaxTotalRead caps the bytes one build reads in all, each
	// file counted every time it is read.
	DefaultMaxTotalRead int64 = 64 << 20 // 64 MiB
	// DefaultMaxNestingDepth caps how deeply bases and components nest.
	DefaultMaxNestingDepth = 12
	// DefaultMaxObjects caps the objects of one build.
	DefaultMaxObjects = 20000
	// DefaultMaxBuildTime caps the wall-clock time of one build in a
	// worker (Options.Isolate).
	DefaultMaxBuildTime = 2 * time.Minute
	// DefaultMaxWorkerMemory caps the memory of a render worker process
	// (Options.Isolate).
	DefaultMaxWorkerMemory int64 = 2 << 30 // 2 GiB
	// DefaultMaxCacheBytes caps the memory the build cache holds.
	DefaultMaxCacheBytes int64 = 256 << 20 // 256 MiB
)

// Options configure a Renderer. The zero value of a field means its default.
type Options struct {
	// MaxFileSize is the largest file, in bytes, a build may read.
	// Default DefaultMaxFileSize.
	MaxFileSize int64
	// MaxOutputSize is the largest rendered YAML, in bytes, of one target.
	// Default DefaultMaxOutputSize.
	MaxOutputSize int64
	// MaxFileReads is the most files one kustomize build may read.
	// Default DefaultMaxFileReads.
	MaxFileReads int
	// MaxTotalRead is the most bytes one build may read in all, each file
	// counted every time it is read (a file listed many times costs many
	// times). Default DefaultMaxTotalRead.
	MaxTotalRead int64
	// MaxNestingDepth is how deeply kustomizations may include each other
	// (a target's base and overlays are level 1, what they include level
	// 2, ...). kustomize quotes the error of a nested component at every
	// level, doubling its size per level, so the depth bounds the error's
	// size too. Default DefaultMaxNestingDepth.
	MaxNestingDepth int
	// MaxObjects is the most objects one build may make. Default
	// DefaultMaxObjects.
	MaxObjects int
	// Isolate runs every kustomize build in a render worker: a child
	// process of the same program (started with WorkerEnv set), reused
	// from build to build, that is killed when the build runs longer than
	// MaxBuildTime and dies when it uses more than MaxWorkerMemory. Either
	// is reported as ErrLimitExceeded and the calling process is unharmed:
	// kustomize cannot be interrupted in-process (its transformation loops
	// never check a context) and a Go out-of-memory is fatal. The hub
	// controller sets it.
	Isolate bool
	// WorkerCommand is the command that starts a render worker (with
	// Isolate); it runs with WorkerEnv set. Default: this program, which
	// links this package and so becomes a worker.
	WorkerCommand []string
	// MaxBuildTime is the longest wall-clock time of one build with
	// Isolate. Default DefaultMaxBuildTime.
	MaxBuildTime time.Duration
	// MaxWorkerMemory is the address space a render worker may use
	// (RLIMIT_DATA on Linux; elsewhere only a soft Go heap limit). Default
	// DefaultMaxWorkerMemory.
	MaxWorkerMemory int64
	// MaxCacheBytes bounds the memory held by cached builds; the least
	// recently used builds are dropped first. Default DefaultMaxCacheBytes.
	MaxCacheBytes int64
	// Parallelism is the number of targets RenderAll renders at once.
	// Default runtime.GOMAXPROCS(0).
	Parallelism int
	// AllowRemoteBases lets kustomizations refer to remote git bases. They
	// are cloned on every build (never cached). Default false: they are
	// refused. http(s) files are refused either way: kustomize would fetch
	// them with no timeout and no size cap, so no build reaches the
	// network that way (see noKustomizeFetch).
	AllowRemoteBases bool
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxOutputSize <= 0 {
		o.MaxOutputSize = DefaultMaxOutputSize
	}
	if o.MaxFileReads <= 0 {
		o.MaxFileReads = DefaultMaxFileReads
	}
	if o.MaxTotalRead <= 0 {
		o.MaxTotalRead = DefaultMaxTotalRead
	}
	if o.MaxNestingDepth <= 0 {
		o.MaxNestingDepth = DefaultMaxNestingDepth
	}
	if o.MaxObjects <= 0 {
		o.MaxObjects = DefaultMaxObjects
	}
	if o.MaxBuildTime <= 0 {
		o.MaxBuildTime = DefaultMaxBuildTime
	}
	if o.MaxWorkerMemory <= 0 {
		o.MaxWorkerMemory = DefaultMaxWorkerMemory
	}
	if o.MaxCacheBytes <= 0 {
		o.MaxCacheBytes = DefaultMaxCacheBytes
	}
	if o.Parallelism <= 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	return o
}
