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
//     fetch. A caller that also sends X-Flotilla-Timestamp (Unix seconds)
//     signs "<timestamp>.<body>" instead; the call is then refused outside
//     ReplayWindow of the receiver's clock and accepted once.
//
// A generic call from a shell:
//
//	ts=$(date +%s); body='{"ref":"refs/heads/main"}'
//	sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$TOKEN" -hex | sed 's/^.* //')
//	curl -X POST -H "X-Flotilla-Timestamp: $ts" -H "X-Flotilla-Signature: sha256=$sig" -d "$body" \
//	  https://flotilla.example.com/hooks/fleet-system/factories
//
// Answers: 202 when a fetch was triggered; 200 for a verified call that
// triggers nothing (ping, other events, a push to an ignored ref such as the
// status branch); 400 for a malformed GitHub or GitLab push payload; 401 for
// a missing or wrong signature or token, a timestamp outside the window, and
// equally for an unknown repository or one without a webhook secret (so
// repository names cannot be probed); 404 for a path that is not
// /hooks/<namespace>/<name>; 405 for a method other than POST; 409 for a
// delivery already received; 413 for a body over 1 MiB; 429 when the source
// address sent more than its rate; 503 when the secret could not be read or
// the trigger failed (the sender should retry).
//
// Hardening: tokens are cached (SecretTTL; a failed verification re-reads a
// token older than SecretRefreshAfter, so rotations apply at once), each
// source IP (IPv6: each /64) has a token bucket (RatePerSecond, RateBurst) in a bounded map,
// and deliveries that triggered a fetch are remembered for ReplayWindow in a
// bounded LRU, by delivery id (X-GitHub-Delivery, X-Gitea-Delivery,
// X-Gogs-Delivery, X-Gitlab-Event-UUID) and, for GitHub-style signed bodies
// and timestamped generic calls, by signature.
// Tokens and signatures are compared in constant time and never logged.
package webhook
