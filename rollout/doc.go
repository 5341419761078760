// Package rollout decides, for one app, which sites may move to a new
// revision now. It is pure: the hub's rollout driver gathers each site's
// state (what it runs, whether it is Ready, whether it is held or outside
// its update windows) and the rollout's persisted status, calls Step, and
// writes back what Step decided. The same inputs always give the same
// decision, so a controller restart continues where the last one stopped.
//
// The model: an app's sites are divided into stages (stages.go). A new
// revision is released to the sites of the current stage, at most
// maxUnavailable of them between "released" and "Ready" at once. When every
// site of the stage is Ready the stage's gate (a pause or an approval) is
// passed and the next stage begins. A site that fails halts the rollout
// (or, with the Rollback policy, also returns to the last revision that was
// Ready there). A site that is held or outside its update windows is
// deferred: it keeps its revision, blocks the first stage, and does not
// block later ones; it catches up when it is free.
package rollout
