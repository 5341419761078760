package agent

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/flotilla-gitops/flotilla/agent/bundle"
	"github.com/flotilla-gitops/flotilla/agent/seal"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// The tests play the hub's part of pull mode (engineer A's registration
// reconciler and engineer B's bundle writer) with plain API calls on a real
// hub API server, and run the agent in-process against a real member API
// server with the credentials it obtains itself.

const (
	fleetNS     = "fleet"
	clusterName = "site-a"
	repoName    = "fleet-repo"
)

// env is one hub and one member control plane.
type env struct {
	hubCluster, memberCluster *testenv.Cluster
	hub, member               client.Client
	scheme                    *runtime.Scheme
	agentNS                   string
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, flotillav1.AddToScheme, authenticationv1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(testWriter{t})))
	clusters := testenv.NewClusters(t,
		testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}},
		testenv.ClusterOptions{Name: "member"})
	e := &env{hubCluster: clusters[0], memberCluster: clusters[1], scheme: testScheme(t), agentNS: flotillav1.AgentNamespace(fleetNS, clusterName)}
	var err error
	if e.hub, err = e.hubCluster.NewClient(e.scheme); err != nil {
		t.Fatal(err)
	}
	if e.member, err = e.memberCluster.NewClient(e.scheme); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must(t, e.hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleetNS}}))
	must(t, e.member.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultStateNamespace}}))
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// bootstrapConfig makes the bootstrap ServiceAccount (allowed only to
// create and read ClusterRegistrations) and returns a hub config with a
// token of it, as `flotilla cluster bootstrap-token` would.
func (e *env) bootstrapConfig(t *testing.T) *rest.Config {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: fleetNS, Name: flotillav1.BootstrapServiceAccount}}
	must(t, e.hub.Create(ctx, sa))
	must(t, e.hub.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: fleetNS, Name: flotillav1.BootstrapServiceAccount},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{flotillav1.GroupVersion.Group}, Resources: []string{"clusterregistrations"}, Verbs: []string{"create", "get", "list", "watch"}}},
	}))
	must(t, e.hub.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: fleetNS, Name: flotillav1.BootstrapServiceAccount},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: flotillav1.BootstrapServiceAccount},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: fleetNS, Name: sa.Name}},
	}))
	return e.tokenConfig(t, fleetNS, sa.Name, 3600)
}

// tokenConfig returns a hub config authenticated only by a fresh token of
// the ServiceAccount namespace/name.
func (e *env) tokenConfig(t *testing.T, namespace, name string, seconds int64) *rest.Config {
	t.Helper()
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	must(t, testenv.RetryT(t, func(ctx context.Context) error { return e.hub.SubResource("token").Create(ctx, sa, tr) }))
	admin := e.hubCluster.Config()
	return &rest.Config{Host: admin.Host, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData}, BearerToken: tr.Status.Token}
}

// agentRules are the only rights of an agent identity (pull-design.md).
var agentRules = []rbacv1.PolicyRule{
	{APIGroups: []string{flotillav1.GroupVersion.Group}, Resources: []string{"bundles", "bundlechunks"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{flotillav1.GroupVersion.Group}, Resources: []string{"bundles/status"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{flotillav1.GroupVersion.Group}, Resources: []string{"agents"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{flotillav1.GroupVersion.Group}, Resources: []string{"agents/status"}, Verbs: []string{"get", "update", "patch"}, ResourceNames: []string{flotillav1.AgentObjectName}},
	{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}, ResourceNames: []string{flotillav1.AgentObjectName}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create"}},
}

// approve plays the hub's registration reconciler until ctx ends: each
// registration without a credential gets the agent namespace, the Agent
// object, ServiceAccount/Role/RoleBinding "agent" and a token sealed to its
// public key.
func (e *env) approve(ctx context.Context, t *testing.T) {
	for ctx.Err() == nil {
		list := &flotillav1.ClusterRegistrationList{}
		if err := e.hub.List(ctx, list, client.InNamespace(fleetNS)); err == nil {
			for i := range list.Items {
				if reg := &list.Items[i]; reg.Status.Credential == nil {
					if err := e.issue(ctx, reg); err != nil && ctx.Err() == nil {
						t.Logf("test hub: approve %s: %v", reg.Name, err)
					}
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (e *env) issue(ctx context.Context, reg *flotillav1.ClusterRegistration) error {
	ns := flotillav1.AgentNamespace(fleetNS, reg.Spec.ClusterName)
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{flotillav1.LabelAgentCluster: reg.Spec.ClusterName, flotillav1.LabelAgentFleetNamespace: fleetNS}}},
		&flotillav1.Agent{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: flotillav1.AgentObjectName}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: flotillav1.AgentObjectName}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: flotillav1.AgentObjectName}, Rules: agentRules},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: flotillav1.AgentObjectName},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: flotillav1.AgentObjectName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: flotillav1.AgentObjectName}},
		},
	}
	for _, o := range objs {
		if err := e.hub.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	secs := int64(3600)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}
	if err := e.hub.SubResource("token").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: flotillav1.AgentObjectName}}, tr); err != nil {
		return err
	}
	sealed, err := seal.Seal(reg.Spec.PublicKey, []byte(tr.Status.Token))
	if err != nil {
		return err
	}
	reg.Status.Namespace = ns
	reg.Status.ServiceAccount = flotillav1.AgentObjectName
	reg.Status.Credential = sealed
	reg.Status.ExpirationTime = &tr.Status.ExpirationTimestamp
	view := registrationView{reg}
	conditions.MarkTrue(view, conditionApproved, "ClusterDeclared", "cluster %s is declared with mode Pull", reg.Spec.ClusterName)
	conditions.MarkTrue(view, "Issued", "Issued", "credential sealed")
	return e.hub.Status().Update(ctx, reg)
}

// agentOptions are fast-paced options for the tests.
func (e *env) agentOptions(bootstrap *rest.Config) Options {
	return Options{
		Cluster:              clusterName,
		FleetNamespace:       fleetNS,
		Bootstrap:            bootstrap,
		Member:               e.memberCluster.Config(),
		HeartbeatInterval:    time.Second,
		ResyncInterval:       2 * time.Second,
		HealthPollInterval:   300 * time.Millisecond,
		DefaultDriftInterval: time.Second,
		Timeout:              5 * time.Second,
	}
}

// running is an agent running in its own goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func (e *env) startAgent(t *testing.T, opts Options) *running {
	t.Helper()
	a, err := New(opts)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop ends the agent and waits for it.
func (r *running) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel = nil
}

// configMap is a ConfigMap in namespace "apps" of the member.
func configMap(name string, data map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name, "namespace": "apps"}}}
	d := map[string]any{}
	for k, v := range data {
		d[k] = v
	}
	u.Object["data"] = d
	return u
}

// putBundle creates or updates the Bundle of app with objs, as the hub's
// bundle writer would; digestOf, when set, replaces the digest (to forge a
// mismatch).
func (e *env) putBundle(t *testing.T, app, revision string, dependsOn []string, objs []*unstructured.Unstructured, digestOf ...*unstructured.Unstructured) string {
	t.Helper()
	content, digest, err := bundle.Encode(objs)
	must(t, err)
	if len(digestOf) > 0 {
		_, digest, err = bundle.Encode(digestOf)
		must(t, err)
	}
	spec := flotillav1.BundleSpec{
		App: app, Cluster: clusterName, Repository: repoName, Revision: revision, Digest: digest,
		Namespace: "apps", DependsOn: dependsOn, Prune: true, Content: content,
		DriftInterval: &metav1.Duration{Duration: time.Second},
	}
	must(t, testenv.RetryT(t, func(ctx context.Context) error {
		// The running agent writes the Bundle's status meanwhile: a
		// conflict means read again, as the hub does.
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			b := &flotillav1.Bundle{}
			err := e.hub.Get(ctx, client.ObjectKey{Namespace: e.agentNS, Name: app}, b)
			if apierrors.IsNotFound(err) {
				b = &flotillav1.Bundle{ObjectMeta: metav1.ObjectMeta{Namespace: e.agentNS, Name: app}, Spec: spec}
				return e.hub.Create(ctx, b)
			}
			if err != nil {
				return err
			}
			b.Spec = spec
			return e.hub.Update(ctx, b)
		})
	}))
	return digest
}

// eventually polls cond until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		last = cond(ctx)
		cancel()
		if last == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %v", what, timeout, last)
}

// bundleStatus reads a Bundle from the hub.
func (e *env) bundle(ctx context.Context, app string) (*flotillav1.Bundle, error) {
	b := &flotillav1.Bundle{}
	err := e.hub.Get(ctx, client.ObjectKey{Namespace: e.agentNS, Name: app}, b)
	return b, err
}

// readyAt waits until the app's Bundle reports digest applied and Ready.
func (e *env) readyAt(t *testing.T, app, digest string) *flotillav1.Bundle {
	t.Helper()
	var got *flotillav1.Bundle
	eventually(t, 90*time.Second, "bundle "+app+" Ready at "+digest, func(ctx context.Context) error {
		b, err := e.bundle(ctx, app)
		if err != nil {
			return err
		}
		if b.Status.AppliedDigest != digest || b.Status.ObservedDigest != digest || !conditions.IsTrue(b, "Ready") {
			return fmt.Errorf("status: applied %q observed %q conditions %+v", b.Status.AppliedDigest, b.Status.ObservedDigest, b.Status.Conditions)
		}
		got = b
		return nil
	})
	return got
}

// memberCM reads a ConfigMap of namespace "apps" on the member.
func (e *env) memberCM(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	err := e.member.Get(ctx, client.ObjectKey{Namespace: "apps", Name: name}, cm)
	return cm, err
}

var errStill = errors.New("not yet")

// waitIdentity waits until the agent stored its identity on the member.
func (e *env) waitIdentity(t *testing.T) {
	t.Helper()
	eventually(t, 60*time.Second, "identity stored on the member", func(ctx context.Context) error {
		return e.member.Get(ctx, client.ObjectKey{Namespace: DefaultStateNamespace, Name: IdentitySecret}, &corev1.Secret{})
	})
}
