package fleetdiff

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func secret(t *testing.T, password, token string) *unstructured.Unstructured {
	return obj(t, `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: web
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"stringData":{"token":"`+token+`"}}'
type: Opaque
data:
  password: `+base64.StdEncoding.EncodeToString([]byte(password))+`
  user: `+base64.StdEncoding.EncodeToString([]byte("admin"))+`
stringData:
  token: `+token+`
`)
}

// everyFormat prints a report in the three formats.
func everyFormat(t *testing.T, r *Report) map[string]string {
	t.Helper()
	var text, md, js bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, r, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"text": text.String(), "markdown": md.String(), "json": js.String()}
}

func TestSecretValuesAreMaskedInEveryFormat(t *testing.T) {
	const oldPassword, newPassword = "hunter2-old", "hunter2-new"
	const oldToken, newToken = "tok-old-123", "tok-new-456"
	secrets := []string{oldPassword, newPassword, oldToken, newToken,
		base64.StdEncoding.EncodeToString([]byte(oldPassword)), base64.StdEncoding.EncodeToString([]byte(newPassword))}

	cases := map[string]struct {
		base, head *State
		action     ObjectAction
	}{
		"changed": {
			state([]string{"a"}, placement{"a", "web", []*unstructured.Unstructured{secret(t, oldPassword, oldToken)}, ""}),
			state([]string{"a"}, placement{"a", "web", []*unstructured.Unstructured{secret(t, newPassword, newToken)}, ""}),
			ObjectChanged,
		},
		"added": {
			state([]string{"a"}),
			state([]string{"a"}, placement{"a", "web", []*unstructured.Unstructured{secret(t, newPassword, newToken)}, ""}),
			ObjectAdded,
		},
		"removed": {
			state([]string{"a"}, placement{"a", "web", []*unstructured.Unstructured{secret(t, oldPassword, oldToken)}, ""}),
			state([]string{"a"}),
			ObjectRemoved,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := Compare(tc.base, tc.head, Options{})
			if !r.HasChanges() || r.Changed[0].Apps[0].Objects[0].Action != tc.action {
				t.Fatalf("want the Secret %s, got %+v", tc.action, r.Changed)
			}
			for format, out := range everyFormat(t, r) {
				for _, s := range secrets {
					if strings.Contains(out, s) {
						t.Errorf("%s output reveals the secret value %q:\n%s", format, s, out)
					}
				}
				if !strings.Contains(out, "***:") {
					t.Errorf("%s output shows no masked value:\n%s", format, out)
				}
			}
		})
	}
}

func TestMaskedSecretChangesStayVisible(t *testing.T) {
	base := state([]string{"a"}, placement{"a", "web", []*unstructured.Unstructured{secret(t, "same", "t1")}, ""})
	head := state([]string{"a"}, placement{"a", "web", []*unstructured.Unstructured{secret(t, "same", "t2")}, ""})
	r := Compare(base, head, Options{MaskKey: testKey})
	if !r.HasChanges() {
		t.Fatal("a changed Secret value is reported as no change")
	}
	diff := r.Changed[0].Apps[0].Objects[0].Diff
	// Only the token changed: its masked line (and the annotation holding
	// it) differ, the password's does not.
	var minus, plus []string
	for _, l := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
			minus = append(minus, l)
		case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
			plus = append(plus, l)
		}
	}
	if len(minus) != 2 || len(plus) != 2 {
		t.Fatalf("want the annotation and the token to change, got:\n%s", diff)
	}
	if !strings.Contains(minus[1], "token: '***:") || !strings.Contains(plus[1], "token: '***:") || minus[1][1:] == plus[1][1:] {
		t.Errorf("the token's masked values do not differ:\n%s", diff)
	}
	for _, l := range append(minus, plus...) {
		if strings.Contains(l, "password") {
			t.Errorf("the unchanged password shows as changed:\n%s", diff)
		}
	}

	// Same key, same masks: stable output. Another key, other masks.
	again := Compare(base, head, Options{MaskKey: testKey}).Changed[0].Apps[0].Objects[0].Diff
	if again != diff {
		t.Error("the same mask key gave different output")
	}
	other := Compare(base, head, Options{MaskKey: []byte("other")}).Changed[0].Apps[0].Objects[0].Diff
	if other == diff {
		t.Error("another mask key gave the same masks: the hash is not keyed")
	}

	// A Secret that does not change is not reported at all.
	if r := Compare(base, base, Options{}); r.HasChanges() {
		t.Errorf("an unchanged Secret is reported: %+v", r.Changed)
	}
}

func TestOnlyCoreSecretsAreMasked(t *testing.T) {
	// A custom resource of kind Secret in another group is not a Secret.
	custom := obj(t, "apiVersion: example.com/v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  visible: plain\n")
	if got := objectYAML(maskSecret(custom, testKey)); !strings.Contains(got, "visible: plain") {
		t.Errorf("a non-core Secret kind was masked:\n%s", got)
	}
	cm := configMap(t, "web", "c", "plain")
	if got := objectYAML(maskSecret(cm, testKey)); !strings.Contains(got, "key: plain") {
		t.Errorf("a ConfigMap was masked:\n%s", got)
	}
	s := secret(t, "p", "t")
	_ = objectYAML(maskSecret(s, testKey))
	if v, _, _ := unstructured.NestedString(s.Object, "stringData", "token"); v != "t" {
		t.Errorf("masking changed the original object: token = %q", v)
	}
}
