package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/render"
)

// Two apps that render the same object (group, kind, namespace, name) for
// one cluster are an error naming both app files and the cluster; the same
// name in another namespace, or on clusters only one of them goes to, is
// fine.
func TestRunReportsTwoAppsRenderingTheSameObjectOnACluster(t *testing.T) {
	root := t.TempDir()
	const shared = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: b}\n" +
		"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n"
	writeFiles(t, root, map[string]string{
		"clusters/eu-1.yaml":                 cluster("eu-1", "eu"),
		"clusters/eu-2.yaml":                 cluster("eu-2", "eu"),
		"apps/alpha/app.yaml":                "apiVersion: flotilla.dev/v1alpha1\nkind: App\nmetadata:\n  name: alpha\nspec:\n  namespace: tools\n",
		"apps/alpha/base/kustomization.yaml": "resources:\n- objects.yaml\n",
		"apps/alpha/base/objects.yaml":       shared,
		"apps/beta/app.yaml":                 "apiVersion: flotilla.dev/v1alpha1\nkind: App\nmetadata:\n  name: beta\nspec:\n  namespace: tools\n  placement:\n    clusterNames: [eu-1]\n",
		"apps/beta/base/kustomization.yaml":  "resources:\n- objects.yaml\n",
		"apps/beta/base/objects.yaml":        shared,
		"apps/gamma/app.yaml":                app("gamma", ""),
		"apps/gamma/base/kustomization.yaml": "resources:\n- cm.yaml\n",
		"apps/gamma/base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
	})
	out, err := Run(context.Background(), root, render.New(render.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	errs := out.Errors()
	if len(errs) != 2 {
		t.Fatalf("errors = %v, want two (the ConfigMap and the ClusterRole)", errs)
	}
	for i, want := range []string{"ClusterRole.rbac.authorization.k8s.io reader", "ConfigMap tools/settings"} {
		d := errs[i]
		if d.File != "apps/beta/app.yaml" || d.Severity != fleet.SeverityError {
			t.Errorf("diagnostic %v is not an error on apps/beta/app.yaml", d)
		}
		for _, s := range []string{"apps/alpha/app.yaml", "apps/beta/app.yaml", want, "for cluster eu-1;"} {
			if !strings.Contains(d.Message, s) {
				t.Errorf("diagnostic %q does not mention %q", d.Message, s)
			}
		}
		if strings.Contains(d.Message, "eu-2") || strings.Contains(d.Message, "gamma") {
			t.Errorf("diagnostic %q names a cluster or app without a conflict", d.Message)
		}
	}
}
