package demo

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintNextStepsNamesEverythingNeeded(t *testing.T) {
	info := Info{
		Dir: "/tmp/d", Temporary: true, Namespace: "flotilla-system", Repository: "factory-fleet",
		Kubeconfig: "/tmp/d/kubeconfig",
		Hub:        ClusterInfo{Name: HubName, Kubeconfig: "/tmp/d/hub/kubeconfig"},
		Clusters: []ClusterInfo{
			{Name: "factory-a", Kubeconfig: "/tmp/d/clusters/factory-a/kubeconfig"},
			{Name: "factory-b", Kubeconfig: "/tmp/d/clusters/factory-b/kubeconfig", Mode: "Pull", AgentLog: "/tmp/d/clusters/factory-b/logs/flotilla-agent.log"},
		},
		GitURL: "http://u:p@127.0.0.1:1/factory-fleet.git", Branch: "main",
		ControllerLog: "/tmp/d/controller.log", ControlSocket: "/tmp/s.sock",
	}
	var buf bytes.Buffer
	if err := PrintNextSteps(&buf, info, "/opt/flotilla"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`eval "$(/opt/flotilla demo env)"`,
		"kubectl --kubeconfig /tmp/d/hub/kubeconfig get flotilla -n flotilla-system",
		"/tmp/d/clusters/factory-a/kubeconfig",
		"/tmp/d/clusters/factory-b/kubeconfig",
		"git clone http://u:p@127.0.0.1:1/factory-fleet.git factory-fleet",
		"/opt/flotilla demo stop-cluster factory-b",
		"/opt/flotilla demo start-cluster factory-b",
		"/tmp/d/controller.log",
		"factory-b runs in pull mode",
		"/tmp/d/clusters/factory-b/logs/flotilla-agent.log",
		"kubectl get fregs -n flotilla-system",
		"kubectl get bundles -n flotilla-flotilla-system-factory-b",
		"Press Ctrl-C to stop the demo and remove everything it started (/tmp/d)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("next steps lack %q:\n%s", want, out)
		}
	}
	info.Temporary, info.ControlSocket = false, ""
	buf.Reset()
	if err := PrintNextSteps(&buf, info, "flotilla"); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); strings.Contains(out, "stop-cluster") || !strings.Contains(out, "its folder /tmp/d is kept") || strings.Contains(out, "factory-a runs in pull mode") {
		t.Errorf("without a control socket, or with --dir:\n%s", out)
	}
}
