package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// serverRequests are requests counted by the member API servers themselves
// (apiserver_request_total), keyed "VERB resource[/subresource][ dry-run]",
// summed over the servers. They are the ground truth of what reached the
// members, whoever sent it, and break a phase down by kind of call.
type serverRequests map[string]float64

// scrapeServerRequests reads apiserver_request_total from every server.
func scrapeServerRequests(ctx context.Context, servers []*testenv.Cluster) (serverRequests, error) {
	out := serverRequests{}
	for _, s := range servers {
		cs, err := kubernetes.NewForConfig(s.Config())
		if err != nil {
			return nil, fmt.Errorf("read metrics of %s: %w", s.Name(), err)
		}
		body, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		if err != nil {
			return nil, fmt.Errorf("read metrics of %s: %w", s.Name(), err)
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			key, v, ok := parseRequestTotal(sc.Text())
			if ok {
				out[key] += v
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read metrics of %s: %w", s.Name(), err)
		}
	}
	return out, nil
}

// parseRequestTotal parses one apiserver_request_total sample line.
func parseRequestTotal(line string) (key string, value float64, ok bool) {
	const prefix = "apiserver_request_total{"
	if !strings.HasPrefix(line, prefix) {
		return "", 0, false
	}
	end := strings.LastIndex(line, "}")
	if end < 0 {
		return "", 0, false
	}
	labels := map[string]string{}
	for _, kv := range strings.Split(line[len(prefix):end], ",") {
		k, v, found := strings.Cut(kv, "=")
		if found {
			labels[k] = strings.Trim(v, `"`)
		}
	}
	value, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
	if err != nil {
		return "", 0, false
	}
	key = labels["verb"] + " " + labels["resource"]
	if sub := labels["subresource"]; sub != "" {
		key += "/" + sub
	}
	if labels["dry_run"] != "" {
		key += " dry-run"
	}
	if key == " " {
		key = "non-resource"
	}
	return key, value, true
}

// sub returns r minus before.
func (r serverRequests) sub(before serverRequests) serverRequests {
	out := serverRequests{}
	for k, v := range r {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// perCluster lists the counts per logical cluster of a fleet of n, largest
// first.
func (r serverRequests) perCluster(n int) string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if r[keys[i]] != r[keys[j]] {
			return r[keys[i]] > r[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys))
	var total float64
	for _, k := range keys {
		total += r[k]
		parts = append(parts, fmt.Sprintf("%s %.2f", k, r[k]/float64(n)))
	}
	return fmt.Sprintf("%.2f: %s", total/float64(n), strings.Join(parts, ", "))
}

// total is the sum of every count.
func (r serverRequests) total() float64 {
	var t float64
	for _, v := range r {
		t += v
	}
	return t
}
