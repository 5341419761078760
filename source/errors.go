package source

import "errors"

var (
	// ErrTooLarge is returned when a repository or an extracted tree exceeds
	// the configured size cap. It is a configuration problem: retrying does
	// not help until the cap or the repository changes.
	ErrTooLarge = errors.New("size limit exceeded")

	// ErrRefNotFound is returned when the branch, tag or commit to sync does
	// not exist in the repository.
	ErrRefNotFound = errors.New("reference not found")

	// ErrNotCached is returned by Fetcher.Repository for a URL that was never
	// fetched.
	ErrNotCached = errors.New("repository is not in the cache")
)
