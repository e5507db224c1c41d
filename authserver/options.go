package authserver

import (
	"errors"
	"fmt"
	"time"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/token"
)

// Defaults of the server-wide options: their one home. The Caddy adapter's
// field documentation states them to operators.
const (
	DefaultAccessTokenTTL    = 15 * time.Minute
	DefaultMaxAccessTokenTTL = registry.DefaultMaxTokenTTL
	DefaultSigningAlg        = token.AlgES256
	DefaultKeyRotation       = 30 * 24 * time.Hour
	DefaultLeeway            = token.DefaultLeeway
	DefaultVerifiedCacheSize = 10000

	// Refresh tokens: a family lives 30 days unless its client or the
	// operator says otherwise, never more than 90; a rotated token may be
	// presented again for 10 seconds as the client's own retry.
	DefaultRefreshTokenTTL    = 30 * 24 * time.Hour
	DefaultMaxRefreshTokenTTL = 90 * 24 * time.Hour
	MaxRefreshTokenTTL        = registry.MaxRefreshTokenTTL
	DefaultRefreshGrace       = 10 * time.Second
	MaxRefreshGrace           = time.Minute
)

// RefreshOptions are the operator's refresh token options (JSON under the
// app's refresh_tokens).
type RefreshOptions struct {
	// TTL is how long a refresh token family lives from its first token,
	// for a client that sets no refresh_token_ttl: a duration ("720h") or
	// seconds. Default 720h (30 days). Rotation never moves the end.
	TTL registry.Duration `json:"ttl,omitzero"`
	// MaxTTL bounds TTL and every client's refresh_token_ttl. Default and
	// most 2160h (90 days).
	MaxTTL registry.Duration `json:"max_ttl,omitzero"`
	// Grace is how long after a refresh token's rotation the same token
	// may be presented again as the client's own retry (a lost answer,
	// concurrent refreshes) and get a new token, rather than being taken
	// for a stolen copy. Default 10s; "0s" turns it off; at most 1m.
	Grace *registry.Duration `json:"grace,omitempty"`
}

// NewRefreshOptions returns options with the grace period set to its
// default, for a configuration that sets the others (a Caddyfile block).
func NewRefreshOptions() *RefreshOptions {
	grace := registry.Duration(DefaultRefreshGrace)
	return &RefreshOptions{Grace: &grace}
}

// GraceOrDefault is the grace period, with its default.
func (o RefreshOptions) GraceOrDefault() time.Duration {
	if o.Grace == nil {
		return DefaultRefreshGrace
	}
	return time.Duration(*o.Grace)
}

// Options are the server-wide options as an operator sets them; WithDefaults
// fills what is left zero, Validate checks them. Names in errors are the
// options' configuration names.
type Options struct {
	Issuer            string
	AccessTokenTTL    time.Duration
	MaxAccessTokenTTL time.Duration
	SigningAlg        string
	// KeyRotation is how long a generated key signs; nil takes the default,
	// zero turns automatic rotation off.
	KeyRotation            *time.Duration
	Leeway                 time.Duration
	VerifiedTokenCacheSize int
	FailedLoginLimit       int
	FailedLoginWindow      time.Duration
	// Refresh are the refresh token options.
	Refresh RefreshOptions
}

// WithDefaults returns o with every unset option at its default.
func (o Options) WithDefaults() Options {
	orDefault := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	orDefault(&o.AccessTokenTTL, DefaultAccessTokenTTL)
	orDefault(&o.MaxAccessTokenTTL, DefaultMaxAccessTokenTTL)
	orDefault(&o.Leeway, DefaultLeeway)
	if o.SigningAlg == "" {
		o.SigningAlg = DefaultSigningAlg
	}
	if o.KeyRotation == nil {
		every := DefaultKeyRotation
		o.KeyRotation = &every
	}
	if o.VerifiedTokenCacheSize == 0 {
		o.VerifiedTokenCacheSize = DefaultVerifiedCacheSize
	}
	if o.Refresh.MaxTTL == 0 {
		o.Refresh.MaxTTL = registry.Duration(DefaultMaxRefreshTokenTTL)
	}
	if o.Refresh.TTL == 0 {
		// An operator who lowered only the maximum gets it as the default.
		o.Refresh.TTL = registry.Duration(min(DefaultRefreshTokenTTL, time.Duration(o.Refresh.MaxTTL)))
	}
	return o
}

// Validate checks options that have their defaults applied.
func (o Options) Validate() error {
	switch {
	case o.Issuer == "":
		return errors.New("issuer is required (the exact URL tokens name as `iss`)")
	case !oauth.ValidIssuer(o.Issuer):
		return fmt.Errorf("issuer %q must be an absolute http(s) URL without user info, query or fragment", o.Issuer)
	case o.AccessTokenTTL < 0 || o.MaxAccessTokenTTL < 0:
		return errors.New("token lifetimes must be positive")
	case o.AccessTokenTTL > o.MaxAccessTokenTTL:
		return fmt.Errorf("access_token_ttl %s exceeds max_access_token_ttl %s", o.AccessTokenTTL, o.MaxAccessTokenTTL)
	case o.SigningAlg != token.AlgES256 && o.SigningAlg != token.AlgRS256 && o.SigningAlg != token.AlgEdDSA:
		return fmt.Errorf("signing_alg %q is not one of ES256, RS256, EdDSA", o.SigningAlg)
	case o.KeyRotation != nil && *o.KeyRotation < 0:
		return errors.New("key_rotation must not be negative")
	case o.KeyRotation != nil && *o.KeyRotation > 0 && *o.KeyRotation < o.MaxAccessTokenTTL:
		return errors.New("key_rotation must be at least max_access_token_ttl")
	case o.Leeway < 0 || o.Leeway > MaxLeeway:
		return fmt.Errorf("leeway must be between 0 and %s", MaxLeeway)
	case o.VerifiedTokenCacheSize < 0:
		return errors.New("verified_token_cache_size must not be negative")
	case o.FailedLoginLimit < 0 || o.FailedLoginWindow < 0:
		return errors.New("failed_login_limit and failed_login_window must not be negative")
	}
	return o.Refresh.validate()
}

// validate checks refresh options that have their defaults applied.
func (o RefreshOptions) validate() error {
	ttl, maxTTL, grace := time.Duration(o.TTL), time.Duration(o.MaxTTL), o.GraceOrDefault()
	switch {
	case ttl <= 0 || maxTTL <= 0:
		return errors.New("refresh_tokens: ttl and max_ttl must be positive")
	case maxTTL > MaxRefreshTokenTTL:
		return fmt.Errorf("refresh_tokens: max_ttl %s exceeds %s (90 days)", maxTTL, MaxRefreshTokenTTL)
	case ttl > maxTTL:
		return fmt.Errorf("refresh_tokens: ttl %s exceeds max_ttl %s", ttl, maxTTL)
	case grace < 0 || grace > MaxRefreshGrace:
		return fmt.Errorf("refresh_tokens: grace must be between 0 and %s", MaxRefreshGrace)
	}
	return nil
}

// RotationPeriod is how often keys rotate automatically; zero means never.
func (o Options) RotationPeriod() time.Duration {
	if o.KeyRotation == nil {
		return DefaultKeyRotation
	}
	return *o.KeyRotation
}
