package render

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flotilla-gitops/flotilla/placement"
)

// An overlay written as a Kustomization around the base (resources:
// [../../base], as Fleet, Flux and Argo CD repositories have them) takes
// the base's place; Component overlays apply on top of it.
func TestRenderComposesAKustomizationOverlayAroundTheBase(t *testing.T) {
	root, err := filepath.Abs("testdata/kustoverlay")
	if err != nil {
		t.Fatal(err)
	}
	for _, isolate := range []bool{false, true} {
		r := New(Options{Isolate: isolate})
		t.Run("alone", func(t *testing.T) {
			m := mustRender(t, r, root, placement.Target{App: "web", Cluster: "c1", Base: "app/base", Overlays: overlays("app/overlays/prod")})
			if want := kustomizeBuild(t, filepath.Join(root, "app/overlays/prod")); string(m.YAML) != string(want) {
				t.Fatalf("render differs from kustomize build of the overlay\n--- render\n%s\n--- kustomize build\n%s", m.YAML, want)
			}
			wantWarn := []Warning{{File: "app/overlays/prod/kustomization.yaml", Message: "patchesStrategicMerge is deprecated by kustomize: use patches instead (`kustomize edit fix` in the folder rewrites it)"}}
			if !reflect.DeepEqual(m.Warnings, wantWarn) {
				t.Errorf("Warnings = %+v, want %+v", m.Warnings, wantWarn)
			}
		})
		t.Run("with a component declared before it", func(t *testing.T) {
			m := mustRender(t, r, root, placement.Target{App: "web", Cluster: "c1", Base: "app/base", Namespace: "web",
				Overlays: overlays("app/overlays/gpu", "app/overlays/prod")})
			if want := kustomizeBuild(t, filepath.Join(root, "wrapped")); string(m.YAML) != string(want) {
				t.Fatalf("render differs from kustomize build of wrapped/\n--- render\n%s\n--- kustomize build\n%s", m.YAML, want)
			}
		})
	}
}

// A Kustomization overlay that cannot be composed is an error on its file
// that says what to change.
func TestRenderExplainsAKustomizationOverlayItCannotCompose(t *testing.T) {
	root, err := filepath.Abs("testdata/kustoverlay")
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{})
	for _, tc := range []struct {
		name     string
		overlays []string
		file     string
		want     []string
	}{
		{"without the base", []string{"app/overlays/other"}, "app/overlays/other/kustomization.yaml",
			[]string{"overlay app/overlays/other is a Kustomization that does not include the app's base app/base", "kind: Component", "add the base (../../base) to its resources"}},
		{"two around the base", []string{"app/overlays/prod", "app/overlays/prod2"}, "app/overlays/prod2/kustomization.yaml",
			[]string{"overlays app/overlays/prod and app/overlays/prod2 are both Kustomizations that include the base app/base", "without ../../base in its resources"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Render(t.Context(), root, placement.Target{App: "web", Cluster: "c1", Base: "app/base", Overlays: overlays(tc.overlays...)})
			var re *Error
			if !errors.As(err, &re) || !errors.Is(err, ErrOverlayKind) {
				t.Fatalf("error %v, want an *Error of kind ErrOverlayKind", err)
			}
			if re.File != tc.file {
				t.Errorf("File = %q, want %q", re.File, tc.file)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
