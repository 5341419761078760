package controllers

import (
	"testing"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func TestSiteUpToDate(t *testing.T) {
	head := &Desired{Revision: "main@sha1:new", Digest: "sha256:new"}
	for _, tc := range []struct {
		name            string
		applied, digest string
		want            bool
	}{
		{"an older revision renders the same", "main@sha1:old", "sha256:new", true},
		{"an older revision renders differently", "main@sha1:old", "sha256:old", false},
		// The site applied the rollout's revision: the apply changed it, and
		// until it is Ready it is in progress, not up to date.
		{"the site applied the rollout's revision", "main@sha1:new", "sha256:new", false},
		{"nothing applied yet", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := &flotillav1.ClusterSync{Status: flotillav1.ClusterSyncStatus{AppliedRevision: tc.applied, AppliedDigest: tc.digest}}
			if got := siteUpToDate(cs, head); got != tc.want {
				t.Fatalf("siteUpToDate = %v, want %v", got, tc.want)
			}
		})
	}
}
