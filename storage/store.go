// Package storage defines where Scopegate keeps its state: API clients, signing
// keys, token revocations and usage counters. Store is the small interface every
// backend implements; Open returns the embedded bbolt backend and NewCached wraps
// any Store in an LRU cache. Every implementation passes the conformance suite in
// storage/storagetest.
//
// A store that many gateways share (storage/etcd) is also a Shared: it serves
// reads from a local copy, tells its followers what changed (Follow), reports
// how fresh the copy is (Health), and answers ErrUnavailable when it cannot
// serve a call now. Copy moves everything from one Store to another, for a
// move from the embedded store to a shared one.
//
// Records are values that a Store shares with its callers read-only: a Store
// never changes memory it has returned, and it copies what it is given. Callers
// must not modify a returned record's slices or maps; UpdateClient hands its
// callback a private copy that may be changed freely.
package storage

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"time"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrNotFound: no record with that key.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a client with that ID, or with that name in any letter
	// case, exists already. Names are compared under Unicode simple case
	// folding, as strings.EqualFold does: "Billing" and "BILLING" are the same
	// name, "Straße" and "STRASSE" are not.
	ErrAlreadyExists = errors.New("already exists")
	// ErrLimitExceeded: creating the record would pass the configured maximum
	// (of clients, of users), or an authorization request or code is larger
	// than a store keeps.
	ErrLimitExceeded = errors.New("limit exceeded")
)

// Client is an API client as stored. Validation of its fields is the
// registry's job; a Store only enforces identity (unique ID, unique name
// ignoring case) and the client count limit.
type Client struct {
	ID           string   `json:"client_id"`
	Name         string   `json:"client_name"`
	Secrets      []Secret `json:"secrets,omitempty"`
	GrantTypes   []string `json:"grant_types,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	Audience     []string `json:"audience,omitempty"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// IPAllowlist holds normalised prefixes, parsed once when the record is
	// decoded so the hot path never parses text. Empty means any address.
	IPAllowlist         []netip.Prefix  `json:"ip_allowlist,omitempty"`
	Features            []string        `json:"features,omitempty"`
	RequireScopeRequest bool            `json:"require_scope_request"`
	AccessTokenTTL      time.Duration   `json:"access_token_ttl,omitempty"`
	Claims              json.RawMessage `json:"claims,omitempty"`
	Disabled            bool            `json:"disabled,omitempty"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	CreatedAt           time.Time       `json:"created_at"`
	UpdatedAt           time.Time       `json:"updated_at"`
	// TokensRevokedAt is the revoke-all moment: every token issued to the
	// client at or before it is refused. Zero means never.
	TokensRevokedAt time.Time `json:"tokens_revoked_at,omitzero"`
	// TokenEndpointAuthMethod is how the client authenticates at the token
	// endpoint (RFC 7591 §2): "" for the default, AuthMethodSecretBasic;
	// AuthMethodSecretPost; or AuthMethodNone for a public client, which
	// holds no secret. AuthMethod names the default.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// SkipConsent lets the client's authorization requests go without the
	// consent page (a first-party app); set by admins only.
	SkipConsent bool `json:"skip_consent,omitempty"`
	// PKCEOptional lets a confidential client's authorization requests go
	// without PKCE. Its zero value, PKCE required, is the default, so a
	// record written before the field existed requires it.
	PKCEOptional bool `json:"pkce_optional,omitempty"`
	// Registered marks a client that registered itself (RFC 7591 dynamic
	// registration) rather than one an administrator created: the consent
	// page is never skipped for it (see SkipsConsent), and operators find
	// it by this mark.
	Registered bool `json:"registered,omitempty"`
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back to the app (OpenID Connect RP-Initiated Logout 1.0),
	// compared exactly.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// RefreshTokenTTL is the lifetime of the refresh token families the
	// client gets, bounded by the server's maximum; zero takes the
	// server's default.
	RefreshTokenTTL time.Duration `json:"refresh_token_ttl,omitempty"`
	// IDTokenSignedResponseAlg is the JWS algorithm of the client's ID
	// tokens (OpenID Connect Registration §2); "" takes the operator's
	// signing algorithm.
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`
}

// SkipsConsent reports whether the client's authorization requests go
// without the consent page, and its tokens held for people without a
// consent record: only for a first-party app an administrator marked so, or
// one an administrator trusts with people's passwords (the "password"
// grant, which asks no consent: the operator approved the app for
// everyone), never for one that registered itself, whatever its
// skip_consent or grants say (an admin's later edit included).
func (c Client) SkipsConsent() bool {
	return (c.SkipConsent || slices.Contains(c.GrantTypes, "password")) && !c.Registered
}

// Token endpoint authentication methods a client registers (RFC 7591 §2).
const (
	AuthMethodSecretBasic = "client_secret_basic"
	AuthMethodSecretPost  = "client_secret_post"
	// AuthMethodNone is a public client's: no secret, no authentication.
	AuthMethodNone = "none"
)

// AuthMethod returns the client's token endpoint authentication method,
// with the default named.
func (c Client) AuthMethod() string {
	if c.TokenEndpointAuthMethod == "" {
		return AuthMethodSecretBasic
	}
	return c.TokenEndpointAuthMethod
}

// Public reports whether the client is a public client (RFC 6749 §2.1):
// one that holds no secret and cannot authenticate.
func (c Client) Public() bool {
	return c.TokenEndpointAuthMethod == AuthMethodNone
}

// Secret is one client secret. Only a hash of the secret is ever stored.
type Secret struct {
	ID        string    `json:"id"`
	Hash      []byte    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the secret stops working; zero means never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// SigningKey is a token signing key with its lifecycle.
type SigningKey struct {
	// ID is the key's `kid`.
	ID string `json:"kid"`
	// Algorithm is the JWS algorithm the key is pinned to (ES256, RS256, EdDSA).
	Algorithm string `json:"alg"`
	// PrivateKey is the PKCS #8 DER encoding of the private key.
	PrivateKey []byte    `json:"private_key"`
	CreatedAt  time.Time `json:"created_at"`
	// ActiveAt is when the key starts signing; until then it is only published.
	ActiveAt time.Time `json:"active_at"`
	// RetiredAt is when the key stopped signing (zero: not retired). It stays
	// published until every token it signed has expired.
	RetiredAt time.Time `json:"retired_at,omitzero"`
	// Revoked marks a key retired early because it may be compromised: tokens
	// it signed are refused at once.
	Revoked bool `json:"revoked,omitempty"`
	// Use is what the key signs: "" for every token in the operator's
	// algorithm, KeyUseIDToken for a key that signs only ID tokens (the
	// RS256 key OpenID Connect requires beside another algorithm).
	Use string `json:"use,omitempty"`
}

// KeyUseIDToken is the Use of a signing key that signs ID tokens only.
const KeyUseIDToken = "id_token"

// Revocation records one revoked access token until the token would have
// expired anyway.
type Revocation struct {
	JTI       string    `json:"jti"`
	ClientID  string    `json:"client_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Usage holds a client's usage counters.
type Usage struct {
	TokensIssued    uint64    `json:"tokens_issued"`
	LastTokenAt     time.Time `json:"last_token_at,omitzero"`
	RequestsAllowed uint64    `json:"requests_allowed"`
	RequestsDenied  uint64    `json:"requests_denied"`
	LastSeenAt      time.Time `json:"last_seen_at,omitzero"`
}

// Add returns u with d added: counts summed, the later of each time kept.
func (u Usage) Add(d Usage) Usage {
	u.TokensIssued += d.TokensIssued
	u.RequestsAllowed += d.RequestsAllowed
	u.RequestsDenied += d.RequestsDenied
	if d.LastTokenAt.After(u.LastTokenAt) {
		u.LastTokenAt = d.LastTokenAt
	}
	if d.LastSeenAt.After(u.LastSeenAt) {
		u.LastSeenAt = d.LastSeenAt
	}
	return u
}

// ListOptions selects a page of clients (or users, or roles; see their
// methods), in ascending order of ID.
type ListOptions struct {
	// After is the ID the page starts after; empty starts at the beginning.
	After string
	// Limit is the page size; it must be at least 1.
	Limit int
	// Name, when set, keeps only the client with exactly this name (ignoring
	// case, as ErrAlreadyExists describes).
	Name string
	// Registered, when set, keeps only the clients whose Registered field
	// equals it: those that registered themselves (true) or those an
	// administrator made (false). The filter is applied inside the listing,
	// so a page still fills up to Limit. Users and roles have no such
	// field, and their listings ignore it.
	Registered *bool
}

// SelectsClient reports whether c passes the filters a listing checks on
// each client it reads (Registered); After and Name are resolved by the
// listing's order and index. Every Store's ListClients calls it, so that
// the engines agree.
func (o ListOptions) SelectsClient(c Client) bool {
	return o.Registered == nil || c.Registered == *o.Registered
}

// Store keeps Scopegate's state. Implementations are safe for concurrent use.
type Store interface {
	// CreateClient stores a new client. It fails with ErrAlreadyExists when the
	// ID or the name (ignoring case) is taken, and with ErrLimitExceeded when
	// maxClients clients exist already (maxClients <= 0: no limit).
	CreateClient(ctx context.Context, c Client, maxClients int) error
	// GetClient returns the client with that ID, or ErrNotFound.
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns a page of clients and whether more follow.
	ListClients(ctx context.Context, opts ListOptions) (page []Client, more bool, err error)
	// UpdateClient replaces the client with what update returns, atomically.
	// An error from update aborts the change and is returned as it is. The ID
	// cannot change; a new name must not be taken by another client
	// (ErrAlreadyExists). It returns the stored result.
	//
	// update may be called more than once for one UpdateClient (a store may
	// group concurrent writes into one transaction and retry it), so it must
	// be a pure function of its argument, without side effects.
	UpdateClient(ctx context.Context, id string, update func(Client) (Client, error)) (Client, error)
	// DeleteClient removes the client, its usage counters, the
	// consents given to it and its refresh token families, or returns
	// ErrNotFound. Its pending
	// authorization requests and codes stay until they expire: they
	// cannot be redeemed, as the token endpoint authenticates the client.
	DeleteClient(ctx context.Context, id string) error
	// CountClients returns how many clients exist.
	CountClients(ctx context.Context) (int, error)

	// CreateUser stores a new user. It fails with ErrAlreadyExists when the
	// ID or the username (ignoring case, as for client names) is taken, and
	// with ErrLimitExceeded when maxUsers users exist already (maxUsers <=
	// 0: no limit).
	CreateUser(ctx context.Context, u User, maxUsers int) error
	// GetUser returns the user with that ID, or ErrNotFound.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByUsername returns the user with that username, ignoring case,
	// or ErrNotFound.
	GetUserByUsername(ctx context.Context, username string) (User, error)
	// ListUsers returns a page of users in ascending order of ID; Name in
	// opts filters by username (ignoring case).
	ListUsers(ctx context.Context, opts ListOptions) (page []User, more bool, err error)
	// UpdateUser replaces the user with what update returns, atomically, as
	// UpdateClient does: the ID cannot change, a new username must not be
	// another user's (ErrAlreadyExists), and update must be pure.
	UpdateUser(ctx context.Context, id string, update func(User) (User, error)) (User, error)
	// DeleteUser removes the user and, in the same transaction where the
	// store allows, every session, consent, authorization request,
	// authorization code and refresh token family of the user, or returns
	// ErrNotFound.
	DeleteUser(ctx context.Context, id string) error
	// CountUsers returns how many users exist.
	CountUsers(ctx context.Context) (int, error)

	// CreateRole stores a new role, or fails with ErrAlreadyExists when its
	// name (compared exactly) is taken.
	CreateRole(ctx context.Context, r Role) error
	// GetRole returns the role with that name, or ErrNotFound.
	GetRole(ctx context.Context, name string) (Role, error)
	// ListRoles returns a page of roles in ascending order of name; After
	// is a role name, and Name keeps only the role of exactly that name.
	ListRoles(ctx context.Context, opts ListOptions) (page []Role, more bool, err error)
	// UpdateRole replaces the role with what update returns, atomically;
	// the name cannot change (a role is renamed by creating another). update
	// must be pure, as for UpdateClient.
	UpdateRole(ctx context.Context, name string, update func(Role) (Role, error)) (Role, error)
	// DeleteRole removes the role, or returns ErrNotFound. Users that hold
	// it keep its name until the registry removes it from them.
	DeleteRole(ctx context.Context, name string) error

	// CreateSession stores a new session. It fails with ErrAlreadyExists
	// when the ID is taken. When the user holds maxPerUser sessions
	// already (maxPerUser <= 0: no limit), the least recently seen ones
	// are ended in the same transaction, so that a person signing in on
	// a new device is never refused and a flood of sign-ins cannot grow
	// the store without bound. The store does not check that the user
	// exists: the session manager does on every lookup.
	CreateSession(ctx context.Context, s Session, maxPerUser int) error
	// GetSession returns the session with that ID, or ErrNotFound. It may
	// return a session that has ended but is not pruned yet: callers
	// check Session.Live.
	GetSession(ctx context.Context, id string) (Session, error)
	// TouchSession records that the session was used at seen: LastSeenAt
	// becomes the later of the stored one and seen. ErrNotFound when the
	// session does not exist.
	TouchSession(ctx context.Context, id string, seen time.Time) error
	// DeleteSession ends a session, or returns ErrNotFound.
	DeleteSession(ctx context.Context, id string) error
	// ListUserSessions returns the user's sessions, oldest first (by
	// CreatedAt), ended but unpruned ones included.
	ListUserSessions(ctx context.Context, userID string) ([]Session, error)
	// DeleteUserSessions ends every session of the user and returns how
	// many there were.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// PruneSessions deletes the sessions that have ended at now: past
	// ExpiresAt, or idle past LastSeenAt+IdleTimeout (Session.Live).
	PruneSessions(ctx context.Context, now time.Time) error

	// CreateAuthRequest stores a pending authorization request, or fails
	// with ErrAlreadyExists when the ID is taken, and with
	// ErrLimitExceeded when its record is larger than the store takes.
	// It lives until ExpiresAt (a shared store forgets it then by itself).
	CreateAuthRequest(ctx context.Context, r AuthRequest) error
	// GetAuthRequest returns the request, or ErrNotFound. It may return
	// an expired one not pruned yet: callers check AuthRequest.Live.
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	// UpdateAuthRequest replaces the request with what update returns,
	// atomically; the ID and ExpiresAt cannot change. update must be pure,
	// as for UpdateClient. ErrNotFound when the request does not exist.
	UpdateAuthRequest(ctx context.Context, id string, update func(AuthRequest) (AuthRequest, error)) (AuthRequest, error)
	// DeleteAuthRequest removes the request, or returns ErrNotFound.
	DeleteAuthRequest(ctx context.Context, id string) error
	// PruneAuthRequests deletes the requests expired at now.
	PruneAuthRequests(ctx context.Context, now time.Time) error

	// CreateAuthCode stores an issued code (by its hash), or fails with
	// ErrAlreadyExists or ErrLimitExceeded as CreateAuthRequest does.
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// RedeemAuthCode marks the code used at now and records the JTIs of
	// the tokens the redemption will issue, atomically: of many concurrent
	// redemptions exactly one succeeds, and any later one finds the JTIs
	// to revoke, however soon it comes. A code used already gives the
	// stored record with ErrCodeReused; an unknown code, or one expired
	// unused, ErrNotFound.
	RedeemAuthCode(ctx context.Context, id string, now time.Time, jtis ...string) (AuthCode, error)
	// PruneAuthCodes deletes the codes expired at now, used or not.
	PruneAuthCodes(ctx context.Context, now time.Time) error

	// LiveAuthRecords returns every authorization request and code that
	// has not expired at now, in no particular order: for Copy, never a
	// request's path.
	LiveAuthRecords(ctx context.Context, now time.Time) ([]AuthRequest, []AuthCode, error)

	// GetConsent returns the person's consent to the client, withdrawn
	// ones included (Consent.Granted tells), or ErrNotFound.
	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	// PutConsent creates or replaces the consent with what update returns,
	// atomically. update gets the stored record, or a zero Consent of the
	// pair (zero CreatedAt) when there is none; the pair cannot change,
	// and update must be pure, as for UpdateClient.
	PutConsent(ctx context.Context, userID, clientID string, update func(Consent) (Consent, error)) (Consent, error)
	// WithdrawConsent withdraws the consent at at (Consent.Withdrawn): the
	// record stays, without scopes, so that its TokensRevokedAt keeps
	// refusing the tokens issued before. ErrNotFound when there is no
	// consent standing.
	WithdrawConsent(ctx context.Context, userID, clientID string, at time.Time) error
	// ListUserConsents returns every consent record of the person,
	// withdrawn ones included, by client ID.
	ListUserConsents(ctx context.Context, userID string) ([]Consent, error)

	// CreateRefreshFamily stores a new refresh token family, or fails with
	// ErrAlreadyExists when the ID is taken, and with ErrLimitExceeded
	// when its record is larger than the store takes. It lives until
	// ExpiresAt (a shared store forgets it then by itself).
	CreateRefreshFamily(ctx context.Context, f RefreshFamily) error
	// GetRefreshFamily returns the family, or ErrNotFound. It may return
	// an ended one not pruned yet: callers check RefreshFamily.Live.
	GetRefreshFamily(ctx context.Context, id string) (RefreshFamily, error)
	// UpdateRefreshFamily replaces the family with what update returns,
	// atomically (of concurrent updates, each sees the one before); the
	// ID, client, user and ExpiresAt cannot change. An error from update
	// writes nothing and is returned as it is; update must be pure, as for
	// UpdateClient. ErrNotFound when the family does not exist.
	UpdateRefreshFamily(ctx context.Context, id string, update func(RefreshFamily) (RefreshFamily, error)) (RefreshFamily, error)
	// DeleteRefreshFamily ends the family, or returns ErrNotFound.
	DeleteRefreshFamily(ctx context.Context, id string) error
	// ListUserRefreshFamilies returns the person's families, ended but
	// unpruned ones included, by client ID and then age.
	ListUserRefreshFamilies(ctx context.Context, userID string) ([]RefreshFamily, error)
	// PruneRefreshFamilies deletes the families past their ExpiresAt.
	PruneRefreshFamilies(ctx context.Context, now time.Time) error

	// SigningKeys returns every stored signing key, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// UpdateSigningKeys replaces the whole key set with what update returns,
	// atomically, so that rotation is one transaction.
	UpdateSigningKeys(ctx context.Context, update func([]SigningKey) ([]SigningKey, error)) ([]SigningKey, error)

	// Revoke records a revoked token. Revoking the same JTI again is not an error.
	Revoke(ctx context.Context, r Revocation) error
	// Revocations returns every revocation that expires after now.
	Revocations(ctx context.Context, now time.Time) ([]Revocation, error)
	// PruneRevocations deletes revocations that expired at or before now.
	PruneRevocations(ctx context.Context, now time.Time) error

	// AddUsage adds each delta to the stored counters of its client. Deltas for
	// clients that no longer exist are dropped.
	AddUsage(ctx context.Context, deltas map[string]Usage) error
	// Usage returns a client's stored counters (zero when none were recorded,
	// which includes a client that does not exist).
	Usage(ctx context.Context, clientID string) (Usage, error)
	// ClientPeople counts, per client ID, the distinct people who use the
	// client at now: who hold a standing consent to it or a live refresh
	// token family of it (PeopleTally is the rule). A client no one uses is
	// absent. It reads every consent and family in one pass (one read
	// transaction, or the local copy of a shared store): for the admin
	// API, never a request's path.
	ClientPeople(ctx context.Context, now time.Time) (map[string]int, error)

	// Close releases the store. It is safe to call more than once.
	Close() error
}
