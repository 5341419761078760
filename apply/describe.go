package apply

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// podSample bounds how many pods are read to explain a workload.
const podSample = 20

// describeWorkload explains why a Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job or Pod is not ready: its replica counts, a failure
// condition, and the first problem found on one of its pods. It returns ""
// for other kinds. Reading pods is best effort: errors only shorten the
// message.
func describeWorkload(ctx context.Context, c client.Client, obj *unstructured.Unstructured) string {
	group := obj.GroupVersionKind().Group
	kind := obj.GetKind()
	var parts []string
	switch {
	case group == "apps" && (kind == "Deployment" || kind == "ReplicaSet"):
		want := replicas(obj)
		avail, _, _ := unstructured.NestedInt64(obj.Object, "status", "availableReplicas")
		parts = append(parts, fmt.Sprintf("%d/%d replicas available", avail, want))
		parts = append(parts, failedConditions(obj, "ReplicaFailure", "Progressing")...)
	case group == "apps" && kind == "StatefulSet":
		ready, _, _ := unstructured.NestedInt64(obj.Object, "status", "readyReplicas")
		parts = append(parts, fmt.Sprintf("%d/%d replicas ready", ready, replicas(obj)))
	case group == "apps" && kind == "DaemonSet":
		avail, _, _ := unstructured.NestedInt64(obj.Object, "status", "numberAvailable")
		want, _, _ := unstructured.NestedInt64(obj.Object, "status", "desiredNumberScheduled")
		parts = append(parts, fmt.Sprintf("%d/%d pods available", avail, want))
	case group == "batch" && kind == "Job":
		parts = append(parts, failedConditions(obj, "Failed")...)
	case group == "" && kind == "Pod":
		var pod corev1.Pod
		if err := runtimeConvert(obj, &pod); err == nil {
			if p := podProblem(&pod); p != "" {
				parts = append(parts, p)
			}
		}
		return strings.Join(parts, "; ")
	default:
		return ""
	}
	if p := podsProblem(ctx, c, obj); p != "" {
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func replicas(obj *unstructured.Unstructured) int64 {
	n, found, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
	if !found {
		return 1
	}
	return n
}

// failedConditions returns "<type>: <message>" for each listed condition
// type that signals failure: True for ReplicaFailure and Failed, False for
// Progressing.
func failedConditions(obj *unstructured.Unstructured, types ...string) []string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var out []string
	for _, t := range types {
		for _, raw := range conds {
			c, ok := raw.(map[string]any)
			if !ok || c["type"] != t {
				continue
			}
			bad := c["status"] == "True"
			if t == "Progressing" {
				bad = c["status"] == "False"
			}
			if bad {
				out = append(out, fmt.Sprintf("%s: %v", t, c["message"]))
			}
		}
	}
	return out
}

// podsProblem lists a few of the workload's pods (by its label selector)
// and describes the first problem found.
func podsProblem(ctx context.Context, c client.Client, obj *unstructured.Unstructured) string {
	raw, found, _ := unstructured.NestedMap(obj.Object, "spec", "selector")
	if !found {
		return ""
	}
	var ls metav1.LabelSelector
	if err := runtimeConvertMap(raw, &ls); err != nil {
		return ""
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil || sel.Empty() {
		return ""
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(obj.GetNamespace()),
		client.MatchingLabelsSelector{Selector: sel}, client.Limit(podSample)); err != nil {
		return ""
	}
	if len(pods.Items) == 0 {
		return "no pods created"
	}
	for i := range pods.Items {
		if p := podProblem(&pods.Items[i]); p != "" {
			return p
		}
	}
	return ""
}

// podProblem describes why a pod is not running and ready, or "".
func podProblem(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			msg := c.Message
			if msg == "" {
				msg = c.Reason
			}
			return fmt.Sprintf("pod %s unschedulable: %s", pod.Name, msg)
		}
	}
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			return strings.TrimSuffix(fmt.Sprintf("pod %s container %s: %s: %s", pod.Name, cs.Name, w.Reason, w.Message), ": ")
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Sprintf("pod %s container %s terminated: %s (exit code %d)", pod.Name, cs.Name, t.Reason, t.ExitCode)
		}
	}
	if pod.Status.Phase == corev1.PodFailed {
		return fmt.Sprintf("pod %s failed: %s", pod.Name, pod.Status.Message)
	}
	return ""
}
