package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// Agent is one running pull-mode agent. Build it with New and run it with
// Run.
type Agent struct {
	opts   Options
	scheme *runtime.Scheme
	member *clusterclient.Client
	store  *stateStore

	// idMu guards id, which the token renewal rewrites.
	idMu   sync.Mutex
	id     *Identity
	bearer *bearer
	// ns is the agent namespace on the hub (fixed once registered).
	ns string
	// hub reads and writes the agent namespace with the agent identity.
	hub client.Client
	// bundles is the informer cache of the agent namespace's Bundles (see
	// startBundleCache); bundlesSynced reports whether it read the hub.
	bundles       cache.Cache
	bundlesSynced func() bool
	// lastAgent is the Agent object as the last heartbeat left it (nil
	// until read): the base of the next heartbeat's patch. Only the
	// heartbeat loop touches it.
	lastAgent *flotillav1.Agent

	namespaces *apply.Namespaces
	// apps is touched only by the sync loop.
	apps map[string]*appState
	wake chan struct{}
	link hubLink
	// holdSince remembers when the member's hold was first seen.
	holdSince *time.Time
	// Ready is closed once the agent has an identity and its persisted
	// state loaded (the health endpoint's readiness).
	ready     chan struct{}
	readyOnce sync.Once
}

// appState is what the agent knows of one app: b holds the desired state
// it applies (b.Spec, content inline), the status it reports (b.Status)
// and the hub generation observed.
type appState struct {
	b       *flotillav1.Bundle
	objects []*unstructured.Unstructured
	applied apply.Applied
	// hub is the last Bundle read from the hub (nil until one was read):
	// the base of status patches.
	hub *flotillav1.Bundle
	// refused is set while the hub's spec cannot be used (digest mismatch,
	// bad content): the message and the digest refused.
	refused, refusedDigest string
	// deletion is the hub's request to remove the app.
	deletion flotillav1.BundleDeletion
	// due is when the app needs its next step.
	due time.Time
	// saved is the record last persisted; savedDigest the desired
	// content's digest persisted with it.
	saved       *record
	savedDigest string
}

// New checks opts and builds an agent; it makes no request.
func New(opts Options) (*Agent, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, flotillav1.AddToScheme, authenticationv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("build the agent's scheme: %w", err)
		}
	}
	member, err := clusterclient.New(opts.Cluster, opts.Member, clusterclient.Options{Timeout: opts.Timeout, Scheme: scheme, UserAgent: "flotilla-agent"})
	if err != nil {
		return nil, err
	}
	return &Agent{
		opts:       opts,
		scheme:     scheme,
		member:     member,
		store:      &stateStore{c: member.Client(), namespace: opts.StateNamespace},
		bearer:     &bearer{},
		namespaces: apply.NewNamespaces(),
		apps:       map[string]*appState{},
		wake:       make(chan struct{}, 1),
		ready:      make(chan struct{}),
	}, nil
}

// Ready is closed once the agent has its identity and persisted state.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run obtains or reuses the agent's identity, then syncs its bundles,
// renews its token and reports its heartbeat until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithValues("cluster", a.opts.Cluster)
	ctx = ctrl.LoggerInto(ctx, log)
	if err := a.identity(ctx); err != nil {
		return err
	}
	cfg := hubConfig(a.id, a.bearer, a.opts.Timeout)
	var err error
	if a.hub, err = client.New(cfg, client.Options{Scheme: a.scheme}); err != nil {
		return fmt.Errorf("build the hub client for %s: %w", cfg.Host, err)
	}
	wcfg := rest.CopyConfig(cfg)
	wcfg.Timeout = 0
	if err := a.startBundleCache(ctx, wcfg); err != nil {
		return err
	}
	if err := a.loadState(ctx); err != nil {
		return err
	}
	a.waitBundles(ctx, a.opts.Timeout)
	a.readyOnce.Do(func() { close(a.ready) })
	log.Info("agent started", "hub", a.id.HubURL, "namespace", a.ns, "apps", len(a.apps))

	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){a.renewLoop, a.heartbeatLoop} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	a.syncLoop(ctx)
	wg.Wait()
	return nil
}

// identity loads the stored identity or registers for one.
func (a *Agent) identity(ctx context.Context) error {
	var id *Identity
	if err := retryMember(ctx, "read the identity Secret", func(ctx context.Context) error {
		var err error
		id, err = loadIdentity(ctx, a.member.Client(), a.opts.StateNamespace)
		return err
	}); err != nil {
		return err
	}
	if id == nil {
		if a.opts.Bootstrap == nil {
			return fmt.Errorf("no identity in Secret %s/%s and no bootstrap credential: start the agent with --bootstrap-token-file or --bootstrap-kubeconfig", a.opts.StateNamespace, IdentitySecret)
		}
		var err error
		if id, err = register(ctx, a.opts, a.scheme); err != nil {
			return err
		}
		if err := retryMember(ctx, "store the identity", func(ctx context.Context) error {
			return storeIdentity(ctx, a.member.Client(), a.opts.StateNamespace, id)
		}); err != nil {
			return err
		}
	} else {
		ctrl.LoggerFrom(ctx).Info("reusing the stored identity", "namespace", id.Namespace, "expires", id.Expiration.UTC().Format(time.RFC3339))
	}
	a.id, a.ns = id, id.Namespace
	a.bearer.set(id.Token)
	return nil
}

// loadState reads the persisted state of every app.
func (a *Agent) loadState(ctx context.Context) error {
	var bundles []*flotillav1.Bundle
	if err := retryMember(ctx, "load the persisted state", func(ctx context.Context) error {
		var err error
		bundles, err = a.store.loadAll(ctx)
		return err
	}); err != nil {
		return err
	}
	for _, b := range bundles {
		b.Namespace = a.ns
		st := &appState{b: b}
		if b.Spec.Digest != "" {
			objs, err := decode(b.Spec.Content, b.Spec.Digest)
			if err != nil {
				return fmt.Errorf("persisted state of app %s in Secret %s/%s: %w (delete it: the agent applies the app again from the hub)", b.Name, a.opts.StateNamespace, stateSecretName(b.Name), err)
			}
			st.objects = objs
		}
		rec := recordOf(b)
		st.saved, st.savedDigest = &rec, b.Spec.Digest
		a.apps[b.Name] = st
	}
	return nil
}

// retryMember retries fn while the member's API server fails, until ctx
// ends: the agent cannot work without its own cluster.
func retryMember(ctx context.Context, what string, fn func(context.Context) error) error {
	return retryHub(ctx, what, fn)
}

// poke wakes the sync loop.
func (a *Agent) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// syncLoop runs passes until ctx ends: on a change of the Bundles, when an
// app is due, and every ResyncInterval (which reads the cache: no request).
func (a *Agent) syncLoop(ctx context.Context) {
	for {
		a.pass(ctx)
		next := time.Now().Add(a.opts.ResyncInterval)
		for _, st := range a.apps {
			if !st.due.IsZero() && st.due.Before(next) {
				next = st.due
			}
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-a.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// pass reads the bundles from the cache of the hub's (or, before it has
// read the hub once, goes on from the persisted state), steps every app
// that is due, persists and reports. Whether the hub answers is the
// heartbeat's and the report's to tell.
func (a *Agent) pass(ctx context.Context) {
	log := ctrl.LoggerFrom(ctx)
	if bundles, err := a.listBundles(ctx); err == nil {
		a.merge(ctx, bundles)
	} else if !errors.Is(err, errBundlesNotSynced) {
		log.Error(err, "read the bundles")
	}
	now := time.Now()
	for _, name := range a.order() {
		st := a.apps[name]
		if st.due.After(now) {
			continue
		}
		actx := ctrl.LoggerInto(ctx, log.WithValues("app", name))
		st.due = time.Now().Add(a.step(actx, st))
		if st.b != nil {
			a.persist(actx, st)
		}
	}
	if a.link.isUp() {
		a.report(ctx)
	}
}

// order returns the app names with every app after the apps it depends on
// (as far as the dependencies form no cycle), then by name.
func (a *Agent) order() []string {
	names := make([]string, 0, len(a.apps))
	for n := range a.apps {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	seen := map[string]bool{}
	var visit func(n string, depth int)
	visit = func(n string, depth int) {
		st, ok := a.apps[n]
		if !ok || seen[n] || depth > len(names) {
			return
		}
		if st.b != nil {
			for _, d := range st.b.Spec.DependsOn {
				visit(d, depth+1)
			}
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range names {
		visit(n, 0)
	}
	return out
}

// hubLink tracks whether the hub answers, and logs the changes.
type hubLink struct {
	mu      sync.Mutex
	known   bool
	reached bool
	since   time.Time
}

func (l *hubLink) up(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.known && !l.reached {
		ctrl.LoggerFrom(ctx).Info("hub reachable again: reporting", "unreachableFor", time.Since(l.since).Round(time.Second).String())
	}
	l.known, l.reached = true, true
}

func (l *hubLink) down(ctx context.Context, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known || l.reached {
		log := ctrl.LoggerFrom(ctx)
		if isUnauthorized(err) {
			log.Error(err, "the hub refuses the agent's identity (revoked?): keeping the cluster at its last desired state")
		} else {
			log.Info("hub unreachable: keeping the cluster at its last desired state", "error", err.Error())
		}
		l.since = time.Now()
	}
	l.known, l.reached = true, false
}

func (l *hubLink) isUp() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reached
}

var errNoContent = errors.New("the bundle has neither content nor chunks")
