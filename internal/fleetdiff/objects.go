package fleetdiff

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// maskPrefix starts every masked Secret value.
const maskPrefix = "***"

// lastApplied is the annotation kubectl copies a whole object into.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// objectYAML prints an object as render prints it (keys sorted), or ""
// for nil.
func objectYAML(o *unstructured.Unstructured) string {
	if o == nil {
		return ""
	}
	b, err := yaml.Marshal(o.Object)
	if err != nil {
		// Rendered objects come from JSON and always marshal; show the
		// failure rather than hide the object.
		return fmt.Sprintf("# cannot print the object: %v\n", err)
	}
	return string(b)
}

// isSecret reports whether o is a core Secret.
func isSecret(o *unstructured.Unstructured) bool {
	return o != nil && o.GetKind() == "Secret" && o.GroupVersionKind().Group == ""
}

// maskSecret returns a copy of a Secret whose data and stringData values
// are replaced by "***:<keyed hash>", and whose last-applied annotation,
// which would hold them in clear, is masked whole. Other objects are
// returned as they are.
func maskSecret(o *unstructured.Unstructured, key []byte) *unstructured.Unstructured {
	if !isSecret(o) {
		return o
	}
	m := o.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		values, ok := m.Object[field].(map[string]any)
		if !ok {
			if _, present := m.Object[field]; present {
				m.Object[field] = maskValue(key, fmt.Sprint(m.Object[field]))
			}
			continue
		}
		for k, v := range values {
			values[k] = maskValue(key, fmt.Sprint(v))
		}
	}
	if ann := m.GetAnnotations(); ann != nil {
		if v, ok := ann[lastApplied]; ok {
			ann[lastApplied] = maskValue(key, v)
			m.SetAnnotations(ann)
		}
	}
	return m
}

// maskValue returns "***:" and the first 12 hex digits of the value's
// HMAC-SHA256 under key.
func maskValue(key []byte, value string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(value))
	return maskPrefix + ":" + hex.EncodeToString(mac.Sum(nil))[:12]
}

// unifiedDiff returns the unified diff of two texts, "" when they are
// equal.
func unifiedDiff(a, b, fromFile, toFile string, context int) string {
	if a == b {
		return ""
	}
	d := difflib.UnifiedDiff{
		A:        splitLines(a),
		B:        splitLines(b),
		FromFile: fromFile,
		ToFile:   toFile,
		Context:  context,
	}
	if a == "" {
		d.FromFile = "/dev/null"
	}
	if b == "" {
		d.ToFile = "/dev/null"
	}
	text, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		return fmt.Sprintf("# cannot compute the diff: %v\n", err)
	}
	return text
}

// splitLines splits text into lines that keep their "\n"; a last line
// without one gets one.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] += "\n"
	}
	return lines
}
