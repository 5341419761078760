package demo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Defaults of Options.
const (
	// DefaultNamespace holds the FleetRepository and the Secrets on the hub.
	DefaultNamespace = "flotilla-system"
	// DefaultInterval is the FleetRepository's fetch interval.
	DefaultInterval = 5 * time.Second
	// DefaultDriftInterval is the FleetRepository's drift check interval.
	DefaultDriftInterval = 30 * time.Second
	// DefaultStatusInterval is the least time between two status commits.
	DefaultStatusInterval = 10 * time.Second
	// DefaultHeartbeat is how often the controller probes each member.
	DefaultHeartbeat = 5 * time.Second
	// ControlSocketEnv names the environment variable that overrides the
	// default control socket path.
	ControlSocketEnv = "FLOTILLA_DEMO_SOCKET"
)

// Options configure a demo.
type Options struct {
	// FleetDir is the fleet repository folder (holding clusters/ and apps/)
	// that seeds the demo's Git repository. Required.
	FleetDir string
	// AssetsDir holds the control-plane binaries. Empty means
	// testenv.AssetsDir() ($KUBEBUILDER_ASSETS, else bin/k8s/<version> in the
	// working directory or a parent).
	AssetsDir string
	// Dir holds everything the demo writes. Empty means a new temporary
	// folder that Close removes; a folder given here is kept. A folder that
	// holds files is refused, unless an earlier demo made it: then it is
	// emptied first.
	Dir string
	// Namespace on the hub. Empty means DefaultNamespace.
	Namespace string
	// ControlSocket is the unix socket the demo answers on. Empty means
	// DefaultControlSocket(); "-" disables the control socket.
	ControlSocket string
	// FlotillaBinary, when set, is linked into the demo's bin folder next to
	// kubectl, so that one PATH entry gives both.
	FlotillaBinary string
	// Out receives the progress and the results. Nil means io.Discard.
	Out io.Writer
	// DashboardAddr is where the controller serves the web dashboard.
	// Empty means a free port on 127.0.0.1; "-" turns the dashboard off.
	DashboardAddr string
	// Interval, DriftInterval, StatusInterval and Heartbeat tune the
	// FleetRepository and the controller; zero means the defaults above.
	Interval, DriftInterval, StatusInterval, Heartbeat time.Duration
}

// withDefaults fills unset options.
func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.ControlSocket == "" {
		o.ControlSocket = DefaultControlSocket()
	}
	if o.DashboardAddr == "" {
		o.DashboardAddr = "127.0.0.1:0"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Interval, DefaultInterval)
	def(&o.DriftInterval, DefaultDriftInterval)
	def(&o.StatusInterval, DefaultStatusInterval)
	def(&o.Heartbeat, DefaultHeartbeat)
	return o
}

// DefaultControlSocket returns $FLOTILLA_DEMO_SOCKET when set, else
// flotilla-demo-<uid>.sock in the temporary folder: one demo per user at a
// time, found by `flotilla demo stop-cluster` without any flag.
func DefaultControlSocket() string {
	if s := os.Getenv(ControlSocketEnv); s != "" {
		return s
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("flotilla-demo-%d.sock", os.Getuid()))
}
