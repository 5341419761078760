// Package bench holds Flotilla's end-to-end benchmarks of the hub
// controller. They run the controller in the benchmark's process against a
// real hub API server, real member API servers and a real Git server, and
// compare it with a plain loop of server-side applies (the floor).
//
// BenchmarkHubSync simulates N clusters (10, 100, 1,000) with K real
// kube-apiservers: logical cluster i is given the kubeconfig of API server
// i mod K, and its app's objects carry the cluster's name, so the logical
// clusters never touch each other's objects. It reports, per N, the time
// from a commit to every cluster synced (p50, p99, p100), the ratio of that
// to the floor, the member API requests a commit that changes nothing costs,
// and the controller's heap per cluster. The method, its limits and the
// results are in docs/benchmarks.md; run it with `make bench`.
//
// BenchmarkPullSync runs the same fleet and commits twice in one run: pushed
// by the hub, then pulled by N in-process agents (package agent), each
// registered through the real registration flow with its own identity. It
// reports the ratio pull/push of commit -> synced, and the hub requests and
// hub API server CPU per commit and while idle, against the heartbeat.
//
// The package has only test files besides this one; `go test ./test/bench`
// runs a fast check of the generated fleet and skips the benchmarks.
package bench
