package apply

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Discoverer is implemented by cluster clients that can list the cluster's
// API resources (*clusterclient.Client does). Prune needs it to see what a
// Namespace object holds before deleting it; without it, Namespace objects
// are released instead of deleted.
type Discoverer interface {
	Discovery() discovery.DiscoveryInterface
}

// maxForeignNamed is how many foreign objects a kept namespace names.
const maxForeignNamed = 3

// foreignObjects lists (up to a few) objects in namespace ns that Flotilla
// did not apply for this app and that deleting the namespace would delete:
// objects without the app's owner labels, other than those Kubernetes makes
// in every namespace (the default ServiceAccount, the kube-root-ca.crt
// ConfigMap), events and objects that have an owner (they go with their
// owner). An error means the contents could not be listed.
func foreignObjects(ctx context.Context, cl ClusterClient, ns string, want map[string]string) ([]string, error) {
	d, ok := cl.(Discoverer)
	if !ok {
		return nil, fmt.Errorf("the cluster client cannot discover API resources")
	}
	lists, err := discovery.ServerPreferredNamespacedResources(d.Discovery())
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("discover API resources: %w", err)
	}
	if err != nil {
		// Some groups failed: the namespace may hold objects of them.
		return nil, fmt.Errorf("discover API resources (partial): %w", err)
	}
	var found []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if !hasVerb(r.Verbs, "list") || r.Kind == "Event" || strings.Contains(r.Name, "/") {
				continue
			}
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(gv.WithKind(r.Kind + "List"))
			if err := cl.Client().List(ctx, list, client.InNamespace(ns), client.Limit(100)); err != nil {
				if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
					continue
				}
				return nil, fmt.Errorf("list %s in namespace %s: %w", r.Name, ns, err)
			}
			for _, o := range list.Items {
				if madeByKubernetes(r.Kind, o.Name) || len(o.OwnerReferences) > 0 || HasOwnerLabels(o.Labels, want) {
					continue
				}
				found = append(found, r.Kind+"/"+ns+"/"+o.Name)
			}
		}
	}
	sort.Strings(found)
	return found, nil
}

func hasVerb(verbs metav1.Verbs, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// madeByKubernetes reports the objects the control plane creates in every
// namespace.
func madeByKubernetes(kind, name string) bool {
	return (kind == "ServiceAccount" && name == "default") || (kind == "ConfigMap" && name == "kube-root-ca.crt")
}

// describeForeign names the first objects of found.
func describeForeign(found []string) string {
	if len(found) <= maxForeignNamed {
		return strings.Join(found, ", ")
	}
	return strings.Join(found[:maxForeignNamed], ", ") + fmt.Sprintf(" and %d more", len(found)-maxForeignNamed)
}
