package dashboard

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// maxFailures is how many failures a namespace lists, newest first.
const maxFailures = 50

// buildFleet reads every Flotilla object from r (the informer cache) and
// groups them by namespace. Objects are read without deep copies: nothing
// here writes to them.
func buildFleet(ctx context.Context, r client.Reader) (map[string]*NamespaceView, error) {
	noCopy := client.UnsafeDisableDeepCopy
	var repos flotillav1.FleetRepositoryList
	if err := r.List(ctx, &repos, noCopy); err != nil {
		return nil, fmt.Errorf("list FleetRepositories from the cache: %w", err)
	}
	var clusters flotillav1.ClusterList
	if err := r.List(ctx, &clusters, noCopy); err != nil {
		return nil, fmt.Errorf("list Clusters from the cache: %w", err)
	}
	var apps flotillav1.AppList
	if err := r.List(ctx, &apps, noCopy); err != nil {
		return nil, fmt.Errorf("list Apps from the cache: %w", err)
	}
	var syncs flotillav1.ClusterSyncList
	if err := r.List(ctx, &syncs, noCopy); err != nil {
		return nil, fmt.Errorf("list ClusterSyncs from the cache: %w", err)
	}

	out := map[string]*NamespaceView{}
	ns := func(name string) *NamespaceView {
		v, ok := out[name]
		if !ok {
			v = &NamespaceView{Name: name, Cells: map[string]CellView{}}
			out[name] = v
		}
		return v
	}
	for i := range repos.Items {
		o := &repos.Items[i]
		ns(o.Namespace).Repositories = append(ns(o.Namespace).Repositories, repoView(o))
	}
	for i := range apps.Items {
		o := &apps.Items[i]
		ns(o.Namespace).Apps = append(ns(o.Namespace).Apps, appView(o))
	}
	revs := map[string]map[string][]string{} // namespace -> cluster -> revisions
	for i := range syncs.Items {
		o := &syncs.Items[i]
		v := ns(o.Namespace)
		cell := cellView(o)
		v.Cells[o.Spec.App+"/"+o.Spec.Cluster] = cell
		if cell.Ready == string(metav1.ConditionFalse) {
			f := FailureView{App: o.Spec.App, Cluster: o.Spec.Cluster, Reason: cell.Reason, Message: cell.Message}
			if c := apimeta.FindStatusCondition(o.Status.Conditions, "Ready"); c != nil {
				t := c.LastTransitionTime.Time
				f.Since = &t
			}
			v.Failures = append(v.Failures, f)
		}
		if o.Status.AppliedRevision != "" {
			if revs[o.Namespace] == nil {
				revs[o.Namespace] = map[string][]string{}
			}
			l := revs[o.Namespace][o.Spec.Cluster]
			if !slices.Contains(l, o.Status.AppliedRevision) {
				revs[o.Namespace][o.Spec.Cluster] = append(l, o.Status.AppliedRevision)
			}
		}
	}
	for i := range clusters.Items {
		o := &clusters.Items[i]
		cv := clusterView(o)
		cv.Revisions = revs[o.Namespace][o.Name]
		slices.Sort(cv.Revisions)
		ns(o.Namespace).Clusters = append(ns(o.Namespace).Clusters, cv)
	}
	for _, v := range out {
		sort.Slice(v.Repositories, func(i, j int) bool { return v.Repositories[i].Name < v.Repositories[j].Name })
		sort.Slice(v.Apps, func(i, j int) bool { return v.Apps[i].Name < v.Apps[j].Name })
		sort.Slice(v.Clusters, func(i, j int) bool { return v.Clusters[i].Name < v.Clusters[j].Name })
		sort.SliceStable(v.Failures, func(i, j int) bool {
			a, b := v.Failures[i].Since, v.Failures[j].Since
			if a == nil || b == nil {
				return b == nil && a != nil
			}
			return a.After(*b)
		})
		if len(v.Failures) > maxFailures {
			v.Failures = v.Failures[:maxFailures]
		}
		if v.Repositories == nil {
			v.Repositories = []RepoView{}
		}
		if v.Apps == nil {
			v.Apps = []AppView{}
		}
		if v.Clusters == nil {
			v.Clusters = []ClusterView{}
		}
		if v.Failures == nil {
			v.Failures = []FailureView{}
		}
	}
	return out, nil
}

// readyOf returns the status, reason and message of the Ready condition.
func readyOf(conds []metav1.Condition) (status, reason, message string) {
	c := apimeta.FindStatusCondition(conds, "Ready")
	if c == nil {
		return "Unknown", "", ""
	}
	return string(c.Status), c.Reason, c.Message
}

func repoView(o *flotillav1.FleetRepository) RepoView {
	status, _, msg := readyOf(o.Status.Conditions)
	v := RepoView{Name: o.Name, URL: redactURL(o.Spec.URL), Revision: o.Status.Revision, Ready: status}
	if status != string(metav1.ConditionTrue) {
		v.Message = msg
	}
	if o.Status.LastFetchTime != nil {
		t := o.Status.LastFetchTime.Time
		v.LastFetch = &t
	}
	return v
}

// redactURL drops any user name and password from a repository URL: the
// dashboard never shows credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable URL)"
		}
		return raw
	}
	u.User = nil
	return u.String()
}

func appView(o *flotillav1.App) AppView {
	status, _, msg := readyOf(o.Status.Conditions)
	v := AppView{Name: o.Name, Revision: o.Status.Revision, Selected: o.Status.Selected, Synced: o.Status.Synced, Healthy: o.Status.Healthy, Ready: status}
	if status != string(metav1.ConditionTrue) {
		v.Message = msg
	}
	if r := o.Status.Rollout; r != nil {
		rv := &RolloutView{Phase: string(r.Phase), Stage: r.StageName, Revision: r.Revision, Updated: r.Updated, Total: r.Total, Message: r.Message}
		for _, s := range r.Stages {
			rv.StageList = append(rv.StageList, struct {
				Name    string `json:"name"`
				Sites   int32  `json:"sites"`
				Updated int32  `json:"updated"`
			}{s.Name, s.Sites, s.Updated})
		}
		v.Rollout = rv
	}
	return v
}

func cellView(o *flotillav1.ClusterSync) CellView {
	status, reason, msg := readyOf(o.Status.Conditions)
	c := CellView{Ready: status, Reason: reason, Revision: o.Status.AppliedRevision, Drift: o.Status.DriftCorrections, Healthy: "Unknown"}
	if h := apimeta.FindStatusCondition(o.Status.Conditions, flotillav1.HealthyCondition); h != nil {
		c.Healthy = string(h.Status)
	}
	if status != string(metav1.ConditionTrue) {
		c.Message = msg
		if c.Message == "" {
			c.Message = o.Status.LastError
		}
	}
	if o.Spec.Rollout != nil {
		c.Stage = o.Spec.Rollout.Stage
	}
	return c
}

func clusterView(o *flotillav1.Cluster) ClusterView {
	v := ClusterView{
		Name: o.Name, Labels: o.Labels, Mode: string(o.Spec.Access.Mode),
		Reachable: "Unknown", AppsReady: o.Status.AppsReady, AppsTotal: o.Status.AppsTotal,
		Kubernetes: o.Status.KubernetesVersion,
	}
	if v.Mode == "" {
		v.Mode = string(flotillav1.AccessPush)
	}
	if c := apimeta.FindStatusCondition(o.Status.Conditions, flotillav1.ReachableCondition); c != nil {
		v.Reachable, v.Reason = string(c.Status), c.Reason
		if c.Status != metav1.ConditionTrue {
			v.Message = c.Message
		}
	}
	if o.Status.LastHeartbeatTime != nil {
		t := o.Status.LastHeartbeatTime.Time
		v.Heartbeat = &t
	}
	if c := o.Status.Capacity; c != nil {
		v.Nodes = c.Nodes
		v.Resources = resourceViews(c)
	}
	taints := append(slices.Clone(o.Spec.Taints), o.Status.Taints...)
	for _, t := range taints {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		v.Taints = append(v.Taints, s+":"+string(t.Effect))
	}
	if o.Status.Hold != nil {
		v.Hold = o.Status.Hold.Reason
		if v.Hold == "" {
			v.Hold = "held"
		}
	}
	return v
}

// gpuResource is the extended resource name of NVIDIA GPUs.
const gpuResource corev1.ResourceName = "nvidia.com/gpu"

// resourceViews lists cpu, memory and GPUs first, then any other resource
// of the cluster's capacity. It reads status.capacity.allocatable and
// available when present, else the older cpu/memory/gpu totals.
func resourceViews(c *flotillav1.ClusterCapacity) []ResourceView {
	alloc := corev1.ResourceList{}
	for k, q := range c.Allocatable {
		alloc[k] = q
	}
	for name, q := range map[corev1.ResourceName]*resource.Quantity{corev1.ResourceCPU: c.CPU, corev1.ResourceMemory: c.Memory, gpuResource: c.GPU} {
		if _, ok := alloc[name]; !ok && q != nil {
			alloc[name] = *q
		}
	}
	names := make([]corev1.ResourceName, 0, len(alloc))
	for k := range alloc {
		if k == corev1.ResourcePods {
			continue
		}
		names = append(names, k)
	}
	rank := func(n corev1.ResourceName) int {
		switch n {
		case corev1.ResourceCPU:
			return 0
		case corev1.ResourceMemory:
			return 1
		case gpuResource:
			return 2
		}
		return 3
	}
	sort.Slice(names, func(i, j int) bool {
		if rank(names[i]) != rank(names[j]) {
			return rank(names[i]) < rank(names[j])
		}
		return names[i] < names[j]
	})
	out := make([]ResourceView, 0, len(names))
	for _, n := range names {
		a := alloc[n]
		rv := ResourceView{Name: string(n), Allocatable: amount(n, a), Available: -1}
		if q, ok := c.Available[n]; ok {
			rv.Available = amount(n, q)
		}
		rv.Text = resourceText(n, rv)
		out = append(out, rv)
	}
	return out
}

// amount is a quantity in the resource's base unit (cores for cpu).
func amount(n corev1.ResourceName, q resource.Quantity) float64 {
	if n == corev1.ResourceCPU {
		return float64(q.MilliValue()) / 1000
	}
	return q.AsApproximateFloat64()
}

// resourceText is a resource's amounts for people.
func resourceText(n corev1.ResourceName, r ResourceView) string {
	f := func(v float64) string { return fmt.Sprintf("%g", v) }
	unit := ""
	switch n {
	case corev1.ResourceCPU:
		unit = " cores"
	case corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		f = func(v float64) string { return fmt.Sprintf("%.1f", v/(1<<30)) }
		unit = " GiB"
	}
	if r.Available < 0 {
		return f(r.Allocatable) + unit + " allocatable"
	}
	return f(r.Allocatable-r.Available) + " of " + f(r.Allocatable) + unit + " used"
}

// conditionViews converts conditions for a page.
func conditionViews(conds []metav1.Condition) []ConditionView {
	out := make([]ConditionView, 0, len(conds))
	for _, c := range conds {
		out = append(out, ConditionView{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message, Since: c.LastTransitionTime.Time})
	}
	return out
}
