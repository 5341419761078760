package apply

import (
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// ClusterClient is the access to one cluster that the apply engine needs.
// *clusterclient.Client implements it.
type ClusterClient interface {
	// Name is the cluster's name, used in errors and logs.
	Name() string
	// Client reads and writes the cluster's objects (uncached).
	Client() client.Client
	// RESTMapper maps kinds to resources; it must discover CRDs installed
	// after it was built.
	RESTMapper() meta.RESTMapper
	// Poller computes kstatus readiness for the health wait.
	Poller() *polling.StatusPoller
}

// ownerGroup is the label prefix ssa would use for its own owner labels.
// Flotilla sets its own labels (see OwnerLabels), so ssa's are never used.
const ownerGroup = "flotilla.dev"

func newManager(cl ClusterClient, concurrency int) *ssa.ResourceManager {
	rm := ssa.NewResourceManager(cl.Client(), cl.Poller(), ssa.Owner{Field: flotillav1.FieldManager, Group: ownerGroup})
	rm.SetConcurrency(concurrency)
	return rm
}
