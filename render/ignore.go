package render

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// maxIgnoreFileSize caps a .gitignore (or .git/info/exclude) read for its
// patterns; the rest of a larger file is not read.
const maxIgnoreFileSize = 1 << 20

// excludedRules decides which paths inside the root a build may not read,
// although they are inside it: anything named .git (the folder of a
// working tree holds credentials: CI checkouts keep an access token in
// .git/config) and anything the repository's ignore rules (.gitignore
// files, .git/info/exclude) match, which a fetched tree would not hold.
// It reads each folder's .gitignore once, when a path below it is first
// checked. It is safe for concurrent use.
type excludedRules struct {
	root string
	mu   sync.Mutex
	// dirs holds the patterns of each folder's .gitignore, keyed by the
	// folder relative to the root ("." is the root).
	dirs map[string][]gitignore.Pattern
	// verdicts caches the answer for each checked path.
	verdicts map[string]bool
}

func newExcludedRules(root string) *excludedRules {
	return &excludedRules{root: root, dirs: map[string][]gitignore.Pattern{}, verdicts: map[string]bool{}}
}

// isGitPath reports whether a component of rel (slash-separated) is .git,
// in any case (case-insensitive filesystems open .GIT as .git).
func isGitPath(rel string) bool {
	for _, c := range strings.Split(rel, "/") {
		if strings.EqualFold(c, ".git") {
			return true
		}
	}
	return false
}

// excluded reports whether rel (slash-separated, relative to the root; "."
// is the root) may not be read: it is, or is below, a .git entry or a path
// the ignore rules match.
func (x *excludedRules) excluded(rel string) bool {
	if rel == "." || rel == "" {
		return false
	}
	if isGitPath(rel) {
		return true
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if v, ok := x.verdicts[rel]; ok {
		return v
	}
	parts := strings.Split(rel, "/")
	var patterns []gitignore.Pattern
	patterns = append(patterns, x.patternsLocked(".", nil)...)
	v := false
	for i := range parts {
		// The patterns of every folder above the path apply; a folder the
		// rules match excludes everything below it.
		prefix := parts[:i+1]
		isDir := i < len(parts)-1
		if !isDir {
			st, err := os.Stat(filepath.Join(x.root, filepath.FromSlash(rel)))
			isDir = err == nil && st.IsDir()
		}
		if gitignore.NewMatcher(patterns).Match(prefix, isDir) {
			v = true
			break
		}
		if isDir {
			patterns = append(patterns, x.patternsLocked(strings.Join(prefix, "/"), prefix)...)
		}
	}
	x.verdicts[rel] = v
	return v
}

// patternsLocked returns the patterns of dir's .gitignore (and, for the
// root, of .git/info/exclude), reading them the first time.
func (x *excludedRules) patternsLocked(dir string, domain []string) []gitignore.Pattern {
	if ps, ok := x.dirs[dir]; ok {
		return ps
	}
	full := filepath.Join(x.root, filepath.FromSlash(dir))
	var ps []gitignore.Pattern
	if dir == "." {
		ps = append(ps, readPatterns(filepath.Join(full, ".git", "info", "exclude"), nil)...)
	}
	ps = append(ps, readPatterns(filepath.Join(full, ".gitignore"), domain)...)
	x.dirs[dir] = ps
	return ps
}

// readPatterns parses an ignore file; a missing or unreadable file, or
// anything but a regular file, has no patterns.
func readPatterns(p string, domain []string) []gitignore.Pattern {
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	fh, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxIgnoreFileSize))
	if err != nil {
		return nil
	}
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxIgnoreFileSize)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps
}

// excludedReason is the error for a path the rules exclude.
func excludedReason(rel string) *reason {
	why := "the repository's ignore rules (.gitignore) match it, so a fetched tree would not hold it"
	if isGitPath(rel) {
		why = "it is git's own data (.git), which may hold credentials"
	}
	return newReason(ErrOutsideRoot, rel,
		"%s may not be read by a build: %s; a build reads only the repository's committed files: commit the file under another name or remove the reference", rel, why)
}
