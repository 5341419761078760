package fleet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const appHeader = `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: web
spec:
  namespace: web
`

const clusterHeader = `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: eu-1
`

// TestLoadErrors checks every validation rule: each case must produce
// exactly the listed errors, each naming the file, the line and the reason.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		setup func(t *testing.T, root string)
		opts  []Option
		want  []expect
	}{
		{
			name: "malformed YAML",
			files: with(map[string]string{"clusters/eu-1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: eu-1
   labels: {}
`}),
			want: []expect{{"clusters/eu-1.yaml", 5, []string{"malformed YAML", "fix the syntax"}}},
		},
		{
			name: "unknown field",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + `spec:
  vars: {a: b}
  color: blue
`}),
			want: []expect{{"clusters/eu-1.yaml", 7, []string{"spec.color: unknown field", "access, pruneOnRemoval, taints, updateWindows, vars"}}},
		},
		{
			name: "misspelt field gets a suggestion",
			files: with(map[string]string{"apps/web/app.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: web
spec:
  namespace: web
  placement:
    clusterSelecter: {}
`}),
			want: []expect{{"apps/web/app.yaml", 8, []string{"spec.placement.clusterSelecter: unknown field", `did you mean "clusterSelector"`}}},
		},
		{
			name:  "unknown field at the top level",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "extra: 1\n"}),
			want:  []expect{{"apps/web/app.yaml", 7, []string{"extra: unknown field", "apiVersion, kind, metadata, spec"}}},
		},
		{
			name:  "field set twice",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  namespace: other\n"}),
			want:  []expect{{"apps/web/app.yaml", 7, []string{"spec.namespace: is set twice (first at line 6)"}}},
		},
		{
			name:  "value of the wrong type",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  placement:\n    maxClusters: two\n"}),
			want:  []expect{{"apps/web/app.yaml", 8, []string{"spec.placement.maxClusters: must be a whole number", `"two"`}}},
		},
		{
			name:  "list where a mapping is expected",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  placement:\n    clusterSelector: [a]\n"}),
			want:  []expect{{"apps/web/app.yaml", 8, []string{"spec.placement.clusterSelector: must be a mapping", "found a list"}}},
		},
		{
			name:  "status cannot be set",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "status:\n  selected: 3\n"}),
			want:  []expect{{"apps/web/app.yaml", 7, []string{"status: is reported by the hub", "remove it"}}},
		},
		{
			name: "metadata.namespace cannot be set",
			files: with(map[string]string{"clusters/eu-1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: eu-1
  namespace: default
`}),
			want: []expect{{"clusters/eu-1.yaml", 5, []string{"metadata.namespace: cannot be set in a fleet file", "remove it"}}},
		},
		{
			name:  "YAML merge keys are refused",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  placement:\n    <<: {maxClusters: 1}\n"}),
			want:  []expect{{"apps/web/app.yaml", 8, []string{"merge keys (<<) are not supported"}}},
		},
		{
			name:  "health timeout that is not a duration",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  healthTimeout: 5 minutes\n"}),
			want:  []expect{{"apps/web/app.yaml", 7, []string{"spec.healthTimeout: invalid value", "write a duration such as"}}},
		},
		{
			name:  "empty file",
			files: with(map[string]string{"clusters/eu-1.yaml": "# nothing yet\n"}),
			want:  []expect{{"clusters/eu-1.yaml", 0, []string{"the file is empty", "kind: Cluster"}}},
		},
		{
			name:  "several documents in one file",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + "---\n" + clusterHeader}),
			want:  []expect{{"clusters/eu-1.yaml", 5, []string{"holds 2 YAML documents", "exactly one"}}},
		},
		{
			name:  "not a mapping",
			files: with(map[string]string{"clusters/eu-1.yaml": "- a\n- b\n"}),
			want:  []expect{{"clusters/eu-1.yaml", 1, []string{"must hold one Cluster object", "found a list"}}},
		},
		{
			name: "wrong apiVersion",
			files: with(map[string]string{"clusters/eu-1.yaml": `apiVersion: flotilla.dev/v1
kind: Cluster
metadata:
  name: eu-1
`}),
			want: []expect{{"clusters/eu-1.yaml", 1, []string{`apiVersion: is "flotilla.dev/v1"`, "set apiVersion: flotilla.dev/v1alpha1"}}},
		},
		{
			name: "missing apiVersion",
			files: with(map[string]string{"clusters/eu-1.yaml": `kind: Cluster
metadata:
  name: eu-1
`}),
			want: []expect{{"clusters/eu-1.yaml", 1, []string{"apiVersion: is missing"}}},
		},
		{
			name: "wrong kind",
			files: with(map[string]string{"clusters/eu-1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: eu-1
`}),
			want: []expect{{"clusters/eu-1.yaml", 2, []string{`kind: is "App"`, "set kind: Cluster"}}},
		},
		{
			name: "missing name",
			files: with(map[string]string{"clusters/eu-1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  labels: {a: b}
`}),
			want: []expect{{"clusters/eu-1.yaml", 3, []string{"metadata.name: is missing", "set metadata.name: eu-1"}}},
		},
		{
			name: "name is not DNS-1123",
			files: with(map[string]string{"clusters/EU_1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: EU_1
`}),
			want: []expect{{"clusters/EU_1.yaml", 4, []string{`metadata.name: "EU_1" is not a valid cluster name`, "lower-case"}}},
		},
		{
			name: "cluster file name does not match",
			files: with(map[string]string{"clusters/eu-2.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: eu-3
`}),
			want: []expect{{"clusters/eu-2.yaml", 4, []string{`metadata.name: is "eu-3"`, "the file is clusters/eu-2.yaml", "clusters/eu-3.yaml"}}},
		},
		{
			name: "app folder name does not match",
			files: with(map[string]string{
				"apps/web/app.yaml": strings.Replace(appHeader, "name: web", "name: website", 1),
			}),
			want: []expect{{"apps/web/app.yaml", 4, []string{`metadata.name: is "website"`, "the app folder is apps/web", "set metadata.name: web"}}},
		},
		{
			name:  "duplicate cluster",
			files: with(map[string]string{"clusters/eu-1.yml": clusterHeader}),
			want:  []expect{{"clusters/eu-1.yml", 4, []string{`cluster "eu-1" is already declared in clusters/eu-1.yaml`, "remove one"}}},
		},
		{
			name: "duplicate app",
			files: with(map[string]string{
				"apps/web2/app.yaml":                appHeader,
				"apps/web2/base/kustomization.yaml": "resources: []\n",
			}),
			want: []expect{
				{"apps/web2/app.yaml", 4, []string{`metadata.name: is "web"`, "the app folder is apps/web2"}},
				{"apps/web2/app.yaml", 4, []string{`app "web" is already declared in apps/web/app.yaml`}},
			},
		},
		{
			name: "bad label selector",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  placement:
    clusterSelector:
      matchExpressions:
      - key: region
        operator: Like
        values: [eu]
`}),
			want: []expect{{"apps/web/app.yaml", 10, []string{"spec.placement.clusterSelector.matchExpressions[0]", "Like", "use operator In or NotIn"}}},
		},
		{
			name: "selector In without values",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  overlays:
  - name: eu
    clusterSelector:
      matchExpressions:
      - {key: region, operator: In}
`}),
			want: []expect{
				{"apps/web/app.yaml", 11, []string{"spec.overlays[0].clusterSelector.matchExpressions[0]", "values"}},
				{"apps/web/app.yaml", 8, []string{"the folder of overlay \"eu\", apps/web/overlays/eu, does not exist"}},
			},
		},
		{
			name:  "bad matchLabels value",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  placement:\n    clusterSelector:\n      matchLabels:\n        region: \"eu west\"\n"}),
			want:  []expect{{"apps/web/app.yaml", 10, []string{`spec.placement.clusterSelector.matchLabels.region: "eu west" is not a valid label value`}}},
		},
		{
			name: "bad cluster label",
			files: with(map[string]string{"clusters/eu-1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: eu-1
  labels:
    "bad key!": x
`}),
			want: []expect{{"clusters/eu-1.yaml", 6, []string{`"bad key!" is not a valid label key`}}},
		},
		{
			name: "bad taint effect",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + `spec:
  taints:
  - key: maintenance
    value: "true"
    effect: NoDeploy
`}),
			want: []expect{{"clusters/eu-1.yaml", 9, []string{`spec.taints[0].effect: "NoDeploy" is not a taint effect`, "NoSchedule, NoExecute or PreferNoSchedule"}}},
		},
		{
			name: "taint without key or effect",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + `spec:
  taints:
  - value: x
`}),
			want: []expect{
				{"clusters/eu-1.yaml", 7, []string{"spec.taints[0]: key is missing"}},
				{"clusters/eu-1.yaml", 7, []string{"spec.taints[0]: effect is missing"}},
			},
		},
		{
			name: "bad tolerations",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  placement:
    tolerations:
    - key: maintenance
      effect: NoRun
    - key: maintenance
      operator: Exists
      value: "true"
    - operator: Equal
      value: x
    - key: maintenance
      operator: Maybe
    - key: maintenance
      effect: NoSchedule
      tolerationSeconds: 30
`}),
			want: []expect{
				{"apps/web/app.yaml", 10, []string{`spec.placement.tolerations[0].effect: "NoRun" is not a taint effect`}},
				{"apps/web/app.yaml", 13, []string{"spec.placement.tolerations[1].value: must be empty with operator Exists"}},
				{"apps/web/app.yaml", 14, []string{"spec.placement.tolerations[2]: an empty key requires operator: Exists"}},
				{"apps/web/app.yaml", 17, []string{`spec.placement.tolerations[3].operator: "Maybe" is not a toleration operator`}},
				{"apps/web/app.yaml", 20, []string{"spec.placement.tolerations[4].tolerationSeconds: only applies to effect NoExecute"}},
			},
		},
		{
			name: "overlay folder missing",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  overlays:
  - name: gpu
    clusterSelector: {matchLabels: {gpu: "true"}}
  - name: big
    path: components/big
    clusterNames: [eu-1]
`}),
			want: []expect{
				{"apps/web/app.yaml", 8, []string{"spec.overlays[0].path", "apps/web/overlays/gpu, does not exist", "kustomize Component"}},
				{"apps/web/app.yaml", 11, []string{"spec.overlays[1].path", "apps/web/components/big, does not exist"}},
			},
		},
		{
			name: "overlay without selector",
			files: with(map[string]string{
				"apps/web/app.yaml":                        appHeader + "  overlays:\n  - name: gpu\n",
				"apps/web/overlays/gpu/kustomization.yaml": "kind: Component\n",
			}),
			want: []expect{{"apps/web/app.yaml", 8, []string{`overlay "gpu" selects no cluster`, "clusterSelector: {}"}}},
		},
		{
			name: "overlay names collide",
			files: with(map[string]string{
				"apps/web/app.yaml": appHeader + `  overlays:
  - name: eu-1
    clusterNames: [eu-1]
  - name: gpu
    clusterSelector: {}
  - name: gpu
    clusterSelector: {}
`,
				"apps/web/overlays/eu-1/kustomization.yaml": "kind: Component\n",
				"apps/web/overlays/gpu/kustomization.yaml":  "kind: Component\n",
			}),
			want: []expect{
				{"apps/web/app.yaml", 8, []string{`overlay "eu-1" has the name of cluster eu-1`, "rename the overlay"}},
				{"apps/web/app.yaml", 12, []string{`overlay "gpu" is already declared at spec.overlays[1]`}},
			},
		},
		{
			name: "overlay path is another cluster's folder",
			files: with(map[string]string{
				"apps/web/app.yaml": appHeader + `  overlays:
  - name: special
    path: overlays/us-1
    clusterNames: [eu-1]
`,
				"apps/web/overlays/us-1/kustomization.yaml": "kind: Component\n",
			}),
			want: []expect{{"apps/web/app.yaml", 9, []string{"apps/web/overlays/us-1 is the per-cluster overlay folder of cluster us-1"}}},
		},
		{
			name:  "dependsOn an unknown app",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  dependsOn: [database]\n"}),
			want:  []expect{{"apps/web/app.yaml", 7, []string{`spec.dependsOn[0]: app "database" does not exist`, "apps/database/app.yaml"}}},
		},
		{
			name:  "dependsOn listed twice",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  dependsOn:\n  - web-db\n  - web-db\n", "apps/web-db/app.yaml": strings.Replace(appHeader, "name: web", "name: web-db", 1), "apps/web-db/base/kustomization.yaml": "resources: []\n"}),
			want:  []expect{{"apps/web/app.yaml", 9, []string{`spec.dependsOn[1]: "web-db" is already listed at spec.dependsOn[0]`}}},
		},
		{
			name: "dependsOn cycle",
			files: with(map[string]string{
				"apps/web/app.yaml": appHeader + "  dependsOn: [db]\n",
				"apps/db/app.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: db
spec:
  namespace: db
  dependsOn:
  - cache
`,
				"apps/cache/app.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: cache
spec:
  namespace: cache
  dependsOn:
  - web
`,
				"apps/db/base/kustomization.yaml":    "resources: []\n",
				"apps/cache/base/kustomization.yaml": "resources: []\n",
			}),
			want: []expect{{"apps/cache/app.yaml", 8, []string{"dependency cycle cache -> web -> db -> cache", "remove one of these dependencies"}}},
		},
		{
			name:  "app depends on itself",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  dependsOn: [web]\n"}),
			want:  []expect{{"apps/web/app.yaml", 7, []string{"dependency cycle web -> web"}}},
		},
		{
			name: "replicas with both weightBy and staticWeights",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  placement:
    replicas:
    - workload: {name: web}
      total: 6
      weightBy: {var: lines}
      staticWeights:
      - clusters: [eu-1]
        weight: 2
`}),
			want: []expect{{"apps/web/app.yaml", 11, []string{"spec.placement.replicas[0]: sets both weightBy and staticWeights", "keep one"}}},
		},
		{
			name: "replicas weightBy with both or neither label and var",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  placement:
    replicas:
    - workload: {name: web}
      total: 6
      weightBy: {var: lines, label: lines}
    - workload: {name: worker}
      total: 6
      weightBy: {}
`}),
			want: []expect{
				{"apps/web/app.yaml", 11, []string{"spec.placement.replicas[0].weightBy: sets more than one of label, var and available"}},
				{"apps/web/app.yaml", 14, []string{"spec.placement.replicas[1].weightBy: sets none of label, var and available"}},
			},
		},
		{
			name: "replicas static weight for an unknown cluster",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  placement:
    replicas:
    - workload: {kind: StatefulSet, name: web}
      total: 6
      staticWeights:
      - clusters: [eu-1, ap-9]
        weight: 2
`}),
			want: []expect{{"apps/web/app.yaml", 12, []string{`spec.placement.replicas[0].staticWeights[0].clusters[1]: cluster "ap-9" does not exist`, "clusters/ap-9.yaml"}}},
		},
		{
			name: "replicas other errors",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  placement:
    replicas:
    - workload: {name: web}
      total: -1
    - workload: {name: web}
      total: 2
      staticWeights:
      - clusters: [eu-1]
        weight: 1
      - clusters: [eu-1]
        weight: -2
    - workload: {kind: Deployment}
      total: 1
`}),
			want: []expect{
				{"apps/web/app.yaml", 10, []string{"spec.placement.replicas[0].total: is -1"}},
				{"apps/web/app.yaml", 11, []string{"spec.placement.replicas[1].workload: Deployment web is already divided by spec.placement.replicas[0]"}},
				{"apps/web/app.yaml", 17, []string{"spec.placement.replicas[1].staticWeights[1].weight: is -2"}},
				{"apps/web/app.yaml", 16, []string{"staticWeights[1].clusters[0]: cluster eu-1 already has a weight at spec.placement.replicas[1].staticWeights[0].clusters[0]"}},
				{"apps/web/app.yaml", 18, []string{"spec.placement.replicas[2].workload.name: is missing"}},
			},
		},
		{
			name: "failover errors",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  placement:
    failover:
      tolerationSeconds: -5
      failback: Sometimes
`}),
			want: []expect{
				{"apps/web/app.yaml", 9, []string{"spec.placement.failover.tolerationSeconds: is -5", "0 or more"}},
				{"apps/web/app.yaml", 10, []string{`spec.placement.failover.failback: "Sometimes" is not a failback policy`, "use Stay", "or Return"}},
			},
		},
		{
			name: "spread and maxClusters errors",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  placement:
    maxClusters: 0
    spread:
      maxPerValue: -1
    rankBy: {}
`}),
			want: []expect{
				{"apps/web/app.yaml", 8, []string{"spec.placement.maxClusters: is 0", "set at least 1"}},
				{"apps/web/app.yaml", 9, []string{"spec.placement.spread.labelKey: is missing"}},
				{"apps/web/app.yaml", 10, []string{"spec.placement.spread.maxPerValue: is -1"}},
				{"apps/web/app.yaml", 11, []string{"spec.placement.rankBy: sets none of label, var and available"}},
			},
		},
		{
			name: "requires and available with bad resource names and amounts",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  placement:
    requires:
      gpu: 1
      nvidia.com/gpu: -2
      example.com/a_b/c: 1
    rankBy: {available: memroy}
    replicas:
    - workload: {name: web}
      total: 4
      weightBy: {available: nvidia.com/gpu, var: lines}
`}),
			want: []expect{
				{"apps/web/app.yaml", 11, []string{"spec.placement.requires[\"example.com/a_b/c\"]: \"example.com/a_b/c\" is not a valid extended resource name", "<domain>/<name>"}},
				{"apps/web/app.yaml", 9, []string{"spec.placement.requires.gpu: \"gpu\" is not a resource name", "such as nvidia.com/gpu"}},
				{"apps/web/app.yaml", 10, []string{"spec.placement.requires[\"nvidia.com/gpu\"]: is -2", "0 or more"}},
				{"apps/web/app.yaml", 12, []string{"spec.placement.rankBy.available: \"memroy\" is not a resource name"}},
				{"apps/web/app.yaml", 16, []string{"spec.placement.replicas[0].weightBy: sets more than one of label, var and available"}},
			},
		},
		{
			name:  "spread label key invalid",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  placement:\n    spread: {labelKey: \"-bad\"}\n"}),
			want:  []expect{{"apps/web/app.yaml", 8, []string{`spec.placement.spread.labelKey: "-bad" is not a valid label key`}}},
		},
		{
			name:  "canary names an unknown cluster",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  rollout:\n    canary: [eu-1, eu-9]\n    maxUnavailable: 0\n"}),
			want: []expect{
				{"apps/web/app.yaml", 8, []string{`spec.rollout.canary[1]: cluster "eu-9" does not exist`}},
				{"apps/web/app.yaml", 9, []string{"spec.rollout.maxUnavailable: is 0"}},
			},
		},
		{
			name: "rollout stages: names, selectors, caps, pauses and policy",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + `  rollout:
    canary: [eu-1]
    onFailure: Retry
    maxUnavailable: 150%
    stages:
    - name: canary
      clusterNames: [eu-1]
    - name: europe
      clusterNames: [eu-1]
      pause: 0s
    - name: europe
      clusterSelector: {matchLabels: {region: eu}}
      maxUnavailable: 0
    - name: rest
      approval: true
`}),
			want: []expect{
				{"apps/web/app.yaml", 9, []string{`spec.rollout.onFailure: "Retry" is not a policy; use Halt (the default) or Rollback`}},
				{"apps/web/app.yaml", 10, []string{`spec.rollout.maxUnavailable: "150%" is neither a count nor a percentage from 1% to 100%`}},
				{"apps/web/app.yaml", 12, []string{`spec.rollout.stages[0].name: "canary" is the stage spec.rollout.canary makes`}},
				{"apps/web/app.yaml", 16, []string{"spec.rollout.stages[1].pause: is 0s; set a positive bake time"}},
				{"apps/web/app.yaml", 17, []string{`spec.rollout.stages[2].name: "europe" is already the name of spec.rollout.stages[1]`}},
				{"apps/web/app.yaml", 19, []string{"spec.rollout.stages[2].maxUnavailable: is 0; set a count of at least 1"}},
				{"apps/web/app.yaml", 20, []string{`spec.rollout.stages[3].name: "rest" is the name of the implicit last stage`}},
				{"apps/web/app.yaml", 20, []string{"spec.rollout.stages[3]: selects no cluster; set clusterSelector and/or clusterNames"}},
			},
		},
		{
			name: "update windows",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + `spec:
  updateWindows:
  - {days: [Sat, Sun], start: "22:00", duration: 4h, timeZone: Europe/Berlin}
  - {days: [Caturday], start: "22:00", duration: 4h}
  - {schedule: "0 1 * * *", duration: 0s}
`}),
			want: []expect{
				{"clusters/eu-1.yaml", 8, []string{`spec.updateWindows[1].days: "Caturday" is not a weekday`}},
				{"clusters/eu-1.yaml", 9, []string{`spec.updateWindows[2].duration: is "0s"`}},
			},
		},
		{
			name: "pull cluster with a kubeconfig",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + `spec:
  access:
    mode: Pull
    kubeconfigSecretRef:
      name: eu-1-kubeconfig
`}),
			want: []expect{{"clusters/eu-1.yaml", 8, []string{"spec.access.kubeconfigSecretRef: a Pull cluster", "remove kubeconfigSecretRef or set mode: Push"}}},
		},
		{
			name:  "unknown access mode",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + "spec:\n  access:\n    mode: push\n"}),
			want:  []expect{{"clusters/eu-1.yaml", 7, []string{`spec.access.mode: "push" is not an access mode`, "Push", "Pull"}}},
		},
		{
			name:  "kubeconfig secret without name",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + "spec:\n  access:\n    kubeconfigSecretRef: {key: config}\n"}),
			want:  []expect{{"clusters/eu-1.yaml", 7, []string{"spec.access.kubeconfigSecretRef.name: is missing", "eu-1-kubeconfig"}}},
		},
		{
			// A repository author must not reach another namespace's Secrets:
			// the reference has no namespace field ...
			name: "kubeconfig secret in another namespace",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + `spec:
  access:
    kubeconfigSecretRef:
      name: admin-kubeconfig
      namespace: kube-system
`}),
			want: []expect{{"clusters/eu-1.yaml", 9, []string{"spec.access.kubeconfigSecretRef.namespace: unknown field", "key, name"}}},
		},
		{
			// ... and a name cannot smuggle one in.
			name:  "kubeconfig secret name with a namespace",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + "spec:\n  access:\n    kubeconfigSecretRef: {name: kube-system/admin-kubeconfig}\n"}),
			want:  []expect{{"clusters/eu-1.yaml", 7, []string{`spec.access.kubeconfigSecretRef.name: "kube-system/admin-kubeconfig" is not a valid Secret name`}}},
		},
		{
			name:  "bad var name",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + "spec:\n  vars:\n    \"model version\": v1\n"}),
			want:  []expect{{"clusters/eu-1.yaml", 7, []string{`"model version" is not a valid var name`}}},
		},
		{
			name:  "missing namespace",
			files: with(map[string]string{"apps/web/app.yaml": strings.Replace(appHeader, "  namespace: web\n", "  path: base\n", 1)}),
			want:  []expect{{"apps/web/app.yaml", 5, []string{"spec.namespace: is missing"}}},
		},
		{
			name:  "base folder missing",
			files: with(map[string]string{"apps/web/base/kustomization.yaml": ""}),
			want:  []expect{{"apps/web/app.yaml", 5, []string{"spec.path: the base folder, apps/web/base, does not exist", "set spec.path"}}},
		},
		{
			name:  "base path escapes with ..",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  path: ../../../outside\n"}),
			want:  []expect{{"apps/web/app.yaml", 7, []string{`spec.path: "../../../outside" leads outside the repository`}}},
		},
		{
			name:  "base path is absolute",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  path: /etc\n"}),
			want:  []expect{{"apps/web/app.yaml", 7, []string{`spec.path: "/etc" is not a relative path`}}},
		},
		{
			name:  "base path is a file",
			files: with(map[string]string{"apps/web/app.yaml": appHeader + "  path: base/kustomization.yaml\n"}),
			want:  []expect{{"apps/web/app.yaml", 7, []string{"apps/web/base/kustomization.yaml, is not a folder"}}},
		},
		{
			name:  "file over the size cap",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + "# " + strings.Repeat("x", 200) + "\n"}),
			opts:  []Option{WithMaxFileSize(128)},
			want:  []expect{{"clusters/eu-1.yaml", 0, []string{"over the limit of 128 bytes"}}},
		},
		{
			name:  "file over the default 1 MiB cap",
			files: with(map[string]string{"clusters/eu-1.yaml": clusterHeader + "# " + strings.Repeat("x", DefaultMaxFileSize) + "\n"}),
			want:  []expect{{"clusters/eu-1.yaml", 0, []string{"over the limit of 1048576 bytes"}}},
		},
		{
			name:  "cluster file is a symlink outside the repository",
			files: baseFiles(),
			setup: func(t *testing.T, root string) {
				outside := filepath.Join(t.TempDir(), "secret.yaml")
				mustWrite(t, outside, clusterHeader)
				mustSymlink(t, outside, filepath.Join(root, "clusters", "evil.yaml"))
			},
			want: []expect{{"clusters/evil.yaml", 0, []string{"symbolic link that leads outside the repository", "replace the link"}}},
		},
		{
			name:  "base folder is a symlink outside the repository",
			files: with(map[string]string{"apps/web/base/kustomization.yaml": ""}),
			setup: func(t *testing.T, root string) {
				mustSymlink(t, t.TempDir(), filepath.Join(root, "apps", "web", "base"))
			},
			want: []expect{{"apps/web/app.yaml", 5, []string{"apps/web/base", "leads outside the repository through a symbolic link"}}},
		},
		{
			name:  "app folder is a symlink outside the repository",
			files: baseFiles(),
			setup: func(t *testing.T, root string) {
				outside := t.TempDir()
				mustWrite(t, filepath.Join(outside, "app.yaml"), appHeader)
				mustSymlink(t, outside, filepath.Join(root, "apps", "evil"))
			},
			want: []expect{{"apps/evil", 0, []string{"symbolic link that leads outside the repository"}}},
		},
		{
			name:  "both app.yaml and app.yml",
			files: with(map[string]string{"apps/web/app.yml": appHeader}),
			want:  []expect{{"apps/web/app.yml", 0, []string{"both app.yaml and app.yml exist in apps/web"}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := writeFleet(t, tc.files)
			if tc.setup != nil {
				tc.setup(t, root)
			}
			f, diags := Load(root, tc.opts...)
			if f == nil {
				t.Fatalf("Load returned no fleet")
			}
			assertDiagnostics(t, errorsOf(diags), tc.want)
			if !HasErrors(diags) {
				t.Errorf("HasErrors = false")
			}
			for _, d := range errorsOf(diags) {
				if !strings.HasPrefix(d.String(), d.File) || d.File == "" {
					t.Errorf("diagnostic %q does not start with its file", d)
				}
			}
		})
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
