// Package controllers holds the hub's controller-runtime reconcilers. They
// orchestrate the pipeline stages and own no pipeline logic themselves:
//
//   - FleetRepositoryReconciler fetches Git, loads and places the fleet,
//     renders every target, mirrors Cluster and App objects onto the hub and
//     keeps one ClusterSync per (app, cluster).
//   - ClusterSyncReconciler applies one app's manifests to one cluster,
//     prunes, waits for health, corrects drift.
//   - ClusterReconciler probes each member cluster (heartbeat, capacity).
//   - AppReconciler aggregates an app's ClusterSyncs into its status.
package controllers
