package agent

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-gitops/flotilla/agent/bundle"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestAgentIdleCostsOnlyTheHeartbeat runs an agent with one bundle applied
// and nothing to do, with a resync interval shorter than its heartbeat
// interval, and counts the requests the hub API server serves for the
// agent's resources: one heartbeat (a single status patch) per interval
// and nothing else. Its bundles are followed by a watch, not listed on
// each pass, and the heartbeat does not read the Agent before writing it.
func TestAgentIdleCostsOnlyTheHeartbeat(t *testing.T) {
	e := newEnv(t)
	approveCtx, stopApprove := context.WithCancel(context.Background())
	defer stopApprove()
	go e.approve(approveCtx, t)
	opts := e.agentOptions(e.bootstrapConfig(t))
	opts.HeartbeatInterval = 2 * time.Second
	opts.ResyncInterval = time.Second
	opts.DefaultDriftInterval = time.Hour
	e.startAgent(t, opts)
	e.waitIdentity(t)
	stopApprove() // the test's approver lists registrations: not the agent's cost

	objs := []*unstructured.Unstructured{configMap("idle", map[string]string{"k": "1"})}
	content, digest, err := bundle.Encode(objs)
	must(t, err)
	must(t, testenv.RetryT(t, func(ctx context.Context) error {
		return e.hub.Create(ctx, &flotillav1.Bundle{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.agentNS, Name: "idle"},
			Spec: flotillav1.BundleSpec{
				App: "idle", Cluster: clusterName, Repository: repoName, Revision: "r1", Digest: digest,
				Namespace: "apps", Content: content,
				DriftInterval: &metav1.Duration{Duration: time.Hour},
			},
		})
	}))
	e.readyAt(t, "idle", digest)
	// Let the report of the apply and a heartbeat land.
	time.Sleep(2 * opts.HeartbeatInterval)

	const window = 12 * time.Second
	before := e.agentRequests(t)
	time.Sleep(window)
	served := subtract(e.agentRequests(t), before)

	heartbeats := served["PATCH agents/status"]
	// A positive signal first: the agent is alive and reporting.
	if heartbeats < float64(window/opts.HeartbeatInterval)-2 {
		t.Fatalf("%v heartbeats in %s at one per %s; the hub served %v", heartbeats, window, opts.HeartbeatInterval, served)
	}
	var total float64
	for _, v := range served {
		total += v
	}
	// One request may be the informer's watch coming back.
	if total > heartbeats+1 {
		t.Fatalf("an idle agent sent %v requests to the hub in %s, %v of them heartbeats; want the heartbeats alone: %v", total, window, heartbeats, served)
	}
}

// agentRequests reads apiserver_request_total of the hub for the resources
// an agent uses (flotilla.dev and service account tokens), keyed "VERB
// resource[/subresource]".
func (e *env) agentRequests(t *testing.T) map[string]float64 {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.hubCluster.Config())
	must(t, err)
	var body []byte
	must(t, testenv.RetryT(t, func(ctx context.Context) error {
		var err error
		body, err = cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		return err
	}))
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		const prefix = "apiserver_request_total{"
		end := strings.LastIndex(line, "}")
		if !strings.HasPrefix(line, prefix) || end < 0 {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(line[len(prefix):end], ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
		if labels["group"] != flotillav1.GroupVersion.Group && labels["resource"] != "serviceaccounts" {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			continue
		}
		key := labels["verb"] + " " + labels["resource"]
		if labels["subresource"] != "" {
			key += "/" + labels["subresource"]
		}
		out[key] += v
	}
	must(t, sc.Err())
	return out
}

// subtract returns the counts of after that grew since before.
func subtract(after, before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
