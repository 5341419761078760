package agent

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// minTokenLifetime is the shortest token the API server issues.
const minTokenLifetime = 10 * time.Minute

// renewLoop renews the agent's token at 2/3 of its lifetime until ctx ends.
// A failed renewal (the hub unreachable) is retried every 30 seconds.
func (a *Agent) renewLoop(ctx context.Context) {
	log := ctrl.LoggerFrom(ctx)
	a.idMu.Lock()
	next := a.id.renewAt()
	a.idMu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		if err := a.renew(ctx); err != nil {
			log.Error(err, "renew the agent token")
			next = time.Now().Add(30 * time.Second)
			continue
		}
		a.idMu.Lock()
		next = a.id.renewAt()
		a.idMu.Unlock()
	}
}

// renew asks the hub for a new token of the agent's own ServiceAccount,
// with the lifetime of the current one, and stores it.
func (a *Agent) renew(ctx context.Context) error {
	a.idMu.Lock()
	id := *a.id
	a.idMu.Unlock()
	lifetime := max(id.Expiration.Sub(id.IssuedAt), minTokenLifetime)
	secs := int64(lifetime / time.Second)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: id.Namespace, Name: flotillav1.AgentObjectName}}
	if err := a.hub.SubResource("token").Create(ctx, sa, tr); err != nil {
		return fmt.Errorf("request a token for ServiceAccount %s/%s on the hub: %w", id.Namespace, sa.Name, err)
	}
	id.Token = tr.Status.Token
	id.IssuedAt = time.Now()
	id.Expiration = tr.Status.ExpirationTimestamp.Time
	if err := storeIdentity(ctx, a.member.Client(), a.opts.StateNamespace, &id); err != nil {
		return err
	}
	a.idMu.Lock()
	*a.id = id
	a.idMu.Unlock()
	a.bearer.set(id.Token)
	ctrl.LoggerFrom(ctx).Info("renewed the agent token", "expires", id.Expiration.UTC().Format(time.RFC3339))
	return nil
}
