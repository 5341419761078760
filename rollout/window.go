package rollout

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Window is a parsed update window.
type Window struct {
	schedule cron.Schedule
	duration time.Duration
	text     string
}

var weekdays = map[string]string{
	"mon": "1", "tue": "2", "wed": "3", "thu": "4", "fri": "5", "sat": "6", "sun": "0",
	"monday": "1", "tuesday": "2", "wednesday": "3", "thursday": "4", "friday": "5", "saturday": "6", "sunday": "0",
}

// ParseWindow checks and parses one update window. Errors name the field
// and say what to write.
func ParseWindow(w flotillav1.UpdateWindow) (*Window, error) {
	if w.Duration.Duration <= 0 {
		return nil, fmt.Errorf("duration: is %q; set how long the window stays open, for example 4h", w.Duration.Duration)
	}
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return nil, fmt.Errorf("timeZone: %q is not an IANA time zone name (for example Europe/Berlin): %w", tz, err)
	}
	var spec string
	switch {
	case w.Schedule != "" && (w.Start != "" || len(w.Days) > 0):
		return nil, fmt.Errorf("schedule: set either schedule (cron) or days and start, not both")
	case w.Schedule != "":
		spec = w.Schedule
	case w.Start != "":
		hh, mm, ok := parseClock(w.Start)
		if !ok {
			return nil, fmt.Errorf("start: %q is not a time of day; write HH:MM, for example 22:00", w.Start)
		}
		dow := "*"
		if len(w.Days) > 0 {
			var ds []string
			for _, d := range w.Days {
				n, ok := weekdays[strings.ToLower(d)]
				if !ok {
					return nil, fmt.Errorf("days: %q is not a weekday; use Mon, Tue, Wed, Thu, Fri, Sat or Sun", d)
				}
				ds = append(ds, n)
			}
			dow = strings.Join(ds, ",")
		}
		spec = fmt.Sprintf("%d %d * * %s", mm, hh, dow)
	default:
		return nil, fmt.Errorf("start: set start (and optionally days), or schedule, to say when the window opens")
	}
	sched, err := cron.ParseStandard("CRON_TZ=" + tz + " " + spec)
	if err != nil {
		return nil, fmt.Errorf("schedule: %q is not a five-field cron expression: %w", spec, err)
	}
	return &Window{schedule: sched, duration: w.Duration.Duration, text: describe(w)}, nil
}

func describe(w flotillav1.UpdateWindow) string {
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if w.Schedule != "" {
		return fmt.Sprintf("%q for %s (%s)", w.Schedule, w.Duration.Duration, tz)
	}
	days := "daily"
	if len(w.Days) > 0 {
		days = strings.Join(w.Days, ",")
	}
	return fmt.Sprintf("%s %s for %s (%s)", days, w.Start, w.Duration.Duration, tz)
}

func parseClock(s string) (int, int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, false
	}
	return t.Hour(), t.Minute(), true
}

// Open reports whether now is inside the window, and otherwise when it
// next opens.
func (w *Window) Open(now time.Time) (bool, time.Time) {
	// The last opening at or before now, if any, lies in
	// (now-duration, now]: Next returns the first opening after its
	// argument.
	next := w.schedule.Next(now.Add(-w.duration))
	if !next.After(now) {
		return true, time.Time{}
	}
	return false, next
}

// String describes the window for messages.
func (w *Window) String() string { return w.text }

// Windows is a cluster's set of update windows. No windows means always
// open.
type Windows []*Window

// ParseWindows parses a cluster's update windows; errors name the index.
func ParseWindows(ws []flotillav1.UpdateWindow) (Windows, error) {
	out := make(Windows, 0, len(ws))
	for i, w := range ws {
		p, err := ParseWindow(w)
		if err != nil {
			return nil, fmt.Errorf("spec.updateWindows[%d].%w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Open reports whether any window is open at now; when none is, it returns
// the earliest time one opens.
func (ws Windows) Open(now time.Time) (bool, time.Time) {
	if len(ws) == 0 {
		return true, time.Time{}
	}
	var earliest time.Time
	for _, w := range ws {
		open, next := w.Open(now)
		if open {
			return true, time.Time{}
		}
		if earliest.IsZero() || next.Before(earliest) {
			earliest = next
		}
	}
	return false, earliest
}
