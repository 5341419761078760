package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	fluxmeta "github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/cli"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestStatusBranchWebhookAndStatusCommand covers the Git side of the hub:
// status committed to the status branch (and stale sites marked there),
// push webhooks that fetch at once while forged ones do nothing, and
// `flotilla status` reading both the hub and the status branch.
func TestStatusBranchWebhookAndStatusCommand(t *testing.T) {
	hookAddr := freeAddr(t)
	e := newFleetEnvWith(t, "testdata/small-fleet", func(e *fleetEnv, repo *flotillav1.FleetRepository) {
		// Only webhooks can make this repository fetch in time.
		repo.Spec.Interval = &metav1.Duration{Duration: time.Hour}
		repo.Spec.StatusInterval = &metav1.Duration{Duration: time.Second}
		repo.Spec.WebhookSecretRef = &flotillav1.LocalObjectReference{Name: "webhook-token"}
		e.create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "webhook-token", Namespace: fleetNamespace},
			Data:       map[string][]byte{"token": []byte("s3cret-token")},
		})
		e.opts.WebhookAddr = hookAddr
		e.opts.Controllers.StatusTick = 500 * time.Millisecond
	}, memberSpec{name: "site-a"}, memberSpec{name: "site-b"})
	ctx := context.Background()

	eventually(t, 60*time.Second, "first sync", func() error { return e.expectReady(ctx, "settings.site-a", "settings.site-b") })

	t.Run("status is committed to the status branch", func(t *testing.T) {
		eventually(t, 30*time.Second, "status branch", func() error {
			files, err := e.statusBranch()
			if err != nil {
				return err
			}
			md := files["STATUS.md"]
			if !strings.Contains(md, "| site-a | yes |") || !strings.Contains(md, "ready") {
				return fmt.Errorf("STATUS.md:\n%s", md)
			}
			if !strings.Contains(files["status/site-b.yaml"], "app: settings") {
				return fmt.Errorf("status/site-b.yaml:\n%s", files["status/site-b.yaml"])
			}
			return nil
		})
		var out, errOut bytes.Buffer
		if code := cli.Execute([]string{"status", "--repo", e.work.Dir()}, &out, &errOut); code != 0 {
			t.Fatalf("flotilla status --repo: exit %d: %s", code, errOut.String())
		}
		if row := lineWith(out.String(), "site-a"); !strings.Contains(row, "ready") {
			t.Fatalf("flotilla status --repo row for site-a = %q\n%s", row, out.String())
		}
	})

	t.Run("a forged webhook does nothing; a signed one syncs at once", func(t *testing.T) {
		e.work.WriteFile("apps/settings/base/settings.yaml", []byte(strings.ReplaceAll(
			readFile(t, "testdata/small-fleet/apps/settings/base/settings.yaml"), `threshold: "0.80"`, `threshold: "0.85"`)))
		head := e.work.CommitAndPush("raise the threshold")
		body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":%q}`, head))
		url := "http://" + hookAddr + "/hooks/" + fleetNamespace + "/factories"

		repoKey := types.NamespacedName{Namespace: fleetNamespace, Name: "factories"}
		before := &flotillav1.FleetRepository{}
		if err := e.hubCl.Get(ctx, repoKey, before); err != nil {
			t.Fatal(err)
		}
		if code := postHook(t, url, body, "sha256="+strings.Repeat("0", 64)); code != http.StatusUnauthorized {
			t.Fatalf("forged signature answered %d, want 401", code)
		}
		// The handler requests a reconcile before it answers, so a forged
		// call that got through would show in the annotation by now.
		// Then wait for the positive signal that the controller handled
		// every reconcile request so far, and check it did not fetch.
		eventually(t, 30*time.Second, "the controller handled every reconcile request", func() error {
			fr := &flotillav1.FleetRepository{}
			if err := e.hubCl.Get(ctx, repoKey, fr); err != nil {
				return err
			}
			if got, was := fr.Annotations[fluxmeta.ReconcileRequestAnnotation], before.Annotations[fluxmeta.ReconcileRequestAnnotation]; got != was {
				t.Fatalf("a forged webhook requested a reconcile (annotation %q -> %q)", was, got)
			}
			if fr.Status.LastHandledReconcileAt != fr.Annotations[fluxmeta.ReconcileRequestAnnotation] {
				return fmt.Errorf("lastHandledReconcileAt %q, requested %q", fr.Status.LastHandledReconcileAt, fr.Annotations[fluxmeta.ReconcileRequestAnnotation])
			}
			if strings.HasSuffix(fr.Status.Revision, head) {
				t.Fatalf("a forged webhook made the repository fetch %s", fr.Status.Revision)
			}
			return nil
		})
		if got := mustGetConfigMap(t, e.member("site-a"), "plant", "plant-settings").Data["threshold"]; got != "0.80" {
			t.Fatalf("a forged webhook must trigger nothing, but site-a has threshold %s", got)
		}
		mac := hmac.New(sha256.New, []byte("s3cret-token"))
		mac.Write(body)
		if code := postHook(t, url, body, "sha256="+hex.EncodeToString(mac.Sum(nil))); code != http.StatusAccepted {
			t.Fatalf("signed webhook answered %d, want 202", code)
		}
		eventually(t, 20*time.Second, "change applied without waiting for the 1h interval", func() error {
			for _, site := range []string{"site-a", "site-b"} {
				if got := mustGetConfigMap(t, e.member(site), "plant", "plant-settings").Data["threshold"]; got != "0.85" {
					return fmt.Errorf("%s threshold = %s", site, got)
				}
			}
			return nil
		})
	})

	t.Run("status commits never trigger a sync", func(t *testing.T) {
		fr := &flotillav1.FleetRepository{}
		if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "factories"}, fr); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(fr.Status.Revision, "main@sha1:") {
			t.Fatalf("the synced revision must stay on main, got %s", fr.Status.Revision)
		}
	})

	t.Run("a stopped site is marked stale on the branch and by flotilla status", func(t *testing.T) {
		if err := e.members["site-b"].Stop(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 45*time.Second, "site-b stale on the status branch", func() error {
			files, err := e.statusBranch()
			if err != nil {
				return err
			}
			md := files["STATUS.md"]
			if !strings.Contains(md, "| site-b | **STALE** |") || !strings.Contains(md, "last seen") {
				return fmt.Errorf("STATUS.md:\n%s", md)
			}
			return nil
		})
		var out, errOut bytes.Buffer
		if code := cli.Execute([]string{"status", "--kubeconfig", e.hub.KubeconfigPath(), "-n", fleetNamespace}, &out, &errOut); code != 0 {
			t.Fatalf("flotilla status --kubeconfig: exit %d: %s", code, errOut.String())
		}
		if !strings.Contains(out.String(), "! site-b is stale: not reachable since") {
			t.Fatalf("flotilla status must flag site-b:\n%s", out.String())
		}
		if row := lineWith(out.String(), "site-a "); !strings.Contains(row, "yes") {
			t.Fatalf("site-a row = %q", row)
		}
	})

	t.Run("a cluster removed from the fleet disappears from the status branch", func(t *testing.T) {
		e.work.Remove("clusters/site-b.yaml")
		head := e.work.CommitAndPush("site-b leaves the fleet")
		body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":%q}`, head))
		mac := hmac.New(sha256.New, []byte("s3cret-token"))
		mac.Write(body)
		url := "http://" + hookAddr + "/hooks/" + fleetNamespace + "/factories"
		if code := postHook(t, url, body, "sha256="+hex.EncodeToString(mac.Sum(nil))); code != http.StatusAccepted {
			t.Fatalf("signed webhook answered %d, want 202", code)
		}
		eventually(t, 45*time.Second, "status/site-b.yaml removed", func() error {
			files, err := e.statusBranch()
			if err != nil {
				return err
			}
			if _, ok := files["status/site-b.yaml"]; ok {
				return fmt.Errorf("status/site-b.yaml still on the status branch")
			}
			if _, ok := files["status/site-a.yaml"]; !ok || strings.Contains(files["STATUS.md"], "site-b") {
				return fmt.Errorf("want only site-a; STATUS.md:\n%s", files["STATUS.md"])
			}
			return nil
		})
	})
}

// statusBranch fetches the status branch into the work tree and returns
// its files.
func (e *fleetEnv) statusBranch() (map[string]string, error) {
	if _, err := e.work.GitWorkdir.Git(context.Background(), "fetch", "origin", "flotilla-status"); err != nil {
		return nil, err
	}
	out := map[string]string{}
	list, err := e.work.GitWorkdir.Git(context.Background(), "ls-tree", "-r", "--name-only", "FETCH_HEAD")
	if err != nil {
		return nil, err
	}
	for _, p := range strings.Fields(list) {
		body, err := e.work.GitWorkdir.Git(context.Background(), "show", "FETCH_HEAD:"+p)
		if err != nil {
			return nil, err
		}
		out[p] = body
	}
	return out, nil
}

func postHook(t *testing.T, url string, body []byte, sig string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", sig)
	code := 0
	err = testenv.RetryT(t, func(ctx context.Context) error {
		req.Body, _ = req.GetBody()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			return err
		}
		code = resp.StatusCode
		return resp.Body.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
