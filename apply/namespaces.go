package apply

import (
	"sync"
	"time"
)

// NamespaceMemory is how long a Namespaces memory trusts a namespace it saw
// to still exist without reading it again.
const NamespaceMemory = 10 * time.Minute

// Namespaces remembers the target namespaces seen on one cluster, so that a
// Sync does not read its namespace every time. Keep one per cluster client
// (a new client, perhaps to a rebuilt cluster, starts with a new memory) and
// pass it as Request.Namespaces. A failed apply, and a drift check that finds
// a namespace missing, forget it, so the next Sync or CorrectDrift creates it
// again. The zero value is not usable; use NewNamespaces. A nil *Namespaces
// remembers nothing: every call reads the namespace. Safe for concurrent use.
type Namespaces struct {
	now func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time
}

// NewNamespaces returns an empty memory.
func NewNamespaces() *Namespaces {
	return &Namespaces{now: time.Now, seen: map[string]time.Time{}}
}

// Known reports whether ns was seen within NamespaceMemory.
func (n *Namespaces) Known(ns string) bool {
	if n == nil {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	at, ok := n.seen[ns]
	return ok && n.now().Sub(at) < NamespaceMemory
}

func (n *Namespaces) remember(ns string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seen[ns] = n.now()
}

// Forget makes the next Sync read ns again.
func (n *Namespaces) Forget(ns string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.seen, ns)
}
