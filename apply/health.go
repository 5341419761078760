package apply

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Health is the readiness of a set of applied objects.
type Health struct {
	// Ready is true when every object is ready (kstatus Current).
	Ready bool
	// Checked is the number of objects checked.
	Checked int
	// NotReady lists the objects that are not ready, sorted by Object.
	NotReady []ObjectHealth
}

// ObjectHealth says why one object is not ready.
type ObjectHealth struct {
	// Object is "Kind/namespace/name".
	Object string
	// Status is the kstatus status: InProgress, Failed, Terminating,
	// NotFound or Unknown.
	Status string
	// Message says why, for example "0/2 replicas available; pod
	// adc-inference-5c8d unschedulable: 0/1 nodes are available: 1
	// Insufficient nvidia.com/gpu."
	Message string
}

// maxSummarized is how many objects Summary names before "and N more".
const maxSummarized = 3

// Summary is a one-line description for a condition message: the first
// objects not ready, each with its reason, or "all N objects ready".
func (h *Health) Summary() string {
	if h == nil {
		return "health not checked"
	}
	if h.Ready || len(h.NotReady) == 0 {
		return fmt.Sprintf("all %d objects ready", h.Checked)
	}
	parts := make([]string, 0, maxSummarized+1)
	for i, o := range h.NotReady {
		if i == maxSummarized {
			parts = append(parts, fmt.Sprintf("and %d more not ready", len(h.NotReady)-maxSummarized))
			break
		}
		parts = append(parts, fmt.Sprintf("%s: %s", o.Object, o.Message))
	}
	return strings.Join(parts, " | ")
}

// CheckHealth computes, once and without waiting, whether the objects of
// inventory are ready. It reads each object, computes its kstatus status,
// and for workloads that are not ready looks at their pods for the reason
// (unschedulable, image pull errors, crash loops). The controller can call
// it on a requeue instead of blocking a worker in a wait.
//
// Kinds that have no status (ConfigMaps, Secrets, ServiceAccounts, RBAC)
// are ready once stored, so they are not read at all: that saves a request
// per object on every sync. One deleted by hand is found by drift checks.
//
// Errors are returned only when the cluster cannot be read; objects that
// are missing are reported as NotFound in Health.
func CheckHealth(ctx context.Context, cl ClusterClient, inventory []flotillav1.ObjectRef, opts ...HealthOption) (*Health, error) {
	var o healthOptions
	for _, opt := range opts {
		opt(&o)
	}
	h := &Health{Checked: len(inventory)}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(DefaultConcurrency)
	for _, ref := range inventory {
		if readyWhenStored(ref) || o.ready[ref.ID] {
			continue
		}
		g.Go(func() error {
			oh, err := checkObject(gctx, cl, ref)
			if err != nil || oh == nil {
				return err
			}
			mu.Lock()
			h.NotReady = append(h.NotReady, *oh)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sortObjectHealth(h.NotReady)
	h.Ready = len(h.NotReady) == 0
	return h, nil
}

// checkObject returns nil when the object is ready.
func checkObject(ctx context.Context, cl ClusterClient, ref flotillav1.ObjectRef) (*ObjectHealth, error) {
	stub, err := objectFromRef(ref)
	if err != nil {
		return nil, err
	}
	subject := utils.FmtUnstructured(stub)
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(stub.GroupVersionKind())
	err = cl.Client().Get(ctx, client.ObjectKeyFromObject(stub), obj)
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		return &ObjectHealth{Object: subject, Status: string(status.NotFoundStatus), Message: "not found"}, nil
	case err != nil:
		return nil, &ObjectError{Object: subject, Cluster: cl.Name(), Op: "health check", Err: err}
	}
	res, err := status.Compute(obj)
	if err != nil {
		return &ObjectHealth{Object: subject, Status: string(status.UnknownStatus), Message: err.Error()}, nil
	}
	if res.Status == status.CurrentStatus {
		return nil, nil
	}
	msg := describeWorkload(ctx, cl.Client(), obj)
	if msg == "" {
		msg = res.Message
	}
	if msg == "" {
		msg = "not ready"
	}
	return &ObjectHealth{Object: subject, Status: string(res.Status), Message: msg}, nil
}

func sortObjectHealth(list []ObjectHealth) {
	sort.Slice(list, func(i, j int) bool { return list[i].Object < list[j].Object })
}

// statuslessKinds are "group/Kind" of objects kstatus always reports
// Current once they exist: they carry no status to wait for.
var statuslessKinds = map[string]bool{
	"/ConfigMap":                                   true,
	"/Secret":                                      true,
	"/ServiceAccount":                              true,
	"rbac.authorization.k8s.io/Role":               true,
	"rbac.authorization.k8s.io/RoleBinding":        true,
	"rbac.authorization.k8s.io/ClusterRole":        true,
	"rbac.authorization.k8s.io/ClusterRoleBinding": true,
}

// readyWhenStored reports whether an inventory entry is of a statusless
// kind. IDs are "<namespace>_<name>_<group>_<kind>".
func readyWhenStored(ref flotillav1.ObjectRef) bool {
	parts := strings.Split(ref.ID, "_")
	if len(parts) < 4 {
		return false
	}
	return statuslessKinds[parts[len(parts)-2]+"/"+parts[len(parts)-1]]
}

// HealthOption tunes CheckHealth.
type HealthOption func(*healthOptions)

type healthOptions struct {
	ready map[string]bool
}

// ReadyWhenStored tells CheckHealth which of the desired objects are ready
// as soon as they exist, beyond the statusless kinds: Services that are not
// of type LoadBalancer (kstatus waits only for a load balancer's address).
// They are not read, which saves a request per Service on every sync.
func ReadyWhenStored(desired []*unstructured.Unstructured) HealthOption {
	return func(o *healthOptions) {
		for _, obj := range desired {
			if obj.GetAPIVersion() != "v1" || obj.GetKind() != "Service" {
				continue
			}
			if typ, _, _ := unstructured.NestedString(obj.Object, "spec", "type"); typ == "LoadBalancer" {
				continue
			}
			if o.ready == nil {
				o.ready = map[string]bool{}
			}
			o.ready[ObjectRefFor(obj).ID] = true
		}
	}
}
