package controllers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/source"
	"github.com/flotilla-gitops/flotilla/status/branch"
	"github.com/flotilla-gitops/flotilla/status/report"
)

// StatusBranchDisabled as spec.statusBranch turns status commits off.
const StatusBranchDisabled = "-"

// StatusWriter commits each FleetRepository's fleet status to its status
// branch: status/<cluster>.yaml and STATUS.md, at most once per
// statusInterval and only when the content changed. It runs on the leader.
type StatusWriter struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Tick is how often repositories are looked at; each still writes at
	// most once per its statusInterval.
	Tick time.Duration

	mu      sync.Mutex
	repos   map[types.NamespacedName]*repoStatusState
	nowFunc func() time.Time
}

type repoStatusState struct {
	writer    *branch.Writer
	writerKey [32]byte
	lastWrite time.Time
	lastFiles map[string][]byte
}

// NeedLeaderElection makes only the leader write status.
func (s *StatusWriter) NeedLeaderElection() bool { return true }

// Start writes status until ctx ends.
func (s *StatusWriter) Start(ctx context.Context) error {
	tick := s.Tick
	if tick <= 0 {
		tick = 5 * time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.writeAll(ctx)
		}
	}
}

func (s *StatusWriter) now() time.Time {
	if s.nowFunc != nil {
		return s.nowFunc()
	}
	return time.Now()
}

func (s *StatusWriter) writeAll(ctx context.Context) {
	list := &flotillav1.FleetRepositoryList{}
	if err := s.Client.List(ctx, list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list FleetRepositories for status write-back")
		return
	}
	s.forgetOthers(list.Items)
	for i := range list.Items {
		repo := &list.Items[i]
		if repo.Spec.Suspend || repo.Spec.StatusBranch == StatusBranchDisabled || repo.Status.Revision == "" || !repo.DeletionTimestamp.IsZero() {
			continue
		}
		if err := s.WriteOnce(ctx, repo, false); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "status write-back failed", "repository", client.ObjectKeyFromObject(repo))
			if s.Recorder != nil {
				s.Recorder.Event(repo, corev1.EventTypeWarning, "StatusWriteFailed", err.Error())
			}
		}
	}
}

// forgetOthers drops the state of every repository that is not in repos or
// no longer writes status (deleted, or spec.statusBranch set to "-"), so
// the writer holds state only for the repositories it writes.
func (s *StatusWriter) forgetOthers(repos []flotillav1.FleetRepository) {
	keep := make(map[types.NamespacedName]bool, len(repos))
	for i := range repos {
		if repos[i].Spec.StatusBranch != StatusBranchDisabled && repos[i].DeletionTimestamp.IsZero() {
			keep[client.ObjectKeyFromObject(&repos[i])] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	maps.DeleteFunc(s.repos, func(k types.NamespacedName, _ *repoStatusState) bool { return !keep[k] })
}

// tracked is the number of repositories the writer holds state for.
func (s *StatusWriter) tracked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.repos)
}

// WriteOnce commits the repository's status if its interval has passed (or
// force is set) and the content changed.
func (s *StatusWriter) WriteOnce(ctx context.Context, repo *flotillav1.FleetRepository, force bool) error {
	key := client.ObjectKeyFromObject(repo)
	st, err := s.state(ctx, repo)
	if err != nil {
		return err
	}
	interval := durationOr(repo.Spec.StatusInterval, 30*time.Second)
	if !force && !st.lastWrite.IsZero() && s.now().Sub(st.lastWrite) < interval {
		return nil
	}
	clusters := &flotillav1.ClusterList{}
	syncs := &flotillav1.ClusterSyncList{}
	sel := client.MatchingLabels(repoLabels(repo))
	if err := s.Client.List(ctx, clusters, client.InNamespace(repo.Namespace), sel); err != nil {
		return fmt.Errorf("list Clusters of %s: %w", key, err)
	}
	if err := s.Client.List(ctx, syncs, client.InNamespace(repo.Namespace), sel); err != nil {
		return fmt.Errorf("list ClusterSyncs of %s: %w", key, err)
	}
	rep := report.Build(repo, clusters.Items, syncs.Items)
	files, err := report.Files(rep)
	if err != nil {
		return err
	}
	if maps.EqualFunc(files, st.lastFiles, func(a, b []byte) bool { return string(a) == string(b) }) {
		return nil
	}
	msg := fmt.Sprintf("Fleet status at %s", report.ShortRevision(repo.Status.Revision))
	committed, err := st.writer.Write(ctx, files, msg)
	if err != nil {
		return fmt.Errorf("write status of %s: %w", key, err)
	}
	st.lastWrite = s.now()
	st.lastFiles = files
	if committed {
		ctrl.LoggerFrom(ctx).V(1).Info("status committed", "repository", key, "branch", repo.Spec.StatusBranch)
	}
	return nil
}

// state returns the repository's writer, rebuilt when its URL, branch,
// author or credentials change.
func (s *StatusWriter) state(ctx context.Context, repo *flotillav1.FleetRepository) (*repoStatusState, error) {
	key := client.ObjectKeyFromObject(repo)
	var auth *source.Auth
	var secretData map[string][]byte
	if repo.Spec.SecretRef != nil {
		secret := &corev1.Secret{}
		if err := s.APIReader.Get(ctx, types.NamespacedName{Namespace: repo.Namespace, Name: repo.Spec.SecretRef.Name}, secret); err != nil {
			return nil, fmt.Errorf("read Git credentials for status write-back of %s: %w", key, err)
		}
		secretData = secret.Data
		a, err := source.AuthFromSecretData(secret.Data)
		if err != nil {
			return nil, fmt.Errorf("read Git credentials for status write-back of %s: %w", key, err)
		}
		auth = a
	}
	branchName := repo.Spec.StatusBranch
	synced := repo.Spec.Ref.Branch
	if synced == "" && repo.Spec.Ref.Tag == "" && repo.Spec.Ref.Commit == "" {
		synced = source.DefaultBranch
	}
	if err := branch.ValidateBranches(branchName, synced); err != nil {
		return nil, fmt.Errorf("FleetRepository %s spec.statusBranch: %w", key, err)
	}
	author := branch.Author{}
	if a := repo.Spec.StatusAuthor; a != nil {
		author = branch.Author{Name: a.Name, Email: a.Email}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", repo.Spec.URL, branchName, author.Name, author.Email)
	for _, k := range slices.Sorted(maps.Keys(secretData)) {
		fmt.Fprintf(h, "%s\x00%x\x00", k, sha256.Sum256(secretData[k]))
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos == nil {
		s.repos = map[types.NamespacedName]*repoStatusState{}
	}
	st := s.repos[key]
	if st != nil && st.writerKey == sum {
		return st, nil
	}
	w, err := branch.NewWriter(branch.Options{
		URL: repo.Spec.URL, Branch: branchName, Auth: auth, Author: author,
		// status/ holds exactly the fleet's clusters: files of clusters that
		// left go, even those written before a restart.
		OwnedDir: report.StatusDir,
	})
	if err != nil {
		return nil, fmt.Errorf("FleetRepository %s status write-back: %w", key, err)
	}
	if st == nil {
		st = &repoStatusState{}
		s.repos[key] = st
	}
	st.writer, st.writerKey = w, sum
	return st, nil
}
