package fleetdiff

import (
	"crypto/rand"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DefaultContext is the number of unchanged lines shown around each change
// of a unified diff.
const DefaultContext = 3

// Options change how Compare works.
type Options struct {
	// MaskKey keys the hash that stands for a masked Secret value, so that
	// a changed value shows as a changed hash without the value or a plain
	// hash of it (which could be guessed) ever being printed. When empty,
	// a random key is drawn for each Compare: hashes are comparable within
	// one report only. Tests set it to get stable output.
	MaskKey []byte
	// Context is the number of unchanged lines around each change of a
	// unified diff. Zero means DefaultContext; negative means none.
	Context int
}

// Compare returns what changes, per cluster, from base to head. The
// caller fills in Report.Base and Report.Head.
func Compare(base, head *State, opts Options) *Report {
	if len(opts.MaskKey) == 0 {
		opts.MaskKey = make([]byte, 32)
		_, _ = rand.Read(opts.MaskKey) // never fails (crypto/rand panics instead)
	}
	switch {
	case opts.Context == 0:
		opts.Context = DefaultContext
	case opts.Context < 0:
		opts.Context = 0
	}
	c := &comparer{opts: opts}
	r := &Report{SchemaVersion: SchemaVersion, Changed: []ClusterDiff{}, BaseErrors: base.Errors}
	baseClusters, headClusters := clusterSet(base), clusterSet(head)
	all := unionKeys(baseClusters, headClusters)
	r.Clusters = len(all)
	for _, name := range all {
		cd := ClusterDiff{Cluster: name, Change: ClusterModified, Apps: []AppDiff{}}
		switch {
		case !baseClusters[name]:
			cd.Change = ClusterAdded
		case !headClusters[name]:
			cd.Change = ClusterRemoved
		}
		for _, app := range unionKeys(base.Placed[name], head.Placed[name]) {
			b, inBase := base.lookup(name, app)
			h, inHead := head.lookup(name, app)
			if ad, changed := c.app(name, app, b, inBase, h, inHead); changed {
				cd.Apps = append(cd.Apps, ad)
			}
		}
		if len(cd.Apps) > 0 || cd.Change != ClusterModified {
			r.Changed = append(r.Changed, cd)
		}
	}
	return r
}

// clusterSet returns the declared clusters of a state and those it places
// apps on.
func clusterSet(s *State) map[string]bool {
	set := map[string]bool{}
	for _, c := range s.Clusters {
		set[c] = true
	}
	for c := range s.Placed {
		set[c] = true
	}
	return set
}

// unionKeys returns the keys of two maps, sorted and distinct.
func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// comparer compares the apps of one Compare call.
type comparer struct {
	opts Options
}

// app compares one app on one cluster and reports whether anything
// changes.
func (c *comparer) app(cluster, app string, b Placed, inBase bool, h Placed, inHead bool) (AppDiff, bool) {
	ad := AppDiff{App: app, Placement: PlacementUnchanged, Objects: []ObjectDiff{}}
	switch {
	case inBase && inHead:
		if b.Err == "" && h.Err == "" && b.Digest != "" && b.Digest == h.Digest {
			return ad, false
		}
		if b.Err != "" && b.Err == h.Err {
			return ad, false // the same failure on both sides: nothing new to say
		}
	case inHead:
		ad.Placement = PlacementSelected
	default:
		ad.Placement = PlacementDeselected
	}
	if inBase {
		ad.BaseError = b.Err
	}
	if inHead {
		ad.HeadError = h.Err
	}
	c.objects(&ad, cluster, b.Objects, h.Objects)
	changed := ad.Placement != PlacementUnchanged || len(ad.Objects) > 0 || ad.HeadError != ""
	return ad, changed
}

// objects fills in the objects and replicas that change from base to head.
func (c *comparer) objects(ad *AppDiff, cluster string, base, head []*unstructured.Unstructured) {
	bIndex, hIndex := indexObjects(base), indexObjects(head)
	keys := make([]ObjectKey, 0, len(bIndex)+len(hIndex))
	for k := range bIndex {
		keys = append(keys, k)
	}
	for k := range hIndex {
		if _, ok := bIndex[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, ObjectKey.compare)
	for _, k := range keys {
		bo, ho := bIndex[k], hIndex[k]
		bYAML, hYAML := objectYAML(bo), objectYAML(ho)
		if bo != nil && ho != nil && bYAML == hYAML {
			continue
		}
		od := ObjectDiff{ObjectKey: k, Action: ObjectChanged}
		switch {
		case bo == nil:
			od.Action = ObjectAdded
		case ho == nil:
			od.Action = ObjectRemoved
		}
		if isSecret(bo) || isSecret(ho) {
			bYAML, hYAML = objectYAML(maskSecret(bo, c.opts.MaskKey)), objectYAML(maskSecret(ho, c.opts.MaskKey))
		}
		od.Diff = unifiedDiff(bYAML, hYAML, "base/"+cluster+"/"+k.path(), "head/"+cluster+"/"+k.path(), c.opts.Context)
		ad.Objects = append(ad.Objects, od)
		if rb, rh := replicasOf(bo), replicasOf(ho); !sameReplicas(rb, rh) {
			ad.Replicas = append(ad.Replicas, ReplicaChange{ObjectKey: k, Before: rb, After: rh})
		}
	}
}

// indexObjects keys objects by group, kind, namespace and name. Should a
// manifest hold the same key twice, the first object wins.
func indexObjects(objs []*unstructured.Unstructured) map[ObjectKey]*unstructured.Unstructured {
	index := make(map[ObjectKey]*unstructured.Unstructured, len(objs))
	for _, o := range objs {
		if o == nil {
			continue
		}
		k := keyOf(o)
		if _, dup := index[k]; !dup {
			index[k] = o
		}
	}
	return index
}

// keyOf returns an object's key.
func keyOf(o *unstructured.Unstructured) ObjectKey {
	gvk := o.GroupVersionKind()
	return ObjectKey{Group: gvk.Group, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName()}
}

// replicasOf returns an object's spec.replicas, or nil.
func replicasOf(o *unstructured.Unstructured) *int64 {
	if o == nil {
		return nil
	}
	v, found, err := unstructured.NestedFieldNoCopy(o.Object, "spec", "replicas")
	if !found || err != nil {
		return nil
	}
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int32:
		n = int64(x)
	case int:
		n = int64(x)
	case float64:
		n = int64(x)
	default:
		return nil
	}
	return &n
}

func sameReplicas(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
