// Package apply performs one sync of one app's manifests onto one cluster
// with server-side apply (github.com/fluxcd/pkg/ssa): owner labels, staged
// apply (CRDs and Namespaces first), an inventory of what was applied,
// pruning of what left the manifests, a readiness wait computed with kstatus,
// and drift detection by server-side dry-run.
//
// Safety rules the callers must keep:
//
//   - Never call Sync with Prune after a failed fetch or a failed render:
//     pass the previous inventory through unchanged and do not call Sync at
//     all. Sync cannot tell a broken render from an intended removal.
//   - An empty object set with a non-empty previous inventory is refused when
//     Prune is set, unless Request.AllowEmpty says the emptiness is intended
//     (the app was removed from Git, or the cluster left its placement). This
//     is a safety net, not a substitute for the rule above.
//   - Pruning only deletes objects that are in the previous inventory, are
//     gone from the new object set, still exist, and still carry all of
//     Flotilla's owner labels for this app and repository. Anything else is
//     left alone and reported in Result.PruneSkipped.
//   - The target namespace (Request.Namespace) is created when missing but is
//     never recorded in the inventory and never pruned.
//
// Every call to the cluster runs under a context with a deadline, and the
// cluster client itself bounds each request (see apply/clusterclient).
package apply
