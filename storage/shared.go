package storage

import (
	"errors"
	"time"
)

// ErrUnavailable: the store cannot serve the call now (a shared store whose
// engine has no leader or cannot be reached, or whose local copy is not
// listed yet). It is temporary: callers answer 503 with Retry-After. The
// embedded store never returns it.
//
// A write that fails with it may or may not have been committed (a leader
// lost mid-write leaves etcd itself unsure), so a caller that retries must
// expect to meet its own earlier attempt: ErrAlreadyExists for a create,
// ErrNotFound for a delete.
var ErrUnavailable = errors.New("the store is unavailable")

// Change says what changed in a shared store. Exactly one field is set
// (a consent's pair counting as one).
type Change struct {
	// Reset: the local copy was listed afresh (the watch was compacted
	// away, the cluster replaced, the link lost), or the follower fell too
	// far behind to be told each change: anything may have changed, and
	// whatever was derived from the store is to be read again.
	Reset bool
	// ClientID is a client that was created, changed or deleted.
	ClientID string
	// UserID is a user that was created, changed or deleted.
	UserID string
	// SessionID is a session that was created, touched or ended (by a
	// delete, a prune, or, in a shared store, its lease running out).
	SessionID string
	// ConsentUserID and ConsentClientID name a consent that was given,
	// changed, withdrawn or deleted: the one Change with two fields set,
	// since a consent is keyed by the pair. Authorization requests and
	// codes are not told: nothing caches them.
	ConsentUserID, ConsentClientID string
	// Role is the name of a role that was created, changed or deleted.
	Role string
	// Keys: the signing key set changed.
	Keys bool
	// Revoked is a token that was revoked (or whose revocation was
	// extended). Revocations that expire are not told.
	Revoked *Revocation
}

// Shared is a Store that other gateways write to as well. It serves reads
// from a local copy that follows the shared engine, so a gateway must be
// told when the copy changes (Follow) and how fresh it is (LastContact,
// Health).
type Shared interface {
	Store
	// Follow calls fn for every change once it is applied locally, this
	// gateway's own writes included, in order and on one goroutine (of
	// the subscription's own: fn may read the store, and even write to
	// it, without holding up the copy). A first list that comes after
	// Follow is told as a Reset. stop ends the calls, waiting for one in
	// progress; it must not be called from fn.
	Follow(fn func(Change)) (stop func())
	// Ready is closed once the first full copy is in memory. Before, every
	// read and write fails with ErrUnavailable.
	Ready() <-chan struct{}
	// LastContact is when the engine was last heard from (zero before
	// Ready). It costs one atomic load, for the max_stale check on every
	// guarded request.
	LastContact() time.Time
	// Health reports the local copy's state.
	Health() Health
}

// Health is a shared store's state, for health checks and metrics.
type Health struct {
	// Ready: the first full copy is in memory.
	Ready bool
	// Revision is the engine's revision the copy holds.
	Revision    int64
	LastContact time.Time
	// Degraded: the engine has been silent for more than a few heartbeats,
	// so reads may be behind. Only ever set once Ready.
	Degraded bool
	// Lists counts the full lists taken, the first one included: more
	// than one means the copy was replaced since start.
	Lists int
	// LastError is the last error met while listing or following (kept
	// after recovery, for diagnosis). It never holds a secret.
	LastError string
}
