package controllers

import (
	"encoding/pem"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/fluxcd/pkg/ssa/utils"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// A member whose kubeconfig it refuses (a CA that did not sign its
// certificate, a token it does not know) is a configuration error naming
// the Secret to fix, on the ClusterSync and on the Cluster's heartbeat, not
// an unreachable cluster backed off in silence.
func TestRefusedKubeconfigIsAConfigurationErrorNamingTheSecret(t *testing.T) {
	clusters := testenv.NewClusters(t,
		testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}},
		testenv.ClusterOptions{Name: "member"})
	hubCluster, member := clusters[0], clusters[1]
	hub, err := hubCluster.NewClient(runtime(t))
	must(t, err)
	ctx := t.Context()
	ns := "fleet"
	must(t, hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))

	// A CA the member's serving certificate is not signed by.
	other := httptest.NewTLSServer(nil)
	otherCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Certificate().Raw})
	other.Close()

	store := newDesiredStore()
	repo := types.NamespacedName{Namespace: ns, Name: "repo"}
	opts := Options{}.withDefaults()
	clients := newClusterClients(hub, clusterclient.Options{}, time.Minute)
	reach := newReachability(time.Second, time.Minute)
	events := record.NewFakeRecorder(100)
	syncs := &ClusterSyncReconciler{Client: hub, Recorder: events, Store: store, Options: opts, Clients: clients, Reach: reach, Limits: newLimiter(2)}
	heartbeats := &ClusterReconciler{Client: hub, Recorder: events, Clients: clients, Reach: reach, Options: opts, Summaries: newDebounce(time.Second)}

	for _, tc := range []struct {
		cluster, reason, fix string
		edit                 func(*clientcmdapi.Config)
	}{
		{"wrong-ca", flotillav1.ReasonClusterTLSFailed, "certificate-authority-data", func(cfg *clientcmdapi.Config) {
			for _, c := range cfg.Clusters {
				c.CertificateAuthorityData = otherCA
			}
		}},
		{"wrong-token", flotillav1.ReasonClusterAuthFailed, "token or client certificate", func(cfg *clientcmdapi.Config) {
			for name := range cfg.AuthInfos {
				cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "not-a-token-the-member-knows"}
			}
		}},
	} {
		t.Run(tc.cluster, func(t *testing.T) {
			cfg, err := clientcmd.Load(member.Kubeconfig())
			must(t, err)
			tc.edit(cfg)
			data, err := clientcmd.Write(*cfg)
			must(t, err)
			secret := tc.cluster + "-kubeconfig"
			must(t, hub.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: ns}, Data: map[string][]byte{"value": data}}))
			cluster := &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: tc.cluster, Namespace: ns}}
			must(t, hub.Create(ctx, cluster))
			cs := &flotillav1.ClusterSync{
				ObjectMeta: metav1.ObjectMeta{Name: "web." + tc.cluster, Namespace: ns, Labels: map[string]string{flotillav1.LabelRepository: "repo"}},
				Spec:       flotillav1.ClusterSyncSpec{App: "web", Cluster: tc.cluster},
			}
			must(t, hub.Create(ctx, cs))
			objs, err := utils.ReadObjects(strings.NewReader(loopManifest))
			must(t, err)
			store.replaceRepo(repo, map[syncKey]*Desired{{Repo: repo, App: "web", Cluster: tc.cluster}: {
				Revision: "main@sha1:1", Digest: "sha256:1", Namespace: "web", Objects: objs, HealthTimeout: time.Minute,
			}}, nil)

			wantSecret := "Secret " + ns + "/" + secret + " key value"
			checkRefused := func(what string, obj conditions.Getter, reasonOf string, msg string) {
				t.Helper()
				if reasonOf != tc.reason || !strings.Contains(msg, wantSecret) || !strings.Contains(msg, tc.fix) {
					t.Errorf("%s: reason %q message %q; want reason %s and a message naming %q and %q", what, reasonOf, msg, tc.reason, wantSecret, tc.fix)
				}
				if !conditions.IsStalled(obj) || conditions.GetReason(obj, meta.StalledCondition) != tc.reason {
					t.Errorf("%s: want Stalled=True with reason %s, got conditions %+v", what, tc.reason, obj.GetConditions())
				}
			}

			res, err := syncs.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(cs)})
			if err != nil {
				t.Fatalf("Reconcile returned %v; a refused kubeconfig is recorded in status, not retried as an error", err)
			}
			if res.RequeueAfter < opts.HeartbeatInterval {
				t.Errorf("requeue after %v; want the Secret looked at again after the heartbeat interval %v", res.RequeueAfter, opts.HeartbeatInterval)
			}
			got := &flotillav1.ClusterSync{}
			must(t, hub.Get(ctx, client.ObjectKeyFromObject(cs), got))
			ready := conditions.Get(got, meta.ReadyCondition)
			if ready == nil || ready.Status != metav1.ConditionFalse {
				t.Fatalf("ClusterSync Ready = %+v, want False", ready)
			}
			checkRefused("ClusterSync", got, ready.Reason, ready.Message)
			if wait, _, blocked := reach.blocked(memberKey(ns, tc.cluster)); blocked {
				t.Errorf("the cluster backs off for %v as unreachable; it answered", wait)
			}

			_, err = heartbeats.heartbeat(ctx, cluster)
			must(t, err)
			reachable := conditions.Get(cluster, flotillav1.ReachableCondition)
			if reachable == nil || reachable.Status != metav1.ConditionFalse {
				t.Fatalf("Cluster Reachable = %+v, want False", reachable)
			}
			checkRefused("Cluster", cluster, reachable.Reason, reachable.Message)
		})
	}
	var warned int
	for len(events.Events) > 0 {
		if e := <-events.Events; strings.HasPrefix(e, corev1.EventTypeWarning+" "+flotillav1.ReasonClusterTLSFailed) || strings.HasPrefix(e, corev1.EventTypeWarning+" "+flotillav1.ReasonClusterAuthFailed) {
			warned++
		}
	}
	if warned != 4 {
		t.Errorf("%d warning events about refused kubeconfigs; want one per ClusterSync and Cluster (4)", warned)
	}
}
