package demo

import (
	"context"
	"errors"
	"time"

	"github.com/flotilla-gitops/flotilla/controllers"
	"github.com/flotilla-gitops/flotilla/dashboard"
	flotillahub "github.com/flotilla-gitops/flotilla/internal/hub"
)

// errControllerStopped reports a controller that stopped without error
// while the demo still ran.
var errControllerStopped = errors.New("the controller stopped")

// startController runs the hub controller in this process, as
// `flotilla controller` would run on the hub, with short intervals so that
// the demo reacts within seconds. It logs to Layout.ControllerLog.
func (d *Demo) startController() error {
	opts := flotillahub.Options{
		MetricsAddr: "0",
		HealthAddr:  "0",
		Controllers: controllers.Options{
			CacheDir:           d.layout.CacheDir(),
			HeartbeatInterval:  d.opts.Heartbeat,
			ClusterTimeout:     5 * time.Second,
			ClusterBackoffBase: time.Second,
			ClusterBackoffMax:  15 * time.Second,
			HealthPollInterval: time.Second,
			// Failover within seconds, not the controller's default 40 s
			// (docs/quickstart.md step 8).
			UnreachableGrace: 10 * time.Second,
		},
	}
	if d.opts.DashboardAddr != "-" {
		opts.Dashboard = dashboard.Options{Addr: d.opts.DashboardAddr, StaleAfter: 3 * d.opts.Heartbeat}
		opts.DashboardListening = func(url string) { d.progress.ok("dashboard: %s", url) }
	}
	mgr, err := flotillahub.NewManager(d.hub.Config(), opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.stopController, d.controllerDone = cancel, make(chan struct{})
	go func() {
		d.controllerErr = mgr.Start(ctx)
		close(d.controllerDone)
	}()
	d.progress.ok("controller running in this process (log: %s)", d.layout.ControllerLog())
	return nil
}

// controllerExited returns why the controller stopped, or nil while it runs.
func (d *Demo) controllerExited() error {
	select {
	case <-d.controllerDone:
		if d.controllerErr != nil {
			return d.controllerErr
		}
		return errControllerStopped
	default:
		return nil
	}
}
