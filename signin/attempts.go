package signin

import (
	"net/netip"
	"strings"
	"time"

	"github.com/scopegate/scopegate/throttle"
)

// Attempt is one check of a person's password from one source, counted
// against the sign-in page's throttles: per source and per (username,
// source) pair, never per username alone. The page uses it, and so does any
// other place that checks a password (the token endpoint's password grant),
// so that guessing through one is guessing through both.
type Attempt struct {
	h      *Handler
	source throttle.Key
	pair   throttle.Key
}

// Attempt starts counting a password check for username from addr.
func (h *Handler) Attempt(addr netip.Addr, username string) Attempt {
	source := throttle.SourceOf(addr)
	return Attempt{h: h, source: source, pair: throttle.Key{Source: source.Source, Account: strings.ToLower(username)}}
}

// Blocked reports whether the source, or the pair, has used up its
// failures, and for how long.
func (a Attempt) Blocked(now time.Time) (time.Duration, bool) {
	return a.h.blocked(a.source, a.pair, now)
}

// Failed counts a failure against the source and the pair.
func (a Attempt) Failed(now time.Time) {
	a.h.sources.Fail(a.source, now)
	a.h.pairs.Fail(a.pair, now)
}

// Succeeded forgets the pair's failures, never the source's.
func (a Attempt) Succeeded() { a.h.pairs.Forget(a.pair) }

// Source is the source the attempt counts against, for logs.
func (a Attempt) Source() string { return a.source.Source.String() }

// UsernameRef is a keyed pseudonym of the lower-cased username for logs of
// failures: it correlates attempts within this process and cannot be
// reversed, in case a password was typed into the username field.
func (a Attempt) UsernameRef() string { return a.h.usernameRef(a.pair.Account) }
