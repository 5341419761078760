// Package testenv starts real parts for Flotilla's end-to-end tests and for the
// `flotilla demo` command: independent Kubernetes control planes (kube-apiserver
// and etcd through controller-runtime's envtest), optionally running workloads
// (kube-controller-manager, kube-scheduler and kwok with simulated nodes), and a
// real Git server (HTTP with basic auth, and SSH) with repositories that are
// changed with the real `git` command.
//
// Two layers are offered:
//
//   - a core API that returns errors and has explicit Stop/Close methods, for
//     long-running programs: StartCluster, StartClusters, StartGitServer, Clone;
//   - thin testing.TB wrappers that skip when the control-plane binaries are
//     missing, fail the test on error and register t.Cleanup: NewCluster,
//     NewClusters, NewGitServer, CloneWorkdir.
//
// The binaries are found with AssetsDir: the KUBEBUILDER_ASSETS environment
// variable, else bin/k8s/<KubernetesVersion> in the working directory or one
// of its parents (built by hack/build-test-binaries.sh).
//
// Every process started here is stopped by Close (or the test's cleanup). On
// Linux the processes also get a parent-death signal (etcd and kube-apiserver
// through util-linux's setpriv, when installed), so that they do not outlive a
// program or test binary that is killed or times out. Their output goes to one
// log file per process in Cluster.LogDir.
package testenv
