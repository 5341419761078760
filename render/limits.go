package render

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// kustomizeNestingFrame is the kustomize function that runs once per
// kustomization being built, nested for each base or component: the number
// of its frames on the stack is how deeply the kustomization being read
// is nested.
const kustomizeNestingFrame = "sigs.k8s.io/kustomize/api/internal/target.(*KustTarget).accumulateDirectory"

// nestingDepth returns how many kustomizations the calling goroutine's
// kustomize build is nested in.
func nestingDepth() int {
	pcs := make([]uintptr, 4096)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	depth := 0
	for {
		f, more := frames.Next()
		if f.Function == kustomizeNestingFrame {
			depth++
		}
		if !more {
			return depth
		}
	}
}

// errNestedTooDeep is what kustomize gets when the nesting limit is
// reached: kustomize quotes the error of a component once per level, which
// doubles its escaping at each level, so it is kept short. The build
// reports the recorded violation instead.
var errNestedTooDeep = errors.New("nesting limit")

// nestingReason explains a kustomization nested deeper than the limit.
func nestingReason(file string, depth, limit int) *reason {
	return newReason(ErrLimitExceeded, file,
		"kustomizations are nested %d levels deep here (bases and components including each other), more than the limit of %d (Options.MaxNestingDepth): flatten the chain of bases and components", depth, limit)
}

// totalReadReason explains a build that read more bytes than the limit.
func totalReadReason(file string, limit int64) *reason {
	return newReason(ErrLimitExceeded, file,
		"the build has read more than %d bytes in all (Options.MaxTotalRead; each file counts every time it is read) when reading this file: list each large file once, or split the app", limit)
}

// objectsReason explains a build with more objects than the limit.
func objectsReason(limit int) *reason {
	return newReason(ErrLimitExceeded, "",
		"the build made more than %d objects (Options.MaxObjects): split the app", limit)
}

// maxAliasNodes caps the YAML values one file may expand to through
// aliases. A file also may not expand to more than twice its size plus
// aliasSlack values: every value takes at least two bytes, so a file
// without aliases never reaches it.
const (
	maxAliasNodes = 1_000_000
	aliasSlack    = 10_000
)

// checkAliases refuses a YAML file whose aliases expand to more values than
// the limit, before kustomize parses it (and expands them). It reports
// nothing for a file that does not parse: kustomize reports that.
func checkAliases(file string, data []byte) *reason {
	if !bytes.Contains(data, []byte("&")) || !bytes.Contains(data, []byte("*")) {
		return nil // no anchor or no alias: nothing expands
	}
	limit := min(int64(maxAliasNodes), 2*int64(len(data))+aliasSlack)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	memo := map[*yaml.Node]int64{}
	var total int64
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return nil // the end, or malformed YAML kustomize reports
		}
		total += expandedSize(&doc, memo, limit, 0)
		if total > limit {
			return newReason(ErrLimitExceeded, file,
				"the YAML expands to more than %d values through aliases (*name) of anchors (&name): write the values out instead of repeating aliases", limit)
		}
	}
}

// expandedSize counts the values n expands to, aliases expanded, stopping
// once above limit. memo holds the size of nodes already counted, so the
// count is linear in the file's size.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int64, limit int64, depth int) int64 {
	if n == nil {
		return 0
	}
	if depth > 10000 {
		return limit + 1
	}
	if s, ok := memo[n]; ok {
		return s
	}
	var s int64 = 1
	if n.Kind == yaml.AliasNode {
		s = expandedSize(n.Alias, memo, limit, depth+1)
	} else {
		for _, c := range n.Content {
			s += expandedSize(c, memo, limit, depth+1)
			if s > limit {
				break
			}
		}
	}
	memo[n] = s
	return s
}

// truncateText keeps at most max bytes of s: its start and its end, with
// a note of how much was left out in between.
func truncateText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	head := max * 3 / 4
	tail := max - head
	return strings.ToValidUTF8(s[:head], "") +
		" [... " + strconv.Itoa(len(s)-head-tail) + " bytes of the error left out ...] " +
		strings.ToValidUTF8(s[len(s)-tail:], "")
}
