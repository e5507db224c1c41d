package token

import (
	"crypto/sha256"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// VerifiedCache remembers the claims of tokens that passed Verify, keyed by
// the SHA-256 of the whole token, so a hit implies the very same bytes. It
// holds only what a token says about itself, never a decision about a route,
// a client or a key: on a hit the caller must still check that the signing
// key has not been revoked since (KeySet.HasKey with Claims.KeyID; VerifyCached
// does this) and apply its own route, client and revocation rules. It is
// bounded (least recently used entries go first) and safe for concurrent use.
type VerifiedCache struct {
	entries *lru.Cache[[sha256.Size]byte, *Claims]
}

// NewVerifiedCache returns a cache of at most size tokens; size must be at
// least 1.
func NewVerifiedCache(size int) (*VerifiedCache, error) {
	entries, err := lru.New[[sha256.Size]byte, *Claims](size)
	if err != nil {
		return nil, fmt.Errorf("verified token cache: %w", err)
	}
	return &VerifiedCache{entries: entries}, nil
}

// Get returns the claims cached for raw, unless they have expired: an entry is
// never returned at or after its exp, with no leeway, so the cache never
// extends a token's life beyond what Verify allowed. The claims are shared:
// treat them as read-only.
func (vc *VerifiedCache) Get(raw string, now time.Time) (*Claims, bool) {
	return vc.get(hashToken(raw), now)
}

// Add caches the claims of raw, which must have just passed Verify. Claims
// without exp are not cached.
func (vc *VerifiedCache) Add(raw string, c *Claims) {
	vc.add(hashToken(raw), c)
}

// Len returns the number of cached tokens.
func (vc *VerifiedCache) Len() int { return vc.entries.Len() }

// Purge empties the cache.
func (vc *VerifiedCache) Purge() { vc.entries.Purge() }

func (vc *VerifiedCache) get(key [sha256.Size]byte, now time.Time) (*Claims, bool) {
	c, ok := vc.entries.Get(key)
	if !ok {
		return nil, false
	}
	if now.Unix() >= c.ExpiresAt {
		vc.entries.Remove(key)
		return nil, false
	}
	return c, true
}

func (vc *VerifiedCache) add(key [sha256.Size]byte, c *Claims) {
	if c == nil || c.ExpiresAt <= 0 {
		return
	}
	vc.entries.Add(key, c)
}

// hashToken returns the SHA-256 of raw. The bytes go through a pooled buffer,
// since converting the string to a slice would allocate a copy on every call.
func hashToken(raw string) [sha256.Size]byte {
	if len(raw) > MaxLength {
		return sha256.Sum256([]byte(raw))
	}
	sc := scratchPool.Get().(*scratch)
	sum := sha256.Sum256(sc.buf[:copy(sc.buf[:], raw)])
	scratchPool.Put(sc)
	return sum
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
	key := hashToken(raw)
	if c, ok := vc.get(key, v.now()); ok && ks.HasKey(c.KeyID) && c.Issuer == v.Issuer && v.Issuer != "" {
		return c, nil
	}
	c, err := v.Verify(ks, raw)
	if err != nil {
		return nil, err
	}
	vc.add(key, c)
	return c, nil
}
