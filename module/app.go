// Package module holds Scopegate's Caddy modules: the scopegate app, the
// issuer, guard and admin HTTP handlers, the admin endpoint routes and their
// Caddyfile syntax. It is thin glue over packages that do not import Caddy.
package module

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/registry"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults and bounds of the app's options.
const (
	defaultCacheSize         = 10000
	defaultMaxClients        = 2000
	defaultMaxScopes         = 1000
	defaultAccessTokenTTL    = 15 * time.Minute
	defaultMaxAccessTokenTTL = 90 * time.Minute
	defaultLockTimeout       = time.Second
)

// App is the scopegate app: the state that Scopegate's handlers share, namely
// the client store and its cache, the issuer's identity and the limits. It
// opens its store once per file path for the whole process, so config reloads
// never wait on the store's file lock.
type App struct {
	// Issuer is the exact `iss` of the tokens this server issues and accepts: an
	// absolute http or https URL without query or fragment. Required.
	Issuer string `json:"issuer,omitempty"`

	// Storage is the path of the bbolt file that holds clients, keys and
	// revocations. Default: scopegate/scopegate.db under Caddy's data directory.
	// A missing directory is created with mode 0700; the file gets mode 0600.
	Storage string `json:"storage,omitempty"`

	// LockTimeout is how long opening the store waits for another process to
	// release the file before failing. Default: 1s.
	LockTimeout caddy.Duration `json:"lock_timeout,omitempty"`

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

	backend  *backend
	registry *registry.Registry
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "scopegate",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision applies defaults and opens (or shares) the store.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if a.Storage == "" {
		a.Storage = filepath.Join(caddy.AppDataDir(), "scopegate", "scopegate.db")
	}
	if a.LockTimeout == 0 {
		a.LockTimeout = caddy.Duration(defaultLockTimeout)
	}
	if a.CacheSize == 0 {
		a.CacheSize = defaultCacheSize
	}
	if a.MaxClients == 0 {
		a.MaxClients = defaultMaxClients
	}
	if a.MaxScopes == 0 {
		a.MaxScopes = defaultMaxScopes
	}
	if a.AccessTokenTTL == 0 {
		a.AccessTokenTTL = caddy.Duration(defaultAccessTokenTTL)
	}
	if a.MaxAccessTokenTTL == 0 {
		a.MaxAccessTokenTTL = caddy.Duration(defaultMaxAccessTokenTTL)
	}
	// Validate runs after Provision; a bad config must not open the store.
	if err := a.validateConfig(); err != nil {
		return err
	}

	b, err := acquireBackend(a.Storage, a.CacheSize, time.Duration(a.LockTimeout))
	if err != nil {
		return fmt.Errorf("scopegate: opening store: %w", err)
	}
	a.backend = b
	a.registry = registry.New(b.store, registry.Limits{
		MaxClients:  a.MaxClients,
		MaxScopes:   a.MaxScopes,
		MaxTokenTTL: time.Duration(a.MaxAccessTokenTTL),
	})
	return nil
}

// validateConfig checks the options alone, without touching the store.
func (a *App) validateConfig() error {
	if a.Issuer == "" {
		return errors.New("scopegate: issuer is required (the exact URL tokens name as `iss`)")
	}
	u, err := url.Parse(a.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("scopegate: issuer %q must be an absolute http(s) URL without user info, query or fragment", a.Issuer)
	}
	switch {
	case a.CacheSize < 0:
		return errors.New("scopegate: cache_size must not be negative")
	case a.MaxClients < 0:
		return errors.New("scopegate: max_clients must not be negative")
	case a.MaxScopes < 0:
		return errors.New("scopegate: max_scopes must not be negative")
	case a.LockTimeout < 0:
		return errors.New("scopegate: lock_timeout must not be negative")
	case a.AccessTokenTTL < 0 || a.MaxAccessTokenTTL < 0:
		return errors.New("scopegate: token lifetimes must be positive")
	case a.AccessTokenTTL > a.MaxAccessTokenTTL:
		return fmt.Errorf("scopegate: access_token_ttl %s exceeds max_access_token_ttl %s",
			time.Duration(a.AccessTokenTTL), time.Duration(a.MaxAccessTokenTTL))
	}
	return nil
}

// Validate checks the provisioned config.
func (a *App) Validate() error {
	return a.validateConfig()
}

// Start implements caddy.App.
func (a *App) Start() error {
	a.logger.Info("scopegate started", zap.String("issuer", a.Issuer), zap.String("storage", a.backend.path))
	return nil
}

// Stop implements caddy.App.
func (a *App) Stop() error {
	return nil
}

// Cleanup releases this config's hold on the store. It is safe after a partial
// Provision.
func (a *App) Cleanup() error {
	if a.backend == nil {
		return nil
	}
	err := releaseBackend(a.backend)
	a.backend = nil
	return err
}

// Registry returns the client registry.
func (a *App) Registry() *registry.Registry { return a.registry }

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
