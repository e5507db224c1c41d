// Package registry holds the rules for Scopegate's API clients: which metadata
// is valid, how client IDs and secrets are made and checked, and the
// operations the admin API offers (create, list, replace, patch, rotate and
// retire secrets, revoke tokens, disable). It holds the same rules for end
// users and the roles they hold (users.go, roles.go), and checks users'
// passwords at sign-in. It builds on a storage.Store and does not import
// Caddy.
package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// Defaults applied by New to a zero Limits field.
const (
	DefaultMaxClients  = 2000
	DefaultMaxUsers    = 10000
	DefaultMaxScopes   = 1000
	DefaultMaxTokenTTL = 90 * time.Minute
)

// Feature names: permissions beyond scopes.
const (
	// FeatureOwner grants the full admin API (remote admin).
	FeatureOwner = "owner"
	// FeatureClientRead grants the read-only part of the admin API.
	FeatureClientRead = "client_read"
	// FeatureIntrospect allows calling the introspection endpoint.
	FeatureIntrospect = "introspect"
	// FeatureDirectAccess grants reading and writing every user record
	// through remote admin.
	FeatureDirectAccess = "direct_access"
	// FeatureDirectReadAccess grants reading every user record through
	// remote admin.
	FeatureDirectReadAccess = "direct_read_access"
	// FeatureLoginClient lets an app read and change only the record of
	// the person signed in to it; it excludes every other feature.
	FeatureLoginClient = "login_client"
	// FeatureAccessIssuer lets a client exchange a person's token for one
	// meant for another client's audience (RFC 8693).
	FeatureAccessIssuer = "access_issuer"
	// FeatureMetadata makes changes through remote admin leave a user's
	// updated_at as it was; only the operator may assign it.
	FeatureMetadata = "metadata"
)

// MaxLiveSecrets is how many unexpired secrets a client may hold at once.
const MaxLiveSecrets = 5

// Sentinel errors, checked with errors.Is. Validation failures are
// *ValidationError instead.
var (
	// ErrNotFound: no client with that ID (or no such secret).
	ErrNotFound = storage.ErrNotFound
	// ErrSecretNotFound: the client has no live secret with that ID. It wraps
	// ErrNotFound.
	ErrSecretNotFound = fmt.Errorf("secret %w", storage.ErrNotFound)
	// ErrNameTaken: another client has the same name, ignoring case. It wraps
	// storage.ErrAlreadyExists.
	ErrNameTaken = fmt.Errorf("client_name is taken: %w", storage.ErrAlreadyExists)
	// ErrLimitExceeded: the store holds Limits.MaxClients clients already.
	ErrLimitExceeded = storage.ErrLimitExceeded
	// ErrUnavailable: the store cannot take the change now (a shared store
	// without a leader or out of reach); it may be retried.
	ErrUnavailable = storage.ErrUnavailable
	// ErrTooManySecrets: a rotation would leave more than MaxLiveSecrets live
	// secrets.
	ErrTooManySecrets = errors.New("too many live secrets")
	// ErrLastSecret: retiring the secret would leave the client without a
	// live secret.
	ErrLastSecret = errors.New("cannot retire the last live secret")
	// ErrPublicClient: the operation needs a secret, and the client is
	// public (token_endpoint_auth_method none), which holds none.
	ErrPublicClient = errors.New("a public client has no secret")
	// ErrInvalidCredentials: authentication failed. Unknown client, wrong
	// secret and expired secret all give this one error.
	ErrInvalidCredentials = errors.New("invalid client credentials")
	// ErrInvalidCursor: a list cursor that this Registry did not issue.
	ErrInvalidCursor = errors.New("invalid cursor")
	// ErrInvalidLimit: a list limit outside 1 to MaxListLimit.
	ErrInvalidLimit = errors.New("invalid limit")
)

// Limits bounds what the registry accepts. New replaces zero fields with
// the defaults.
type Limits struct {
	// MaxClients is the most clients the store may hold. Default 2000; a
	// negative value means no limit.
	MaxClients int
	// MaxScopes is the most scopes one client may hold. Default 1000.
	MaxScopes int
	// MaxTokenTTL is the longest access_token_ttl a client may set.
	// Default 90m.
	MaxTokenTTL time.Duration
	// GrantTypes lists the grants clients may be given. Default: every
	// grant the server implements, grant.Supported.
	GrantTypes []string
	// Features lists the feature names clients may be given. Default: every
	// Feature constant.
	Features []string
	// TokenIssuer is the iss of the tokens clients are issued, and their
	// aud when a client names no audience. It counts toward the length of
	// every token, which must stay within token.MaxLength.
	TokenIssuer string
	// MaxUsers is the most users the store may hold. Default 10000; a
	// negative value means no limit.
	MaxUsers int
	// Passwords hashes and verifies users' passwords. Default: a Hasher
	// with password.DefaultParams and GOMAXPROCS concurrent computations.
	// Share one across Registries so that the bound holds for the process.
	Passwords *password.Hasher
	// PasswordPolicy is what a new password must meet. The zero value
	// applies password's defaults.
	PasswordPolicy password.Policy
	// IDTokenAlgs are the algorithms a client's
	// id_token_signed_response_alg may name: the operator's signing_alg
	// and RS256. Default: ES256 (the default signing_alg) and RS256.
	IDTokenAlgs []string
}

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	if len(l.IDTokenAlgs) == 0 {
		l.IDTokenAlgs = []string{token.AlgES256, token.AlgRS256}
	}
	if l.MaxClients == 0 {
		l.MaxClients = DefaultMaxClients
	}
	if l.MaxUsers == 0 {
		l.MaxUsers = DefaultMaxUsers
	}
	if l.Passwords == nil {
		// DefaultParams are within the bounds, so NewHasher cannot fail.
		l.Passwords, _ = password.NewHasher(password.DefaultParams, 0)
	}
	if l.MaxScopes <= 0 {
		l.MaxScopes = DefaultMaxScopes
	}
	if l.MaxTokenTTL <= 0 {
		l.MaxTokenTTL = DefaultMaxTokenTTL
	}
	if len(l.GrantTypes) == 0 {
		l.GrantTypes = slices.Clone(grant.Supported)
	} else {
		l.GrantTypes = slices.Clone(l.GrantTypes)
	}
	if len(l.Features) == 0 {
		l.Features = []string{FeatureOwner, FeatureClientRead, FeatureIntrospect, FeatureDirectAccess,
			FeatureDirectReadAccess, FeatureLoginClient, FeatureAccessIssuer, FeatureMetadata}
	} else {
		l.Features = slices.Clone(l.Features)
	}
	return l
}

// Registry applies the client rules over a Store. It is safe for concurrent
// use.
type Registry struct {
	// Now returns the current time; nil means time.Now. Tests replace it to
	// move time forward without sleeping; set it before the Registry is
	// used, never concurrently with calls.
	Now func() time.Time

	store  storage.Store
	limits Limits
	// cursorKey signs list cursors. It is random per Registry, so cursors
	// do not survive a restart or a config reload.
	cursorKey [32]byte
	// dummySecrets stand in for an unknown client's secrets, so that
	// Authenticate does the same work whether or not the client exists.
	dummySecrets []storage.Secret
}

// New returns a Registry over store with limits (zero fields take the
// defaults).
func New(store storage.Store, limits Limits) *Registry {
	r := &Registry{
		store:        store,
		limits:       limits.withDefaults(),
		dummySecrets: []storage.Secret{dummySecret()},
	}
	randomBytes(r.cursorKey[:])
	return r
}

// Limits returns the limits in force, with defaults applied.
func (r *Registry) Limits() Limits {
	l := r.limits
	l.GrantTypes = slices.Clone(l.GrantTypes)
	l.Features = slices.Clone(l.Features)
	return l
}

// now returns the current time in UTC without a monotonic reading, so that
// it compares and serialises the same way before and after a store round
// trip.
func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC().Round(0)
	}
	return time.Now().UTC().Round(0)
}

// storeMaxClients is the limit handed to Store.CreateClient (<= 0: none).
func (r *Registry) storeMaxClients() int {
	if r.limits.MaxClients < 0 {
		return 0
	}
	return r.limits.MaxClients
}

// registrationMaxClients is the limit for a client that registers itself:
// a tenth of MaxClients (at least one) short of it, kept for the
// administrators, so that registrations from enough addresses to pass
// every per-source limit can fill the registry only as far as that, and
// an operator can still create clients, for instance to stop the flood.
func (r *Registry) registrationMaxClients() int {
	limit := r.storeMaxClients()
	if limit <= 0 {
		return limit
	}
	return max(limit-max(limit/10, 1), 1)
}

// Create validates m and stores a new client with one fresh secret. It
// returns the client and the secret in plain text: the only time it exists
// outside the caller's hands. A public client gets no secret ("").
func (r *Registry) Create(ctx context.Context, m Metadata) (Client, string, error) {
	rec, err := r.normalize(m)
	if err != nil {
		return Client{}, "", err
	}
	if err := checkMetadataGrant(ctx, nil, rec.Features); err != nil {
		return Client{}, "", err
	}
	rec.ID = newClientID()
	return r.create(ctx, rec, r.storeMaxClients())
}

// registeredTagLen is how many characters of its client ID follow a
// registered client's name.
const registeredTagLen = 8

// Register validates and stores a client that registered itself (RFC 7591
// dynamic registration), as Create does, with three differences: the
// fields only an administrator may set are dropped (StripAdminOnly); the
// record is marked Registered, which an operator sees in the client's view
// and which keeps its consent page from ever being skipped; and its name
// is m's client_name followed by the start of its client ID in
// parentheses, because names are unique: every copy of one app (each
// person's MCP client) registers under the same name, and none may take
// the name of an app an administrator created. Registrations stop short of
// MaxClients (registrationMaxClients), leaving room for administrators.
func (r *Registry) Register(ctx context.Context, m Metadata) (Client, string, error) {
	id := newClientID()
	m = StripAdminOnly(m)
	m.ClientName += " (" + id[:registeredTagLen] + ")"
	rec, err := r.normalize(m)
	if err != nil {
		return Client{}, "", err
	}
	rec.ID, rec.Registered = id, true
	return r.create(ctx, rec, r.registrationMaxClients())
}

// create stores a validated record under its ID with one fresh secret
// unless it is public, refusing it when the store holds maxClients
// clients already (<= 0: no limit), and returns its view and the secret.
func (r *Registry) create(ctx context.Context, rec storage.Client, maxClients int) (Client, string, error) {
	now := r.now()
	secret := ""
	if !rec.Public() {
		var sec storage.Secret
		secret, sec = newSecret(now, 0)
		rec.Secrets = []storage.Secret{sec}
	}
	rec.CreatedAt = now
	rec.UpdatedAt = now
	if err := r.store.CreateClient(ctx, rec, maxClients); err != nil {
		return Client{}, "", storeError("create client", err)
	}
	return r.view(rec, Usage{}, now), secret, nil
}

// Get returns the client with that ID, with its usage counters.
func (r *Registry) Get(ctx context.Context, id string) (Client, error) {
	c, err := r.store.GetClient(ctx, id)
	if err != nil {
		return Client{}, storeError("get client", err)
	}
	return r.withUsage(ctx, c)
}

// Lookup returns the stored record of the client with that ID, as the store
// (and its cache) holds it. The record is shared: it must not be modified.
func (r *Registry) Lookup(ctx context.Context, id string) (storage.Client, error) {
	c, err := r.store.GetClient(ctx, id)
	if err != nil {
		return storage.Client{}, storeError("look up client", err)
	}
	return c, nil
}

// Page limits for List.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ListQuery selects a page of clients.
type ListQuery struct {
	// Name keeps only the client with this name, ignoring case.
	Name string
	// Limit is the page size: 0 means DefaultListLimit; at most MaxListLimit.
	Limit int
	// Cursor is a previous page's NextCursor; empty starts at the beginning.
	Cursor string
	// Registered, when set, keeps only the clients that registered
	// themselves (true) or only those an administrator made (false); a
	// page still fills up to Limit.
	Registered *bool
}

// ListPage is one page of clients, in ascending order of client ID.
type ListPage struct {
	Clients []Client `json:"clients"`
	// NextCursor fetches the next page; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// List returns a page of clients. A cursor that does not verify gives
// ErrInvalidCursor; cursors are signed with a per-Registry key and stop
// working after a restart or config reload.
func (r *Registry) List(ctx context.Context, q ListQuery) (ListPage, error) {
	limit, err := pageLimit("list clients", q.Limit)
	if err != nil {
		return ListPage{}, err
	}
	after := ""
	if q.Cursor != "" {
		id, err := r.openCursor(q.Cursor)
		if err != nil {
			return ListPage{}, fmt.Errorf("list clients: %w", err)
		}
		after = id
	}
	recs, more, err := r.store.ListClients(ctx, storage.ListOptions{After: after, Limit: limit, Name: q.Name, Registered: q.Registered})
	if err != nil {
		return ListPage{}, fmt.Errorf("list clients: %w", err)
	}
	// One count of people for the whole page: it reads every grant.
	people, err := r.store.ClientPeople(ctx, r.now())
	if err != nil {
		return ListPage{}, fmt.Errorf("list clients: count people: %w", err)
	}
	page := ListPage{Clients: make([]Client, 0, len(recs))}
	for _, rec := range recs {
		c, err := r.withCounts(ctx, rec, people)
		if err != nil {
			return ListPage{}, fmt.Errorf("list clients: %w", err)
		}
		page.Clients = append(page.Clients, c)
	}
	if more && len(recs) > 0 {
		page.NextCursor = r.sealCursor(recs[len(recs)-1].ID)
	}
	return page, nil
}

// pageLimit returns the page size a list asks for: DefaultListLimit for 0,
// ErrInvalidLimit outside 1 to MaxListLimit.
func pageLimit(op string, limit int) (int, error) {
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 1 || limit > MaxListLimit {
		return 0, fmt.Errorf("%s: %w: must be 1 to %d", op, ErrInvalidLimit, MaxListLimit)
	}
	return limit, nil
}

// Replace validates m and makes it the client's whole metadata: fields
// absent from m return to their defaults. Secrets, timestamps and usage are
// kept.
func (r *Registry) Replace(ctx context.Context, id string, m Metadata) (Client, error) {
	rec, err := r.normalize(m)
	if err != nil {
		return Client{}, err
	}
	return r.update(ctx, "replace client", id, func(c *storage.Client, _ time.Time) error {
		if err := checkMetadataGrant(ctx, c.Features, rec.Features); err != nil {
			return err
		}
		setMetadata(c, rec)
		return nil
	})
}

// Patch applies an RFC 7396 JSON merge patch to the client's metadata, then
// decodes and validates the result like Replace. The patch may name only
// writable fields; null resets a field to its default.
func (r *Registry) Patch(ctx context.Context, id string, mergePatch []byte) (Client, error) {
	if err := clientFields.checkPatch(mergePatch); err != nil {
		return Client{}, err
	}
	return r.update(ctx, "patch client", id, func(c *storage.Client, _ time.Time) error {
		current, err := metadataJSON(*c)
		if err != nil {
			return err
		}
		merged, err := applyMergePatch(current, mergePatch)
		if err != nil {
			return err
		}
		m, err := DecodeMetadata(merged)
		if err != nil {
			return err
		}
		rec, err := r.normalize(m)
		if err != nil {
			return err
		}
		if err := checkMetadataGrant(ctx, c.Features, rec.Features); err != nil {
			return err
		}
		setMetadata(c, rec)
		return nil
	})
}

// Delete removes the client and its usage counters. Its tokens stop working
// at once, because the guard checks the client's record on every request.
func (r *Registry) Delete(ctx context.Context, id string) error {
	if err := r.store.DeleteClient(ctx, id); err != nil {
		return storeError("delete client", err)
	}
	return nil
}

// RotateOptions tunes RotateSecret.
type RotateOptions struct {
	// GracePeriod is how long the client's other live secrets keep working;
	// 0 retires them at once. Secrets that expire sooner keep their expiry.
	GracePeriod time.Duration
	// ExpiresIn makes the new secret expire after this long; 0 means never.
	ExpiresIn time.Duration
}

// RotateSecret gives the client a new secret and returns the client, the
// secret in plain text (its only appearance) and the secret's ID. The
// client's other live secrets expire after opts.GracePeriod. A client holds
// at most MaxLiveSecrets live secrets (ErrTooManySecrets). A public client
// gets none (ErrPublicClient).
func (r *Registry) RotateSecret(ctx context.Context, id string, opts RotateOptions) (Client, string, string, error) {
	if opts.GracePeriod < 0 {
		return Client{}, "", "", &ValidationError{Field: "grace_period", Reason: "must not be negative"}
	}
	if opts.ExpiresIn < 0 {
		return Client{}, "", "", &ValidationError{Field: "expires_in", Reason: "must not be negative"}
	}
	var secret string
	var sec storage.Secret
	c, err := r.update(ctx, "rotate secret", id, func(c *storage.Client, now time.Time) error {
		if c.Public() {
			return ErrPublicClient
		}
		// The callback may run more than once (bbolt batches); the secret
		// is made once so that every run stores the same one.
		if secret == "" {
			secret, sec = newSecret(now, opts.ExpiresIn)
		}
		cutoff := now.Add(opts.GracePeriod)
		kept := make([]storage.Secret, 0, len(c.Secrets)+1)
		if opts.GracePeriod > 0 {
			for _, s := range c.Secrets {
				if s.ExpiresAt.IsZero() || s.ExpiresAt.After(cutoff) {
					s.ExpiresAt = cutoff
				}
				kept = append(kept, s)
			}
		}
		kept = append(kept, sec)
		if len(kept) > MaxLiveSecrets {
			return ErrTooManySecrets
		}
		c.Secrets = kept
		return nil
	})
	if err != nil {
		return Client{}, "", "", err
	}
	return c, secret, sec.ID, nil
}

// RetireSecret removes one of the client's secrets now. It refuses to remove
// the last live one (ErrLastSecret): a client without a secret can never
// authenticate, so rotate first or disable the client instead.
func (r *Registry) RetireSecret(ctx context.Context, id, secretID string) (Client, error) {
	return r.update(ctx, "retire secret", id, func(c *storage.Client, _ time.Time) error {
		i := slices.IndexFunc(c.Secrets, func(s storage.Secret) bool { return s.ID == secretID })
		if i < 0 {
			return ErrSecretNotFound
		}
		if len(c.Secrets) == 1 {
			return ErrLastSecret
		}
		c.Secrets = slices.Delete(slices.Clone(c.Secrets), i, i+1)
		return nil
	})
}

// RevokeTokens makes every token issued to the client until now stop
// working: it sets TokensRevokedAt, and the guard refuses tokens whose iat
// is at or before it. Because iat counts whole seconds, tokens issued later
// within the same second as the revocation are refused too; the client gets
// working tokens again from the next second on.
func (r *Registry) RevokeTokens(ctx context.Context, id string) (Client, error) {
	return r.update(ctx, "revoke tokens", id, func(c *storage.Client, now time.Time) error {
		if now.After(c.TokensRevokedAt) {
			c.TokensRevokedAt = now
		}
		return nil
	})
}

// SetDisabled disables or enables the client. A disabled client gets no
// tokens, and its live tokens stop working at once.
func (r *Registry) SetDisabled(ctx context.Context, id string, disabled bool) (Client, error) {
	return r.update(ctx, "set client disabled", id, func(c *storage.Client, _ time.Time) error {
		c.Disabled = disabled
		return nil
	})
}

// update changes one client atomically. Before change runs it prunes
// expired secrets; afterwards it moves UpdatedAt forward. The result is
// returned with its usage counters.
func (r *Registry) update(ctx context.Context, op, id string, change func(c *storage.Client, now time.Time) error) (Client, error) {
	now := r.now()
	stored, err := r.store.UpdateClient(ctx, id, func(c storage.Client) (storage.Client, error) {
		c.Secrets = liveSecrets(c.Secrets, now)
		if err := change(&c, now); err != nil {
			return storage.Client{}, err
		}
		c.UpdatedAt = nextVersion(c.UpdatedAt, now)
		return c, nil
	})
	if err != nil {
		return Client{}, storeError(op, err)
	}
	return r.withUsage(ctx, stored)
}

// nextVersion returns the UpdatedAt for a write at now. Others use UpdatedAt
// as the record's version, so it must move forward even when the clock did
// not (two writes in one clock tick, or a clock stepped back).
func nextVersion(prev, now time.Time) time.Time {
	if now.After(prev) {
		return now
	}
	return prev.Add(time.Nanosecond)
}

// liveSecrets returns the secrets that have not expired at now.
func liveSecrets(secrets []storage.Secret, now time.Time) []storage.Secret {
	live := make([]storage.Secret, 0, len(secrets))
	for _, s := range secrets {
		if s.ExpiresAt.IsZero() || s.ExpiresAt.After(now) {
			live = append(live, s)
		}
	}
	return live
}

// withUsage builds the public view of c with its usage: its stored
// counters and its people.
func (r *Registry) withUsage(ctx context.Context, c storage.Client) (Client, error) {
	people, err := r.store.ClientPeople(ctx, r.now())
	if err != nil {
		return Client{}, fmt.Errorf("count people: %w", err)
	}
	return r.withCounts(ctx, c, people)
}

// withCounts builds the public view of c with its stored usage counters
// and its entry in people, the store's count of people per client.
func (r *Registry) withCounts(ctx context.Context, c storage.Client, people map[string]int) (Client, error) {
	u, err := r.store.Usage(ctx, c.ID)
	if err != nil {
		return Client{}, fmt.Errorf("read usage: %w", err)
	}
	return r.view(c, Usage{Usage: u, People: people[c.ID]}, r.now()), nil
}

// storeError wraps a store error with the operation, turning
// ErrAlreadyExists into ErrNameTaken: client IDs are 128 random bits, so a
// collision is a name.
func storeError(op string, err error) error {
	return storeErrorAs(op, err, ErrNameTaken)
}

// storeErrorAs wraps a store error with the operation, turning
// ErrAlreadyExists into taken, the error that names what is taken.
func storeErrorAs(op string, err, taken error) error {
	if errors.Is(err, storage.ErrAlreadyExists) && !errors.Is(err, taken) {
		err = taken
	}
	return fmt.Errorf("%s: %w", op, err)
}
