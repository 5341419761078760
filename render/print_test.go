package render

import (
	"encoding/json"
	"testing"

	"sigs.k8s.io/yaml"
)

// printObject prints exactly as kustomize does (JSON, then
// sigs.k8s.io/yaml.JSONToYAML), so substituted and untouched objects of a
// manifest look alike.
func TestPrintObjectMatchesKustomize(t *testing.T) {
	objects := []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"b":"2","a":"1"}},
		  "data":{"yes":"yes","no":"No","on":"on","null":"null","empty":"","num":"0123","exp":"1e3","float":"1.5",
		  "bool":"true","tilde":"~","multi":"line one\nline two\n","lead":" spaced ","colon":"a: b","hash":"a #b",
		  "dash":"- x","brace":"${not}","quote":"it's \"quoted\"","unicode":"Grüße 工場","tab":"a\tb","star":"*x","amp":"&y"}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":3,"paused":false,
		  "progressDeadlineSeconds":600,"template":{"spec":{"containers":[{"name":"c","args":["--a=1","-b"],
		  "resources":{"limits":{"cpu":0.5,"memory":"1Gi","nvidia.com/gpu":1}}}],"terminationGracePeriodSeconds":30,
		  "x":1.0,"big":9007199254740993,"neg":-7,"f":1e21,"small":0.000001,"nil":null,"list":[],"map":{}}}}}`,
	}
	for _, src := range objects {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(src), &obj); err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		want, err := yaml.JSONToYAML(js)
		if err != nil {
			t.Fatal(err)
		}
		// The values as parseSubstituted produces them.
		parsed, err := parseSubstituted(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := printObject(parsed)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("printObject differs from kustomize's printing\n--- got\n%s\n--- want\n%s", got, want)
		}
	}
}
