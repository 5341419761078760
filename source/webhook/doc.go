// Package webhook receives push notifications for fleet repositories so the
// controller fetches at once instead of waiting for the poll interval.
//
// The Handler serves
//
//	POST /hooks/<namespace>/<repository>
//
// where <repository> is the name of a FleetRepository in <namespace>. The
// request must be authenticated with the token stored in the Secret named by
// the FleetRepository's spec.webhookSecretRef (key "token"), in one of three
// ways:
//
//   - GitHub: header X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
//     body, keyed with the token>. Header X-GitHub-Event selects the event:
//     "push" triggers a fetch, "ping" answers 200, other events are ignored.
//   - GitLab: header X-Gitlab-Token: <token>. Header X-Gitlab-Event selects
//     the event: "Push Hook" and "Tag Push Hook" trigger a fetch, other
//     events are ignored.
//   - Generic (any CI system or script): header X-Flotilla-Signature:
//     sha256=<hex HMAC-SHA256 of the raw body, keyed with the token>. The
//     body may be anything, including empty; every valid call triggers a
//     fetch.
//
// A generic call from a shell:
//
//	body='{"ref":"refs/heads/main"}'
//	sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$TOKEN" -hex | sed 's/^.* //')
//	curl -X POST -H "X-Flotilla-Signature: sha256=$sig" -d "$body" \
//	  https://flotilla.example.com/hooks/fleet-system/factories
//
// Answers: 202 when a fetch was triggered; 200 for a verified call that
// triggers nothing (ping, other events, a push to an ignored ref such as the
// status branch); 400 for a malformed GitHub or GitLab push payload; 401 for
// a missing or wrong signature or token (nothing is triggered); 404 for an
// unknown repository or one without a webhook secret (nothing more is
// revealed); 405 for a method other than POST; 413 for a body over 1 MiB.
// Tokens and signatures are compared in constant time and never logged.
package webhook
