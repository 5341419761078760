// Package source fetches fleet repositories with go-git into one
// incremental cache per repository and extracts commits as Snapshots: plain
// directory trees the fleet loader and the renderer read.
//
// A Fetcher never clones per reconcile: each Fetch downloads only the objects
// the cache lacks, follows force-pushed branches and moved tags, honours a
// timeout and a size cap, and keeps the most recently used extracted trees.
// OpenLocal gives the same extraction for a local checkout, which is what
// `flotilla diff --base REV --head REV` uses.
//
// Credentials come from Secret data (AuthFromSecretData): HTTPS basic auth,
// a bearer token, or an SSH identity with known_hosts. SSH host keys are
// always verified against known_hosts; there is no way to skip it. URLs are
// stripped of their userinfo, and secrets of their text, in every error and
// log line.
package source
