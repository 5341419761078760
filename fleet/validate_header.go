package fleet

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// validateHeader checks apiVersion, kind and metadata.name of a fleet file.
// wantName is the name the file's location implies; where describes that
// location ("the file is clusters/a.yaml"); moveTo says where a file with
// the given name belongs.
func validateHeader(r *reporter, tm metav1.TypeMeta, name, kind, wantName, where string, moveTo func(string) string) {
	switch tm.APIVersion {
	case apiVersion:
	case "":
		r.errorf(fieldPath{}, "apiVersion: is missing; add apiVersion: %s", apiVersion)
	default:
		r.errorf(fieldPath{"apiVersion"}, "apiVersion: is %q, but fleet files use %q; set apiVersion: %s", tm.APIVersion, apiVersion, apiVersion)
	}
	switch tm.Kind {
	case kind:
	case "":
		r.errorf(fieldPath{}, "kind: is missing; add kind: %s", kind)
	default:
		r.errorf(fieldPath{"kind"}, "kind: is %q, but this file must hold a %s; set kind: %s or move the file (clusters/<name>.yaml holds a Cluster, apps/<name>/app.yaml an App)", tm.Kind, kind, kind)
	}
	switch {
	case name == "":
		r.errorf(fieldPath{"metadata"}, "metadata.name: is missing; set metadata.name: %s (%s)", wantName, where)
	case len(validation.IsDNS1123Label(name)) > 0:
		r.errorf(fieldPath{"metadata", "name"}, "metadata.name: %q is not a valid %s name (%s); use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
			name, strings.ToLower(kind), strings.Join(validation.IsDNS1123Label(name), "; "))
	case name != wantName:
		r.errorf(fieldPath{"metadata", "name"}, "metadata.name: is %q, but %s; set metadata.name: %s, or move the file to %s", name, where, wantName, moveTo(name))
	}
}

// validateName checks a reference to a cluster or app name.
func validateName(r *reporter, path fieldPath, what, name string) bool {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		r.errorf(path, "%s: %q is not a valid %s name (%s); use the metadata.name of the %s", path, name, what, strings.Join(errs, "; "), what)
		return false
	}
	return true
}

// validateLabelKey checks a label key (a qualified name such as
// "example.com/gpu").
func validateLabelKey(r *reporter, path fieldPath, key string) bool {
	if errs := validation.IsQualifiedName(key); len(errs) > 0 {
		r.errorf(path, "%s: %q is not a valid label key (%s); use an optional DNS prefix and a name, such as example.com/gpu", path, key, strings.Join(errs, "; "))
		return false
	}
	return true
}

// validateLabelValue checks a label value.
func validateLabelValue(r *reporter, path fieldPath, value string) bool {
	if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
		r.errorf(path, "%s: %q is not a valid label value (%s); use at most 63 letters, digits, '-', '_' and '.', or move the value to spec.vars", path, value, strings.Join(errs, "; "))
		return false
	}
	return true
}
