package rollout

import (
	"fmt"
	"math/rand/v2"
	"testing"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// randomStages lays out 1..12 sites in 1..4 stages with random caps; some
// stages may be empty.
func randomStages(rng *rand.Rand) []Stage {
	n := 1 + rng.IntN(12)
	k := 1 + rng.IntN(4)
	stages := make([]Stage, k)
	for i := range stages {
		stages[i] = Stage{Name: fmt.Sprintf("s%d", i), MaxUnavailable: 1 + rng.IntN(3)}
	}
	for i := range n {
		j := rng.IntN(k)
		stages[j].Sites = append(stages[j].Sites, fmt.Sprintf("site-%02d", i))
	}
	return stages
}

// firstNonEmpty is the first stage that has sites: the only one a failing
// revision may ever reach.
func firstNonEmpty(stages []Stage) int {
	for i, s := range stages {
		if len(s.Sites) > 0 {
			return i
		}
	}
	return -1
}

func TestPropertyFailingRevisionReachesOnlyTheFirstStagesStartedSites(t *testing.T) {
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 7))
		stages := randomStages(rng)
		w := newWorld(stages, "good")
		w.settle = 1 + rng.IntN(3)
		if rng.IntN(2) == 0 {
			w.policy = flotillav1.RolloutRollback
		}
		w.bad["bad"] = true
		for range 60 {
			w.step("bad", Commands{}, 1)
		}
		first := stages[firstNonEmpty(stages)]
		inFirst := map[string]bool{}
		for _, n := range first.Sites {
			inFirst[n] = true
		}
		got := w.received["bad"]
		if len(got) == 0 {
			t.Fatalf("seed %d: the failing revision reached no site at all", seed)
		}
		if len(got) > first.MaxUnavailable {
			t.Fatalf("seed %d: the failing revision reached %d sites; the first stage's cap is %d", seed, len(got), first.MaxUnavailable)
		}
		for n := range got {
			if !inFirst[n] {
				t.Fatalf("seed %d: the failing revision reached %s, outside the first stage %v", seed, n, first.Sites)
			}
		}
		// Every other site still runs the good revision; the started ones
		// keep the failing one (Halt) or are back on the good one (Rollback).
		for n, s := range w.sites {
			switch {
			case !got[n] && s.Applied != "good":
				t.Fatalf("seed %d: %s never received the failing revision but runs %s", seed, n, s.Applied)
			case got[n] && w.policy != flotillav1.RolloutRollback && s.Applied != "bad":
				t.Fatalf("seed %d: halted site %s runs %s; halt must leave it as it is", seed, n, s.Applied)
			case got[n] && w.policy == flotillav1.RolloutRollback && (s.Applied != "good" || !s.Ready):
				t.Fatalf("seed %d: site %s runs %s ready=%v; want rolled back to good", seed, n, s.Applied, s.Ready)
			}
		}
	}
}

func TestPropertyGoodRevisionCompletesWithinCaps(t *testing.T) {
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 11))
		stages := randomStages(rng)
		w := newWorld(stages, "v1")
		w.settle = 1 + rng.IntN(3)
		for range 400 {
			w.step("v2", Commands{}, 1)
			if w.status.Phase == flotillav1.RolloutComplete {
				break
			}
		}
		if w.status.Phase != flotillav1.RolloutComplete {
			t.Fatalf("seed %d: not complete: %s", seed, w.status.Message)
		}
		for _, st := range stages {
			if w.maxBusy[st.Name] > st.MaxUnavailable {
				t.Fatalf("seed %d: stage %s had %d sites updating at once, cap %d", seed, st.Name, w.maxBusy[st.Name], st.MaxUnavailable)
			}
		}
		for n, s := range w.sites {
			if s.Applied != "v2" || !s.Ready {
				t.Fatalf("seed %d: %s not on v2", seed, n)
			}
		}
	}
}
