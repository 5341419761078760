package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/rollout"
)

// rolloutInterval is the least time between two steps of one App's
// rollout: short, so that a stage that became Ready releases the next
// without waiting for the App summary's debounce.
const rolloutInterval = 100 * time.Millisecond

// failureReasons are the Ready reasons that count as a site failing a
// rollout: its apply failed, or it was not Ready within the health timeout.
var failureReasons = []string{flotillav1.ReasonApplyFailed, flotillav1.ReasonHealthCheckFailed, flotillav1.ReasonPruneFailed}

// syncFailed reports whether a ClusterSync failed at its current spec.
func syncFailed(cs *flotillav1.ClusterSync) bool {
	c := conditions.Get(cs, meta.ReadyCondition)
	return c != nil && c.Status == "False" && c.ObservedGeneration == cs.Generation && slices.Contains(failureReasons, c.Reason)
}

// siteUpToDate reports whether head, the latest render of a sync, renders
// what the site runs from an older revision: releasing it changes nothing
// there. A site that has applied head's revision itself has head's digest
// too, but that apply changed it: it is in progress until Ready and counts
// against its stage's maxUnavailable like any other site.
func siteUpToDate(cs *flotillav1.ClusterSync, head *Desired) bool {
	return cs.Status.AppliedDigest != "" && cs.Status.AppliedDigest == head.Digest &&
		cs.Status.AppliedRevision != head.Revision
}

// siteDeferral says why a cluster must not start a new revision at now, and
// when its next update window opens (zero when that is not what defers it).
func siteDeferral(c *flotillav1.Cluster, now time.Time) (string, time.Time) {
	if c == nil {
		return "", time.Time{}
	}
	if h := c.Status.Hold; h != nil {
		msg := "held by the site"
		if h.Reason != "" {
			msg += ": " + h.Reason
		}
		return msg, time.Time{}
	}
	ws, err := rollout.ParseWindows(c.Spec.UpdateWindows)
	if err != nil {
		// validate refuses bad windows; a cluster that has them anyway
		// waits rather than updating outside what its site asked for.
		return "update windows invalid: " + err.Error(), time.Time{}
	}
	if open, next := ws.Open(now); !open {
		return "outside its update windows until " + next.UTC().Format(time.RFC3339), next
	}
	return "", time.Time{}
}

// rolloutCommands reads the App's command annotations against what the
// last step handled.
func rolloutCommands(app *flotillav1.App) (rollout.Commands, [3]string) {
	a := app.GetAnnotations()
	tokens := [3]string{a[flotillav1.AnnotationRolloutApprove], a[flotillav1.AnnotationRolloutResume], a[flotillav1.AnnotationRolloutAbort]}
	var handled [3]string
	if st := app.Status.Rollout; st != nil {
		handled = [3]string{st.LastHandledApprove, st.LastHandledResume, st.LastHandledAbort}
	}
	return rollout.Commands{
		Approve: tokens[0] != "" && tokens[0] != handled[0],
		Resume:  tokens[1] != "" && tokens[1] != handled[1],
		Abort:   tokens[2] != "" && tokens[2] != handled[2],
	}, tokens
}

// driveRollout runs one step of an app's rollout: it reads each site's
// state from the hub (ClusterSyncs, Clusters) and the desired-state store,
// lets rollout.Step decide, releases revisions by writing each changed
// site's spec.rollout, and records the rollout in the App's status. It
// returns when time alone will change the decision.
func (r *AppReconciler) driveRollout(ctx context.Context, app *flotillav1.App, syncs []flotillav1.ClusterSync) (time.Duration, error) {
	if app.Spec.Rollout == nil {
		app.Status.Rollout = nil
		return 0, nil
	}
	now := r.Clock.Now()
	var (
		revision string
		members  []rollout.Member
		sites    []rollout.Site
		nextOpen time.Time
		bySite   = map[string]*flotillav1.ClusterSync{}
	)
	for i := range syncs {
		cs := &syncs[i]
		if leftCluster(cs) {
			continue
		}
		head := r.Store.head(cs)
		if head == nil {
			// Not rendered in this process yet: decide nothing until every
			// site's latest render is known.
			return 0, nil
		}
		if revision == "" {
			revision = head.Revision
		}
		cluster := &flotillav1.Cluster{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: cs.Namespace, Name: cs.Spec.Cluster}, cluster); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return 0, fmt.Errorf("read Cluster %s: %w", cs.Spec.Cluster, err)
		}
		bySite[cs.Spec.Cluster] = cs
		members = append(members, rollout.Member{Name: cluster.Name, Labels: cluster.Labels})
		site := rollout.Site{
			Name:      cs.Spec.Cluster,
			Released:  cs.Status.AppliedRevision,
			Applied:   cs.Status.AppliedRevision,
			Ready:     lastSyncReady(cs),
			Failed:    syncFailed(cs),
			UpToDate:  siteUpToDate(cs, head),
			LastReady: cs.Status.LastReadyRevision,
		}
		if cs.Spec.Rollout != nil {
			site.Released = cs.Spec.Rollout.Revision
		}
		var next time.Time
		site.Deferred, next = siteDeferral(cluster, now)
		if !next.IsZero() && (nextOpen.IsZero() || next.Before(nextOpen)) {
			nextOpen = next
		}
		sites = append(sites, site)
	}
	if revision == "" {
		return 0, nil
	}
	stages, err := rollout.Stages(app.Spec.Rollout, members)
	if err != nil {
		return 0, fmt.Errorf("lay out the rollout stages of app %s: %w", app.Name, err)
	}
	stageOf := map[string]string{}
	for _, st := range stages {
		for _, n := range st.Sites {
			stageOf[n] = st.Name
		}
	}
	cmds, tokens := rolloutCommands(app)
	out := rollout.Step(rollout.Input{
		Revision: revision, Policy: app.Spec.Rollout.OnFailure, Stages: stages, Sites: sites,
		Status: app.Status.Rollout, Commands: cmds, Now: now,
	})
	out.Status.LastHandledApprove, out.Status.LastHandledResume, out.Status.LastHandledAbort = tokens[0], tokens[1], tokens[2]

	log := ctrl.LoggerFrom(ctx)
	var writes []siteWrite
	for _, site := range sites {
		cs := bySite[site.Name]
		want := &flotillav1.SyncRollout{Revision: site.Released, Stage: stageOf[site.Name]}
		if rev, ok := out.Release[site.Name]; ok {
			want.Revision = rev
		}
		if cs.Spec.Rollout != nil && *cs.Spec.Rollout == *want {
			continue
		}
		_, released := out.Release[site.Name]
		writes = append(writes, siteWrite{sync: cs, want: want, released: released})
	}
	if err := releaseToSites(ctx, r.Client, writes); err != nil {
		return 0, err
	}
	for _, e := range out.Events {
		typ := corev1.EventTypeNormal
		if e.Warning {
			typ = corev1.EventTypeWarning
		}
		if r.Recorder != nil {
			r.Recorder.Event(app, typ, e.Reason, e.Message)
		}
		log.Info("rollout "+e.Reason, "message", e.Message)
	}
	app.Status.Rollout = &out.Status
	wait := out.RequeueAfter
	if !nextOpen.IsZero() {
		if d := nextOpen.Sub(now); d > 0 && (wait == 0 || d < wait) {
			wait = d
		}
	}
	return wait, nil
}

// releaseWorkers is how many ClusterSync spec.rollout writes one step of a
// rollout sends at once. A stage of many sites is released in one step:
// written one after the other, the last site of a 25-site stage started
// a second or more after the first on a busy hub, which the whole stage
// then waited for.
const releaseWorkers = 16

// siteWrite is one site's spec.rollout to write.
type siteWrite struct {
	// sync is the cache's own object: it is patched through a copy.
	sync *flotillav1.ClusterSync
	want *flotillav1.SyncRollout
	// released says the step released a revision to the site (logged).
	released bool
}

// releaseToSites writes each site's spec.rollout, releaseWorkers at once.
// The writes are independent: which sites get which revision was decided
// before, so their order does not matter, and a write that fails leaves the
// others in place (the next step writes what is still missing). It returns
// the errors of the writes that failed.
func releaseToSites(ctx context.Context, c client.Client, writes []siteWrite) error {
	log := ctrl.LoggerFrom(ctx)
	errs := make([]error, len(writes))
	var g errgroup.Group
	g.SetLimit(releaseWorkers)
	for i, w := range writes {
		g.Go(func() error {
			changed := w.sync.DeepCopy()
			changed.Spec.Rollout = w.want
			if err := c.Patch(ctx, changed, client.MergeFrom(w.sync)); err != nil && !apierrors.IsNotFound(err) {
				errs[i] = fmt.Errorf("release revision %s to cluster %s: %w", w.want.Revision, w.sync.Spec.Cluster, err)
				return nil
			}
			if w.released {
				log.Info("rollout released a revision", "cluster", w.sync.Spec.Cluster, "revision", w.want.Revision, "stage", w.want.Stage)
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// waitForRollout reports a sync whose app's rollout has released nothing
// to it yet, or released a revision this process has not rendered (it asks
// the repository reconciler for it, which wakes the sync when it is).
// Nothing is sent to the cluster: it keeps what it runs.
func (r *ClusterSyncReconciler) waitForRollout(ctx context.Context, cs *flotillav1.ClusterSync) (ctrl.Result, error) {
	before := cs.DeepCopy()
	rel := cs.Spec.Rollout.Revision
	if rel == "" {
		conditions.MarkUnknown(cs, meta.ReadyCondition, flotillav1.ReasonRolloutWaiting, "waiting for rollout stage %q to reach cluster %s", cs.Spec.Rollout.Stage, cs.Spec.Cluster)
	} else {
		r.Store.requestPin(cs)
		conditions.MarkReconciling(cs, flotillav1.ReasonProgressing, "rendering revision %s, which the rollout released to this cluster", rel)
	}
	cs.Status.ObservedGeneration = cs.Generation
	return ctrl.Result{RequeueAfter: jittered(r.Options.HeartbeatInterval)}, writeStatus(ctx, r.Client, cs, before.Status, cs.Status)
}
