package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// memberKubeconfig writes a kubeconfig for a server that is never called.
func memberKubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "member.kubeconfig")
	kc := `apiVersion: v1
kind: Config
clusters: [{name: m, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: m, user: {token: x}}]
contexts: [{name: m, context: {cluster: m, user: m}}]
current-context: m
`
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAgentFlagErrors checks that bad agent flags fail before anything runs,
// with a message naming the flag and what to do.
func TestAgentFlagErrors(t *testing.T) {
	kc := memberKubeconfig(t)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no cluster":           {[]string{"--fleet-namespace", "fleet"}, "set --cluster"},
		"no fleet namespace":   {[]string{"--cluster", "site-a"}, "set --fleet-namespace"},
		"bad cluster name":     {[]string{"--cluster", "Site_A", "--fleet-namespace", "fleet"}, "--cluster Site_A is not a valid cluster name"},
		"token without hub":    {[]string{"--cluster", "site-a", "--fleet-namespace", "fleet", "--bootstrap-token-file", token}, "needs --hub-url"},
		"token and kubeconfig": {[]string{"--cluster", "site-a", "--fleet-namespace", "fleet", "--bootstrap-token-file", token, "--bootstrap-kubeconfig", kc}, "exclude each other"},
		"missing CA file":      {[]string{"--cluster", "site-a", "--fleet-namespace", "fleet", "--bootstrap-token-file", token, "--hub-url", "https://hub:6443", "--hub-ca-file", "/nonexistent/ca.crt"}, "read --hub-ca-file"},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"agent", "--kubeconfig", kc, "--metrics-addr", "0", "--health-addr", "0"}, tc.args...)
			code, _, stderr := runCLI(t, args...)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want an error containing %q", code, stderr, tc.want)
			}
		})
	}
}
