package source

import (
	"errors"
	"net/url"
	"strings"
)

// RedactURL returns the URL without its userinfo (user name and password),
// for use in errors, logs and status. An unparsable URL is replaced entirely,
// since it may still hold credentials.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	u.User = nil
	return u.String()
}

// urlSecrets lists the credential parts of a URL.
func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return nil
	}
	out := []string{u.User.String()}
	if p, ok := u.User.Password(); ok {
		out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
	}
	return out
}

// redactedError hides secrets from an error message while keeping the
// original reachable through errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr returns err with every credential found in the given URL and
// secrets replaced by "***".
func redactErr(err error, rawURL string, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	all := append(urlSecrets(rawURL), secrets...)
	if rawURL != "" {
		msg = strings.ReplaceAll(msg, rawURL, RedactURL(rawURL))
	}
	changed := msg != err.Error()
	for _, s := range all {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "***")
			changed = true
		}
	}
	if !changed {
		return err
	}
	var re *redactedError
	if errors.As(err, &re) {
		return &redactedError{msg: msg, err: re.err}
	}
	return &redactedError{msg: msg, err: err}
}

// RedactError returns err with the credentials of url and auth (userinfo,
// password, bearer token) replaced by "***" in its message; errors.Is and
// errors.As still see the original.
func RedactError(err error, url string, auth *Auth) error {
	return redactErr(err, url, auth.secrets()...)
}
