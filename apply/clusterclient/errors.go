package clusterclient

import "fmt"

// KubeconfigRefusedError says that a kubeconfig was rejected before any
// connection was attempted. It is a configuration error: retrying does not
// help until the Secret or the controller's flags change.
type KubeconfigRefusedError struct {
	// Source is the Secret the kubeconfig came from.
	Source KubeconfigSource
	// User is the kubeconfig user at fault, if any.
	User string
	// Plugin is "exec" or "auth-provider" when a credential plugin was refused.
	Plugin string
	// Command is the exec plugin's command or the auth-provider's name.
	Command string
	// Reason completes the sentence "kubeconfig in <source> ...".
	Reason string
}

// Error implements error.
func (e *KubeconfigRefusedError) Error() string {
	return fmt.Sprintf("kubeconfig in %s %s", e.Source, e.Reason)
}

// ClusterError is a failed call to a member cluster. Its message starts with
// the cluster's name and the operation, so that a Reachable=False condition
// says which cluster did not answer and to what.
type ClusterError struct {
	// Cluster is the cluster's name.
	Cluster string
	// Op is what was attempted, for example "get server version".
	Op string
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *ClusterError) Error() string {
	return fmt.Sprintf("cluster %s: %s failed: %v", e.Cluster, e.Op, e.Err)
}

// Unwrap returns the underlying error.
func (e *ClusterError) Unwrap() error { return e.Err }
