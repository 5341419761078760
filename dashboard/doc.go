// Package dashboard serves a read-only web view of the fleet from the hub
// controller: every cluster (reachable or stale, mode, revision, capacity),
// the apps × clusters matrix, the fleet repositories, the latest failures,
// rollout progress, and a page per cluster and per (app, cluster).
//
// Everything it shows is read from the controller manager's informer cache,
// so any number of viewers costs the hub's API server nothing. Changes are
// batched: one server-sent event per batch tells the open pages to fetch the
// new state. Every asset is embedded in the binary. The server listens on
// loopback unless told otherwise; with authentication on it accepts
// Kubernetes bearer tokens (TokenReview) and shows a namespace only to users
// allowed to list Flotilla's resources there (SubjectAccessReview).
package dashboard
