package apply

import (
	"errors"
	"fmt"
	"strings"
	"time"

	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fluxcd/pkg/ssa/utils"
)

// ObjectError is a failure on one object. Its message starts with the
// object as Kind/namespace/name, then the cluster and what failed.
type ObjectError struct {
	// Object is "Kind/namespace/name" ("Kind/name" for cluster-scoped objects).
	Object string
	// Cluster is the cluster's name.
	Cluster string
	// Op is what was attempted ("get", "create", "apply", "delete", "diff",
	// "health check"); empty when Err already says it.
	Op string
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *ObjectError) Error() string {
	detail := strings.TrimPrefix(e.Err.Error(), e.Object+" ")
	if e.Op != "" {
		detail = e.Op + " failed: " + detail
	}
	return fmt.Sprintf("%s on cluster %s: %s", e.Object, e.Cluster, detail)
}

// Unwrap returns the underlying error.
func (e *ObjectError) Unwrap() error { return e.Err }

// ValidationError is a Request that cannot be applied as given, for
// example an object without a name. Retrying does not help.
type ValidationError struct {
	// Field names the offending part of the Request.
	Field string
	// Message says what is wrong and what to do.
	Message string
	// Err is a sentinel such as ErrEmptyPrune, for errors.Is; may be nil.
	Err error
}

// Error implements error.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid apply request: %s: %s", e.Field, e.Message)
}

// Unwrap returns the sentinel error, if any.
func (e *ValidationError) Unwrap() error { return e.Err }

// ErrEmptyPrune is returned (wrapped in a *ValidationError) when Sync is
// asked to prune with an empty object set while the previous inventory is
// not empty and Request.AllowEmpty is not set.
var ErrEmptyPrune = errors.New("refusing to prune every object: the object set is empty; set AllowEmpty only when the app was really removed")

// UnhealthyError says that the applied objects did not all become ready
// within the health timeout. The apply itself succeeded; Health has the
// details for every object that is not ready.
type UnhealthyError struct {
	// Cluster is the cluster's name.
	Cluster string
	// Waited is how long Sync waited.
	Waited time.Duration
	// Health lists the objects that are not ready and why.
	Health *Health
}

// Error implements error. It starts with the first object not ready.
func (e *UnhealthyError) Error() string {
	return fmt.Sprintf("%s (cluster %s, not ready after %s)", e.Health.Summary(), e.Cluster, e.Waited.Round(time.Second))
}

// wrapObjectError turns an error from ssa into an *ObjectError when it can
// tell which object failed: ssa's messages start with Kind/namespace/name.
func wrapObjectError(cluster string, objects []*unstructured.Unstructured, err error) error {
	var dre *ssaerrors.DryRunErr
	if errors.As(err, &dre) && dre.InvolvedObject() != nil {
		return &ObjectError{Object: utils.FmtUnstructured(dre.InvolvedObject()), Cluster: cluster, Err: err}
	}
	msg := err.Error()
	for _, o := range objects {
		subject := utils.FmtUnstructured(o)
		if strings.HasPrefix(msg, subject+" ") {
			return &ObjectError{Object: subject, Cluster: cluster, Err: err}
		}
	}
	return fmt.Errorf("apply on cluster %s failed: %w", cluster, err)
}
