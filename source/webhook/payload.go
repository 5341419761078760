package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// PushEvent is what a push payload says: which ref moved and to what.
type PushEvent struct {
	// Ref is the full ref name, e.g. "refs/heads/main" or "refs/tags/v1".
	Ref string
	// Revision is the new commit SHA (all zeros when the ref was deleted).
	Revision string
}

var hexRevision = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// ParseGitHubPush reads the fields Flotilla needs from a GitHub push event
// body: "ref" and "after". A form-encoded body (content type
// application/x-www-form-urlencoded) carries the JSON in field "payload".
func ParseGitHubPush(body []byte, contentType string) (PushEvent, error) {
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return PushEvent{}, fmt.Errorf("parse GitHub push payload: form body: %w", err)
		}
		body = []byte(form.Get("payload"))
	}
	var p struct {
		Ref   *string `json:"ref"`
		After *string `json:"after"`
	}
	if err := decode(body, &p); err != nil {
		return PushEvent{}, fmt.Errorf("parse GitHub push payload: %w", err)
	}
	ev, err := pushEvent(p.Ref, p.After, "after")
	if err != nil {
		return PushEvent{}, fmt.Errorf("parse GitHub push payload: %w", err)
	}
	return ev, nil
}

// ParseGitLabPush reads the fields Flotilla needs from a GitLab push or tag
// push event body: "ref" and "after" ("checkout_sha" when "after" is absent).
func ParseGitLabPush(body []byte) (PushEvent, error) {
	var p struct {
		Ref         *string `json:"ref"`
		After       *string `json:"after"`
		CheckoutSHA *string `json:"checkout_sha"`
	}
	if err := decode(body, &p); err != nil {
		return PushEvent{}, fmt.Errorf("parse GitLab push payload: %w", err)
	}
	after, field := p.After, "after"
	if after == nil {
		after, field = p.CheckoutSHA, "checkout_sha"
	}
	ev, err := pushEvent(p.Ref, after, field)
	if err != nil {
		return PushEvent{}, fmt.Errorf("parse GitLab push payload: %w", err)
	}
	return ev, nil
}

func decode(body []byte, into any) error {
	if len(body) == 0 {
		return errors.New("body is empty")
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("body is not a JSON object: %w", err)
	}
	return nil
}

func pushEvent(ref, after *string, afterField string) (PushEvent, error) {
	if ref == nil || !strings.HasPrefix(*ref, "refs/") || len(*ref) > 1024 {
		return PushEvent{}, errors.New(`field "ref" must be a full ref name such as "refs/heads/main"`)
	}
	if after == nil || !hexRevision.MatchString(*after) {
		return PushEvent{}, fmt.Errorf("field %q must be a commit SHA", afterField)
	}
	return PushEvent{Ref: *ref, Revision: *after}, nil
}
