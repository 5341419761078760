package testenv_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestClusters starts three clusters at once and proves that they are
// independent, reachable with real kubectl through their kubeconfig files, and
// that one can be stopped (connections refused, the others unaffected) and
// restarted with its data on the same address.
func TestClusters(t *testing.T) {
	t.Parallel()
	clusters := testenv.NewClusters(t,
		testenv.ClusterOptions{Name: "hub"},
		testenv.ClusterOptions{Name: "factory-a"},
		testenv.ClusterOptions{Name: "factory-b"},
	)
	ctx := t.Context()

	clients := make([]client.Client, len(clusters))
	for i, c := range clusters {
		cl, err := c.NewClient(nil)
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = cl
	}

	t.Run("addresses and kubeconfigs are distinct", func(t *testing.T) {
		seen := map[string]string{}
		for _, c := range clusters {
			if other, dup := seen[c.Host()]; dup {
				t.Fatalf("clusters %s and %s share the address %s", c.Name(), other, c.Host())
			}
			seen[c.Host()] = c.Name()
			kc, err := clientcmd.LoadFromFile(c.KubeconfigPath())
			if err != nil {
				t.Fatalf("loading kubeconfig of %s: %v", c.Name(), err)
			}
			if kc.CurrentContext != c.Name() {
				t.Errorf("kubeconfig of %s: current context is %q, want %q", c.Name(), kc.CurrentContext, c.Name())
			}
			for name, user := range kc.AuthInfos {
				if user.Exec != nil || user.AuthProvider != nil {
					t.Errorf("kubeconfig of %s: user %s uses a plugin", c.Name(), name)
				}
				if len(user.ClientCertificateData) == 0 || len(user.ClientKeyData) == 0 {
					t.Errorf("kubeconfig of %s: user %s has no embedded client certificate", c.Name(), name)
				}
			}
		}
	})

	t.Run("an object created in one cluster is absent from the others", func(t *testing.T) {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "only-in-factory-a", Namespace: "default"},
			Data:       map[string]string{"site": "factory-a"},
		}
		if err := clients[1].Create(ctx, cm); err != nil {
			t.Fatalf("creating ConfigMap in factory-a: %v", err)
		}
		got := &corev1.ConfigMap{}
		if err := clients[1].Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
			t.Fatalf("reading ConfigMap back from factory-a: %v", err)
		}
		for _, i := range []int{0, 2} {
			err := clients[i].Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
			if !apierrors.IsNotFound(err) {
				t.Errorf("cluster %s: Get ConfigMap only-in-factory-a: got %v, want NotFound", clusters[i].Name(), err)
			}
		}
	})

	t.Run("real kubectl reads the cluster through the kubeconfig file", func(t *testing.T) {
		out, err := clusters[1].Kubectl(ctx, "get", "configmap", "only-in-factory-a", "-n", "default", "-o", "jsonpath={.data.site}")
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != "factory-a" {
			t.Errorf("kubectl on factory-a printed %q, want %q", out, "factory-a")
		}
		_, err = clusters[2].Kubectl(ctx, "get", "configmap", "only-in-factory-a", "-n", "default")
		if err == nil || !strings.Contains(err.Error(), "NotFound") && !strings.Contains(err.Error(), "not found") {
			t.Errorf("kubectl on factory-b: got error %v, want not found", err)
		}
	})

	t.Run("a user added with AddUser is subject to RBAC", func(t *testing.T) {
		cfg, err := clusters[0].AddUser("viewer")
		if err != nil {
			t.Fatal(err)
		}
		cl, err := client.New(cfg, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = cl.List(ctx, &corev1.ConfigMapList{}, client.InNamespace("default"))
		if !apierrors.IsForbidden(err) {
			t.Errorf("listing ConfigMaps as a user without RBAC: got %v, want Forbidden", err)
		}
	})

	t.Run("a stopped cluster refuses connections and comes back with its data", func(t *testing.T) {
		factoryB := clusters[2]
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "survives-restart", Namespace: "default"},
			Data:       map[string]string{"k": "v"},
		}
		if err := clients[2].Create(ctx, cm); err != nil {
			t.Fatalf("creating ConfigMap in factory-b: %v", err)
		}
		hostBefore := factoryB.Host()

		if err := factoryB.Stop(); err != nil {
			t.Fatal(err)
		}
		if factoryB.Running() {
			t.Error("Running() is true after Stop")
		}
		assertConnectionRefused(t, factoryB.Host())
		shortCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		// A client straight from Config: NewClient's would retry the refused
		// connection until the deadline.
		plain, err := client.New(factoryB.Config(), client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = plain.Get(shortCtx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
		cancel()
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("Get on a stopped cluster: got %v, want connection refused", err)
		}
		if _, err := factoryB.KubectlOnce(ctx, "get", "configmap", "survives-restart", "--request-timeout=5s"); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("kubectl on a stopped cluster: got %v, want connection refused", err)
		}
		// The other clusters do not notice.
		if err := clients[1].Get(ctx, client.ObjectKey{Namespace: "default", Name: "only-in-factory-a"}, &corev1.ConfigMap{}); err != nil {
			t.Errorf("factory-a while factory-b is down: %v", err)
		}

		if err := factoryB.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if factoryB.Host() != hostBefore {
			t.Errorf("address changed across restart: %s -> %s", hostBefore, factoryB.Host())
		}
		// The client built before Stop (same certificates) reads the data.
		got := &corev1.ConfigMap{}
		if err := clients[2].Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
			t.Fatalf("Get after restart with the client from before Stop: %v", err)
		}
		if got.Data["k"] != "v" {
			t.Errorf("ConfigMap after restart has data %v, want k=v", got.Data)
		}
		// So does real kubectl with the same kubeconfig file.
		out, err := factoryB.Kubectl(ctx, "get", "configmap", "survives-restart", "-o", "jsonpath={.data.k}")
		if err != nil {
			t.Fatalf("kubectl after restart: %v", err)
		}
		if string(out) != "v" {
			t.Errorf("kubectl after restart printed %q, want %q", out, "v")
		}
	})
}

// assertConnectionRefused dials the host of rawURL and expects ECONNREFUSED.
func assertConnectionRefused(t *testing.T, rawURL string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err == nil {
		_ = conn.Close()
		t.Fatalf("dialing %s after Stop succeeded, want connection refused", u.Host)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dialing %s after Stop: got %v, want connection refused", u.Host, err)
	}
}
