package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-gitops/flotilla/agent/seal"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/version"
)

// Registration condition types and reasons the hub sets.
const (
	conditionApproved = "Approved"
	reasonPushCluster = "PushCluster"
)

// registrationPoll is how often the agent reads its registration while it
// waits for approval.
const registrationPoll = 2 * time.Second

// register obtains an identity with the bootstrap credential: it creates a
// ClusterRegistration carrying a new public key, waits until the hub
// approves it and seals a token to that key, and opens the token. It waits
// (retrying hub errors) until ctx ends; a registration the hub refuses for
// good is an error.
func register(ctx context.Context, opts Options, scheme *runtime.Scheme) (*Identity, error) {
	log := ctrl.LoggerFrom(ctx).WithValues("fleetNamespace", opts.FleetNamespace)
	cfg := rest.CopyConfig(opts.Bootstrap)
	cfg.Timeout = opts.Timeout
	ca, err := caOf(cfg)
	if err != nil {
		return nil, err
	}
	hub, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("register: build the bootstrap client for %s: %w", cfg.Host, err)
	}
	key, err := seal.NewKey()
	if err != nil {
		return nil, err
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	reg := &flotillav1.ClusterRegistration{
		ObjectMeta: metav1.ObjectMeta{Namespace: opts.FleetNamespace, Name: opts.Cluster + "-" + hex.EncodeToString(suffix)},
		Spec: flotillav1.ClusterRegistrationSpec{
			ClusterName:  opts.Cluster,
			PublicKey:    key.PublicKey().Bytes(),
			AgentVersion: version.Version,
		},
	}
	if err := retryHub(ctx, "create ClusterRegistration "+reg.Name, func(ctx context.Context) error {
		err := hub.Create(ctx, reg)
		if isForbidden(err) {
			return &permanentError{fmt.Errorf("register: the hub refused the bootstrap credential (%w): issue a new one with `flotilla cluster bootstrap-token`", err)}
		}
		return err
	}); err != nil {
		return nil, err
	}
	log = log.WithValues("registration", reg.Name)
	log.Info("registered: waiting for the hub to approve and issue the identity")

	var waitingSaid string
	for {
		if err := retryHub(ctx, "read ClusterRegistration "+reg.Name, func(ctx context.Context) error {
			return hub.Get(ctx, client.ObjectKeyFromObject(reg), reg)
		}); err != nil {
			return nil, err
		}
		if reg.Status.Credential != nil && reg.Status.Namespace != "" {
			break
		}
		if c := conditions.Get(registrationView{reg}, conditionApproved); c != nil && c.Status == metav1.ConditionFalse {
			if c.Reason == reasonPushCluster {
				return nil, fmt.Errorf("register: the hub refused ClusterRegistration %s/%s: %s (declare the cluster with spec.access.mode: Pull in Git)", reg.Namespace, reg.Name, c.Message)
			}
			if waitingSaid != c.Message {
				log.Info("registration not approved yet", "reason", c.Reason, "message", c.Message)
				waitingSaid = c.Message
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("register: ClusterRegistration %s/%s was not approved in time (approve it with `flotilla cluster approve %s`): %w", reg.Namespace, reg.Name, opts.Cluster, ctx.Err())
		case <-time.After(registrationPoll):
		}
	}
	token, err := seal.Open(key, reg.Status.Credential)
	if err != nil {
		return nil, fmt.Errorf("register: ClusterRegistration %s/%s: %w", reg.Namespace, reg.Name, err)
	}
	now := time.Now()
	exp := now.Add(time.Hour)
	if reg.Status.ExpirationTime != nil {
		exp = reg.Status.ExpirationTime.Time
	}
	log.Info("identity issued", "namespace", reg.Status.Namespace, "expires", exp.UTC().Format(time.RFC3339))
	return &Identity{HubURL: cfg.Host, CA: ca, Namespace: reg.Status.Namespace, Token: string(token), IssuedAt: now, Expiration: exp}, nil
}

// registrationView lets the conditions helpers read a registration.
type registrationView struct {
	*flotillav1.ClusterRegistration
}

func (r registrationView) GetConditions() []metav1.Condition  { return r.Status.Conditions }
func (r registrationView) SetConditions(c []metav1.Condition) { r.Status.Conditions = c }

// caOf returns the CA bundle of cfg, reading its CA file if it names one.
func caOf(cfg *rest.Config) ([]byte, error) {
	if len(cfg.CAData) > 0 || cfg.CAFile == "" {
		return cfg.CAData, nil
	}
	b, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read the hub CA file %s: %w", cfg.CAFile, err)
	}
	return b, nil
}

// permanentError stops retryHub.
type permanentError struct{ error }

func (e *permanentError) Unwrap() error { return e.error }

// retryHub calls fn until it succeeds, returns a permanentError, or ctx
// ends; other errors (the hub unreachable or briefly failing) are retried
// with a growing wait.
func retryHub(ctx context.Context, what string, fn func(context.Context) error) error {
	wait := 500 * time.Millisecond
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return perm.error
		}
		ctrl.LoggerFrom(ctx).V(1).Info("hub call failed, retrying", "call", what, "error", err.Error())
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (gave up: %w)", what, err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}
