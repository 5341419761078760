package clusterclient

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var testSource = KubeconfigSource{Namespace: "flotilla-system", Name: "edge-1-kubeconfig", Key: "value"}

// kubeconfigWithUser returns a kubeconfig whose only user has the given
// YAML body (indented under "user:").
func kubeconfigWithUser(user string) []byte {
	return []byte(`apiVersion: v1
kind: Config
clusters:
- name: edge-1
  cluster:
    server: https://edge-1.example.com:6443
contexts:
- name: edge-1
  context: {cluster: edge-1, user: admin}
current-context: edge-1
users:
- name: admin
  user:
` + user)
}

func TestRESTConfigFromKubeconfigRefusesExecPlugins(t *testing.T) {
	data := kubeconfigWithUser(`    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: aws-iam-authenticator
      args: [token, -i, edge-1]
      interactiveMode: Never
`)
	_, err := RESTConfigFromKubeconfig(data, testSource, Options{})
	want := "kubeconfig in Secret flotilla-system/edge-1-kubeconfig key value uses an exec credential plugin (command aws-iam-authenticator); refused: start the controller with --allow-kubeconfig-exec to allow it"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	var rerr *KubeconfigRefusedError
	if !errors.As(err, &rerr) || rerr.Plugin != "exec" || rerr.Command != "aws-iam-authenticator" || rerr.User != "admin" {
		t.Errorf("err = %#v, want a *KubeconfigRefusedError for the exec plugin of user admin", err)
	}

	cfg, err := RESTConfigFromKubeconfig(data, testSource, Options{AllowExec: true})
	if err != nil {
		t.Fatalf("with AllowExec: %v", err)
	}
	if cfg.ExecProvider == nil || cfg.ExecProvider.Command != "aws-iam-authenticator" {
		t.Errorf("with AllowExec the exec provider is lost: %+v", cfg.ExecProvider)
	}
}

func TestRESTConfigFromKubeconfigRefusesAuthProviders(t *testing.T) {
	data := kubeconfigWithUser(`    auth-provider:
      name: oidc
      config: {idp-issuer-url: https://issuer.example.com, client-id: flotilla}
`)
	_, err := RESTConfigFromKubeconfig(data, testSource, Options{})
	if err == nil || !strings.Contains(err.Error(), "uses an auth-provider plugin (oidc); refused: start the controller with --allow-kubeconfig-exec") {
		t.Fatalf("err = %v, want the auth-provider refused", err)
	}
	if _, err := RESTConfigFromKubeconfig(data, testSource, Options{AllowExec: true}); err != nil {
		t.Errorf("with AllowExec: %v", err)
	}
}

func TestRESTConfigFromKubeconfigRefusesLocalFiles(t *testing.T) {
	for name, user := range map[string]string{
		"tokenFile":          "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n",
		"client-certificate": "    client-certificate: /etc/flotilla/tls.crt\n    client-key-data: a2V5\n",
		"client-key":         "    client-certificate-data: Y2VydA==\n    client-key: /etc/flotilla/tls.key\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := RESTConfigFromKubeconfig(kubeconfigWithUser(user), testSource, Options{AllowExec: true})
			if err == nil || !strings.Contains(err.Error(), "references a file on the controller's filesystem (user admin "+name) {
				t.Fatalf("err = %v, want the %s file reference refused", err, name)
			}
			if !strings.HasPrefix(err.Error(), "kubeconfig in Secret flotilla-system/edge-1-kubeconfig key value ") {
				t.Errorf("err = %q does not start with the Secret", err)
			}
		})
	}
}

func TestRESTConfigFromKubeconfigAppliesLimits(t *testing.T) {
	data := kubeconfigWithUser("    token: abc123\n")
	cfg, err := RESTConfigFromKubeconfig(data, testSource, Options{})
	if err != nil {
		t.Fatalf("token kubeconfig: %v", err)
	}
	if cfg.Host != "https://edge-1.example.com:6443" || cfg.BearerToken != "abc123" {
		t.Errorf("host/token = %q/%q", cfg.Host, cfg.BearerToken)
	}
	if cfg.Timeout != DefaultTimeout || cfg.QPS != DefaultQPS || cfg.Burst != DefaultBurst {
		t.Errorf("timeout/QPS/burst = %s/%v/%d, want defaults", cfg.Timeout, cfg.QPS, cfg.Burst)
	}
	cfg, err = RESTConfigFromKubeconfig(data, testSource, Options{Timeout: 3 * time.Second, QPS: 5, Burst: 7})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != 3*time.Second || cfg.QPS != 5 || cfg.Burst != 7 {
		t.Errorf("timeout/QPS/burst = %s/%v/%d, want 3s/5/7", cfg.Timeout, cfg.QPS, cfg.Burst)
	}
}

func TestRESTConfigFromKubeconfigNamesTheSecretOnBadInput(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":      nil,
		"not yaml":   []byte("{{{"),
		"no context": []byte("apiVersion: v1\nkind: Config\n"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := RESTConfigFromKubeconfig(data, testSource, Options{})
			if err == nil || !strings.HasPrefix(err.Error(), "kubeconfig in Secret flotilla-system/edge-1-kubeconfig key value ") {
				t.Errorf("err = %v, want it to start with the Secret", err)
			}
		})
	}
}

func TestRESTConfigFromKubeconfigRefusesCertificateAuthorityFile(t *testing.T) {
	data := []byte(`apiVersion: v1
kind: Config
clusters:
- name: edge-1
  cluster:
    server: https://edge-1.example.com:6443
    certificate-authority: /etc/kubernetes/pki/ca.crt
contexts:
- name: edge-1
  context: {cluster: edge-1, user: admin}
current-context: edge-1
users:
- name: admin
  user: {token: abc123}
`)
	_, err := RESTConfigFromKubeconfig(data, testSource, Options{AllowExec: true})
	if err == nil || !strings.Contains(err.Error(), "references a file on the controller's filesystem (cluster edge-1 certificate-authority: /etc/kubernetes/pki/ca.crt)") {
		t.Fatalf("err = %v, want the certificate-authority file refused", err)
	}
	var rerr *KubeconfigRefusedError
	if !errors.As(err, &rerr) {
		t.Errorf("err = %#v, want a *KubeconfigRefusedError", err)
	}
}

// TestRESTConfigFromKubeconfigRefusesPluginsOfUnusedUsers checks that a
// plugin is refused even in a user the current context does not name: a
// kubeconfig is refused as a whole, not only the part in use today.
func TestRESTConfigFromKubeconfigRefusesPluginsOfUnusedUsers(t *testing.T) {
	data := []byte(`apiVersion: v1
kind: Config
clusters:
- name: edge-1
  cluster: {server: https://edge-1.example.com:6443}
contexts:
- name: edge-1
  context: {cluster: edge-1, user: admin}
current-context: edge-1
users:
- name: admin
  user: {token: abc123}
- name: spare
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, "id"], interactiveMode: Never}
`)
	_, err := RESTConfigFromKubeconfig(data, testSource, Options{})
	var rerr *KubeconfigRefusedError
	if !errors.As(err, &rerr) || rerr.Plugin != "exec" || rerr.User != "spare" || rerr.Command != "/bin/sh" {
		t.Fatalf("err = %v, want the exec plugin of user spare refused", err)
	}
}
