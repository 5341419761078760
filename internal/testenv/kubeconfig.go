package testenv

import (
	"fmt"
	"net/url"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig serialises cfg as a self-contained kubeconfig whose cluster,
// user and context are all called name. Credentials are embedded (client
// certificate and key, or token); the result never relies on an exec plugin or
// on files next to it, so it can be stored in a Secret or handed to kubectl.
func Kubeconfig(name string, cfg *rest.Config) ([]byte, error) {
	if cfg == nil {
		return nil, fmt.Errorf("writing kubeconfig %q: no rest.Config given", name)
	}
	if cfg.ExecProvider != nil || cfg.AuthProvider != nil {
		return nil, fmt.Errorf("writing kubeconfig %q: rest.Config uses an exec or auth-provider plugin, which a test kubeconfig must not", name)
	}
	host, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("writing kubeconfig %q: parsing host %q: %w", name, cfg.Host, err)
	}
	if host.Scheme == "" {
		host.Scheme = "https"
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   host.String(),
		CertificateAuthorityData: cfg.CAData,
		TLSServerName:            cfg.ServerName,
	}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
		Username:              cfg.Username,
		Password:              cfg.Password,
	}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	kc.CurrentContext = name
	out, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("writing kubeconfig %q: %w", name, err)
	}
	return out, nil
}
