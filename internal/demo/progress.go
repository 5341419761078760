package demo

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints the steps of the demo, one line each, safe for use by
// several goroutines.
type progress struct {
	mu  sync.Mutex
	out io.Writer
}

// step announces a step that takes a while.
func (p *progress) step(format string, args ...any) { p.line("  ..  ", format, args...) }

// ok reports a step done.
func (p *progress) ok(format string, args ...any) { p.line("  ok  ", format, args...) }

// fail reports a step that failed.
func (p *progress) fail(format string, args ...any) { p.line("  !!  ", format, args...) }

// info prints an indented detail line.
func (p *progress) info(format string, args ...any) { p.line("      ", format, args...) }

// printf prints text as is.
func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format, args...)
}

func (p *progress) line(prefix, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, prefix+format+"\n", args...)
}

// since formats the time elapsed since start, rounded for people.
func since(start time.Time) string {
	d := time.Since(start)
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// plural formats "1 cluster" or "5 clusters".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
