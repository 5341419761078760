package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func TestRolloutsInStatusMarkdownAndTable(t *testing.T) {
	repo, clusters, syncs := fixture()
	r := Build(repo, clusters, syncs)
	apps := []flotillav1.App{
		{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: flotillav1.AppSpec{Rollout: &flotillav1.RolloutSpec{Canary: []string{"factory-a"}}},
			Status: flotillav1.AppStatus{Rollout: &flotillav1.RolloutStatus{
				Revision: "main@sha1:0123456789abcdef", Phase: flotillav1.RolloutHalted, StageName: "canary", Progress: "0/2",
				Message: "revision main@sha1:0123456789ab failed on factory-a; push a fix",
			}}},
		// No spec.rollout: not listed, whatever its status says.
		{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Status: flotillav1.AppStatus{Rollout: &flotillav1.RolloutStatus{Phase: flotillav1.RolloutComplete}}},
	}
	AddRollouts(&r, apps)
	if len(r.Rollouts) != 1 || r.Rollouts[0].App != "web" || r.Rollouts[0].Phase != "Halted" {
		t.Fatalf("rollouts = %+v; want only web's", r.Rollouts)
	}
	md := string(Markdown(r))
	if want := "| web | main@0123456 | Halted | canary | 0/2 | revision main@sha1:0123456789ab failed on factory-a; push a fix |"; !strings.Contains(md, want) {
		t.Errorf("STATUS.md lacks %q:\n%s", want, md)
	}
	var out bytes.Buffer
	if err := WriteTable(&out, r, time.Now()); err != nil {
		t.Fatal(err)
	}
	if want := "rollout web: main@0123456 Halted, stage canary, 0/2 sites updated"; !strings.Contains(out.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, out.String())
	}
}
