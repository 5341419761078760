package clusterclient

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"weak"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/restmapper"
)

// sharedMapper is a cluster's lazy REST mapper. It loads the cluster's
// whole discovery on first use (two requests where the API server serves
// aggregated discovery, Kubernetes 1.30 and later) and again whenever a
// kind or resource is unknown, so CRDs installed later are found. The
// mapping built from a discovery is shared by every cluster of the process
// whose discovery is identical (compared by a SHA-256 of its content), so
// a fleet of clusters running the same Kubernetes version and CRDs holds
// one copy of it instead of one per cluster.
type sharedMapper struct {
	cluster   string
	discovery discovery.DiscoveryInterface

	// mu serialises loads; current is read under it too.
	mu      sync.Mutex
	current *mapping
	// loads counts the loads, so that callers that waited for a load
	// another caller did use its result instead of loading again.
	loads uint64
}

// mapping is an immutable REST mapper built from one discovery.
type mapping struct {
	sum    [sha256.Size]byte
	mapper meta.RESTMapper
}

// mappings holds the mapping of each distinct discovery content while some
// cluster uses it: the weak pointers let the garbage collector drop a
// mapping once no cluster's mapper refers to it any more.
var mappings = struct {
	sync.Mutex
	bySum map[[sha256.Size]byte]weak.Pointer[mapping]
}{bySum: map[[sha256.Size]byte]weak.Pointer[mapping]{}}

// internMapping returns the shared mapping of the discovery groups, building
// it if no cluster of the process uses one with the same content.
func internMapping(groups []*restmapper.APIGroupResources) (*mapping, error) {
	sum, err := discoverySum(groups)
	if err != nil {
		return nil, err
	}
	mappings.Lock()
	defer mappings.Unlock()
	if p, ok := mappings.bySum[sum]; ok {
		if m := p.Value(); m != nil {
			return m, nil
		}
	}
	// Drop the entries of mappings no cluster uses any more.
	for k, p := range mappings.bySum {
		if p.Value() == nil {
			delete(mappings.bySum, k)
		}
	}
	m := &mapping{sum: sum, mapper: restmapper.NewDiscoveryRESTMapper(groups)}
	mappings.bySum[sum] = weak.Make(m)
	return m, nil
}

// discoverySum is a digest of a discovery's content, independent of the
// order in which the groups arrived. The groups' preferred versions and
// the order of their versions are part of it: they decide the mapping.
func discoverySum(groups []*restmapper.APIGroupResources) ([sha256.Size]byte, error) {
	sorted := slices.Clone(groups)
	slices.SortFunc(sorted, func(a, b *restmapper.APIGroupResources) int { return strings.Compare(a.Group.Name, b.Group.Name) })
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, g := range sorted {
		// json sorts the VersionedResources map by version.
		if err := enc.Encode(g); err != nil {
			return [sha256.Size]byte{}, fmt.Errorf("hash discovery of API group %q: %w", g.Group.Name, err)
		}
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

// get returns the cluster's mapping, loading it on first use.
func (m *sharedMapper) get() (*mapping, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current != nil {
		return m.current, m.loads, nil
	}
	if err := m.loadLocked(); err != nil {
		return nil, m.loads, err
	}
	return m.current, m.loads, nil
}

// reload loads the cluster's discovery again unless another caller did
// since seen, and returns the mapping.
func (m *sharedMapper) reload(seen uint64) (*mapping, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loads != seen && m.current != nil {
		return m.current, nil
	}
	if err := m.loadLocked(); err != nil {
		return nil, err
	}
	return m.current, nil
}

func (m *sharedMapper) loadLocked() error {
	m.loads++
	groups, err := restmapper.GetAPIGroupResources(m.discovery)
	if groups == nil {
		if err == nil {
			err = errors.New("the API server listed no API groups")
		}
		return &ClusterError{Cluster: m.cluster, Op: "discover API resources", Err: err}
	}
	// A partial discovery (an aggregated API that does not answer) still
	// maps every group that answered, as kubectl does.
	current, err := internMapping(groups)
	if err != nil {
		return &ClusterError{Cluster: m.cluster, Op: "discover API resources", Err: err}
	}
	m.current = current
	return nil
}

// lookup runs f on the cluster's mapping and, when f finds no match, once
// more on a freshly loaded one.
func lookup[T any](m *sharedMapper, f func(meta.RESTMapper) (T, error)) (T, error) {
	cur, seen, err := m.get()
	if err != nil {
		var zero T
		return zero, err
	}
	res, err := f(cur.mapper)
	if !meta.IsNoMatchError(err) {
		return res, err
	}
	cur, err = m.reload(seen)
	if err != nil {
		var zero T
		return zero, err
	}
	return f(cur.mapper)
}

// KindFor implements meta.RESTMapper.
func (m *sharedMapper) KindFor(resource schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	return lookup(m, func(r meta.RESTMapper) (schema.GroupVersionKind, error) { return r.KindFor(resource) })
}

// KindsFor implements meta.RESTMapper.
func (m *sharedMapper) KindsFor(resource schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	return lookup(m, func(r meta.RESTMapper) ([]schema.GroupVersionKind, error) { return r.KindsFor(resource) })
}

// ResourceFor implements meta.RESTMapper.
func (m *sharedMapper) ResourceFor(input schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	return lookup(m, func(r meta.RESTMapper) (schema.GroupVersionResource, error) { return r.ResourceFor(input) })
}

// ResourcesFor implements meta.RESTMapper.
func (m *sharedMapper) ResourcesFor(input schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	return lookup(m, func(r meta.RESTMapper) ([]schema.GroupVersionResource, error) { return r.ResourcesFor(input) })
}

// RESTMapping implements meta.RESTMapper.
func (m *sharedMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	return lookup(m, func(r meta.RESTMapper) (*meta.RESTMapping, error) { return r.RESTMapping(gk, versions...) })
}

// RESTMappings implements meta.RESTMapper.
func (m *sharedMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	return lookup(m, func(r meta.RESTMapper) ([]*meta.RESTMapping, error) { return r.RESTMappings(gk, versions...) })
}

// ResourceSingularizer implements meta.RESTMapper.
func (m *sharedMapper) ResourceSingularizer(resource string) (string, error) {
	return lookup(m, func(r meta.RESTMapper) (string, error) { return r.ResourceSingularizer(resource) })
}
