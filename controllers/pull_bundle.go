package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-gitops/flotilla/agent/bundle"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// encodedOnce is a Desired's pull-mode encoding (bundle.Encode of its
// objects), computed on first use: every Bundle that carries the same
// render shares one encoding.
type encodedOnce struct {
	once    sync.Once
	content []byte
	digest  string
	err     error
}

// bundleContent returns the compressed content and digest of d's objects.
func (d *Desired) bundleContent() (content []byte, digest string, err error) {
	d.encoded.once.Do(func() {
		d.encoded.content, d.encoded.digest, d.encoded.err = bundle.Encode(d.Objects)
	})
	return d.encoded.content, d.encoded.digest, d.encoded.err
}

// bundleFor builds the Bundle (in agent namespace ns) that carries d to a
// pull cluster, and the BundleChunks it points to when the compressed
// content is larger than bundle.MaxInline. Chunks are named after their
// data, so identical pieces are stored once per agent namespace.
func bundleFor(cs *flotillav1.ClusterSync, d *Desired, driftInterval time.Duration, ns string, content []byte, digest string) (*flotillav1.Bundle, []*flotillav1.BundleChunk) {
	b := &flotillav1.Bundle{
		ObjectMeta: metav1.ObjectMeta{
			Name: cs.Spec.App, Namespace: ns,
			Labels: bundleLabels(cs),
		},
		Spec: flotillav1.BundleSpec{
			App:           cs.Spec.App,
			Cluster:       cs.Spec.Cluster,
			Revision:      d.Revision,
			Digest:        digest,
			Namespace:     d.Namespace,
			DependsOn:     cs.Spec.DependsOn,
			Prune:         d.Prune,
			AdoptExisting: d.AdoptExisting,
			HealthTimeout: &metav1.Duration{Duration: d.HealthTimeout},
			DriftInterval: &metav1.Duration{Duration: driftInterval},
		},
	}
	if len(content) <= bundle.MaxInline {
		b.Spec.Content = content
		return b, nil
	}
	var chunks []*flotillav1.BundleChunk
	for _, part := range bundle.Split(content) {
		name := bundle.ChunkName(part)
		b.Spec.Chunks = append(b.Spec.Chunks, name)
		chunks = append(chunks, &flotillav1.BundleChunk{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
				flotillav1.LabelAgentCluster:        cs.Spec.Cluster,
				flotillav1.LabelAgentFleetNamespace: cs.Namespace,
			}},
			Data: part,
		})
	}
	return b, chunks
}

// bundleLabels are the labels of a ClusterSync's Bundle: they lead an
// agent's report back to the ClusterSync (see syncOfBundle).
func bundleLabels(cs *flotillav1.ClusterSync) map[string]string {
	l := map[string]string{
		flotillav1.LabelAgentCluster:        cs.Spec.Cluster,
		flotillav1.LabelAgentFleetNamespace: cs.Namespace,
		flotillav1.LabelApp:                 cs.Spec.App,
	}
	if repo := cs.Labels[flotillav1.LabelRepository]; repo != "" {
		l[flotillav1.LabelRepository] = repo
	}
	return l
}

// sameBundleSpec reports whether a Bundle already asks for what want asks:
// the same content digest and options. The revision alone does not count:
// a commit that renders the same objects writes nothing to the hub, and
// the hub reports the new revision applied once the agent has applied
// the digest (spec.revision says which revision first rendered it).
func sameBundleSpec(have, want flotillav1.BundleSpec) bool {
	have.Revision, want.Revision = "", ""
	// The content is named by the digest; the hub's cache may also hold
	// Bundles without their inline content.
	have.Content, want.Content = nil, nil
	return equality.Semantic.DeepEqual(have, want)
}

// sameLabels reports whether have carries every label of want.
func sameLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
