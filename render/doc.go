// Package render turns a placement.Target into the exact manifests a cluster
// receives. It is pure: it reads a checked-out fleet repository from disk and
// never talks to a Kubernetes API server.
//
// A target renders in three steps:
//
//  1. Build. An in-memory Kustomization (never written to the repository)
//     with namespace: <Target.Namespace> (or, when Target.NamespaceDefault,
//     kustomize's NamespaceTransformer with unsetOnly, which sets it only
//     where an object has none), resources: [<Target.Base>] and
//     components: [<Target.Overlays[*].Path>, in order] is built with
//     sigs.k8s.io/kustomize/api/krusty on a filesystem confined to the
//     repository root. Output order is kustomize's CLI default
//     (the "legacy" kind order, or the sortOptions of that in-memory
//     Kustomization, which has none). An overlay written as a Kustomization
//     whose resources include the base takes the base's place in resources
//     (overlays.go); any other Kustomization overlay is ErrOverlayKind.
//     Deprecated kustomization fields become Manifest.Warnings.
//  2. Variables. ${cluster.name}, ${cluster.labels.<key>} and
//     ${cluster.vars.<key>} are substituted in the YAML text of each object
//     (as kustomize read it: field order and quoting kept), which is then
//     parsed again, so "replicas: ${cluster.vars.lines}" becomes an integer
//     and "${cluster.vars.port}" in quotes stays a string. See Substitute for
//     the syntax and its escape. A substitution may change scalars only
//     (scalars.go). A fast path (fastpath.go) gets the same result without
//     parsing for the common cases and defers to the text path for
//     everything else; a fuzz test checks they agree. When substituting in
//     the output would differ from building the files with the values
//     written in (a generated name's hash, a JSON 6902 patch, replacements,
//     quotes kustomize dropped), the target is built again on its inputs
//     with the values substituted (inputs.go), cached by the values.
//  3. Replicas. spec.replicas is set on each workload named in
//     Target.Replicas.
//
// Manifest.YAML is kustomize's output: the documents in kustomize's order,
// each printed as `kustomize build` prints it, separated by "---". For a
// plain kustomize folder it is byte for byte `kustomize build` of it.
//
// Builds are cached by (Base, Overlay paths, Namespace, NamespaceDefault). A cached build is
// reused only when every filesystem answer the build depended on (the bytes
// of every file read, every existence or directory probe) is unchanged under
// the repository root being rendered, so the cache is shared safely between
// different checkouts of the same repository. Variables and replicas are
// applied after the cache, so a fleet of many clusters that share overlay
// combinations costs one kustomize build per combination (plus, for the
// builds whose variables feed what kustomize computes, one per distinct
// cluster and values).
//
// Builds run in parallel (RenderAll, RenderEach) without a process-wide
// lock; concurrent renders of the same build share one kustomize run.
//
// Builds are confined: no path may leave the repository root (by "..",
// absolute path or symbolic link), .git and files the repository's ignore
// rules match are unreadable, remote bases are refused unless
// Options.AllowRemoteBases is set, a URL is never fetched (whichever field,
// of a kustomization or of a builtin plugin configuration, names it), exec, Go and KRM-function plugins
// and Helm chart inflation are refused, every file read is capped at
// Options.MaxFileSize and the output at Options.MaxOutputSize, and a
// kustomization cycle is an error. Limits bound a build's work and memory
// whatever the input (limits.go: total bytes read, nesting depth, YAML
// alias expansion, objects, error text); with Options.Isolate each build
// runs in a worker process (worker.go) that is killed past
// Options.MaxBuildTime or dies past Options.MaxWorkerMemory, so a runaway
// build never takes the caller down.
package render
