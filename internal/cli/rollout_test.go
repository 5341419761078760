package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/hub"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// flotilla rollout approve|resume|abort set the App's command annotation on
// a real hub, each time to a new value; status prints the rollout the hub
// recorded; an app without spec.rollout is a clear error.
func TestRolloutCommandsOnAHub(t *testing.T) {
	hubCluster := testenv.NewClusters(t, testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../../config/crd/bases"}})[0]
	scheme, err := hub.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := hubCluster.NewClient(scheme)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}}); err != nil {
		t.Fatal(err)
	}
	app := &flotillav1.App{ObjectMeta: metav1.ObjectMeta{Name: "adc", Namespace: "fleet"},
		Spec: flotillav1.AppSpec{Namespace: "adc", Rollout: &flotillav1.RolloutSpec{Canary: []string{"dresden"}}}}
	plain := &flotillav1.App{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "fleet"}, Spec: flotillav1.AppSpec{Namespace: "plain"}}
	for _, a := range []*flotillav1.App{app, plain} {
		if err := cl.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	app.Status.Rollout = &flotillav1.RolloutStatus{Revision: "main@sha1:0123456789abcdef", Phase: flotillav1.RolloutWaitingForApproval,
		StageName: "canary", Progress: "1/3", Message: "stage \"canary\" Ready; waiting for approval",
		Stages: []flotillav1.RolloutStageStatus{{Name: "canary", Sites: 1, Updated: 1}}}
	if err := cl.Status().Update(ctx, app); err != nil {
		t.Fatal(err)
	}
	kc := hubCluster.KubeconfigPath()

	annotation := func() string {
		t.Helper()
		got := &flotillav1.App{}
		if err := testenv.Retry(ctx, func(ctx context.Context) error { return cl.Get(ctx, client.ObjectKeyFromObject(app), got) }); err != nil {
			t.Fatal(err)
		}
		return got.Annotations[flotillav1.AnnotationRolloutApprove]
	}
	code, out, errOut := runHubCLI(t, "rollout", "approve", "adc", "--kubeconfig", kc, "-n", "fleet")
	first := annotation()
	if code != 0 || first == "" || !strings.Contains(out, "approve requested for app adc (phase was WaitingForApproval)") {
		t.Fatalf("rollout approve: exit %d, annotation %q\nstdout:\n%s\nstderr:\n%s", code, first, out, errOut)
	}
	if code, _, errOut := runHubCLI(t, "rollout", "approve", "adc", "--kubeconfig", kc, "-n", "fleet"); code != 0 || annotation() == first {
		t.Fatalf("a second approve must set a new value (exit %d, %s)", code, errOut)
	}

	code, out, errOut = runHubCLI(t, "rollout", "status", "adc", "--kubeconfig", kc, "-n", "fleet")
	if code != 0 {
		t.Fatalf("rollout status: exit %d\n%s", code, errOut)
	}
	wantInOrder(t, out, "app adc: revision main@sha1:0123456789abcdef, WaitingForApproval, stage \"canary\", 1/3 sites updated", "STAGE", "canary")

	code, _, errOut = runHubCLI(t, "rollout", "resume", "plain", "--kubeconfig", kc, "-n", "fleet")
	if code != 2 || !strings.Contains(errOut, "app plain has no spec.rollout") {
		t.Fatalf("rollout resume of an app without a rollout: exit %d, stderr:\n%s", code, errOut)
	}
}

// runHubCLI runs a command that talks to the test hub, again while it fails
// with a transient error (a TLS handshake timeout on a loaded machine).
func runHubCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, stdout, stderr = runCLI(t, args...)
		if code == 0 || !testenv.IsTransient(errors.New(stderr)) || time.Now().After(deadline) {
			return code, stdout, stderr
		}
		time.Sleep(500 * time.Millisecond)
	}
}
