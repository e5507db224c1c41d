package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A refresh token family (RFC 6749 §6, rotation per RFC 9700 §4.14) is one
// record: the grant a person gave an app through one authorization code,
// and the hashes of the refresh tokens issued for it since. The token names
// its family, so a refresh reads and rewrites one record by compare-and-
// swap, and the family's JTIs are recorded in the same write as the
// rotation that issues them, as a code's redemption records its token.

// Bounds of a family's lists. A family lives up to 90 days and a client may
// refresh at any pace, so the lists keep the newest entries only: a token
// rotated more than MaxRotatedRefresh rotations ago is no longer known, and
// is refused as unknown rather than as a replay (it cannot revoke a family
// it is no longer listed in); an access token whose JTI was dropped was
// issued more than MaxFamilyAccessTokens refreshes ago.
const (
	// MaxRotatedRefresh is how many rotated token hashes a family keeps.
	MaxRotatedRefresh = 64
	// MaxLiveRefresh is how many current tokens a family holds at once:
	// one, plus the siblings issued to retries within the grace period.
	MaxLiveRefresh = 4
	// MaxFamilyAccessTokens is how many unexpired access token JTIs a
	// family keeps, to revoke on a replay.
	MaxFamilyAccessTokens = 64
)

// RefreshFamily is a person's grant to an app that refresh tokens carry.
type RefreshFamily struct {
	// ID is random, chosen by the caller; the tokens carry it, beside
	// their secret part.
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	UserID   string `json:"user_id"`
	// Scopes are the scopes granted by the code: the most a refresh may
	// ask for (RFC 6749 §6).
	Scopes    []string `json:"scopes,omitempty"`
	Resources []string `json:"resources,omitempty"`
	// AuthTime is when the person signed in, carried into every token.
	AuthTime  time.Time `json:"auth_time,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is the family's absolute end, set by its first token; no
	// rotation moves it.
	ExpiresAt time.Time `json:"expires_at"`
	// Current are the hashes of the tokens that may be used now.
	Current []string `json:"current"`
	// Rotated are the hashes of used tokens, newest last.
	Rotated []RotatedRefresh `json:"rotated,omitempty"`
	// AccessTokens are the access tokens the family gave, newest last.
	AccessTokens []FamilyToken `json:"access_tokens,omitempty"`
	// LastUsedAt is when a token of the family was last used.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// ReplayedAt is when a rotated token was presented again after the
	// grace period: the family is revoked from then on.
	ReplayedAt time.Time `json:"replayed_at,omitzero"`
}

// RotatedRefresh is a used refresh token: its hash and when it was used.
type RotatedRefresh struct {
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
}

// FamilyToken is an access token a family gave.
type FamilyToken struct {
	JTI       string    `json:"jti"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Live reports whether the family can still be used at now: not past its
// absolute end, and not revoked by a replay.
func (f RefreshFamily) Live(now time.Time) bool {
	return now.Before(f.ExpiresAt) && f.ReplayedAt.IsZero()
}

// Holds reports whether hash is one of the family's tokens, current or
// rotated (and still listed).
func (f RefreshFamily) Holds(hash string) bool {
	return slices.Contains(f.Current, hash) || slices.ContainsFunc(f.Rotated, func(r RotatedRefresh) bool { return r.Hash == hash })
}

// Clone returns a deep copy of f.
func (f RefreshFamily) Clone() RefreshFamily {
	f.Scopes = slices.Clone(f.Scopes)
	f.Resources = slices.Clone(f.Resources)
	f.Current = slices.Clone(f.Current)
	f.Rotated = slices.Clone(f.Rotated)
	f.AccessTokens = slices.Clone(f.AccessTokens)
	return f
}

// RefreshUse is what presenting a refresh token did to its family.
type RefreshUse int

const (
	// RefreshUnknown: the token is not one of the family's, or the family
	// has ended; nothing changes.
	RefreshUnknown RefreshUse = iota
	// RefreshRotated: a current token was used; the new token replaces
	// every current one, which become rotated.
	RefreshRotated
	// RefreshRetried: a token rotated less than the grace period ago was
	// presented again (a client's retry of a request whose answer it lost,
	// or its concurrent refreshes); the new token joins the current ones.
	RefreshRetried
	// RefreshReplayed: a token rotated longer ago than the grace period
	// was presented again. One of its two holders is not the client: the
	// family is revoked, and its access tokens must be.
	RefreshReplayed
)

// RefreshRotation is the token a use issues: the new refresh token's hash
// and the access token given with it.
type RefreshRotation struct {
	Hash        string
	AccessToken FamilyToken
}

// UseRefresh applies the use of the token with hash hash at now to f, and
// returns the family to store and what the use was. The one rule both
// stores' callers rotate by (see RefreshUse). grace is how long after its
// rotation a token may still be presented as a retry; a retry gets a new
// token as long as fewer than MaxLiveRefresh are current, and is refused
// as unknown past that (retries are not unbounded). A replay marks the
// family replayed; a use of an ended family changes nothing.
func UseRefresh(f RefreshFamily, hash string, now time.Time, grace time.Duration, next RefreshRotation) (RefreshFamily, RefreshUse) {
	if !f.Live(now) || hash == "" {
		return f, RefreshUnknown
	}
	if slices.Contains(f.Current, hash) {
		for _, h := range f.Current {
			f.Rotated = append(f.Rotated, RotatedRefresh{Hash: h, At: now})
		}
		f.Current = []string{next.Hash}
		return f.issued(now, next), RefreshRotated
	}
	i := slices.IndexFunc(f.Rotated, func(r RotatedRefresh) bool { return r.Hash == hash })
	switch {
	case i < 0:
		return f, RefreshUnknown
	case now.Sub(f.Rotated[i].At) > grace:
		f.ReplayedAt = now
		f.Current = nil
		return f, RefreshReplayed
	case len(f.Current) >= MaxLiveRefresh:
		return f, RefreshUnknown
	}
	f.Current = append(f.Current, next.Hash)
	return f.issued(now, next), RefreshRetried
}

// issued records the access token of a use and trims the lists to their
// bounds, dropping expired access tokens first.
func (f RefreshFamily) issued(now time.Time, next RefreshRotation) RefreshFamily {
	f.LastUsedAt = now
	f.AccessTokens = slices.DeleteFunc(f.AccessTokens, func(t FamilyToken) bool { return !now.Before(t.ExpiresAt) })
	if next.AccessToken.JTI != "" {
		f.AccessTokens = append(f.AccessTokens, next.AccessToken)
	}
	if n := len(f.AccessTokens) - MaxFamilyAccessTokens; n > 0 {
		f.AccessTokens = slices.Delete(f.AccessTokens, 0, n)
	}
	if n := len(f.Rotated) - MaxRotatedRefresh; n > 0 {
		f.Rotated = slices.Delete(f.Rotated, 0, n)
	}
	return f
}

// MarshalRefreshFamily returns the stored form of f: a version byte, then
// JSON, as for codes; ErrLimitExceeded past the bound of codes.
func MarshalRefreshFamily(f RefreshFamily) ([]byte, error) { return marshalBounded(f) }

// UnmarshalRefreshFamily decodes what MarshalRefreshFamily returned.
func UnmarshalRefreshFamily(data []byte) (RefreshFamily, error) {
	var f RefreshFamily
	if err := unmarshalVersioned(data, &f); err != nil {
		return RefreshFamily{}, fmt.Errorf("refresh token family record: %w", err)
	}
	return f, nil
}

// CheckRefreshFamilyIdentity refuses a family that a backend could not key
// or cascade: an empty ID, client ID or user ID, or no expiry.
func CheckRefreshFamilyIdentity(f RefreshFamily) error {
	switch {
	case f.ID == "":
		return errors.New("empty refresh token family id")
	case f.ClientID == "" || f.UserID == "":
		return errors.New("refresh token family needs a client id and a user id")
	case f.ExpiresAt.IsZero():
		return errors.New("refresh token family with no expiry")
	}
	return nil
}

// CheckRefreshFamilyUpdate refuses an update that moved the family to
// another ID, client, user or end: the one rule both stores apply.
func CheckRefreshFamilyUpdate(old, next RefreshFamily) error {
	if next.ID != old.ID || next.ClientID != old.ClientID || next.UserID != old.UserID {
		return fmt.Errorf("refresh token family %q: the id, client and user cannot change", old.ID)
	}
	if !next.ExpiresAt.Equal(old.ExpiresAt) {
		return fmt.Errorf("refresh token family %q: the expiry cannot change", old.ID)
	}
	return nil
}

// SortRefreshFamilies orders families by client ID, then creation time:
// the order ListUserRefreshFamilies returns.
func SortRefreshFamilies(families []RefreshFamily) {
	slices.SortFunc(families, func(a, b RefreshFamily) int {
		if c := strings.Compare(a.ClientID, b.ClientID); c != 0 {
			return c
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
}
