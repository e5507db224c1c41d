package authserver

import (
	"sync"

	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
)

// ClientScopeSets remembers each client record's registered scopes as a set,
// so that the guard's check "does the client still hold what its token
// grants" costs a map lookup per request rather than building a set.
//
// An entry is tied to the Scopes slice it was built from. The client cache
// hands out the same slice for as long as it holds a record, and a changed
// record (an admin update invalidates the cache) comes with a new slice, so
// an entry is used only for the very record it describes. Holding the slice
// keeps its memory from being reused while the entry lives.
type ClientScopeSets struct {
	mu      sync.RWMutex
	entries map[string]clientScopeSet
	// max bounds the entries, as the client cache bounds its records; when
	// it is reached the map starts afresh (entries are cheap to rebuild).
	max int
}

type clientScopeSet struct {
	from []string
	set  scope.Set
}

// NewClientScopeSets holds at most max clients' sets.
func NewClientScopeSets(max int) *ClientScopeSets {
	return &ClientScopeSets{entries: make(map[string]clientScopeSet), max: max}
}

// of returns c's registered scopes as a set.
func (cs *ClientScopeSets) of(c storage.Client) scope.Set {
	cs.mu.RLock()
	e, ok := cs.entries[c.ID]
	cs.mu.RUnlock()
	if ok && sameSlice(e.from, c.Scopes) {
		return e.set
	}
	set := scope.NewSet(c.Scopes)
	cs.mu.Lock()
	if len(cs.entries) >= cs.max {
		clear(cs.entries)
	}
	cs.entries[c.ID] = clientScopeSet{from: c.Scopes, set: set}
	cs.mu.Unlock()
	return set
}

// sameSlice reports whether a and b are the same slice: same length and the
// same backing array, not merely equal contents.
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
