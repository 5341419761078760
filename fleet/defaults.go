package fleet

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Defaults of the fleet file format.
const (
	// DefaultBasePath is the kustomize base of an app, relative to its folder.
	DefaultBasePath = "base"
	// OverlaysDir is the folder, relative to an app's folder, that holds
	// the overlays: declared ones default to OverlaysDir/<name>, and
	// OverlaysDir/<cluster> is the per-cluster overlay.
	OverlaysDir = "overlays"
	// DefaultKubeconfigKey is the Secret key that holds a kubeconfig.
	DefaultKubeconfigKey = "value"
	// KubeconfigSecretSuffix makes the default kubeconfig Secret name
	// "<cluster>-kubeconfig".
	KubeconfigSecretSuffix = "-kubeconfig" //nolint:gosec // a Secret name suffix, not a credential
	// DefaultWorkloadKind is the kind of a replica division's workload.
	DefaultWorkloadKind = "Deployment"
	// DefaultMaxPerValue is how many chosen clusters may share a spread
	// label value.
	DefaultMaxPerValue = 1
	// DefaultHealthTimeout is how long an app may take to become healthy.
	DefaultHealthTimeout = 5 * time.Minute
	// DefaultMaxFileSize caps the size of one fleet file (1 MiB).
	DefaultMaxFileSize = 1 << 20
)

// apiVersion is the apiVersion of fleet files.
var apiVersion = flotillav1.GroupVersion.String()

// OverlayPath returns the folder of a declared overlay relative to its app's
// folder: its path, or "overlays/<name>" by default.
func OverlayPath(o flotillav1.Overlay) string {
	if o.Path != "" {
		return o.Path
	}
	return OverlaysDir + "/" + o.Name
}

// DefaultCluster fills the defaults of a cluster in place: access mode
// Push, and for Push clusters the kubeconfig Secret "<cluster>-kubeconfig"
// with key "value".
func DefaultCluster(c *flotillav1.Cluster) {
	a := &c.Spec.Access
	if a.Mode == "" {
		a.Mode = flotillav1.AccessPush
	}
	if a.Mode == flotillav1.AccessPush && a.KubeconfigSecretRef == nil {
		a.KubeconfigSecretRef = &flotillav1.SecretKeyRef{Name: c.Name + KubeconfigSecretSuffix}
	}
	if a.KubeconfigSecretRef != nil && a.KubeconfigSecretRef.Key == "" {
		a.KubeconfigSecretRef.Key = DefaultKubeconfigKey
	}
}

// KubeconfigRef returns where the hub reads a cluster's kubeconfig: the
// cluster file's kubeconfigSecretRef with its defaults filled in, else the
// Secret "<cluster>-kubeconfig", key "value".
func KubeconfigRef(c *flotillav1.Cluster) flotillav1.SecretKeyRef {
	ref := flotillav1.SecretKeyRef{Name: c.Name + KubeconfigSecretSuffix, Key: DefaultKubeconfigKey}
	if r := c.Spec.Access.KubeconfigSecretRef; r != nil {
		if r.Name != "" {
			ref.Name = r.Name
		}
		if r.Key != "" {
			ref.Key = r.Key
		}
	}
	return ref
}

// DefaultApp fills the defaults of an app in place: base path "base",
// overlay paths "overlays/<name>", workload kind Deployment, spread
// maxPerValue 1, health timeout 5m and prune true.
func DefaultApp(a *flotillav1.App) {
	s := &a.Spec
	if s.Path == "" {
		s.Path = DefaultBasePath
	}
	for i := range s.Overlays {
		s.Overlays[i].Path = OverlayPath(s.Overlays[i])
	}
	for i := range s.Placement.Replicas {
		if s.Placement.Replicas[i].Workload.Kind == "" {
			s.Placement.Replicas[i].Workload.Kind = DefaultWorkloadKind
		}
	}
	if sp := s.Placement.Spread; sp != nil && sp.MaxPerValue == 0 {
		sp.MaxPerValue = DefaultMaxPerValue
	}
	if s.HealthTimeout == nil {
		s.HealthTimeout = &metav1.Duration{Duration: DefaultHealthTimeout}
	}
	if s.Prune == nil {
		prune := true
		s.Prune = &prune
	}
}
