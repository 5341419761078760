// Package clusterclient gives the hub access to member clusters: it turns the
// kubeconfig stored in a Secret into a REST config (refusing credential
// plugins unless the operator allows them), keeps one client per cluster in a
// thread-safe cache that is rebuilt when the kubeconfig changes, and probes a
// cluster for its heartbeat (server version and allocatable capacity).
//
// Every client carries a per-request timeout, so a slow or dead cluster fails
// within that time instead of blocking a worker.
package clusterclient
