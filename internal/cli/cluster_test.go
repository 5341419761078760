package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-gitops/flotilla/agent/seal"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/controllers"
	"github.com/flotilla-gitops/flotilla/internal/hub"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestClusterCommandsOnAHub runs flotilla cluster bootstrap-token, approve,
// list-registrations and revoke against a real hub running the controller:
// the bootstrap kubeconfig registers an agent (approved automatically) and
// may do nothing else; a second registration waits until `cluster approve`;
// `cluster revoke` ends the agent's token at once.
func TestClusterCommandsOnAHub(t *testing.T) {
	hubCluster := testenv.NewClusters(t, testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../../config/crd/bases"}})[0]
	scheme, err := hub.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := hubCluster.NewClient(scheme)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := hub.NewManager(hubCluster.Config(), hub.Options{Controllers: controllers.Options{CacheDir: t.TempDir(), AgentTokenTTL: time.Hour, HeartbeatInterval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	mustDo := func(what string, fn func(ctx context.Context) error) {
		t.Helper()
		if err := testenv.Retry(ctx, fn); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	mustDo("create namespace", func(ctx context.Context) error {
		return admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}})
	})
	mustDo("create Secret", func(ctx context.Context) error {
		return admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "fleet"}})
	})
	mustDo("create Cluster", func(ctx context.Context) error {
		return admin.Create(ctx, &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "dresden", Namespace: "fleet"},
			Spec: flotillav1.ClusterSpec{Access: flotillav1.ClusterAccess{Mode: flotillav1.AccessPull}}})
	})
	kc := hubCluster.KubeconfigPath()

	// bootstrap-token --kubeconfig-out: a kubeconfig with only the token.
	out := filepath.Join(t.TempDir(), "bootstrap.kubeconfig")
	code, stdout, stderr := runHubCLI(t, "cluster", "bootstrap-token", "--kubeconfig", kc, "-n", "fleet", "--ttl", "15m", "--kubeconfig-out", out)
	if code != 0 || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("bootstrap-token: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bootstrap kubeconfig: %v, mode %v; want 0600", err, fi)
	}
	bootCfg, err := clientcmd.BuildConfigFromFlags("", out)
	if err != nil {
		t.Fatal(err)
	}
	if bootCfg.BearerToken == "" || len(bootCfg.CertData) != 0 || len(bootCfg.CAData) == 0 || bootCfg.Host != hubCluster.Config().Host {
		t.Fatalf("bootstrap kubeconfig: host %q, token %t, client cert %t, CA %t", bootCfg.Host, bootCfg.BearerToken != "", len(bootCfg.CertData) != 0, len(bootCfg.CAData) != 0)
	}
	boot, err := client.New(bootCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	// Without --kubeconfig-out the token alone is printed, and works.
	code, stdout, stderr = runHubCLI(t, "cluster", "bootstrap-token", "--kubeconfig", kc, "-n", "fleet")
	if code != 0 || strings.Count(strings.TrimSpace(stdout), "\n") != 0 || !strings.Contains(stderr, "valid until") {
		t.Fatalf("bootstrap-token: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	printed, err := client.New(&rest.Config{Host: bootCfg.Host, BearerToken: strings.TrimSpace(stdout), TLSClientConfig: rest.TLSClientConfig{CAData: bootCfg.CAData}}, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	mustDo("list registrations with the printed token", func(ctx context.Context) error {
		return printed.List(ctx, &flotillav1.ClusterRegistrationList{}, client.InNamespace("fleet"))
	})

	// The agent registers with the bootstrap kubeconfig.
	key1, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	reg1 := &flotillav1.ClusterRegistration{ObjectMeta: metav1.ObjectMeta{Name: "dresden-00000001", Namespace: "fleet"},
		Spec: flotillav1.ClusterRegistrationSpec{ClusterName: "dresden", PublicKey: key1.PublicKey().Bytes()}}
	mustDo("register with the bootstrap token", func(ctx context.Context) error { return boot.Create(ctx, reg1.DeepCopy()) })
	issued := waitReg(t, admin, reg1.Name, flotillav1.IssuedCondition, metav1.ConditionTrue)
	token1, err := seal.Open(key1, issued.Status.Credential)
	if err != nil {
		t.Fatal(err)
	}
	agentNS := flotillav1.AgentNamespace("fleet", "dresden")

	// What the bootstrap identity may not do.
	forbidden := map[string]func(ctx context.Context) error{
		"read a Secret": func(ctx context.Context) error {
			return boot.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "s"}, &corev1.Secret{})
		},
		"approve a registration": func(ctx context.Context) error {
			r := &flotillav1.ClusterRegistration{}
			if err := admin.Get(ctx, client.ObjectKeyFromObject(reg1), r); err != nil {
				return err
			}
			p := client.MergeFrom(r.DeepCopy())
			r.Annotations = map[string]string{flotillav1.AnnotationApproved: "true"}
			return boot.Patch(ctx, r, p)
		},
		"update a registration": func(ctx context.Context) error {
			r := &flotillav1.ClusterRegistration{}
			if err := admin.Get(ctx, client.ObjectKeyFromObject(reg1), r); err != nil {
				return err
			}
			r.Spec.AgentVersion = "x"
			return boot.Update(ctx, r)
		},
		"write a registration's status": func(ctx context.Context) error {
			r := &flotillav1.ClusterRegistration{}
			if err := admin.Get(ctx, client.ObjectKeyFromObject(reg1), r); err != nil {
				return err
			}
			conditions.MarkTrue(r, flotillav1.ApprovedCondition, "Self", "self")
			return boot.Status().Update(ctx, r)
		},
		"delete a registration": func(ctx context.Context) error { return boot.Delete(ctx, reg1.DeepCopy()) },
		"read Bundles": func(ctx context.Context) error {
			return boot.List(ctx, &flotillav1.BundleList{}, client.InNamespace(agentNS))
		},
		"read Clusters": func(ctx context.Context) error {
			return boot.List(ctx, &flotillav1.ClusterList{}, client.InNamespace("fleet"))
		},
	}
	for what, fn := range forbidden {
		var err error
		mustDo(what, func(ctx context.Context) error { err = fn(ctx); return ignoreForbidden(err) })
		if !apierrors.IsForbidden(err) {
			t.Errorf("bootstrap identity: %s: %v, want Forbidden", what, err)
		}
	}

	// A second registration waits for a person, then `cluster approve`.
	key2, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	reg2 := &flotillav1.ClusterRegistration{ObjectMeta: metav1.ObjectMeta{Name: "dresden-00000002", Namespace: "fleet"},
		Spec: flotillav1.ClusterRegistrationSpec{ClusterName: "dresden", PublicKey: key2.PublicKey().Bytes(), AgentVersion: "v9"}}
	mustDo("register again", func(ctx context.Context) error { return boot.Create(ctx, reg2.DeepCopy()) })
	waitReg(t, admin, reg2.Name, flotillav1.ApprovedCondition, metav1.ConditionUnknown)
	code, stdout, stderr = runHubCLI(t, "cluster", "list-registrations", "--kubeconfig", kc, "-n", "fleet")
	if code != 0 {
		t.Fatalf("list-registrations: exit %d\n%s", code, stderr)
	}
	wantInOrder(t, stdout, "REGISTRATION", "dresden-00000002", "Pending", "v9", "dresden-00000001", "Issued")
	code, stdout, stderr = runHubCLI(t, "cluster", "approve", "dresden", "--kubeconfig", kc, "-n", "fleet")
	if code != 0 || !strings.Contains(stdout, "approved registration dresden-00000002 of cluster dresden") {
		t.Fatalf("approve: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	issued2 := waitReg(t, admin, reg2.Name, flotillav1.IssuedCondition, metav1.ConditionTrue)
	waitReg(t, admin, reg1.Name, flotillav1.RevokedCondition, metav1.ConditionTrue)
	token2, err := seal.Open(key2, issued2.Status.Credential)
	if err != nil {
		t.Fatal(err)
	}
	asAgent := func(token []byte) client.Client {
		cl, err := client.New(&rest.Config{Host: bootCfg.Host, BearerToken: string(token), TLSClientConfig: rest.TLSClientConfig{CAData: bootCfg.CAData}}, client.Options{Scheme: scheme})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	agentKey := client.ObjectKey{Namespace: agentNS, Name: flotillav1.AgentObjectName}
	waitAgentErr(t, asAgent(token1), agentKey, apierrors.IsUnauthorized, "the replaced token refused")
	waitAgentErr(t, asAgent(token2), agentKey, func(err error) bool { return err == nil }, "the approved token works")

	// Nothing left to approve: a clear error.
	code, _, stderr = runHubCLI(t, "cluster", "approve", "dresden", "--kubeconfig", kc, "-n", "fleet")
	if code != 2 || !strings.Contains(stderr, "no registration waiting for approval") {
		t.Fatalf("approve with nothing pending: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runHubCLI(t, "cluster", "approve", "leipzig", "--kubeconfig", kc, "-n", "fleet")
	if code != 2 || !strings.Contains(stderr, "cluster leipzig has no ClusterRegistration") {
		t.Fatalf("approve of an unknown cluster: exit %d\n%s", code, stderr)
	}

	// revoke: the token stops working at once.
	code, stdout, stderr = runHubCLI(t, "cluster", "revoke", "dresden", "--kubeconfig", kc, "-n", "fleet")
	if code != 0 || !strings.Contains(stdout, "registration dresden-00000002: Revoked") {
		t.Fatalf("revoke: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	waitAgentErr(t, asAgent(token2), agentKey, apierrors.IsUnauthorized, "the revoked token refused")
	revoked := waitReg(t, admin, reg2.Name, flotillav1.RevokedCondition, metav1.ConditionTrue)
	if conditions.GetReason(revoked, flotillav1.RevokedCondition) != flotillav1.ReasonRevokedByUser || revoked.Status.Credential != nil {
		t.Fatalf("revoked registration: %+v, credential %v", revoked.Status.Conditions, revoked.Status.Credential)
	}
}

func ignoreForbidden(err error) error {
	if apierrors.IsForbidden(err) {
		return nil
	}
	return err
}

// waitReg waits until a registration's condition has status.
func waitReg(t *testing.T, admin client.Client, name, condition string, status metav1.ConditionStatus) *flotillav1.ClusterRegistration {
	t.Helper()
	got := &flotillav1.ClusterRegistration{}
	deadline := time.Now().Add(time.Minute)
	for {
		err := admin.Get(context.Background(), client.ObjectKey{Namespace: "fleet", Name: name}, got)
		if err == nil && conditions.Has(got, condition) && conditions.Get(got, condition).Status == status {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("registration %s: %s=%s not within a minute: %v %+v", name, condition, status, err, got.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAgentErr waits until reading the Agent with cl gives an error ok
// accepts.
func waitAgentErr(t *testing.T, cl client.Client, key client.ObjectKey, ok func(error) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cl.Get(context.Background(), key, &flotillav1.Agent{})
		if ok(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %v", what, fmt.Errorf("reading the Agent: %w", err))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
