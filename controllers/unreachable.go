package controllers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// isUnreachable reports whether err means the cluster did not answer (as
// opposed to answering with an error), so the cluster should back off.
// Connections the cluster refused for their TLS setup or credentials are
// not "unreachable": see accessFailure.
func isUnreachable(err error) bool {
	if err == nil {
		return false
	}
	if _, bad := accessFailure(err); bad {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err)
}

// accessFailure returns the condition reason for an error that says the
// kubeconfig is wrong rather than the cluster unreachable: the server's
// certificate is not trusted (or the server does not speak TLS), or the
// cluster refused the credentials. Retrying does not help until the
// kubeconfig Secret is fixed.
func accessFailure(err error) (reason string, ok bool) {
	if err == nil {
		return "", false
	}
	if apierrors.IsUnauthorized(err) {
		return flotillav1.ReasonClusterAuthFailed, true
	}
	var (
		verifyErr    *tls.CertificateVerificationError
		unknownCA    x509.UnknownAuthorityError
		hostname     x509.HostnameError
		invalid      x509.CertificateInvalidError
		alert        tls.AlertError
		recordHeader tls.RecordHeaderError
	)
	if errors.As(err, &verifyErr) || errors.As(err, &unknownCA) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &alert) || errors.As(err, &recordHeader) {
		return flotillav1.ReasonClusterTLSFailed, true
	}
	return "", false
}

// accessFailureMessage says what failed and which Secret to fix.
func accessFailureMessage(cluster, reason string, src clusterclient.KubeconfigSource, err error) string {
	switch reason {
	case flotillav1.ReasonClusterAuthFailed:
		return fmt.Sprintf("cluster %s refused the credentials (%v); fix the user's token or client certificate in the kubeconfig in %s", cluster, err, src)
	default:
		return fmt.Sprintf("TLS connection to cluster %s failed (%v); fix certificate-authority-data and the server address in the kubeconfig in %s", cluster, err, src)
	}
}
