package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrCodeReused: an authorization code was redeemed already. RedeemAuthCode
// returns it with the stored record, whose TokenIDs name the tokens issued
// from the first redemption, so that the caller can revoke them (RFC 6749
// section 4.1.2, RFC 9700 section 4.5).
var ErrCodeReused = errors.New("authorization code used already")

// maxAuthRecordBytes bounds the encoded size of an authorization request
// or code. Both are written on behalf of a browser that has not proved
// anything yet; the authorization request parser bounds each parameter,
// and this is the store's own backstop, so that no record can grow an
// etcd transaction or a bbolt page without limit.
const maxAuthRecordBytes = 16 << 10

// AuthRequest is a pending authorization request, between the
// authorization endpoint and the consent page, stored so that a flow
// started at one gateway can finish at another. Its ID is not a secret:
// the caller binds the request to the browser (BrowserBinding) and checks
// that binding on every step.
type AuthRequest struct {
	// ID is random, chosen by the caller, and stored as it is.
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	// UserID is empty until the person signs in.
	UserID              string   `json:"user_id,omitempty"`
	RedirectURI         string   `json:"redirect_uri,omitempty"`
	Scopes              []string `json:"scopes,omitempty"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	Resources           []string `json:"resources,omitempty"`
	Prompt              string   `json:"prompt,omitempty"`
	// MaxAge is the max_age parameter in seconds; -1 when absent.
	MaxAge int `json:"max_age"`
	// BrowserBinding is a hash the caller computes from what only the
	// browser that started the flow holds; the store compares nothing.
	BrowserBinding string    `json:"browser_binding,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	// ExpiresAt ends the request; it cannot change once stored (a shared
	// store keeps the request under a lease that ends then).
	ExpiresAt time.Time `json:"expires_at"`
}

// Live reports whether the request has not expired at now. Stores may
// return an expired request that is not pruned yet: callers check this.
func (r AuthRequest) Live(now time.Time) bool { return now.Before(r.ExpiresAt) }

// AuthCode is an issued authorization code. Only a hash of the code is
// stored, as its ID, so a copy of the store redeems nothing.
type AuthCode struct {
	// ID is the hash of the code (the caller's choice of hash).
	ID                  string    `json:"id"`
	ClientID            string    `json:"client_id"`
	UserID              string    `json:"user_id"`
	SessionID           string    `json:"session_id,omitempty"`
	RedirectURI         string    `json:"redirect_uri,omitempty"`
	Scopes              []string  `json:"scopes,omitempty"`
	Resources           []string  `json:"resources,omitempty"`
	Nonce               string    `json:"nonce,omitempty"`
	CodeChallenge       string    `json:"code_challenge,omitempty"`
	CodeChallengeMethod string    `json:"code_challenge_method,omitempty"`
	AuthTime            time.Time `json:"auth_time,omitzero"`
	CreatedAt           time.Time `json:"created_at"`
	// ExpiresAt ends the code (60 seconds after it is issued, by RFC
	// 9700's advice); the record is kept until then even once used, so
	// that a second redemption is recognised as reuse.
	ExpiresAt time.Time `json:"expires_at"`
	// UsedAt is when the code was redeemed; zero until then.
	UsedAt time.Time `json:"used_at,omitzero"`
	// TokenIDs are the JTIs of the tokens issued from the code, to
	// revoke when it is used again.
	TokenIDs []string `json:"token_ids,omitempty"`
}

// Consent is what a person approved for one client. Withdrawing it keeps
// the record, with no scopes, so that TokensRevokedAt survives: the guard
// compares a token's iat with it, and a token issued before a withdrawal
// must stay refused after the person consents again. A separate record, or
// a map on the user, would be a second read on every guarded request of a
// person; this is one cached read for both answers.
type Consent struct {
	UserID   string `json:"user_id"`
	ClientID string `json:"client_id"`
	// Scopes are the scopes approved; empty once withdrawn.
	Scopes    []string  `json:"scopes,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// WithdrawnAt is when the person last withdrew the consent; zero while
	// it was never withdrawn. A consent given again after a withdrawal
	// keeps it (Granted tells the state).
	WithdrawnAt time.Time `json:"withdrawn_at,omitzero"`
	// TokensRevokedAt ends every token the client holds for the person
	// issued at or before it; zero means never. Withdrawing sets it.
	TokensRevokedAt time.Time `json:"tokens_revoked_at,omitzero"`
}

// Granted reports whether the consent stands: given, and not withdrawn
// since.
func (c Consent) Granted() bool {
	return len(c.Scopes) > 0
}

// Withdrawn returns c withdrawn at at: no scopes, and every token issued
// until then ended. The one rule both stores withdraw by.
func (c Consent) Withdrawn(at time.Time) Consent {
	c.Scopes = nil
	c.WithdrawnAt = at
	c.UpdatedAt = at
	if at.After(c.TokensRevokedAt) {
		c.TokensRevokedAt = at
	}
	return c
}

// Clone returns a deep copy of c.
func (c Consent) Clone() Consent {
	c.Scopes = slices.Clone(c.Scopes)
	return c
}

// MarshalAuthRequest returns the stored form of r: a version byte, then
// JSON, as for sessions.
func MarshalAuthRequest(r AuthRequest) ([]byte, error) { return marshalBounded(r) }

// UnmarshalAuthRequest decodes what MarshalAuthRequest returned.
func UnmarshalAuthRequest(data []byte) (AuthRequest, error) {
	var r AuthRequest
	if err := unmarshalVersioned(data, &r); err != nil {
		return AuthRequest{}, fmt.Errorf("authorization request record: %w", err)
	}
	return r, nil
}

// MarshalAuthCode returns the stored form of c.
func MarshalAuthCode(c AuthCode) ([]byte, error) { return marshalBounded(c) }

// UnmarshalAuthCode decodes what MarshalAuthCode returned.
func UnmarshalAuthCode(data []byte) (AuthCode, error) {
	var c AuthCode
	if err := unmarshalVersioned(data, &c); err != nil {
		return AuthCode{}, fmt.Errorf("authorization code record: %w", err)
	}
	return c, nil
}

// MarshalConsent returns the stored form of c.
func MarshalConsent(c Consent) ([]byte, error) { return marshalVersioned(c) }

// UnmarshalConsent decodes what MarshalConsent returned.
func UnmarshalConsent(data []byte) (Consent, error) {
	var c Consent
	if err := unmarshalVersioned(data, &c); err != nil {
		return Consent{}, fmt.Errorf("consent record: %w", err)
	}
	return c, nil
}

// marshalBounded is marshalVersioned refusing a record larger than
// maxAuthRecordBytes with ErrLimitExceeded.
func marshalBounded(v any) ([]byte, error) {
	data, err := marshalVersioned(v)
	if err != nil {
		return nil, err
	}
	if len(data) > maxAuthRecordBytes {
		return nil, fmt.Errorf("record of %d bytes, more than %d: %w", len(data), maxAuthRecordBytes, ErrLimitExceeded)
	}
	return data, nil
}

// CheckAuthRequestIdentity refuses a request that a backend could not
// key: an empty ID or client ID, or no expiry.
func CheckAuthRequestIdentity(r AuthRequest) error {
	switch {
	case r.ID == "":
		return errors.New("empty authorization request id")
	case r.ClientID == "":
		return fmt.Errorf("authorization request %q has an empty client id", r.ID)
	case r.ExpiresAt.IsZero():
		return fmt.Errorf("authorization request %q has no expiry", r.ID)
	}
	return nil
}

// CheckAuthCodeIdentity refuses a code that a backend could not key or
// cascade: an empty ID, client ID or user ID, or no expiry.
func CheckAuthCodeIdentity(c AuthCode) error {
	switch {
	case c.ID == "":
		return errors.New("empty authorization code id")
	case c.ClientID == "":
		return errors.New("authorization code with an empty client id")
	case c.UserID == "":
		return errors.New("authorization code with an empty user id")
	case c.ExpiresAt.IsZero():
		return errors.New("authorization code with no expiry")
	}
	return nil
}

// CheckConsentIdentity refuses an empty user or client ID.
func CheckConsentIdentity(userID, clientID string) error {
	if userID == "" || clientID == "" {
		return errors.New("consent needs a user id and a client id")
	}
	return nil
}

// CheckAuthRequestUpdate refuses an update that changed the request's ID
// or expiry: the one rule both stores apply.
func CheckAuthRequestUpdate(old, next AuthRequest) error {
	if next.ID != old.ID {
		return fmt.Errorf("authorization request %q: the id cannot change", old.ID)
	}
	if !next.ExpiresAt.Equal(old.ExpiresAt) {
		return fmt.Errorf("authorization request %q: the expiry cannot change", old.ID)
	}
	return nil
}

// CloneAuthRequest returns a deep copy of r, for an update function.
func CloneAuthRequest(r AuthRequest) AuthRequest {
	r.Scopes = slices.Clone(r.Scopes)
	r.Resources = slices.Clone(r.Resources)
	return r
}

// CheckConsentUpdate refuses an update that moved the consent to another
// pair.
func CheckConsentUpdate(old, next Consent) error {
	if next.UserID != old.UserID || next.ClientID != old.ClientID {
		return errors.New("consent: the user and client cannot change")
	}
	return nil
}

// Redeemed applies a redemption at now to a stored code: the code marked
// used and holding the JTIs to be issued from it, or ErrCodeReused with the record as it is, or ErrNotFound when it
// expired unused. The one rule both stores redeem by.
func Redeemed(c AuthCode, now time.Time, jtis []string) (AuthCode, error) {
	if !c.UsedAt.IsZero() {
		return c, ErrCodeReused
	}
	if !now.Before(c.ExpiresAt) {
		return AuthCode{}, fmt.Errorf("expired: %w", ErrNotFound)
	}
	c.UsedAt = now
	c.TokenIDs = slices.DeleteFunc(slices.Clone(jtis), func(jti string) bool { return jti == "" })
	return c, nil
}

// SortConsents orders consents by client ID, the order ListUserConsents
// returns.
func SortConsents(consents []Consent) {
	slices.SortFunc(consents, func(a, b Consent) int { return strings.Compare(a.ClientID, b.ClientID) })
}
