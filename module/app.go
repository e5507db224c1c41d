// Package module holds Scopegate's Caddy modules: the scopegate app, the
// issuer, guard and admin HTTP handlers, the authentication provider, the
// admin endpoint routes and their Caddyfile syntax. It is the Caddy adapter
// over package authserver, which holds the authorization server.
package module

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/session"
	"github.com/scopegate/scopegate/storage/caddystore"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults of the app's own options; the server's are in authserver, the
// store's in storage/caddystore.
const (
	defaultCacheSize = 10000
	// maintenanceInterval is how often the app checks whether the signing key
	// is due for rotation and forgets revocations of expired tokens.
	maintenanceInterval = time.Minute
)

// App is the scopegate app: the state that Scopegate's handlers share, namely
// the client store and its cache, the issuer's identity and the limits. It
// opens its store once per file path for the whole process, so config reloads
// never wait on the store's file lock.
type App struct {
	// Issuer is the exact `iss` of the tokens this server issues and accepts: an
	// absolute http or https URL without query or fragment. Required.
	Issuer string `json:"issuer,omitempty"`

	// StorageRaw chooses where clients, keys, revocations and usage are
	// kept: a scopegate.storage module, named by "backend". Default: bolt,
	// an embedded file under Caddy's data directory. A JSON string is read
	// as the path of a bolt file.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=scopegate.storage inline_key=backend"`

	// CacheSize is how many client records are held in memory. Default: 10000.
	CacheSize int `json:"cache_size,omitempty"`

	// MaxClients is the most clients the store may hold. Default: 2000.
	MaxClients int `json:"max_clients,omitempty"`

	// MaxScopes is the most scopes one client may be allowed. Default: 1000.
	MaxScopes int `json:"max_scopes,omitempty"`

	// AccessTokenTTL is the lifetime of access tokens for clients that do not
	// set their own. Default: 15m.
	AccessTokenTTL caddy.Duration `json:"access_token_ttl,omitempty"`

	// MaxAccessTokenTTL bounds every access token lifetime, the default's and
	// each client's. Default: 90m.
	MaxAccessTokenTTL caddy.Duration `json:"max_access_token_ttl,omitempty"`

	// SigningAlg is the JWS algorithm of the keys this server generates:
	// ES256 (default), RS256 or EdDSA. Changing it takes effect at the next
	// rotation.
	SigningAlg string `json:"signing_alg,omitempty"`

	// SigningKeyFile names a file holding the one key to sign with, as PEM
	// (PKCS #8, SEC 1 or PKCS #1) or as a private JWK, instead of keys
	// generated and kept in the store. Its kid is its RFC 7638 thumbprint. Rotation is then the
	// operator's: replace the file and reload.
	SigningKeyFile string `json:"signing_key_file,omitempty"`
	// IDTokenKeyFile names an RSA key file (PEM or JWK) that signs only RS256 ID tokens, beside
	// an ES256 or EdDSA signing_key_file. Without it, the file key signs ID tokens too.
	IDTokenKeyFile string `json:"id_token_key_file,omitempty"`

	// KeyRotation is how long a generated signing key signs before the next
	// one takes over. Default: 720h (30 days). 0 turns automatic rotation off;
	// POST /scopegate/keys/rotate rotates on demand either way.
	KeyRotation *caddy.Duration `json:"key_rotation,omitempty"`

	// Leeway is the clock skew tolerated when checking a token's exp, nbf and
	// iat. Default: 30s.
	Leeway caddy.Duration `json:"leeway,omitempty"`

	// VerifiedTokenCacheSize is how many verified tokens are remembered, so a
	// token seen before skips signature verification (never past its exp).
	// Default: 10000.
	VerifiedTokenCacheSize int `json:"verified_token_cache_size,omitempty"`

	// FailedLoginLimit is how many failed client logins (wrong or unknown
	// client ID or secret, at the token, revocation and introspection
	// endpoints and remote admin) one source may make within
	// FailedLoginWindow before its further attempts are refused with 429 and
	// Retry-After until the window ends. A source is Caddy's resolved client
	// IP (which honours trusted_proxies): an IPv4 address, or an IPv6 /64.
	// Failures are never counted against the client ID they name, so they
	// cannot lock a client out of its own address. Default: 10.
	FailedLoginLimit int `json:"failed_login_limit,omitempty"`

	// FailedLoginWindow is the window of FailedLoginLimit, counted from a
	// source's first failure. Default: 1m.
	FailedLoginWindow caddy.Duration `json:"failed_login_window,omitempty"`

	// ScopeImplies are implication rules for guarded routes: a token granted
	// a rule's `grant` scope also satisfies every scope its `implies` pattern
	// matches: an exact scope, `*` (all) or a `prefix*`. Rules chain. They
	// widen what a route accepts, never what a client is issued.
	ScopeImplies []scope.Rule `json:"scope_implies,omitempty"`

	// MaxUsers is the most users the store may hold. Default: 10000.
	MaxUsers int `json:"max_users,omitempty"`

	// Sessions sets the lifetimes of the sessions of people signed in at
	// the issuer's sign-in page.
	Sessions *SessionOptions `json:"sessions,omitempty"`

	// Passwords sets how users' passwords are hashed and what a new one
	// must meet.
	Passwords *password.Options `json:"passwords,omitempty"`

	// RefreshTokens sets refresh tokens' lifetimes and rotation grace.
	RefreshTokens *authserver.RefreshOptions `json:"refresh_tokens,omitempty"`

	// MetricsPerClient adds a client_id label to the issued-token and guard
	// metrics. Off by default: with many clients it multiplies the series.
	MetricsPerClient bool `json:"metrics_per_client,omitempty"`

	ctx caddy.Context
	// server is this config's authorization server. Provision builds it
	// and never opens the store, so that `caddy validate` (Provision and
	// Validate, no Start) works while a gateway holds the store's lock;
	// Start opens it, and its handlers wait for that (AwaitOpen).
	server  *authserver.Server
	hasher  *password.Hasher
	storage caddystore.Backend
	handle  *caddystore.Handle
	admin   *admin.Handler
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "scopegate",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision applies defaults and builds the authorization server with
// everything that does not need the store. The store is opened at Start.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	var err error
	if a.storage, err = caddystore.Load(ctx, a.StorageRaw); err != nil {
		return fmt.Errorf("scopegate: storage: %w", err)
	}
	if a.CacheSize == 0 {
		a.CacheSize = defaultCacheSize
	}
	// Validate runs after Provision; a bad config must not open the store.
	if err := a.Validate(); err != nil {
		return err
	}
	return a.provisionServer()
}

// serverOptions are the app's server-wide options, with their defaults.
func (a *App) serverOptions() authserver.Options {
	o := authserver.Options{
		Issuer:                 a.Issuer,
		AccessTokenTTL:         time.Duration(a.AccessTokenTTL),
		MaxAccessTokenTTL:      time.Duration(a.MaxAccessTokenTTL),
		SigningAlg:             a.SigningAlg,
		Leeway:                 time.Duration(a.Leeway),
		VerifiedTokenCacheSize: a.VerifiedTokenCacheSize,
		FailedLoginLimit:       a.FailedLoginLimit,
		FailedLoginWindow:      time.Duration(a.FailedLoginWindow),
	}
	if a.KeyRotation != nil {
		every := time.Duration(*a.KeyRotation)
		o.KeyRotation = &every
	}
	if a.RefreshTokens != nil {
		o.Refresh = *a.RefreshTokens
	}
	return o.WithDefaults()
}

// provisionServer builds the authorization server from the options: what
// does not need the store. A signing_key_file is read here, so a config
// naming a bad one fails to load.
func (a *App) provisionServer() error {
	cfg := authserver.Config{
		Options: a.serverOptions(), ClientAddr: clientAddr, Logger: a.logger,
		MaxStale: a.storage.StaleLimit(), StoreBackend: a.storage.Name(), StoreDescription: a.storage.Describe(),
	}
	cfg.Keys = &authserver.StoredKeys{Alg: cfg.SigningAlg, RetiredLifetime: cfg.RetiredKeyLifetime()}
	var err error
	if a.SigningKeyFile != "" || a.IDTokenKeyFile != "" {
		if cfg.Keys, err = authserver.ReadKeyFile(a.SigningKeyFile, a.IDTokenKeyFile, cfg.SigningAlg, time.Now()); err != nil {
			return fmt.Errorf("scopegate: %w", err)
		}
	}
	if cfg.ScopeRules, err = scope.NewRules(a.ScopeImplies); err != nil {
		return fmt.Errorf("scopegate: scope_implies: %w", err)
	}
	if a.hasher, err = a.Passwords.Hasher(); err != nil {
		return fmt.Errorf("scopegate: passwords: %w", err)
	}
	if cfg.Metrics, err = authserver.NewMetrics(a.ctx.GetMetricsRegistry(), a.MetricsPerClient); err != nil {
		return fmt.Errorf("scopegate: metrics: %w", err)
	}
	if a.server, err = authserver.New(cfg, a.ctx.Done()); err != nil {
		return fmt.Errorf("scopegate: %w", err)
	}
	return nil
}

// SessionOptions are the lifetimes of sign-in sessions.
type SessionOptions struct {
	// IdleTimeout ends a session that has not been used for this long.
	// Default: 30m; at least 1m.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`
	// Lifetime ends a session this long after sign-in however active it
	// is. Default: 12h.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
	// PersistentLifetime is the lifetime of a "keep me signed in"
	// session, whose cookie outlives the browser. Default: 720h (30 days);
	// at most 400 days.
	PersistentLifetime caddy.Duration `json:"persistent_lifetime,omitempty"`
	// MaxPerUser is how many sessions one user may hold; signing in once
	// more ends the least recently used. Default: 10.
	MaxPerUser int `json:"max_per_user,omitempty"`
}

// config is the session manager's config the options describe.
func (o *SessionOptions) config() session.Config {
	if o == nil {
		return session.Config{}
	}
	return session.Config{
		IdleTimeout: time.Duration(o.IdleTimeout), Lifetime: time.Duration(o.Lifetime),
		PersistentLifetime: time.Duration(o.PersistentLifetime), MaxPerUser: o.MaxPerUser,
	}
}

// Validate checks the options alone, without touching the store.
func (a *App) Validate() error {
	switch {
	case a.CacheSize < 0:
		return errors.New("scopegate: cache_size must not be negative")
	case a.MaxClients < 0:
		return errors.New("scopegate: max_clients must not be negative")
	case a.MaxScopes < 0:
		return errors.New("scopegate: max_scopes must not be negative")
	case a.MaxUsers < 0:
		return errors.New("scopegate: max_users must not be negative")
	}
	if _, err := a.Passwords.Hasher(); err != nil {
		return fmt.Errorf("scopegate: passwords: %w", err)
	}
	if err := a.Sessions.config().Validate(); err != nil {
		return fmt.Errorf("scopegate: sessions: %w", err)
	}
	if err := a.serverOptions().Validate(); err != nil {
		return fmt.Errorf("scopegate: %w", err)
	}
	return nil
}

// Start opens (or shares) the store, opens the authorization server on it
// (which loads the signing keys), and begins background maintenance. It
// stops with the config. A shared store that cannot be reached yet does not
// fail the start: the server answers 503 until it can (authserver's Open).
//
// Caddy starts apps in no set order, so the http app may already serve this
// config's routes: the handlers wait for the server to open (AwaitOpen). If
// Start fails, Caddy cancels the config and the waiting handlers answer 503;
// what this Start acquired is released by Cleanup.
func (a *App) Start() error {
	h, err := caddystore.Acquire(a.storage, a.CacheSize, a.logger)
	if err != nil {
		return fmt.Errorf("scopegate: opening store %s: %w", a.storage.Describe(), err)
	}
	a.handle = h
	reg := registry.New(authserver.UsageStore{Store: h.State.Store, Counters: h.State.Usage}, registry.Limits{
		MaxClients:     a.MaxClients,
		MaxScopes:      a.MaxScopes,
		MaxTokenTTL:    a.server.MaxAccessTokenTTL,
		TokenIssuer:    a.server.Issuer,
		MaxUsers:       a.MaxUsers,
		Passwords:      a.hasher,
		PasswordPolicy: a.Passwords.Policy(),
		IDTokenAlgs:    a.server.Keys.IDTokenAlgorithms(),
	})
	sessions, err := session.NewManager(h.State.Store, a.Sessions.config())
	if err != nil {
		return fmt.Errorf("scopegate: sessions: %w", err)
	}
	a.admin = admin.NewHandler(reg, a.server.AdminOptions(a.logger.Named("admin"), sessions))
	err = a.server.Open(a.ctx, authserver.Shared{State: h.State, Registry: reg, Sessions: sessions})
	if err != nil {
		return err
	}
	fields := []zap.Field{zap.String("issuer", a.Issuer), zap.String("storage", a.storage.Describe())}
	if ks := a.server.KeySet(); ks != nil {
		if alg := ks.SigningAlgorithm(); alg != a.server.SigningAlg {
			a.logger.Warn("the active signing key uses another algorithm than signing_alg; it changes at the next rotation",
				zap.String("active", alg), zap.String("signing_alg", a.server.SigningAlg))
		}
		fields = append(fields, zap.String("signing_kid", ks.SigningKeyID()))
	}
	a.logger.Info("scopegate started", fields...)
	go a.maintain()
	return nil
}

// maintain runs periodic upkeep until the config stops: automatic key
// rotation, pruning of expired revocations, flushing of usage counters.
func (a *App) maintain() {
	ticker := time.NewTicker(maintenanceInterval)
	defer ticker.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-ticker.C:
			a.maintainOnce()
		}
	}
}

// maintainOnce runs one round of upkeep.
func (a *App) maintainOnce() {
	a.server.Maintain(a.ctx, a.server.RotationPeriod())
}

// Stop flushes the usage counters, so a clean stop or reload loses none.
func (a *App) Stop() error {
	if a.handle == nil {
		return nil
	}
	return a.handle.State.FlushUsage(context.Background())
}

// Cleanup releases this config's hold on the store. It is safe after a partial
// Provision.
func (a *App) Cleanup() error {
	if a.handle == nil {
		return nil
	}
	err := a.handle.Release()
	a.handle = nil
	return err
}

// scopegateApp returns the config's scopegate app, provisioning it first if
// needed.
func scopegateApp(ctx caddy.Context) (*App, error) {
	appModule, err := ctx.App("scopegate")
	if err != nil {
		return nil, err
	}
	return appModule.(*App), nil
}

// Registry returns the client registry; nil until the app has started.
func (a *App) Registry() *registry.Registry { return a.server.Registry }

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
