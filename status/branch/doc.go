// Package branch writes sync status back to the fleet repository, as
// commits on a separate branch (default "flotilla-status"): one file per
// cluster under status/ and a readable STATUS.md at the branch root.
//
// Status commits never trigger a sync. The status branch is not the synced
// branch (ValidateBranches refuses that configuration) and has its own
// history, starting as an orphan commit: the fetcher only fetches the synced
// ref, so a status commit leaves the synced revision unchanged, and the
// webhook handler can ignore pushes to the status branch (webhook.Handler's
// SkipRef).
//
// Writers push without force. When another writer moved the branch in the
// meantime the push is rejected; the Writer fetches the new tip, re-applies
// its files on top and pushes again, with backoff and a bounded number of
// attempts. The history stays linear and no writer's files are lost.
//
// Credentials are the same as for fetching (source.Auth), with write
// access.
package branch
