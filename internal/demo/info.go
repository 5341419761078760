package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// Info is what a person (or a script) needs to use a running demo. The
// control socket serves it as JSON.
type Info struct {
	// Dir is the demo folder; Temporary says whether the demo removes it
	// when it stops.
	Dir       string `json:"dir"`
	Temporary bool   `json:"temporary"`
	// Namespace holds the FleetRepository on the hub; Repository names it.
	Namespace  string `json:"namespace"`
	Repository string `json:"repository"`
	// Kubeconfig has one context per cluster (named after it), current
	// context "hub" in Namespace.
	Kubeconfig string `json:"kubeconfig"`
	// Hub is the hub cluster.
	Hub ClusterInfo `json:"hub"`
	// Clusters are the member clusters, sorted by name.
	Clusters []ClusterInfo `json:"clusters"`
	// GitURL is the repository's clone URL with the credentials in it;
	// GitURLWithoutCredentials, GitUsername and GitPassword are its parts.
	GitURL                   string `json:"gitURL"`
	GitURLWithoutCredentials string `json:"gitURLWithoutCredentials"`
	GitUsername              string `json:"gitUsername"`
	GitPassword              string `json:"gitPassword"`
	// Branch is the branch the hub syncs.
	Branch string `json:"branch"`
	// ControllerLog is the controller's log file.
	ControllerLog string `json:"controllerLog"`
	// Bin holds kubectl (and flotilla) links, to put first on PATH.
	Bin string `json:"bin"`
	// ControlSocket is where the demo answers `flotilla demo` subcommands;
	// empty when disabled.
	ControlSocket string `json:"controlSocket"`
}

// ClusterInfo is one cluster of a running demo.
type ClusterInfo struct {
	// Name of the cluster, and of its context in Info.Kubeconfig.
	Name string `json:"name"`
	// Kubeconfig is the cluster's own admin kubeconfig file.
	Kubeconfig string `json:"kubeconfig"`
	// Server is the API server's URL.
	Server string `json:"server"`
	// Running is false while the cluster is stopped (stop-cluster).
	Running bool `json:"running"`
	// Logs is the folder of the cluster's process logs.
	Logs string `json:"logs"`
	// Mode is the cluster's access mode: "Push" (the hub connects to it) or
	// "Pull" (an agent process inside it reports to the hub).
	Mode string `json:"mode"`
	// AgentLog is the log file of a pull cluster's agent; empty for push.
	AgentLog string `json:"agentLog,omitempty"`
}

// Info describes the running demo.
func (d *Demo) Info() Info {
	info := Info{
		Dir:                      d.layout.Root,
		Temporary:                d.temporary,
		Namespace:                d.opts.Namespace,
		Repository:               d.repoName,
		Kubeconfig:               d.layout.Kubeconfig(),
		Hub:                      clusterInfo(d.hub),
		GitURL:                   d.repo.HTTPURLWithCredentials,
		GitURLWithoutCredentials: d.repo.HTTPURL,
		GitUsername:              d.git.Username(),
		GitPassword:              d.git.Password(),
		Branch:                   d.repo.Branch,
		ControllerLog:            d.layout.ControllerLog(),
		Bin:                      d.layout.Bin(),
	}
	if d.opts.ControlSocket != "-" {
		info.ControlSocket = d.opts.ControlSocket
	}
	for _, name := range d.names {
		ci := clusterInfo(d.members[name])
		ci.Mode = string(flotillav1.AccessPush)
		if d.pull[name] {
			ci.Mode, ci.AgentLog = string(flotillav1.AccessPull), d.layout.AgentLog(name)
		}
		info.Clusters = append(info.Clusters, ci)
	}
	return info
}

func clusterInfo(c *testenv.Cluster) ClusterInfo {
	return ClusterInfo{Name: c.Name(), Kubeconfig: c.KubeconfigPath(), Server: c.Host(), Running: c.Running(), Logs: c.LogDir()}
}

// Env returns shell commands that set up a shell for the demo: PATH gets
// the demo's kubectl (and flotilla) first, KUBECONFIG its merged kubeconfig,
// and FLOTILLA_* name the folder, the Git URL, the namespace and the
// control socket. Use it as: eval "$(flotilla demo env)".
func (i Info) Env() string {
	var b strings.Builder
	export := func(name, value string) { fmt.Fprintf(&b, "export %s=%s\n", name, shellQuote(value)) }
	export("FLOTILLA_DEMO_DIR", i.Dir)
	if i.ControlSocket != "" {
		export(ControlSocketEnv, i.ControlSocket)
	}
	export("FLOTILLA_GIT_URL", i.GitURL)
	export("FLOTILLA_NAMESPACE", i.Namespace)
	export("KUBECONFIG", i.Kubeconfig)
	fmt.Fprintf(&b, "export PATH=%s:\"$PATH\"\n", shellQuote(i.Bin))
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeAccessFiles writes the merged kubeconfig, the bin folder and the env
// file.
func (d *Demo) writeAccessFiles() error {
	if err := d.writeKubeconfig(); err != nil {
		return err
	}
	if err := os.MkdirAll(d.layout.Bin(), 0o700); err != nil {
		return fmt.Errorf("create the demo's bin folder: %w", err)
	}
	links := map[string]string{"kubectl": filepath.Join(d.assets, "kubectl")}
	if d.opts.FlotillaBinary != "" {
		links["flotilla"] = d.opts.FlotillaBinary
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(d.layout.Bin(), name)); err != nil {
			return fmt.Errorf("link %s into the demo's bin folder: %w", name, err)
		}
	}
	if err := os.WriteFile(d.layout.EnvFile(), []byte(d.Info().Env()), 0o600); err != nil {
		return fmt.Errorf("write the demo's env file: %w", err)
	}
	return nil
}

// writeKubeconfig merges every cluster's kubeconfig into one, with the hub's
// context current and defaulting to the demo's namespace.
func (d *Demo) writeKubeconfig() error {
	merged := clientcmdapi.NewConfig()
	all := []*testenv.Cluster{d.hub}
	for _, name := range d.names {
		all = append(all, d.members[name])
	}
	for _, c := range all {
		cfg, err := clientcmd.Load(c.Kubeconfig())
		if err != nil {
			return fmt.Errorf("read the kubeconfig of cluster %s: %w", c.Name(), err)
		}
		for k, v := range cfg.Clusters {
			merged.Clusters[k] = v
		}
		for k, v := range cfg.AuthInfos {
			merged.AuthInfos[k] = v
		}
		for k, v := range cfg.Contexts {
			merged.Contexts[k] = v
		}
	}
	if ctx := merged.Contexts[HubName]; ctx != nil {
		ctx.Namespace = d.opts.Namespace
	}
	merged.CurrentContext = HubName
	if err := clientcmd.WriteToFile(*merged, d.layout.Kubeconfig()); err != nil {
		return fmt.Errorf("write the demo's kubeconfig: %w", err)
	}
	return nil
}
