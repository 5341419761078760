package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// Request headers carrying the proof of the token.
const (
	// HeaderGitHubSignature holds "sha256=<hex HMAC-SHA256 of the body>".
	HeaderGitHubSignature = "X-Hub-Signature-256"
	// HeaderGitHubEvent names the GitHub event ("push", "ping", ...).
	HeaderGitHubEvent = "X-GitHub-Event"
	// HeaderGitLabToken holds the token itself.
	HeaderGitLabToken = "X-Gitlab-Token" //nolint:gosec // the name of a request header, not a credential
	// HeaderGitLabEvent names the GitLab event ("Push Hook", ...).
	HeaderGitLabEvent = "X-Gitlab-Event"
	// HeaderSignature holds "sha256=<hex HMAC-SHA256 of the body>" for
	// generic callers.
	HeaderSignature = "X-Flotilla-Signature"
)

// provider is who sent a request, judged by its authentication header.
type provider string

const (
	providerNone    provider = ""
	providerGitHub  provider = "github"
	providerGitLab  provider = "gitlab"
	providerGeneric provider = "generic"
)

// detect picks the provider from the authentication header present; when
// several are present the first of GitHub, GitLab, generic decides.
func detect(h http.Header) provider {
	switch {
	case h.Get(HeaderGitHubSignature) != "":
		return providerGitHub
	case h.Get(HeaderGitLabToken) != "":
		return providerGitLab
	case h.Get(HeaderSignature) != "":
		return providerGeneric
	default:
		return providerNone
	}
}

// verify checks the request's proof of the token in constant time.
func verify(p provider, h http.Header, body, token []byte) bool {
	switch p {
	case providerGitHub:
		return validHMAC(h.Get(HeaderGitHubSignature), body, token)
	case providerGitLab:
		// Hash both sides so the comparison does not depend on lengths.
		got := sha256.Sum256([]byte(h.Get(HeaderGitLabToken)))
		want := sha256.Sum256(token)
		return hmac.Equal(got[:], want[:])
	case providerGeneric:
		if ts := h.Get(HeaderTimestamp); ts != "" {
			return validHMAC(h.Get(HeaderSignature), timestamped(ts, body), token)
		}
		return validHMAC(h.Get(HeaderSignature), body, token)
	default:
		return false
	}
}

// validHMAC checks a "sha256=<hex>" signature of body keyed with token.
func validHMAC(header string, body, token []byte) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	return hmac.Equal(got, Sign(token, body))
}

// Sign returns the HMAC-SHA256 of body keyed with token, as sent (hex
// encoded, prefixed "sha256=") in X-Hub-Signature-256 and
// X-Flotilla-Signature.
func Sign(token, body []byte) []byte {
	mac := hmac.New(sha256.New, token)
	mac.Write(body)
	return mac.Sum(nil)
}

// SignatureHeader returns the header value "sha256=<hex>" for body.
func SignatureHeader(token, body []byte) string {
	return "sha256=" + hex.EncodeToString(Sign(token, body))
}

// TimestampedSignatureHeader returns the X-Flotilla-Signature value for a
// generic call that also sends X-Flotilla-Timestamp: timestamp (Unix seconds)
// is signed together with the body, as "<timestamp>.<body>".
func TimestampedSignatureHeader(token []byte, timestamp string, body []byte) string {
	return SignatureHeader(token, timestamped(timestamp, body))
}

func timestamped(timestamp string, body []byte) []byte {
	out := make([]byte, 0, len(timestamp)+1+len(body))
	out = append(out, timestamp...)
	out = append(out, '.')
	return append(out, body...)
}
