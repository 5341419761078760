package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Labels and keys of the agent's Secrets on the member.
const (
	// labelAgentSecret marks the agent's Secrets: "identity", "state" (one
	// per app) or "state-part" (more content of a large app).
	labelAgentSecret = "flotilla.dev/agent-secret"
	keyState         = "state.json"
	keyContent       = "content"
	// statePartSize is the content kept per Secret, well under the API
	// server's request size limit once base64-encoded.
	statePartSize = 640 << 10
)

// record is what the agent persists per app on its member: the desired
// state it applies (the bundle's spec with its content inline) and the
// status it reports, so that a restart while the hub is unreachable
// resumes from exactly where it was.
type record struct {
	// Generation is the hub Bundle's generation the status observed.
	Generation int64 `json:"generation"`
	// Spec is the desired state, without Content (kept in the Secrets'
	// content keys) and without Chunks.
	Spec flotillav1.BundleSpec `json:"spec"`
	// Status is the status reported.
	Status flotillav1.BundleStatus `json:"status"`
	// Parts is the number of Secrets holding the content.
	Parts int `json:"parts"`
}

func stateSecretName(app string) string { return StateSecretPrefix + app }

// partSecretName names the Secret of content part i ≥ 1; the dot cannot
// occur in an app name, so parts never collide with another app's Secret.
func partSecretName(app string, i int) string {
	return stateSecretName(app) + ".part-" + strconv.Itoa(i)
}

// stateStore reads and writes the per-app state Secrets.
type stateStore struct {
	c         client.Client
	namespace string
}

// save writes b's desired state and status. The content parts are written
// only when withContent (the desired state changed), before the Secret that
// points to them.
func (s *stateStore) save(ctx context.Context, b *flotillav1.Bundle, withContent bool) error {
	app := b.Name
	content := b.Spec.Content
	var parts [][]byte
	for len(content) > statePartSize {
		parts = append(parts, content[:statePartSize])
		content = content[statePartSize:]
	}
	parts = append(parts, content)
	rec := record{Generation: b.Generation, Spec: b.Spec, Status: b.Status, Parts: len(parts)}
	rec.Spec.Content, rec.Spec.Chunks = nil, nil
	js, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("persist the state of app %s: %w", app, err)
	}
	if withContent {
		for i := 1; i < len(parts); i++ {
			if err := s.put(ctx, app, partSecretName(app, i), "state-part", map[string][]byte{keyContent: parts[i]}); err != nil {
				return err
			}
		}
	}
	data := map[string][]byte{keyState: js}
	if withContent {
		data[keyContent] = parts[0]
	}
	if err := s.put(ctx, app, stateSecretName(app), "state", data); err != nil {
		return err
	}
	if withContent {
		return s.deleteParts(ctx, app, len(parts))
	}
	return nil
}

// put creates or updates a Secret, replacing the keys given and keeping
// the others.
func (s *stateStore) put(ctx context.Context, app, name, kind string, data map[string][]byte) error {
	sec := &corev1.Secret{}
	err := s.c.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, sec)
	switch {
	case apierrors.IsNotFound(err):
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: name, Labels: map[string]string{labelAgentSecret: kind, flotillav1.LabelApp: app}},
			Type:       corev1.SecretTypeOpaque,
			Data:       data,
		}
		err = s.c.Create(ctx, sec)
	case err == nil:
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		for k, v := range data {
			sec.Data[k] = v
		}
		err = s.c.Update(ctx, sec)
	}
	if err != nil {
		return fmt.Errorf("persist the state of app %s in Secret %s/%s: %w", app, s.namespace, name, err)
	}
	return nil
}

// deleteParts deletes the content parts numbered keep and above.
func (s *stateStore) deleteParts(ctx context.Context, app string, keep int) error {
	list := &corev1.SecretList{}
	if err := s.c.List(ctx, list, client.InNamespace(s.namespace), client.MatchingLabels{labelAgentSecret: "state-part", flotillav1.LabelApp: app}); err != nil {
		return fmt.Errorf("list the state Secrets of app %s in %s: %w", app, s.namespace, err)
	}
	prefix := stateSecretName(app) + ".part-"
	for i := range list.Items {
		sec := &list.Items[i]
		n, err := strconv.Atoi(strings.TrimPrefix(sec.Name, prefix))
		if !strings.HasPrefix(sec.Name, prefix) || err != nil || n < keep {
			continue
		}
		if err := s.c.Delete(ctx, sec); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete state Secret %s/%s: %w", s.namespace, sec.Name, err)
		}
	}
	return nil
}

// remove deletes every state Secret of app.
func (s *stateStore) remove(ctx context.Context, app string) error {
	if err := s.deleteParts(ctx, app, 1); err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: stateSecretName(app)}}
	if err := s.c.Delete(ctx, sec); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete state Secret %s/%s: %w", s.namespace, sec.Name, err)
	}
	return nil
}

// loadAll reads every app's persisted state as Bundles (spec with content
// inline, status, generation).
func (s *stateStore) loadAll(ctx context.Context) ([]*flotillav1.Bundle, error) {
	list := &corev1.SecretList{}
	if err := s.c.List(ctx, list, client.InNamespace(s.namespace), client.HasLabels{labelAgentSecret}); err != nil {
		return nil, fmt.Errorf("list the agent's state Secrets in %s: %w", s.namespace, err)
	}
	byName := map[string]*corev1.Secret{}
	for i := range list.Items {
		byName[list.Items[i].Name] = &list.Items[i]
	}
	var out []*flotillav1.Bundle
	for i := range list.Items {
		sec := &list.Items[i]
		if sec.Labels[labelAgentSecret] != "state" {
			continue
		}
		app := sec.Labels[flotillav1.LabelApp]
		var rec record
		if err := json.Unmarshal(sec.Data[keyState], &rec); err != nil {
			return nil, fmt.Errorf("state Secret %s/%s: %s: %w (delete it: the agent applies the app again from the hub)", s.namespace, sec.Name, keyState, err)
		}
		content := append([]byte(nil), sec.Data[keyContent]...)
		for n := 1; n < rec.Parts; n++ {
			part, ok := byName[partSecretName(app, n)]
			if !ok {
				return nil, fmt.Errorf("state Secret %s/%s: content part %s is missing (delete the state Secrets of app %s: the agent applies the app again from the hub)", s.namespace, sec.Name, partSecretName(app, n), app)
			}
			content = append(content, part.Data[keyContent]...)
		}
		b := &flotillav1.Bundle{Spec: rec.Spec, Status: rec.Status}
		b.Name, b.Generation = app, rec.Generation
		b.Spec.Content = content
		out = append(out, b)
	}
	return out, nil
}
