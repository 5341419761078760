// Package demo runs a whole Flotilla installation on one machine, for
// `flotilla demo` (and `make demo`): a hub control plane with Flotilla's CRDs
// and the controller running in this process, one member cluster per cluster
// file of a fleet repository (real API servers running workloads on simulated
// nodes sized from the cluster file), and a local Git server holding a
// repository seeded from the fleet folder.
//
// Start brings everything up and wires it the way an operator would: the
// kubeconfig Secrets, the Git credentials Secret and a FleetRepository on the
// hub. WaitSynced waits until the fleet is synced (see FleetState.Problems for
// the exact definition), Close stops and removes everything Start started.
// While it runs, a Demo answers on a local control socket (ControlClient), so
// that `flotilla demo stop-cluster NAME` and `start-cluster NAME` can take a
// member offline and bring it back from another terminal.
package demo
