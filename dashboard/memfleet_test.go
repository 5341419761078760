package dashboard

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// memReader serves generated objects the way the informer cache does with
// UnsafeDisableDeepCopy: lists share the stored objects. It stands in for
// the cache where a fleet of 1,000 clusters is too large to create on a
// test API server; the informer-fed paths are tested on a real hub.
type memReader struct {
	repos    []flotillav1.FleetRepository
	clusters []flotillav1.Cluster
	apps     []flotillav1.App
	syncs    []flotillav1.ClusterSync
}

func (m *memReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	switch o := obj.(type) {
	case *flotillav1.Cluster:
		for i := range m.clusters {
			if m.clusters[i].Namespace == key.Namespace && m.clusters[i].Name == key.Name {
				*o = m.clusters[i]
				return nil
			}
		}
	case *flotillav1.ClusterSync:
		for i := range m.syncs {
			if m.syncs[i].Namespace == key.Namespace && m.syncs[i].Name == key.Name {
				*o = m.syncs[i]
				return nil
			}
		}
	}
	return apierrors.NewNotFound(schema.GroupResource{Group: "flotilla.dev", Resource: fmt.Sprintf("%T", obj)}, key.Name)
}

func (m *memReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	switch l := list.(type) {
	case *flotillav1.FleetRepositoryList:
		l.Items = m.repos
	case *flotillav1.ClusterList:
		l.Items = m.clusters
	case *flotillav1.AppList:
		l.Items = m.apps
	case *flotillav1.ClusterSyncList:
		l.Items = m.syncs
	case *corev1.EventList:
		l.Items = nil
	default:
		return fmt.Errorf("memReader: unexpected list %T", list)
	}
	return nil
}

// genFleet makes a fleet of n clusters and a apps in namespace "fleet":
// every app on every cluster, one in 50 failing, with capacity figures.
func genFleet(n, a int) *memReader {
	now := metav1.NewTime(time.Now())
	rev := "main@sha1:0123456789abcdef0123456789abcdef01234567"
	m := &memReader{repos: []flotillav1.FleetRepository{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "factories"},
		Spec:       flotillav1.FleetRepositorySpec{URL: "https://git.example/fleet.git"},
		Status: flotillav1.FleetRepositoryStatus{Revision: rev, LastFetchTime: &now, Conditions: []metav1.Condition{
			{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Synced", LastTransitionTime: now}}},
	}}}
	for j := range a {
		m.apps = append(m.apps, flotillav1.App{
			ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: fmt.Sprintf("app-%02d", j)},
			Status: flotillav1.AppStatus{Revision: rev, Selected: int32(n), Synced: int32(n), Healthy: int32(n),
				Rollout: &flotillav1.RolloutStatus{Revision: rev, Phase: flotillav1.RolloutProgressing, StageName: "canary", Updated: int32(n / 2), Total: int32(n)}},
		})
	}
	for i := range n {
		name := fmt.Sprintf("site-%04d", i)
		c := flotillav1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: name, Labels: map[string]string{"region": fmt.Sprintf("r%d", i%7)}},
			Status: flotillav1.ClusterStatus{
				LastHeartbeatTime: &now, AppsReady: int32(a), AppsTotal: int32(a),
				Conditions: []metav1.Condition{{Type: flotillav1.ReachableCondition, Status: metav1.ConditionTrue, Reason: flotillav1.ReasonReachable, LastTransitionTime: now}},
				Capacity: &flotillav1.ClusterCapacity{Nodes: 3,
					Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("24"), corev1.ResourceMemory: resource.MustParse("96Gi"), gpuResource: resource.MustParse("4")},
					Available:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10500m"), corev1.ResourceMemory: resource.MustParse("40Gi"), gpuResource: resource.MustParse("1")}},
			},
		}
		m.clusters = append(m.clusters, c)
		for j := range a {
			s := flotillav1.ClusterSync{
				ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: syncName(m.apps[j].Name, name)},
				Spec:       flotillav1.ClusterSyncSpec{App: m.apps[j].Name, Cluster: name, Rollout: &flotillav1.SyncRollout{Revision: rev, Stage: "canary"}},
				Status: flotillav1.ClusterSyncStatus{AppliedRevision: rev, DriftCorrections: int64(i % 3),
					Inventory: []flotillav1.ObjectRef{{ID: "plant_settings__ConfigMap", Version: "v1"}}},
			}
			cond := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: flotillav1.ReasonSynced, LastTransitionTime: now}
			if (i*a+j)%50 == 0 {
				cond = metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: flotillav1.ReasonApplyFailed, Message: "apply ConfigMap plant/settings: the server refused it", LastTransitionTime: now}
			}
			apimeta.SetStatusCondition(&s.Status.Conditions, cond)
			m.syncs = append(m.syncs, s)
		}
	}
	return m
}
