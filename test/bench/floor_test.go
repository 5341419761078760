package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// floorNamespace holds the floor's objects on the member API servers: the
// same objects as the controller's, in a namespace of their own, so that
// the floor creates and updates objects exactly as the controller does
// instead of finding the controller's objects already there.
const floorNamespace = "bench-floor"

// floor applies rendered objects to every logical cluster with nothing but
// a loop of ssa.ApplyAllStaged: one ResourceManager per logical cluster
// (its own HTTP client, REST mapper and rate limit, built on first use, as
// the controller builds one client per cluster), workers clusters at once,
// apply.DefaultConcurrency objects at once within a cluster, as the
// controller does. It is the floor of what a sync of the fleet can cost on
// these API servers.
type floor struct {
	members  []*testenv.Cluster
	requests atomic.Int64

	mu       sync.Mutex
	managers map[string]*ssa.ResourceManager
}

func newFloor(members []*testenv.Cluster) *floor {
	return &floor{members: members, managers: map[string]*ssa.ResourceManager{}}
}

// manager returns logical cluster i's ResourceManager, building it on
// first use with the controller's per-cluster rate limits.
func (f *floor) manager(i int) (*ssa.ResourceManager, error) {
	name := clusterName(i)
	f.mu.Lock()
	rm := f.managers[name]
	f.mu.Unlock()
	if rm != nil {
		return rm, nil
	}
	cfg := f.members[i%len(f.members)].Config()
	cfg.QPS, cfg.Burst = clusterclient.DefaultQPS, clusterclient.DefaultBurst
	cfg.Timeout = clusterclient.DefaultTimeout
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			f.requests.Add(1)
			return rt.RoundTrip(r)
		})
	})
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("floor: build HTTP client for %s: %w", name, err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("floor: build REST mapper for %s: %w", name, err)
	}
	c, err := client.New(cfg, client.Options{HTTPClient: httpClient, Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("floor: build client for %s: %w", name, err)
	}
	rm = ssa.NewResourceManager(c, polling.NewStatusPoller(c, mapper, polling.Options{}),
		ssa.Owner{Field: flotillav1.FieldManager, Group: "flotilla.dev"})
	rm.SetConcurrency(apply.DefaultConcurrency)
	f.mu.Lock()
	f.managers[name] = rm
	f.mu.Unlock()
	return rm, nil
}

// objectsFor turns a cluster's rendered objects into the floor's: copies
// moved to floorNamespace, with the owner labels the controller adds.
func objectsFor(src []*unstructured.Unstructured) []*unstructured.Unstructured {
	labels := apply.OwnerLabels(benchApp, types.NamespacedName{Namespace: fleetNamespace, Name: repositoryName})
	out := make([]*unstructured.Unstructured, 0, len(src))
	for _, o := range src {
		c := o.DeepCopy()
		c.SetNamespace(floorNamespace)
		l := c.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range labels {
			l[k] = v
		}
		c.SetLabels(l)
		out = append(out, c)
	}
	return out
}

// floorRun is the result of one pass of the floor.
type floorRun struct {
	// total is the time from the start to the last cluster applied.
	total time.Duration
	// times are the per-cluster completion times, sorted.
	times []time.Duration
	// requests is the number of HTTP requests sent.
	requests int64
}

// run applies objects (per logical cluster, prepared by objectsFor) to
// every logical cluster with workers clusters at once.
func (f *floor) run(ctx context.Context, clusters, workers int, objects map[string][]*unstructured.Unstructured) (*floorRun, error) {
	before := f.requests.Load()
	times := make([]time.Duration, clusters)
	errs := make([]error, clusters)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for i := range next {
				rm, err := f.manager(i)
				if err == nil {
					// ApplyAllStaged sorts its argument: give it a copy.
					_, err = rm.ApplyAllStaged(ctx, slices.Clone(objects[clusterName(i)]), ssa.DefaultApplyOptions())
				}
				times[i], errs[i] = time.Since(start), err
			}
		})
	}
	for i := range clusters {
		next <- i
	}
	close(next)
	wg.Wait()
	total := time.Since(start)
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("floor: apply to %s: %w", clusterName(i), err)
		}
	}
	slices.Sort(times)
	return &floorRun{total: total, times: times, requests: f.requests.Load() - before}, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
