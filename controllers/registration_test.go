package controllers

import (
	"context"
	"crypto/ecdh"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-gitops/flotilla/agent/seal"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// registrationHub starts a real hub with Flotilla's CRDs and runs every
// reconciler (Setup) as a user that holds only the generated ClusterRole
// config/rbac/role.yaml, so that a right the controller lacks (or cannot
// grant an agent) fails the test. It returns the hub and an admin client.
func registrationHub(t *testing.T) (*testenv.Cluster, client.Client) {
	t.Helper()
	hubCluster := testenv.NewCluster(t, testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}})
	scheme := runtime(t)
	admin, err := hubCluster.NewClient(scheme)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	data, err := os.ReadFile("../config/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	must(t, yaml.Unmarshal(data, role))
	must(t, admin.Create(ctx, role))
	must(t, admin.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "flotilla-controller"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "flotilla-controller"}},
	}))
	must(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleetNS}}))
	controllerCfg, err := hubCluster.AddUser("flotilla-controller")
	if err != nil {
		t.Fatal(err)
	}
	skip := true
	mgr, err := ctrl.NewManager(controllerCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		t.Fatal(err)
	}
	must(t, Setup(mgr, Options{CacheDir: t.TempDir(), AgentTokenTTL: time.Hour, HeartbeatInterval: time.Hour}))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return hubCluster, admin
}

// pullCluster creates a Cluster declared with the given access mode, with
// the mirror's finalizer as a mirrored Cluster has.
func pullCluster(t *testing.T, admin client.Client, name string, mode flotillav1.AccessMode) *flotillav1.Cluster {
	t.Helper()
	c := &flotillav1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: fleetNS, Finalizers: []string{clusterFinalizer}},
		Spec:       flotillav1.ClusterSpec{Access: flotillav1.ClusterAccess{Mode: mode}},
	}
	retryTransient(t, "create Cluster "+name, func() error { return ignoreAlreadyExists(admin.Create(context.Background(), c.DeepCopy())) })
	return c
}

// register creates a registration for cluster with a new agent key, as an
// agent does, and returns it with the key.
func register(t *testing.T, admin client.Client, name, cluster string, annotations map[string]string) (*flotillav1.ClusterRegistration, *ecdh.PrivateKey) {
	t.Helper()
	key, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	reg := &flotillav1.ClusterRegistration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: fleetNS, Annotations: annotations},
		Spec:       flotillav1.ClusterRegistrationSpec{ClusterName: cluster, PublicKey: key.PublicKey().Bytes(), AgentVersion: "test"},
	}
	retryTransient(t, "create registration "+name, func() error { return ignoreAlreadyExists(admin.Create(context.Background(), reg.DeepCopy())) })
	return reg, key
}

// waitRegistration waits until the registration's condition has status and
// reason, and returns the registration.
func waitRegistration(t *testing.T, admin client.Client, name, condition string, status metav1.ConditionStatus, reason string) *flotillav1.ClusterRegistration {
	t.Helper()
	got := &flotillav1.ClusterRegistration{}
	waitFor(t, 60*time.Second, fmt.Sprintf("registration %s %s=%s (%s)", name, condition, status, reason), func() error {
		if err := admin.Get(context.Background(), client.ObjectKey{Namespace: fleetNS, Name: name}, got); err != nil {
			return err
		}
		c := conditions.Get(got, condition)
		if c == nil || c.Status != status || c.Reason != reason {
			return fmt.Errorf("conditions: %+v", got.Status.Conditions)
		}
		return nil
	})
	return got
}

// agentClient opens the registration's credential with the agent's key and
// returns a client that holds only that token and the hub's CA.
func agentClient(t *testing.T, hubCluster *testenv.Cluster, scheme *k8sruntime.Scheme, reg *flotillav1.ClusterRegistration, key *ecdh.PrivateKey) client.WithWatch {
	t.Helper()
	if reg.Status.Credential == nil {
		t.Fatalf("registration %s has no credential", reg.Name)
	}
	token, err := seal.Open(key, reg.Status.Credential)
	if err != nil {
		t.Fatalf("open the credential of %s with the agent's key: %v", reg.Name, err)
	}
	return tokenClient(t, hubCluster, scheme, string(token))
}

// tokenClient is a client of the hub with only a bearer token and the CA.
func tokenClient(t *testing.T, hubCluster *testenv.Cluster, scheme *k8sruntime.Scheme, token string) client.WithWatch {
	t.Helper()
	cfg := &rest.Config{Host: hubCluster.Host(), BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: hubCluster.Config().CAData}}
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// call runs fn, sent again while the hub is briefly unavailable.
func call(fn func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := fn()
		if err == nil || !isTransient(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func testBundle(ns, app, cluster string) *flotillav1.Bundle {
	return &flotillav1.Bundle{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec:       flotillav1.BundleSpec{App: app, Cluster: cluster, Revision: "main@sha1:1", Digest: "sha256:00", Namespace: app},
	}
}

// TestPullRegistrationIdentity drives the hub side of pull-mode
// registration on a real hub, with the controller holding only its
// generated RBAC: a pull cluster gets its agent namespace; the first
// registration is approved and its credential opens with the agent's key
// into a token that works, and that may do exactly what an agent needs in
// its own namespace and nothing else (the isolation matrix); a second
// registration waits for a person, an approval annotation set by its
// creator is dropped, a person's approval replaces the first identity; a
// push cluster is refused; revocation ends the token at once; a cluster
// leaving the fleet takes its identity and namespace with it.
func TestPullRegistrationIdentity(t *testing.T) {
	hubCluster, admin := registrationHub(t)
	scheme := runtime(t)
	ctx := context.Background()
	pullCluster(t, admin, "site-a", flotillav1.AccessPull)
	pullCluster(t, admin, "site-b", flotillav1.AccessPull)
	nsA, nsB := flotillav1.AgentNamespace(fleetNS, "site-a"), flotillav1.AgentNamespace(fleetNS, "site-b")

	// The Cluster reconciler provisions the agent namespaces; no identity
	// exists before a registration is approved.
	for cluster, ns := range map[string]string{"site-a": nsA, "site-b": nsB} {
		waitFor(t, 60*time.Second, "agent namespace of "+cluster, func() error {
			n := &corev1.Namespace{}
			if err := admin.Get(ctx, client.ObjectKey{Name: ns}, n); err != nil {
				return err
			}
			if n.Labels[flotillav1.LabelAgentCluster] != cluster || n.Labels[flotillav1.LabelAgentFleetNamespace] != fleetNS {
				return fmt.Errorf("labels %v", n.Labels)
			}
			return admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: flotillav1.AgentObjectName}, &flotillav1.Agent{})
		})
		err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: flotillav1.AgentObjectName}, &corev1.ServiceAccount{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("ServiceAccount agent in %s before any registration: %v, want NotFound", ns, err)
		}
	}

	// First come: approved automatically, credential sealed to the key.
	regA, keyA := register(t, admin, "site-a-0000000a", "site-a", nil)
	regA = waitRegistration(t, admin, regA.Name, flotillav1.IssuedCondition, metav1.ConditionTrue, flotillav1.ReasonIssued)
	if !conditions.IsTrue(regA, flotillav1.ApprovedCondition) || conditions.GetReason(regA, flotillav1.ApprovedCondition) != flotillav1.ReasonClusterDeclaredPull {
		t.Fatalf("Approved = %+v, want True ClusterDeclaredPull", conditions.Get(regA, flotillav1.ApprovedCondition))
	}
	if regA.Status.Namespace != nsA || regA.Status.ServiceAccount != flotillav1.AgentObjectName || regA.Status.ExpirationTime == nil {
		t.Fatalf("status namespace %q, serviceAccount %q, expiration %v", regA.Status.Namespace, regA.Status.ServiceAccount, regA.Status.ExpirationTime)
	}
	if left := time.Until(regA.Status.ExpirationTime.Time); left < 50*time.Minute || left > 61*time.Minute {
		t.Fatalf("token expires in %s, want about the configured hour", left)
	}
	other, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seal.Open(other, regA.Status.Credential); err == nil {
		t.Fatal("another key opened the credential")
	}
	asA := agentClient(t, hubCluster, scheme, regA, keyA)
	// The plaintext token is nowhere on the hub: not in the registration,
	// not in an event.
	plain, err := seal.Open(keyA, regA.Status.Credential)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := json.Marshal(regA)
	if err != nil {
		t.Fatal(err)
	}
	events := &corev1.EventList{}
	waitFor(t, 30*time.Second, "the Issued event of "+regA.Name, func() error {
		if err := admin.List(ctx, events, client.InNamespace(fleetNS)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == regA.Name && e.Reason == flotillav1.ReasonIssued {
				return nil
			}
		}
		return fmt.Errorf("%d events, none Issued for %s", len(events.Items), regA.Name)
	})
	for _, e := range events.Items {
		stored = append(stored, e.Message...)
	}
	if strings.Contains(string(stored), string(plain)) {
		t.Fatal("the issued token appears in the registration or an event")
	}
	regB, keyB := register(t, admin, "site-b-0000000b", "site-b", nil)
	regB = waitRegistration(t, admin, regB.Name, flotillav1.IssuedCondition, metav1.ConditionTrue, flotillav1.ReasonIssued)
	asB := agentClient(t, hubCluster, scheme, regB, keyB)

	t.Run("isolation", func(t *testing.T) {
		isolationMatrix(t, admin, asA, nsA, nsB)
	})

	// A second registration of site-a waits for a person; an approval its
	// creator set is dropped.
	regA2, keyA2 := register(t, admin, "site-a-000000a2", "site-a", map[string]string{flotillav1.AnnotationApproved: "true"})
	pending := waitRegistration(t, admin, regA2.Name, flotillav1.ApprovedCondition, metav1.ConditionUnknown, flotillav1.ReasonAwaitingApproval)
	if _, ok := pending.Annotations[flotillav1.AnnotationApproved]; ok || pending.Status.Credential != nil || conditions.Has(pending, flotillav1.IssuedCondition) {
		t.Fatalf("a registration created pre-approved: annotations %v, credential %v, conditions %+v", pending.Annotations, pending.Status.Credential, pending.Status.Conditions)
	}
	// A person approves: the new identity replaces the old one.
	patch := client.MergeFrom(pending.DeepCopy())
	pending.Annotations = map[string]string{flotillav1.AnnotationApproved: "true"}
	must(t, call(func() error { return admin.Patch(ctx, pending, patch) }))
	regA2 = waitRegistration(t, admin, regA2.Name, flotillav1.IssuedCondition, metav1.ConditionTrue, flotillav1.ReasonIssued)
	if conditions.GetReason(regA2, flotillav1.ApprovedCondition) != flotillav1.ReasonApprovedByUser {
		t.Fatalf("Approved = %+v, want ApprovedByUser", conditions.Get(regA2, flotillav1.ApprovedCondition))
	}
	superseded := waitRegistration(t, admin, regA.Name, flotillav1.RevokedCondition, metav1.ConditionTrue, flotillav1.ReasonSuperseded)
	if superseded.Status.Credential != nil {
		t.Fatal("a superseded registration keeps its sealed credential")
	}
	asA2 := agentClient(t, hubCluster, scheme, regA2, keyA2)
	must(t, call(func() error {
		return asA2.Get(ctx, client.ObjectKey{Namespace: nsA, Name: "web"}, &flotillav1.Bundle{})
	}))
	waitUnauthorized(t, asA, nsA, "the superseded token of site-a")

	// A push cluster is refused, with the reason.
	pullCluster(t, admin, "site-push", flotillav1.AccessPush)
	regP, _ := register(t, admin, "site-push-0000000c", "site-push", nil)
	refused := waitRegistration(t, admin, regP.Name, flotillav1.ApprovedCondition, metav1.ConditionFalse, flotillav1.ReasonPushCluster)
	if msg := conditions.GetMessage(refused, flotillav1.ApprovedCondition); !containsAll(msg, "site-push", "access.mode Push", "spec.access.mode: Pull") || refused.Status.Credential != nil {
		t.Fatalf("push refusal: %q, credential %v", msg, refused.Status.Credential)
	}

	// Revocation ends the token at once.
	must(t, call(func() error {
		return asA2.Get(ctx, client.ObjectKey{Namespace: nsA, Name: "web"}, &flotillav1.Bundle{})
	}))
	marked, err := RevokeCluster(ctx, admin, fleetNS, "site-a", flotillav1.ReasonRevokedByUser, "revoked by the test", "")
	if err != nil || len(marked) != 1 || marked[0] != regA2.Name {
		t.Fatalf("RevokeCluster = %v, %v; want [%s]", marked, err, regA2.Name)
	}
	waitUnauthorized(t, asA2, nsA, "the revoked token of site-a")
	waitRegistration(t, admin, regA2.Name, flotillav1.RevokedCondition, metav1.ConditionTrue, flotillav1.ReasonRevokedByUser)

	// site-a switches to Push: its Agent and agent namespace go.
	switched := &flotillav1.Cluster{}
	must(t, call(func() error { return admin.Get(ctx, client.ObjectKey{Namespace: fleetNS, Name: "site-a"}, switched) }))
	switchPatch := client.MergeFrom(switched.DeepCopy())
	switched.Spec.Access.Mode = flotillav1.AccessPush
	must(t, call(func() error { return admin.Patch(ctx, switched, switchPatch) }))
	waitFor(t, 60*time.Second, "agent namespace of site-a deleted after the switch to Push", func() error {
		if err := admin.Get(ctx, client.ObjectKey{Namespace: nsA, Name: flotillav1.AgentObjectName}, &flotillav1.Agent{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Agent: %v", err)
		}
		n := &corev1.Namespace{}
		if err := admin.Get(ctx, client.ObjectKey{Name: nsA}, n); err != nil {
			return err
		}
		if n.DeletionTimestamp.IsZero() {
			return fmt.Errorf("namespace %s not being deleted", nsA)
		}
		return nil
	})

	// site-b leaves the fleet: its identity, registration and namespace go.
	must(t, call(func() error { return asB.Get(ctx, client.ObjectKey{Namespace: nsB, Name: "web"}, &flotillav1.Bundle{}) }))
	must(t, call(func() error {
		return admin.Delete(ctx, &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "site-b", Namespace: fleetNS}})
	}))
	waitFor(t, 60*time.Second, "site-b gone", func() error {
		err := admin.Get(ctx, client.ObjectKey{Namespace: fleetNS, Name: "site-b"}, &flotillav1.Cluster{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	n := &corev1.Namespace{}
	must(t, call(func() error { return admin.Get(ctx, client.ObjectKey{Name: nsB}, n) }))
	if n.DeletionTimestamp.IsZero() {
		t.Fatalf("agent namespace %s of a removed cluster is not being deleted", nsB)
	}
	waitRegistration(t, admin, regB.Name, flotillav1.RevokedCondition, metav1.ConditionTrue, flotillav1.ReasonClusterRemoved)
	waitUnauthorized(t, asB, nsB, "the token of a removed cluster")
}

// waitUnauthorized waits until the hub refuses the token as unknown (401).
func waitUnauthorized(t *testing.T, cl client.Client, ns, what string) {
	t.Helper()
	waitFor(t, 10*time.Second, what+" refused with 401", func() error {
		err := cl.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, &flotillav1.Bundle{})
		if apierrors.IsUnauthorized(err) {
			return nil
		}
		return fmt.Errorf("got %v", err)
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// isolationMatrix checks, with cluster A's real token, every right an
// agent needs in its own namespace and the refusal of everything else.
func isolationMatrix(t *testing.T, admin client.Client, asA client.WithWatch, nsA, nsB string) {
	ctx := context.Background()
	for _, ns := range []string{nsA, nsB} {
		cluster := map[string]string{nsA: "site-a", nsB: "site-b"}[ns]
		must(t, call(func() error { return ignoreAlreadyExists(admin.Create(ctx, testBundle(ns, "web", cluster))) }))
		must(t, call(func() error {
			return ignoreAlreadyExists(admin.Create(ctx, &flotillav1.BundleChunk{ObjectMeta: metav1.ObjectMeta{Name: "chunk-1", Namespace: ns}, Data: []byte("x")}))
		}))
		must(t, call(func() error {
			return ignoreAlreadyExists(admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: ns}}))
		}))
	}
	for _, ns := range []string{fleetNS, "kube-system"} {
		must(t, call(func() error {
			return ignoreAlreadyExists(admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: ns}}))
		}))
	}
	key := func(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }
	bundleStatus := func(ns string) error {
		b := &flotillav1.Bundle{}
		if err := admin.Get(ctx, key(ns, "web"), b); err != nil {
			return err
		}
		b.Status.ObservedDigest = "sha256:00"
		b.Status.AppliedRevision = "main@sha1:1"
		return asA.Status().Update(ctx, b)
	}
	agentStatus := func(ns string) error {
		a := &flotillav1.Agent{}
		if err := admin.Get(ctx, key(ns, flotillav1.AgentObjectName), a); err != nil {
			return err
		}
		now := metav1.Now()
		a.Status.LastHeartbeatTime = &now
		return asA.Status().Update(ctx, a)
	}
	watch := func(ns string) error {
		w, err := asA.Watch(ctx, &flotillav1.BundleList{}, client.InNamespace(ns))
		if err == nil {
			w.Stop()
		}
		return err
	}
	token := func(ns, sa string) error {
		s := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns}}
		return asA.SubResource("token").Create(ctx, s, &authenticationv1.TokenRequest{})
	}
	allowed := map[string]func() error{
		"get own bundle":           func() error { return asA.Get(ctx, key(nsA, "web"), &flotillav1.Bundle{}) },
		"list own bundles":         func() error { return asA.List(ctx, &flotillav1.BundleList{}, client.InNamespace(nsA)) },
		"watch own bundles":        func() error { return watch(nsA) },
		"get own bundle chunk":     func() error { return asA.Get(ctx, key(nsA, "chunk-1"), &flotillav1.BundleChunk{}) },
		"list own bundle chunks":   func() error { return asA.List(ctx, &flotillav1.BundleChunkList{}, client.InNamespace(nsA)) },
		"update own bundle status": func() error { return bundleStatus(nsA) },
		"get own agent":            func() error { return asA.Get(ctx, key(nsA, flotillav1.AgentObjectName), &flotillav1.Agent{}) },
		"update own agent status":  func() error { return agentStatus(nsA) },
		"renew own token":          func() error { return token(nsA, flotillav1.AgentObjectName) },
	}
	for what, fn := range allowed {
		if err := call(fn); err != nil {
			t.Errorf("%s: %v, want allowed", what, err)
		}
	}
	cluster := &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "site-a", Namespace: fleetNS}}
	forbidden := map[string]func() error{
		"get B's bundle":            func() error { return asA.Get(ctx, key(nsB, "web"), &flotillav1.Bundle{}) },
		"list B's bundles":          func() error { return asA.List(ctx, &flotillav1.BundleList{}, client.InNamespace(nsB)) },
		"watch B's bundles":         func() error { return watch(nsB) },
		"list bundles everywhere":   func() error { return asA.List(ctx, &flotillav1.BundleList{}) },
		"get B's bundle chunk":      func() error { return asA.Get(ctx, key(nsB, "chunk-1"), &flotillav1.BundleChunk{}) },
		"get B's agent":             func() error { return asA.Get(ctx, key(nsB, flotillav1.AgentObjectName), &flotillav1.Agent{}) },
		"update B's bundle status":  func() error { return bundleStatus(nsB) },
		"update B's agent status":   func() error { return agentStatus(nsB) },
		"update own bundle spec":    func() error { return asA.Update(ctx, testBundle(nsA, "web", "site-a")) },
		"create a bundle":           func() error { return asA.Create(ctx, testBundle(nsA, "evil", "site-a")) },
		"delete own bundle":         func() error { return asA.Delete(ctx, testBundle(nsA, "web", "site-a")) },
		"get a Secret, own ns":      func() error { return asA.Get(ctx, key(nsA, "s"), &corev1.Secret{}) },
		"list Secrets, own ns":      func() error { return asA.List(ctx, &corev1.SecretList{}, client.InNamespace(nsA)) },
		"get a Secret, fleet ns":    func() error { return asA.Get(ctx, key(fleetNS, "s"), &corev1.Secret{}) },
		"get a Secret, kube-system": func() error { return asA.Get(ctx, key("kube-system", "s"), &corev1.Secret{}) },
		"get a Cluster":             func() error { return asA.Get(ctx, key(fleetNS, "site-a"), &flotillav1.Cluster{}) },
		"create a Cluster": func() error {
			return asA.Create(ctx, &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: fleetNS}})
		},
		"update a Cluster":          func() error { return asA.Update(ctx, cluster.DeepCopy()) },
		"delete a Cluster":          func() error { return asA.Delete(ctx, cluster.DeepCopy()) },
		"update a Cluster's status": func() error { return asA.Status().Update(ctx, cluster.DeepCopy()) },
		"create an App": func() error {
			return asA.Create(ctx, &flotillav1.App{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: fleetNS}})
		},
		"delete an App": func() error {
			return asA.Delete(ctx, &flotillav1.App{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: fleetNS}})
		},
		"create a FleetRepository": func() error {
			return asA.Create(ctx, &flotillav1.FleetRepository{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: fleetNS}})
		},
		"create a ClusterSync": func() error {
			return asA.Create(ctx, &flotillav1.ClusterSync{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: fleetNS}})
		},
		"create a ClusterSync, own": func() error {
			return asA.Create(ctx, &flotillav1.ClusterSync{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: nsA}})
		},
		"get a registration": func() error { return asA.Get(ctx, key(fleetNS, "site-a-0000000a"), &flotillav1.ClusterRegistration{}) },
		"update a registration": func() error {
			return asA.Update(ctx, &flotillav1.ClusterRegistration{ObjectMeta: metav1.ObjectMeta{Name: "site-a-0000000a", Namespace: fleetNS}})
		},
		"update registration status": func() error {
			return asA.Status().Update(ctx, &flotillav1.ClusterRegistration{ObjectMeta: metav1.ObjectMeta{Name: "site-a-0000000a", Namespace: fleetNS}})
		},
		"create a Role, own ns": func() error {
			return asA.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: nsA}})
		},
		"update the agent Role": func() error {
			return asA.Update(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: nsA}})
		},
		"create a RoleBinding": func() error {
			return asA.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: nsA}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "agent"}})
		},
		"delete the agent binding": func() error {
			return asA.Delete(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: nsA}})
		},
		"token for another SA": func() error { return token(nsA, "default") },
		"token for B's agent":  func() error { return token(nsB, flotillav1.AgentObjectName) },
	}
	for what, fn := range forbidden {
		if err := call(fn); !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want Forbidden", what, err)
		}
	}
}
