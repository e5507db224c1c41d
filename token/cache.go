package token

import (
	"fmt"
	"hash/maphash"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// VerifiedCache remembers the claims of tokens that passed Verify. An entry
// keeps the whole token and a hit needs the very same bytes: the 64-bit
// keyed hash that indexes the entries only finds the candidate, so no hash
// collision can make one token pass as another. It holds only what a token
// says about itself, never a decision about a route, a client or a key: on a
// hit the caller must still check that the signing key has not been revoked
// since (KeySet.HasKey with Claims.KeyID; VerifyCached does this) and apply
// its own route, client and revocation rules. It is bounded (least recently
// used entries go first) and safe for concurrent use.
//
// An entry costs the token's own length (a few hundred bytes) on top of its
// claims and about 125 bytes of LRU bookkeeping. Keeping the token is what
// lets a hit cost one fast hash and one comparison instead of a SHA-256 of
// the token, which was a fifth of BenchmarkGuardCachedToken.
type VerifiedCache struct {
	// seed is random per cache, so nobody outside can predict which tokens
	// share a key. A shared key only evicts (the newer token replaces the
	// older) and a hit compares the whole token, so a collision can cost a
	// signature check but never admits a token.
	seed    maphash.Seed
	entries *lru.Cache[uint64, verifiedEntry]
}

// verifiedEntry is a cached token and its claims.
type verifiedEntry struct {
	raw    string
	claims *Claims
}

// NewVerifiedCache returns a cache of at most size tokens; size must be at
// least 1.
func NewVerifiedCache(size int) (*VerifiedCache, error) {
	entries, err := lru.New[uint64, verifiedEntry](size)
	if err != nil {
		return nil, fmt.Errorf("verified token cache: %w", err)
	}
	return &VerifiedCache{seed: maphash.MakeSeed(), entries: entries}, nil
}

// Get returns the claims cached for raw, unless they have expired: an entry is
// never returned at or after its exp, with no leeway, so the cache never
// extends a token's life beyond what Verify allowed. The claims are shared:
// treat them as read-only.
func (vc *VerifiedCache) Get(raw string, now time.Time) (*Claims, bool) {
	return vc.get(vc.key(raw), raw, now)
}

// Add caches the claims of raw, which must have just passed Verify. Claims
// without exp are not cached.
func (vc *VerifiedCache) Add(raw string, c *Claims) {
	vc.add(vc.key(raw), raw, c)
}

// Len returns the number of cached tokens.
func (vc *VerifiedCache) Len() int { return vc.entries.Len() }

// Purge empties the cache.
func (vc *VerifiedCache) Purge() { vc.entries.Purge() }

func (vc *VerifiedCache) key(raw string) uint64 { return maphash.String(vc.seed, raw) }

func (vc *VerifiedCache) get(key uint64, raw string, now time.Time) (*Claims, bool) {
	e, ok := vc.entries.Get(key)
	if !ok || e.raw != raw {
		return nil, false
	}
	if now.Unix() >= e.claims.ExpiresAt {
		vc.entries.Remove(key)
		return nil, false
	}
	return e.claims, true
}

func (vc *VerifiedCache) add(key uint64, raw string, c *Claims) {
	if c == nil || c.ExpiresAt <= 0 {
		return
	}
	// raw is usually a substring of the request's Authorization header: the
	// copy keeps the token's bytes and nothing else of the request alive.
	vc.entries.Add(key, verifiedEntry{raw: strings.Clone(raw), claims: c})
}

// VerifyCached is Verify with a cache in front. A cached token is accepted
// only while its signing key is still in ks (so a revoked key's tokens are
// refused at once) and its issuer is still v.Issuer; anything else, and any
// miss, goes through Verify, and what passes is cached. A nil cache means
// plain Verify.
func (v *Verifier) VerifyCached(ks *KeySet, vc *VerifiedCache, raw string) (*Claims, error) {
	if vc == nil {
		return v.Verify(ks, raw)
	}
	if len(raw) > v.maxLength() {
		return nil, ErrTooLong
	}
	key := vc.key(raw)
	if c, ok := vc.get(key, raw, v.now()); ok && ks.HasKey(c.KeyID) && c.Issuer == v.Issuer && v.Issuer != "" {
		return c, nil
	}
	c, err := v.Verify(ks, raw)
	if err != nil {
		return nil, err
	}
	vc.add(key, raw, c)
	return c, nil
}
