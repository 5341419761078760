// Package agent is the pull-mode agent: it runs in a member cluster the hub
// cannot reach, obtains its own identity on the hub with a short-lived
// bootstrap credential (ClusterRegistration), fetches only its own desired
// state (the Bundles of its agent namespace), verifies each bundle's digest,
// applies it to its cluster with the hub's apply engine, reports each
// bundle's status and a heartbeat, and keeps its cluster at the last
// desired state, persisted on the cluster itself, while the hub is
// unreachable.
package agent
