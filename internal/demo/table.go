package demo

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	fluxmeta "github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/status/report"
)

// States of an app on a cluster in the progress lines, in the words of
// `flotilla status`.
const (
	cellReady   = "ready"
	cellSyncing = "syncing"
	cellWaiting = "waiting"
	cellOffline = "offline"
	cellFailed  = "failed"
)

// PrintTable writes the fleet status as `flotilla status` prints it (one row
// per cluster, one column per app, offline and failing ones explained),
// then the capacity each cluster's heartbeat reports.
func PrintTable(w io.Writer, s *FleetState) error {
	rep := report.Build(s.Repository, s.Clusters, s.Syncs)
	report.AddRollouts(&rep, s.Apps)
	if err := report.WriteTable(w, rep, time.Now()); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tNODES\tCPU\tMEMORY\tGPU")
	for i := range s.Clusters {
		c := &s.Clusters[i]
		nodes, cpu, memory, gpu := "-", "-", "-", "-"
		if capa := c.Status.Capacity; capa != nil {
			nodes = fmt.Sprint(capa.Nodes)
			cpu, memory, gpu = quantity(capa.CPU), quantity(capa.Memory), quantity(capa.GPU)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, nodes, cpu, memory, gpu)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print the capacity table: %w", err)
	}
	return nil
}

// cellOf classifies one ClusterSync for the progress lines: ready only when
// it is synced at revision (see FleetState.Problems).
func cellOf(cs *flotillav1.ClusterSync, revision string) string {
	if syncProblem(cs, revision) == "" {
		return cellReady
	}
	ready := apimeta.FindStatusCondition(cs.Status.Conditions, fluxmeta.ReadyCondition)
	if ready == nil {
		return cellSyncing
	}
	switch ready.Reason {
	case flotillav1.ReasonDependencyNotReady:
		return cellWaiting
	case flotillav1.ReasonClusterUnreachable:
		return cellOffline
	case flotillav1.ReasonHealthCheckFailed, flotillav1.ReasonApplyFailed, flotillav1.ReasonKubeconfigInvalid,
		flotillav1.ReasonClusterTLSFailed, flotillav1.ReasonClusterAuthFailed,
		flotillav1.ReasonRenderFailed, flotillav1.ReasonPruneFailed:
		return cellFailed
	}
	return cellSyncing
}

// quantity prints a quantity, or "0" when nil.
func quantity(q *resource.Quantity) string {
	if q == nil {
		return "0"
	}
	return q.String()
}
