package render

import (
	"path"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/yaml"
)

// composition is what the in-memory kustomization of a build lists.
type composition struct {
	// resources is the base, or the one overlay written as a Kustomization
	// that includes the base.
	resources []string
	// components are the Component overlays, in order.
	components []string
}

// compose decides how a build's base and overlays combine. An overlay is
// normally a kustomize Component, applied on top of the base. An overlay
// written as a Kustomization with the base in its resources (the form
// Rancher Fleet, Flux and Argo CD repositories use: resources: [../../base])
// already contains the base: it takes the base's place, and the Component
// overlays apply on top of it, in order. Any other Kustomization overlay is
// an error naming its file and the change to make. Paths are relative to
// the root, slash-separated; the result is relative to the virtual folder.
func compose(fs *confinedFS, key buildKey) (composition, error) {
	var c composition
	wrapper := ""
	for _, o := range key.overlayPaths() {
		file, k, ok := readOverlayKustomization(fs, o)
		if !ok || k.Kind == "" && k.APIVersion == "" && len(k.Resources) == 0 || k.Kind == "Component" {
			// Not readable here, or a Component: kustomize decides.
			c.components = append(c.components, "../"+o)
			continue
		}
		if k.Kind != "" && k.Kind != "Kustomization" {
			c.components = append(c.components, "../"+o)
			continue
		}
		includesBase := false
		for _, r := range k.Resources {
			if path.Clean(path.Join(o, r)) == key.base {
				includesBase = true
				break
			}
		}
		switch {
		case !includesBase:
			return c, newReason(ErrOverlayKind, file,
				"overlay %s is a Kustomization that does not include the app's base %s: Flotilla adds the base itself and applies overlays as kustomize Components; make it one (apiVersion: kustomize.config.k8s.io/v1alpha1, kind: Component, resources only for new objects), or add the base (%s) to its resources",
				o, key.base, relPath(o, key.base))
		case wrapper != "":
			return c, newReason(ErrOverlayKind, file,
				"overlays %s and %s are both Kustomizations that include the base %s, so the base would be built twice: keep the base in one of them and make the other a kustomize Component (apiVersion: kustomize.config.k8s.io/v1alpha1, kind: Component, without %s in its resources)",
				wrapper, o, key.base, relPath(o, key.base))
		}
		wrapper = o
	}
	if wrapper != "" {
		c.resources = []string{"../" + wrapper}
	} else {
		c.resources = []string{"../" + key.base}
	}
	return c, nil
}

// overlayKustomization is the part of an overlay's kustomization file
// compose reads.
type overlayKustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// readOverlayKustomization reads the kustomization file of overlay folder
// o through the confined filesystem (so the read is recorded for the
// cache), returning its path relative to the root.
func readOverlayKustomization(fs *confinedFS, o string) (string, overlayKustomization, bool) {
	var k overlayKustomization
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(fs.root, filepath.FromSlash(o), name)
		if !fs.Exists(p) {
			continue
		}
		data, err := fs.ReadFile(p)
		if err != nil {
			return "", k, false
		}
		if err := yaml.Unmarshal(data, &k); err != nil {
			return "", k, false // kustomize reports it
		}
		return path.Join(o, name), k, true
	}
	return "", k, false
}

// relPath is the path from folder from to folder to, both relative to the
// root, as a kustomization would write it.
func relPath(from, to string) string {
	r, err := filepath.Rel(filepath.FromSlash(from), filepath.FromSlash(to))
	if err != nil {
		return to
	}
	return filepath.ToSlash(r)
}
