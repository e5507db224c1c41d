package storage

import (
	"errors"
	"time"
)

// ErrUnavailable: the store cannot serve the call now (a shared store whose
// engine has no leader or cannot be reached, or whose local copy is not
// listed yet). It is temporary: callers answer 503 with Retry-After. The
// embedded store never returns it.
var ErrUnavailable = errors.New("the store is unavailable")

// Change says what changed in a shared store.
type Change struct {
	// Reset: the local copy was listed afresh, so anything may have changed.
	Reset bool
	// ClientID is a client that was created, changed or deleted.
	ClientID string
	// Keys: the signing key set changed.
	Keys bool
	// Revoked is a token that was revoked.
	Revoked *Revocation
}

// Shared is a Store that other gateways write to as well.
type Shared interface {
	Store
	// Follow calls fn for every change once it is applied locally, this
	// gateway's own writes included, in order and on one goroutine. stop
	// ends the calls.
	Follow(fn func(Change)) (stop func())
	// Ready is closed once the first full copy is in memory.
	Ready() <-chan struct{}
	// LastContact is when the engine was last heard from (zero before
	// Ready). It costs one atomic load.
	LastContact() time.Time
	// Health reports the local copy's state.
	Health() Health
}

// Health is a shared store's state, for health checks and metrics.
type Health struct {
	Ready       bool
	Revision    int64
	LastContact time.Time
	// Degraded: the engine has been silent for more than a few heartbeats.
	Degraded bool
	Lists    int
	// LastError never holds a secret.
	LastError string
}
