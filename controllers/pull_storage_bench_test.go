package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
	"github.com/flotilla-gitops/flotilla/render"
)

// BenchmarkPullHubStorage measures what the desired state of N pull
// clusters costs in the hub's etcd. It renders the example fleet
// (examples/factory-fleet) for N pull sites: its five clusters and copies
// of them (each with its own name and registry host), builds every
// (app, site) Bundle and its BundleChunks exactly as the ClusterSync
// reconciler does, writes them to a real hub API server, reads them back
// and sums their JSON size (what etcd stores for custom resources,
// managedFields included). It reports bytes per cluster, the largest
// object and how many Bundles needed chunks.
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s/1.37.2 go test ./controllers -run '^$' \
//	  -bench BenchmarkPullHubStorage -benchtime 1x
func BenchmarkPullHubStorage(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			for range b.N {
				benchPullStorage(b, n)
			}
		})
	}
}

func benchPullStorage(b *testing.B, n int) {
	ctx := context.Background()
	root := pullFleet(b, n)
	out, err := pipeline.Run(ctx, root, render.New(render.Options{}), pipeline.RenderOnlyIfValid())
	if err != nil {
		b.Fatal(err)
	}
	if out.HasErrors() {
		b.Fatalf("the generated fleet is invalid: %v", out.Errors())
	}
	repo := types.NamespacedName{Namespace: fleetNS, Name: "repo"}
	desired, _, errs := desiredFrom(repo, out, "main@sha1:0123456789abcdef0123456789abcdef01234567")
	if len(errs) > 0 {
		b.Fatalf("render errors: %v", errs)
	}

	hubCluster := testenv.NewCluster(b, testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}})
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		b.Fatal(err)
	}
	if err := flotillav1.AddToScheme(scheme); err != nil {
		b.Fatal(err)
	}
	hub, err := hubCluster.NewClient(scheme)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]syncKey, 0, len(desired))
	for k := range desired {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].Cluster+"/"+keys[i].App < keys[j].Cluster+"/"+keys[j].App
	})
	b.ResetTimer()
	chunked := 0
	for _, k := range keys {
		d := desired[k]
		cs := &flotillav1.ClusterSync{
			ObjectMeta: metav1.ObjectMeta{Namespace: fleetNS, Name: syncName(k.App, k.Cluster), Labels: map[string]string{flotillav1.LabelRepository: repo.Name}},
			Spec:       flotillav1.ClusterSyncSpec{App: k.App, Cluster: k.Cluster},
		}
		ns, err := ensureAgentNamespace(ctx, hub, fleetNS, k.Cluster)
		if err != nil {
			b.Fatal(err)
		}
		content, digest, err := d.bundleContent()
		if err != nil {
			b.Fatal(err)
		}
		bun, chunks := bundleFor(cs, d, DefaultOptions().DefaultDriftInterval, ns, content, digest)
		if len(chunks) > 0 {
			chunked++
		}
		for _, ch := range chunks {
			if err := hub.Create(ctx, ch); err != nil && !apierrors.IsAlreadyExists(err) {
				b.Fatal(err)
			}
		}
		if err := hub.Create(ctx, bun); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()

	total, largest, objects := 0, 0, 0
	for _, kind := range []string{"BundleList", "BundleChunkList"} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(flotillav1.GroupVersion.WithKind(kind))
		if err := hub.List(ctx, list); err != nil {
			b.Fatal(err)
		}
		for _, item := range list.Items {
			raw, err := json.Marshal(item.Object)
			if err != nil {
				b.Fatal(err)
			}
			total += len(raw)
			largest = max(largest, len(raw))
			objects++
		}
	}
	if largest >= etcdObjectLimit {
		b.Fatalf("an object of %d bytes is at or over etcd's %d", largest, etcdObjectLimit)
	}
	b.ReportMetric(float64(total)/float64(n), "bytes/cluster")
	b.ReportMetric(float64(len(keys))/float64(n), "bundles/cluster")
	b.ReportMetric(float64(largest), "largest-bytes")
	b.ReportMetric(float64(chunked), "chunked-bundles")
	b.ReportMetric(float64(objects), "objects")
	b.Logf("%d pull clusters, %d bundles (%d chunked), %d objects, %d bytes in etcd: %d bytes per cluster, largest object %d bytes",
		n, len(keys), chunked, objects, total, total/n, largest)
}

// pullFleet copies examples/factory-fleet with n pull sites: its own
// clusters (switched to pull mode), then site-0005 onwards, each a copy of
// one of the example's clusters with its own name and registry host.
func pullFleet(b *testing.B, n int) string {
	b.Helper()
	root := b.TempDir()
	if err := os.CopyFS(root, os.DirFS("../examples/factory-fleet")); err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(root, "clusters")
	templates, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(templates) == 0 {
		b.Fatalf("no cluster files in the example: %v", err)
	}
	sort.Strings(templates)
	var parsed []map[string]any
	for _, p := range templates {
		raw, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(raw, &m); err != nil {
			b.Fatalf("%s: %v", p, err)
		}
		parsed = append(parsed, m)
	}
	for i := range n {
		var c map[string]any
		raw, _ := json.Marshal(parsed[i%len(parsed)])
		if err := json.Unmarshal(raw, &c); err != nil {
			b.Fatal(err)
		}
		name := c["metadata"].(map[string]any)["name"].(string)
		if i >= len(parsed) {
			name = fmt.Sprintf("site-%04d", i)
			c["metadata"].(map[string]any)["name"] = name
		}
		spec, _ := c["spec"].(map[string]any)
		if spec == nil {
			spec = map[string]any{}
			c["spec"] = spec
		}
		if vars, ok := spec["vars"].(map[string]any); ok {
			if _, ok := vars["registry"]; ok {
				vars["registry"] = "harbor." + name + ".factory.local"
			}
		}
		spec["access"] = map[string]any{"mode": "Pull"}
		out, err := yaml.Marshal(c)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), out, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return root
}
