package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	tests := []struct {
		name string
		err  error
		want bool
	}{
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
}
