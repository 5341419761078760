package clusterclient

import (
	"fmt"
	"net/http"
	"sort"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeconfigSource says where kubeconfig bytes came from, so that errors can
// point the operator at the Secret to fix.
type KubeconfigSource struct {
	// Namespace of the Secret.
	Namespace string
	// Name of the Secret.
	Name string
	// Key in the Secret's data.
	Key string
}

// String renders the source as "Secret <ns>/<name> key <key>".
func (s KubeconfigSource) String() string {
	return fmt.Sprintf("Secret %s/%s key %s", s.Namespace, s.Name, s.Key)
}

// RESTConfigFromKubeconfig parses kubeconfig bytes into a REST config for
// the kubeconfig's current context, with the timeout and rate limits of
// opts.
//
// It refuses, with a *KubeconfigRefusedError:
//   - users with an exec credential plugin or an auth-provider plugin, unless
//     opts.AllowExec is set, because they make the controller run commands
//     chosen by whoever can write the Secret;
//   - references to files on the controller's filesystem (tokenFile,
//     client-certificate, client-key, certificate-authority), because they
//     would send the controller's own credentials (for example its service
//     account token) to the member cluster. Embed the data instead.
//
// Every user in the kubeconfig is checked, not only the current one.
func RESTConfigFromKubeconfig(data []byte, src KubeconfigSource, opts Options) (*rest.Config, error) {
	if len(data) == 0 {
		return nil, &KubeconfigRefusedError{Source: src, Reason: "is empty; put a kubeconfig in that key"}
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig in %s is not valid: %w", src, err)
	}
	if err := checkKubeconfig(cfg, src, opts); err != nil {
		return nil, err
	}
	restCfg, err := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig in %s is not usable: %w", src, err)
	}
	if !opts.AllowExec && (restCfg.ExecProvider != nil || restCfg.AuthProvider != nil) {
		// Defence in depth: checkKubeconfig should already have refused it.
		return nil, &KubeconfigRefusedError{Source: src, Reason: "uses a credential plugin; refused: start the controller with --allow-kubeconfig-exec to allow it"}
	}
	applyOptions(restCfg, "", opts)
	return restCfg, nil
}

func checkKubeconfig(cfg *clientcmdapi.Config, src KubeconfigSource, opts Options) error {
	users := make([]string, 0, len(cfg.AuthInfos))
	for name := range cfg.AuthInfos {
		users = append(users, name)
	}
	sort.Strings(users)
	for _, name := range users {
		u := cfg.AuthInfos[name]
		if u == nil {
			continue
		}
		if !opts.AllowExec {
			if u.Exec != nil {
				return &KubeconfigRefusedError{
					Source: src, User: name, Plugin: "exec", Command: u.Exec.Command,
					Reason: fmt.Sprintf("uses an exec credential plugin (command %s); refused: start the controller with --allow-kubeconfig-exec to allow it", u.Exec.Command),
				}
			}
			if u.AuthProvider != nil {
				return &KubeconfigRefusedError{
					Source: src, User: name, Plugin: "auth-provider", Command: u.AuthProvider.Name,
					Reason: fmt.Sprintf("uses an auth-provider plugin (%s); refused: start the controller with --allow-kubeconfig-exec to allow it", u.AuthProvider.Name),
				}
			}
		}
		for field, path := range map[string]string{
			"tokenFile":          u.TokenFile,
			"client-certificate": u.ClientCertificate,
			"client-key":         u.ClientKey,
		} {
			if path != "" {
				return fileRefused(src, "user "+name, field, path)
			}
		}
	}
	clusters := make([]string, 0, len(cfg.Clusters))
	for name := range cfg.Clusters {
		clusters = append(clusters, name)
	}
	sort.Strings(clusters)
	for _, name := range clusters {
		if c := cfg.Clusters[name]; c != nil && c.CertificateAuthority != "" {
			return fileRefused(src, "cluster "+name, "certificate-authority", c.CertificateAuthority)
		}
	}
	return nil
}

func fileRefused(src KubeconfigSource, where, field, path string) error {
	return &KubeconfigRefusedError{
		Source: src,
		Reason: fmt.Sprintf("references a file on the controller's filesystem (%s %s: %s); refused: embed the data (%s-data or token) in the kubeconfig instead",
			where, field, path, field),
	}
}

// applyOptions sets timeout, rate limits and user agent on cfg in place.
func applyOptions(cfg *rest.Config, cluster string, opts Options) {
	opts = opts.withDefaults()
	cfg.Timeout = opts.Timeout
	cfg.QPS = opts.QPS
	cfg.Burst = opts.Burst
	switch {
	case opts.UserAgent != "":
		cfg.UserAgent = opts.UserAgent
	case cluster != "":
		cfg.UserAgent = "flotilla/" + cluster
	case cfg.UserAgent == "":
		cfg.UserAgent = "flotilla"
	}
	if opts.WrapTransport != nil && cluster != "" {
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return opts.WrapTransport(cluster, rt) })
	}
}
