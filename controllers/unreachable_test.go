package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func TestIsUnreachable(t *testing.T) {
	// A real refused connection, from a port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, refused := net.DialTimeout("tcp", addr, time.Second)
	if refused == nil {
		t.Fatal("expected a refused connection")
	}
	// A real TLS server whose certificate the client does not trust.
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	_, untrusted := (&http.Client{Timeout: 5 * time.Second}).Get(srv.URL)
	if untrusted == nil {
		t.Fatal("expected a certificate verification error")
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"untrusted certificate answers", fmt.Errorf("apply: %w", untrusted), false},
		{"unauthorized answers", apierrors.NewUnauthorized("invalid bearer token"), false},
		{"refused", fmt.Errorf("apply: %w", refused), true},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), true},
		{"server timeout", apierrors.NewServerTimeout(schema.GroupResource{Resource: "configmaps"}, "get", 1), true},
		{"forbidden answers", apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "x", errors.New("no")), false},
		{"invalid answers", errors.New("Deployment/a/b: spec.replicas: Invalid value"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := isUnreachable(tt.err); got != tt.want {
			t.Errorf("%s: isUnreachable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}

	for _, tt := range []struct {
		name   string
		err    error
		reason string
	}{
		{"untrusted certificate", fmt.Errorf("apply: %w", untrusted), flotillav1.ReasonClusterTLSFailed},
		{"unauthorized", fmt.Errorf("get: %w", apierrors.NewUnauthorized("invalid bearer token")), flotillav1.ReasonClusterAuthFailed},
		{"refused", refused, ""},
		{"forbidden", apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "x", errors.New("no")), ""},
		{"nil", nil, ""},
	} {
		reason, ok := accessFailure(tt.err)
		if reason != tt.reason || ok != (tt.reason != "") {
			t.Errorf("%s: accessFailure(%v) = %q, %v; want %q", tt.name, tt.err, reason, ok, tt.reason)
		}
	}
}
