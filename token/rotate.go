package token

import (
	"errors"
	"fmt"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// Key rotation is a set of pure functions over the stored keys, meant to run
// inside storage.Store.UpdateSigningKeys so that each change is one
// transaction. None of them modifies its argument: they return a new slice
// (records not changed share their PrivateKey bytes, which are never written).
//
// The model: the set holds one active key, which signs, and one next key,
// which is published in the JWKS but does not sign yet. The next key is the
// one whose ActiveAt is zero ("pending"): a zero time is unambiguous, whereas
// a far-future ActiveAt would need a sentinel date and could be mistaken for
// a scheduled one. Rotation turns the next key into the active one; because it
// has been published since the previous rotation, verifiers that cache the
// JWKS already know it. The old active key is retired (RetiredAt) and stays
// published for keep, until every token it signed has expired.

// Rotate makes the next key active at now, retires the active key, creates a
// fresh next key with alg and drops retired or revoked keys whose RetiredAt +
// keep is before now. keep must cover the longest token lifetime plus the
// verifier's leeway.
//
// Changing the algorithm is done by rotating with the new alg. The pending
// next key of the old algorithm has never signed, so it is dropped, and a new
// key of the new algorithm becomes active at once; as it was not published
// before, external verifiers must refresh their JWKS cache on an unknown kid
// (our own guard reads the key set directly and is never behind).
//
// The RS256 keys that sign only ID tokens rotate with the operator's: when
// alg is not RS256 their next key becomes active and a new one is made
// beside it; when alg is RS256 the operator's key signs ID tokens too, so
// they retire (and stay published for keep, as retired keys do).
func Rotate(keys []storage.SigningKey, alg string, now time.Time, keep time.Duration) ([]storage.SigningKey, error) {
	if !supportedAlg(alg) {
		return nil, fmt.Errorf("rotate keys: %q: %w", alg, ErrUnsupportedAlgorithm)
	}
	if keep < 0 {
		return nil, errors.New("rotate keys: negative keep duration")
	}
	out, err := rotateTrack(keys, "", alg, now, keep)
	if err != nil {
		return nil, fmt.Errorf("rotate keys: %w", err)
	}
	if out, err = rotateTrack(out, storage.KeyUseIDToken, idTokenTrackAlg(alg), now, keep); err != nil {
		return nil, fmt.Errorf("rotate keys: %w", err)
	}
	return readableByOlderBuilds(out, now), nil
}

// readableByOlderBuilds arranges keys so that a build older than the
// ID-token keys, which ignores Use and may share the store during a rolling
// upgrade, still signs access tokens with the operator's key and promotes
// the operator's next key when it rotates. Such a build signs with the
// unretired active key of the latest ActiveAt, and takes as next the
// pending key of the latest CreatedAt, the later in the list on a tie. So
// every ID-token key comes first (a stable partition), none is active from
// a later time than the operator's active key, and none was made later
// than the operator's next key: their times are bounded by those, which
// changes nothing for this build, as each track picks its own keys.
func readableByOlderBuilds(keys []storage.SigningKey, now time.Time) []storage.SigningKey {
	out := make([]storage.SigningKey, 0, len(keys))
	for _, k := range keys {
		if k.Use == storage.KeyUseIDToken {
			out = append(out, k)
		}
	}
	idKeys := len(out)
	for _, k := range keys {
		if k.Use != storage.KeyUseIDToken {
			out = append(out, k)
		}
	}
	si, ni := signingIndex(out, "", now), nextIndex(out, "", now)
	for i := range out[:idKeys] {
		if si >= 0 && out[i].ActiveAt.After(out[si].ActiveAt) {
			out[i].ActiveAt = out[si].ActiveAt
		}
		if ni >= 0 && out[i].CreatedAt.After(out[ni].CreatedAt) {
			out[i].CreatedAt = out[ni].CreatedAt
		}
	}
	return out
}

// idTokenTrackAlg is the algorithm of the ID-token keys beside an
// operator's key of alg: RS256, or "" (none) when alg is RS256 itself.
func idTokenTrackAlg(alg string) string {
	if alg == AlgRS256 {
		return ""
	}
	return AlgRS256
}

// rotateTrack rotates the keys of use, as Rotate describes, and keeps the
// others as they are. With alg "" the track ends: its active keys retire,
// its next key is dropped and no new key is made.
func rotateTrack(keys []storage.SigningKey, use, alg string, now time.Time, keep time.Duration) ([]storage.SigningKey, error) {
	out := make([]storage.SigningKey, 0, len(keys)+2)
	ni := nextIndex(keys, use, now)
	promoted := false
	for i, k := range keys {
		switch {
		case k.Use != use:
			// Another track's key: its own rotation decides.
		case i == ni && k.Algorithm == alg:
			k.ActiveAt = now
			promoted = true
		case i == ni:
			// A next key of another algorithm: never signed, so dropped.
			continue
		case !k.RetiredAt.IsZero():
			if k.RetiredAt.Add(keep).Before(now) {
				continue
			}
		case k.Revoked:
			// Revoked without a retirement time: start its keep period now.
			k.RetiredAt = now
		case k.ActiveAt.IsZero() || k.ActiveAt.After(now):
			// A stale pending key besides the next one: never signed.
			continue
		default:
			// The active key, and any older one still marked active.
			k.RetiredAt = now
		}
		out = append(out, k)
	}
	if alg == "" {
		return out, nil
	}
	if !promoted {
		active, err := generateFor(use, alg, now)
		if err != nil {
			return nil, err
		}
		out = append(out, active)
	}
	next, err := generateFor(use, alg, now)
	if err != nil {
		return nil, err
	}
	next.ActiveAt = time.Time{}
	return append(out, next), nil
}

// EnsureKeys makes sure the set can sign and has a next key. On first start
// (no usable key) it creates an active key and a next key with alg. A set
// without an active key promotes its next key, and a set without a next key
// gets one, of the active key's algorithm. changed reports whether the result
// differs from keys, so the caller can skip a write.
//
// EnsureKeys never switches algorithms: when alg differs from the active
// key's algorithm, the set is left as it is, and moving to alg is the
// operator's explicit act, a Rotate with the new alg (compare
// KeySet.SigningAlgorithm with the configuration to warn about it).
func EnsureKeys(keys []storage.SigningKey, alg string, now time.Time) ([]storage.SigningKey, bool, error) {
	if !supportedAlg(alg) {
		return nil, false, fmt.Errorf("ensure keys: %q: %w", alg, ErrUnsupportedAlgorithm)
	}
	out := append([]storage.SigningKey(nil), keys...)
	out, changed, err := ensure(out, alg, now)
	if err != nil {
		return nil, false, fmt.Errorf("ensure keys: %w", err)
	}
	return out, changed, nil
}

// ensure gives keys (a private copy) an active key and a next key. A new
// active key, needed only when there is no next key to promote, uses alg.
// While the operator's active key is not RS256, the RS256 ID-token keys
// get an active and a next key too.
func ensure(keys []storage.SigningKey, alg string, now time.Time) ([]storage.SigningKey, bool, error) {
	keys, changed, err := ensureTrack(keys, "", alg, now)
	if err != nil {
		return nil, false, err
	}
	idAlg := idTokenTrackAlg(keys[signingIndex(keys, "", now)].Algorithm)
	if idAlg == "" {
		return keys, changed, nil
	}
	keys, idChanged, err := ensureTrack(keys, storage.KeyUseIDToken, idAlg, now)
	if err != nil {
		return nil, false, err
	}
	return readableByOlderBuilds(keys, now), changed || idChanged, nil
}

// ensureTrack gives the keys of use an active key and a next key.
func ensureTrack(keys []storage.SigningKey, use, alg string, now time.Time) ([]storage.SigningKey, bool, error) {
	changed := false
	si := signingIndex(keys, use, now)
	if si < 0 {
		if ni := nextIndex(keys, use, now); ni >= 0 {
			keys[ni].ActiveAt = now
			si = ni
		} else {
			active, err := generateFor(use, alg, now)
			if err != nil {
				return nil, false, err
			}
			keys = append(keys, active)
			si = len(keys) - 1
		}
		changed = true
	}
	if nextIndex(keys, use, now) < 0 {
		next, err := generateFor(use, keys[si].Algorithm, now)
		if err != nil {
			return nil, false, err
		}
		next.ActiveAt = time.Time{}
		keys = append(keys, next)
		changed = true
	}
	return keys, changed, nil
}

// RevokeKey marks the key kid revoked at now, for a key that may be
// compromised: it stops verifying and leaves the JWKS as soon as the caller
// builds a new KeySet. When it was the active key, the next key becomes
// active at once; when no active or next key remains, new ones are made with
// the revoked key's algorithm. Revoking a revoked key changes nothing. A kid
// not in the set is ErrKeyNotFound.
func RevokeKey(keys []storage.SigningKey, kid string, now time.Time) ([]storage.SigningKey, error) {
	idx := -1
	for i, k := range keys {
		if k.ID == kid {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("revoke key: %w", ErrKeyNotFound)
	}
	out := append([]storage.SigningKey(nil), keys...)
	if out[idx].Revoked {
		return out, nil
	}
	out[idx].Revoked = true
	if out[idx].RetiredAt.IsZero() {
		out[idx].RetiredAt = now
	}
	alg := out[idx].Algorithm
	if si := signingIndex(out, "", now); out[idx].Use == storage.KeyUseIDToken && si >= 0 {
		// An ID-token key's revocation leaves the operator's algorithm as it is.
		alg = out[si].Algorithm
	}
	out, _, err := ensure(out, alg, now)
	if err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	return out, nil
}

// generateFor creates a key of use, active at now. ID-token keys have
// 2048 bits, Keycloak's default for its RS256 keys: they sign only ID
// tokens, which live minutes, rotate with the operator's key, and are made
// twice at every rotation and first start, where 3072 bits would cost a
// quarter of a second each.
func generateFor(use, alg string, now time.Time) (storage.SigningKey, error) {
	if use != storage.KeyUseIDToken {
		return GenerateKey(alg, now)
	}
	k, err := generateRSA(rsaMinBits, now)
	k.Use = use
	return k, err
}
