package source

// CachedRepositories is the number of repositories the Fetcher holds in
// memory, for tests that check the cache shrinks.
func (f *Fetcher) CachedRepositories() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.repos)
}
