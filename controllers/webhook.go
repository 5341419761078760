package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/source/webhook"
	"github.com/flotilla-gitops/flotilla/status/branch"
)

// WebhookServer serves push webhooks (POST /hooks/<namespace>/<repository>)
// and asks for an immediate reconcile of the repository named by a verified
// push, by setting its reconcile-request annotation. It runs on every
// replica, leader or not: the annotation reaches the leader.
type WebhookServer struct {
	// Addr is the listen address, for example ":9292".
	Addr      string
	Client    client.Client
	APIReader client.Reader

	listener net.Listener
}

// NeedLeaderElection lets every replica answer webhooks.
func (w *WebhookServer) NeedLeaderElection() bool { return false }

// Listen binds the address now, so callers learn the port (":0") before
// Start.
func (w *WebhookServer) Listen() (string, error) {
	l, err := net.Listen("tcp", w.Addr)
	if err != nil {
		return "", fmt.Errorf("listen for webhooks on %s: %w", w.Addr, err)
	}
	w.listener = l
	return l.Addr().String(), nil
}

// Handler returns the webhook HTTP handler.
func (w *WebhookServer) Handler() http.Handler {
	h := webhook.NewHandler(webhook.SecretLookupFunc(w.lookupSecret), w.trigger)
	h.SkipRef = w.skipRef
	mux := http.NewServeMux()
	mux.Handle("/hooks/", h)
	return mux
}

// Start serves until ctx ends.
func (w *WebhookServer) Start(ctx context.Context) error {
	if w.listener == nil {
		if _, err := w.Listen(); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		// ctx is done here: keep its values but not its cancellation, so the
		// in-flight requests get their grace period.
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	ctrl.LoggerFrom(ctx).Info("serving push webhooks", "addr", w.listener.Addr().String())
	if err := srv.Serve(w.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve webhooks: %w", err)
	}
	return nil
}

// lookupSecret reads the repository through the manager's cache and its
// webhook Secret straight from the API server (Secrets are not cached
// hub-wide); the webhook.Handler caches the result, so unauthenticated
// requests do not reach the API server each time.
func (w *WebhookServer) lookupSecret(ctx context.Context, namespace, name string) ([]byte, error) {
	repo := &flotillav1.FleetRepository{}
	if err := w.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, repo); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("FleetRepository %s/%s: %w", namespace, name, webhook.ErrNotFound)
		}
		return nil, fmt.Errorf("read FleetRepository %s/%s: %w", namespace, name, err)
	}
	if repo.Spec.WebhookSecretRef == nil {
		return nil, fmt.Errorf("FleetRepository %s/%s has no spec.webhookSecretRef: %w", namespace, name, webhook.ErrNotFound)
	}
	secret := &corev1.Secret{}
	if err := w.APIReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: repo.Spec.WebhookSecretRef.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("webhook Secret of %s/%s: %w", namespace, name, webhook.ErrNotFound)
		}
		return nil, fmt.Errorf("read webhook Secret of %s/%s: %w", namespace, name, err)
	}
	token := secret.Data["token"]
	if len(token) == 0 {
		return nil, fmt.Errorf("webhook Secret of %s/%s has no key token: %w", namespace, name, webhook.ErrNotFound)
	}
	return token, nil
}

// skipRef ignores pushes to the status branch: status commits never
// trigger a sync.
func (w *WebhookServer) skipRef(ctx context.Context, namespace, name, ref string) bool {
	repo := &flotillav1.FleetRepository{}
	if err := w.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, repo); err != nil {
		return false
	}
	status := repo.Spec.StatusBranch
	if status == "" {
		status = branch.DefaultBranch
	}
	return strings.TrimPrefix(ref, "refs/heads/") == status
}

// trigger asks for a reconcile of the repository now by setting its
// reconcile-request annotation. An error reaches the sender as a 503, so it
// retries.
func (w *WebhookServer) trigger(ctx context.Context, namespace, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	repo := &flotillav1.FleetRepository{}
	key := types.NamespacedName{Namespace: namespace, Name: name}
	if err := w.Client.Get(ctx, key, repo); err != nil {
		return fmt.Errorf("read FleetRepository %s: %w", key, err)
	}
	p := client.MergeFrom(repo.DeepCopy())
	ann := repo.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[meta.ReconcileRequestAnnotation] = time.Now().UTC().Format(time.RFC3339Nano)
	repo.SetAnnotations(ann)
	if err := w.Client.Patch(ctx, repo, p); err != nil {
		return fmt.Errorf("request a reconcile of FleetRepository %s: %w", key, err)
	}
	ctrl.LoggerFrom(ctx).Info("webhook: push received, fetching now", "repository", key)
	return nil
}
