package rollout

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWindowOpen(t *testing.T) {
	// 2026-12-05 is a Saturday.
	weekend := flotillav1.UpdateWindow{Days: []string{"Sat", "Sun"}, Start: "22:00", Duration: metav1.Duration{Duration: 4 * time.Hour}, TimeZone: "Europe/Berlin"}
	nightly := flotillav1.UpdateWindow{Schedule: "30 1 * * *", Duration: metav1.Duration{Duration: time.Hour}}
	cases := []struct {
		name     string
		w        flotillav1.UpdateWindow
		now      string
		open     bool
		nextOpen string
	}{
		{"before the weekend window (Berlin is UTC+1 in December)", weekend, "2026-12-05T20:59:00Z", false, "2026-12-05T21:00:00Z"},
		{"at the opening", weekend, "2026-12-05T21:00:00Z", true, ""},
		{"inside, past midnight", weekend, "2026-12-06T00:30:00Z", true, ""},
		{"at the closing", weekend, "2026-12-06T01:00:00Z", false, "2026-12-06T21:00:00Z"},
		{"on a weekday", weekend, "2026-12-07T22:00:00Z", false, "2026-12-12T21:00:00Z"},
		{"cron, inside", nightly, "2026-12-07T01:45:00Z", true, ""},
		{"cron, after", nightly, "2026-12-07T02:30:00Z", false, "2026-12-08T01:30:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseWindow(tc.w)
			if err != nil {
				t.Fatal(err)
			}
			open, next := w.Open(at(t, tc.now))
			if open != tc.open {
				t.Fatalf("open = %v, want %v", open, tc.open)
			}
			if !tc.open && !next.Equal(at(t, tc.nextOpen)) {
				t.Errorf("next opening = %s, want %s", next.UTC().Format(time.RFC3339), tc.nextOpen)
			}
		})
	}
}

func TestWindowsOpenAnyAndNone(t *testing.T) {
	none := Windows(nil)
	if open, _ := none.Open(time.Now()); !open {
		t.Fatal("a cluster without windows is always open")
	}
	ws, err := ParseWindows([]flotillav1.UpdateWindow{
		{Start: "10:00", Duration: metav1.Duration{Duration: time.Hour}},
		{Start: "06:00", Duration: metav1.Duration{Duration: time.Hour}},
	})
	if err != nil {
		t.Fatal(err)
	}
	open, next := ws.Open(at(t, "2026-12-07T05:00:00Z"))
	if open || !next.Equal(at(t, "2026-12-07T06:00:00Z")) {
		t.Fatalf("got open=%v next=%s; want closed until the earliest opening 06:00", open, next)
	}
	if open, _ := ws.Open(at(t, "2026-12-07T10:59:59Z")); !open {
		t.Fatal("want open inside the second window")
	}
}

func TestParseWindowErrorsNameTheField(t *testing.T) {
	cases := []struct {
		w    flotillav1.UpdateWindow
		want string
	}{
		{flotillav1.UpdateWindow{Start: "22:00"}, "duration:"},
		{flotillav1.UpdateWindow{Start: "25:00", Duration: metav1.Duration{Duration: time.Hour}}, "start:"},
		{flotillav1.UpdateWindow{Start: "22:00", Days: []string{"Funday"}, Duration: metav1.Duration{Duration: time.Hour}}, "days:"},
		{flotillav1.UpdateWindow{Schedule: "every night", Duration: metav1.Duration{Duration: time.Hour}}, "schedule:"},
		{flotillav1.UpdateWindow{Schedule: "0 1 * * *", Start: "01:00", Duration: metav1.Duration{Duration: time.Hour}}, "either schedule"},
		{flotillav1.UpdateWindow{Start: "22:00", Duration: metav1.Duration{Duration: time.Hour}, TimeZone: "Mars/Olympus"}, "timeZone:"},
		{flotillav1.UpdateWindow{Duration: metav1.Duration{Duration: time.Hour}}, "start:"},
	}
	for _, tc := range cases {
		_, err := ParseWindow(tc.w)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseWindow(%+v) = %v; want an error containing %q", tc.w, err, tc.want)
		}
	}
	_, err := ParseWindows([]flotillav1.UpdateWindow{{Start: "22:00", Duration: metav1.Duration{Duration: time.Hour}}, {Start: "x"}})
	if err == nil || !strings.HasPrefix(err.Error(), "spec.updateWindows[1].") {
		t.Errorf("ParseWindows error = %v; want it to name spec.updateWindows[1]", err)
	}
}
