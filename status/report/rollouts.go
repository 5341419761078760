package report

import (
	"bytes"
	"fmt"
	"sort"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Rollout is where one app's staged rollout stands.
type Rollout struct {
	// App is the app's name.
	App string `json:"app"`
	// Revision is the revision being rolled out.
	Revision string `json:"revision"`
	// Phase is Progressing, Paused, WaitingForApproval, Halted,
	// RolledBack, Aborted or Complete.
	Phase string `json:"phase"`
	// Stage is the current stage's name ("" when complete).
	Stage string `json:"stage,omitempty"`
	// Progress is "updated/total" sites.
	Progress string `json:"progress"`
	// Message says what the rollout waits for, or why it stopped.
	Message string `json:"message,omitempty"`
}

// AddRollouts records the rollouts of the apps that have one, sorted by
// app name. Apps without spec.rollout or without a rollout status yet are
// left out.
func AddRollouts(r *Report, apps []flotillav1.App) {
	r.Rollouts = nil
	for i := range apps {
		st := apps[i].Status.Rollout
		if apps[i].Spec.Rollout == nil || st == nil {
			continue
		}
		r.Rollouts = append(r.Rollouts, Rollout{
			App: apps[i].Name, Revision: st.Revision, Phase: string(st.Phase),
			Stage: st.StageName, Progress: st.Progress, Message: st.Message,
		})
	}
	sort.Slice(r.Rollouts, func(i, j int) bool { return r.Rollouts[i].App < r.Rollouts[j].App })
}

// rolloutsMarkdown renders the rollouts section of STATUS.md.
func rolloutsMarkdown(b *bytes.Buffer, r Report) {
	if len(r.Rollouts) == 0 {
		return
	}
	b.WriteString("\n## Rollouts\n\n| app | revision | phase | stage | updated | |\n|---|---|---|---|---|---|\n")
	for _, ro := range r.Rollouts {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", ro.App, ShortRevision(ro.Revision), ro.Phase, orDash(ro.Stage), ro.Progress, oneLine(ro.Message))
	}
}
