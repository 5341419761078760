package dashboard

import (
	"net/http"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// maxEvents is how many events a page lists, newest first.
const maxEvents = 20

// syncName is the name of the ClusterSync of an app on a cluster (as the
// controllers name it).
func syncName(app, cluster string) string { return app + "." + cluster }

// namespaceAllowed answers 403 and false when the viewer may not see ns.
func (s *Server) namespaceAllowed(w http.ResponseWriter, r *http.Request, ns string) bool {
	names, err := s.allowedNamespaces(r, []string{ns})
	if err != nil {
		http.Error(w, "authorization check failed", http.StatusBadGateway)
		return false
	}
	if len(names) == 0 {
		http.Error(w, "forbidden: you may not list Flotilla's resources in namespace "+ns, http.StatusForbidden)
		return false
	}
	return true
}

// serveCluster writes one cluster's page: /api/cluster?namespace=&name=.
func (s *Server) serveCluster(w http.ResponseWriter, r *http.Request) {
	ns, name := r.URL.Query().Get("namespace"), r.URL.Query().Get("name")
	if ns == "" || name == "" {
		http.Error(w, "query parameters namespace and name are required", http.StatusBadRequest)
		return
	}
	if !s.namespaceAllowed(w, r, ns) {
		return
	}
	var c flotillav1.Cluster
	if err := s.reader.Get(r.Context(), types.NamespacedName{Namespace: ns, Name: name}, &c); err != nil {
		notFoundOr(w, err, "cluster")
		return
	}
	cv := clusterView(&c)
	d := ClusterDetail{Namespace: ns, Cluster: cv, Vars: c.Spec.Vars, Conditions: conditionViews(c.Status.Conditions), Apps: []SyncSummary{}}
	if sn := s.snap(); sn != nil {
		if v := sn.views[ns]; v != nil {
			for _, a := range v.Apps {
				if cell, ok := v.Cells[a.Name+"/"+name]; ok {
					d.Apps = append(d.Apps, SyncSummary{App: a.Name, Cell: cell})
				}
			}
			for _, c := range v.Clusters {
				if c.Name == name {
					d.Cluster.Revisions = c.Revisions
				}
			}
		}
	}
	var err error
	if d.Events, err = s.events(r, ns, "Cluster", name); err != nil {
		http.Error(w, "read events from the cache", http.StatusInternalServerError)
		return
	}
	writeJSON(w, d)
}

// serveSync writes one app's page on one cluster:
// /api/sync?namespace=&app=&cluster=.
func (s *Server) serveSync(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ns, app, cluster := q.Get("namespace"), q.Get("app"), q.Get("cluster")
	if ns == "" || app == "" || cluster == "" {
		http.Error(w, "query parameters namespace, app and cluster are required", http.StatusBadRequest)
		return
	}
	if !s.namespaceAllowed(w, r, ns) {
		return
	}
	var cs flotillav1.ClusterSync
	if err := s.reader.Get(r.Context(), types.NamespacedName{Namespace: ns, Name: syncName(app, cluster)}, &cs); err != nil {
		notFoundOr(w, err, "app on cluster")
		return
	}
	d := SyncDetail{
		Namespace: ns, App: app, Cluster: cluster, Cell: cellView(&cs),
		Conditions: conditionViews(cs.Status.Conditions), Objects: make([]string, 0, len(cs.Status.Inventory)),
		DriftedObjects: cs.Status.DriftedObjects, WaitingFor: cs.Status.WaitingFor,
	}
	for _, o := range cs.Status.Inventory {
		d.Objects = append(d.Objects, o.ID)
	}
	if t := cs.Status.LastDriftCheckTime; t != nil {
		d.LastDrift = &t.Time
	}
	if t := cs.Status.LastAppliedTime; t != nil {
		d.LastApplied = &t.Time
	}
	var err error
	if d.Events, err = s.events(r, ns, "ClusterSync", cs.Name); err != nil {
		http.Error(w, "read events from the cache", http.StatusInternalServerError)
		return
	}
	writeJSON(w, d)
}

// events returns the newest events about one object, from the cache.
func (s *Server) events(r *http.Request, ns, kind, name string) ([]EventView, error) {
	var list corev1.EventList
	if err := s.reader.List(r.Context(), &list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	out := []EventView{}
	for i := range list.Items {
		e := &list.Items[i]
		if e.InvolvedObject.Kind != kind || e.InvolvedObject.Name != name {
			continue
		}
		last := e.LastTimestamp.Time
		if last.IsZero() {
			last = e.EventTime.Time
		}
		out = append(out, EventView{Type: e.Type, Reason: e.Reason, Message: e.Message, Count: e.Count, Last: last})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Last.After(out[j].Last) })
	if len(out) > maxEvents {
		out = out[:maxEvents]
	}
	return out, nil
}

// notFoundOr answers 404 for a missing object, 500 otherwise.
func notFoundOr(w http.ResponseWriter, err error, what string) {
	if apierrors.IsNotFound(err) {
		http.Error(w, what+" not found", http.StatusNotFound)
		return
	}
	http.Error(w, "read "+what+" from the cache", http.StatusInternalServerError)
}
