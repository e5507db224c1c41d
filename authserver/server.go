// Package authserver is Scopegate's OAuth 2.0 authorization server, free of
// Caddy: the OAuth endpoints as http.Handlers (token, revocation,
// introspection, JWKS and the metadata documents), one file per grant, the
// throttled client login, token checking, the signing key sources, the
// revoked-token set, usage counters and metrics, the guard's decision and
// remote admin's caller authentication. The Caddy adapter (package module)
// configures a Server, opens its store and hands requests to it.
package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/session"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/throttle"
	"github.com/scopegate/scopegate/token"
)

// MaxLeeway bounds the leeway a config may allow. Revocations are kept until
// the token's exp plus this bound, whatever the current leeway, so that a
// reload that raises the leeway cannot revive a revoked token.
const MaxLeeway = 5 * time.Minute

// Config is what a Server is built from: the options of one config, already
// defaulted and checked by the adapter.
type Config struct {
	// Options are the operator's server-wide options, with their defaults
	// applied: the issuer, token lifetimes, leeway, signing algorithm and
	// rotation, the verified-token cache and the failed-login throttle.
	Options
	// ScopeRules are the compiled scope implication rules of guarded routes.
	ScopeRules *scope.Rules
	// Keys is where the signing keys come from.
	Keys KeySource
	// Metrics counts what the server does; see NewMetrics.
	Metrics *Metrics
	// ClientAddr returns a request's client address as the host server
	// resolved it (trusted proxies honoured), never from a header; the zero
	// Addr when unknown.
	ClientAddr func(*http.Request) netip.Addr
	// Logger receives the server's log lines. Default: a no-op logger.
	Logger *zap.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// MaxStale bounds how long a shared store's copy may go without word
	// from its engine before guarded requests and the token endpoint are
	// refused (ErrStale). 0: no bound (a store that is not shared).
	MaxStale time.Duration
	// StoreBackend names the store's backend in health reports.
	StoreBackend string
	// StoreDescription says where the store is (for etcd, the endpoints),
	// for the log line of a gateway that cannot reach it.
	StoreDescription string
}

// State is what every config on one store shares across reloads: the store
// behind its cache, the signing keys kept in it, the revoked tokens, the
// usage counters and the client scope sets. A write through one config is
// seen by all; on a shared store, a write through another gateway too (see
// NewState).
type State struct {
	// Store is the open store, behind its cache.
	Store *storage.Cached
	// KeyRing holds the keys kept in the store.
	KeyRing *KeyRing
	// Revoked is the set of tokens revoked at the revocation endpoint.
	Revoked *RevokedTokens
	// Usage counts per-client usage until it is flushed to the store.
	Usage *Usage
	// ClientScopes caches client records' scopes as sets for the guard.
	ClientScopes *ClientScopeSets
	// UserScopes caches what each user's roles grant, for the guard.
	UserScopes *UserScopeSets

	// shared is the store when other gateways write to it too, else nil.
	shared     storage.Shared
	stopFollow func()
	logger     *zap.Logger
}

// NewState builds the shared state over an open store, with caches sized
// like the store's. It reads nothing yet (a shared store may not be ready):
// Server.Open loads it. When other gateways write to the store too, the
// state follows their changes: a revocation joins the revoked set and a
// changed key set is published at once, and a store listed afresh is read
// again. (The client cache follows the store itself; scope sets are tied to
// the records they came from.)
func NewState(store *storage.Cached, cacheSize int, logger *zap.Logger) *State {
	st := &State{
		Store: store, KeyRing: NewKeyRing(store), Revoked: NewRevokedTokens(store),
		Usage: new(Usage), ClientScopes: NewClientScopeSets(cacheSize), UserScopes: NewUserScopeSets(cacheSize),
		logger: logger,
	}
	if shared, ok := store.Inner().(storage.Shared); ok {
		st.shared = shared
		st.stopFollow = shared.Follow(st.follow)
	}
	return st
}

// SharedStore returns the store when other gateways write to it too, else
// nil.
func (st *State) SharedStore() storage.Shared { return st.shared }

// follow applies another gateway's change (or this one's: applying it twice
// is harmless) to what the state holds in memory.
func (st *State) follow(c storage.Change) {
	ctx := context.Background()
	if c.Revoked != nil {
		st.Revoked.remember(*c.Revoked)
	}
	if c.Reset {
		if err := st.Revoked.Load(ctx, time.Now()); err != nil {
			st.logger.Error("reloading revocations after the store was listed again failed", zap.Error(err))
		}
	}
	if c.Keys || c.Reset {
		if err := st.KeyRing.Refresh(ctx); err != nil {
			st.logger.Error("publishing the signing keys another gateway changed failed", zap.Error(err))
		}
	}
}

// Close stops following the store.
func (st *State) Close() {
	if st.stopFollow != nil {
		st.stopFollow()
	}
}

// FlushUsage writes the usage counted since the last flush to the store.
func (st *State) FlushUsage(ctx context.Context) error { return st.Usage.Flush(ctx, st.Store) }

// Shared is the state every config on one store shares, and the store-backed
// registry of this config: it exists once the store is open.
type Shared struct {
	*State
	// Registry is the client registry over the open store.
	Registry *registry.Registry
	// Sessions are the sessions of people signed in to this config's
	// pages, over the open store.
	Sessions *session.Manager
}

// Server is one config's authorization server. Its handlers may be mounted
// before its store is open: they wait for Open (see AwaitOpen).
type Server struct {
	Config
	// Shared is set by Open; read it only after AwaitOpen returns nil.
	Shared

	verifier    *token.Verifier
	verified    *token.VerifiedCache
	logins      *throttle.Throttle
	revokeLimit *throttle.Throttle
	resources   *ResourceMetadata

	// done ends the wait for Open: the config stopped before it opened.
	done <-chan struct{}
	// opened is closed by Open.
	opened chan struct{}
	// storeUnreachable is closed when Open gives up waiting for a shared
	// store and goes on in the background: requests are then answered 503
	// at once rather than held.
	storeUnreachable chan struct{}
	// state is Shared.State, for the health report, which may be asked for
	// while Open runs.
	state atomic.Pointer[State]
}

// New builds a server from cfg. done is closed when the config stops; a
// request still waiting for Open then gets ErrNotOpen.
func New(cfg Config, done <-chan struct{}) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = func(*http.Request) netip.Addr { return netip.Addr{} }
	}
	if cfg.Keys == nil || cfg.Metrics == nil {
		return nil, errors.New("a key source and metrics are required")
	}
	s := &Server{
		Config:      cfg,
		verifier:    &token.Verifier{Issuer: cfg.Issuer, Leeway: cfg.Leeway, Now: cfg.Now},
		logins:      throttle.New(cfg.FailedLoginLimit, cfg.FailedLoginWindow, 0),
		revokeLimit: throttle.New(revocationsPerWindow, revocationWindow, 0),
		resources:   new(ResourceMetadata),
		done:        done,
		opened:      make(chan struct{}),
	}
	s.storeUnreachable = make(chan struct{})
	var err error
	if s.verified, err = token.NewVerifiedCache(cfg.VerifiedTokenCacheSize); err != nil {
		return nil, fmt.Errorf("verified token cache: %w", err)
	}
	return s, nil
}

// Open gives the server its store-backed state, loads the revocations and
// signing keys and lets waiting requests through. It is called once.
//
// A shared store that cannot be reached does not stop the start: after
// storeReachGrace, Open says so in the log, returns, and finishes in the
// background once the store is ready, retrying until ctx ends. Meanwhile
// every request is answered 503 (ErrStoreStarting), so no route is served
// unguarded.
func (s *Server) Open(ctx context.Context, shared Shared) error {
	s.Shared = shared
	s.state.Store(shared.State)
	// The store metrics report the server that opened last: a config that
	// is only validated, or fails to start, never takes them over.
	s.Metrics.store.server.Store(s)
	if st := shared.SharedStore(); st != nil {
		// A first list under way is worth a short wait: the gateway then
		// starts serving at once rather than answering 503 for a moment.
		select {
		case <-st.Ready():
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(storeReachGrace):
			close(s.storeUnreachable)
			s.Logger.Error("the shared store cannot be reached: guarded routes and the token endpoint answer 503 until it can",
				zap.String("store", s.StoreDescription), zap.String("last_error", st.Health().LastError))
			go s.openWhenReady(ctx, st)
			return nil
		}
	}
	return s.load(ctx)
}

// load reads the state the server needs from the store and opens it.
func (s *Server) load(ctx context.Context) error {
	if err := s.Revoked.Load(ctx, s.Now()); err != nil {
		return err
	}
	if err := s.Keys.Load(ctx, s.KeyRing); err != nil {
		return err
	}
	close(s.opened)
	return nil
}

// storeReachGrace is how long Open waits for a shared store's first list
// before it reports, at level error, that it cannot reach the store and
// lets the start go on without it.
const storeReachGrace = 2 * time.Second

// openWhenReady finishes Open once the shared store is ready.
func (s *Server) openWhenReady(ctx context.Context, st storage.Shared) {
	select {
	case <-st.Ready():
	case <-ctx.Done():
		return
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := s.load(ctx)
		if err == nil {
			s.Logger.Info("the shared store is reachable: serving")
			return
		}
		s.Logger.Warn("opening on the shared store failed; retrying", zap.Error(err), zap.Duration("retry_in", wait))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

// ErrNotOpen answers requests that reach a config whose store will never
// open: its start failed, another app's did, or it was only validated.
var ErrNotOpen = errors.New("scopegate: the gateway's store is not open (the config did not start)")

// ErrStoreStarting answers requests while the shared store has not been
// reached since the gateway started.
var ErrStoreStarting = fmt.Errorf("scopegate: the gateway has not reached its shared store yet: %w", storage.ErrUnavailable)

// ErrStale answers guarded and token requests while the shared store's copy
// has gone without word from its engine for longer than MaxStale.
var ErrStale = fmt.Errorf("scopegate: the gateway's copy of the shared store is older than max_stale: %w", storage.ErrUnavailable)

// AwaitOpen returns once the server is open, so its store, registry and keys
// may be used; or ErrNotOpen when the config stops first, ErrStoreStarting
// at once while a shared store cannot be reached, or ctx's error when the
// request goes away. Once open it costs one non-blocking channel receive
// and no allocation.
func (s *Server) AwaitOpen(ctx context.Context) error {
	select {
	case <-s.opened:
		return nil
	default:
	}
	select {
	case <-s.opened:
		return nil
	case <-s.storeUnreachable:
		return ErrStoreStarting
	case <-s.done:
		return ErrNotOpen
	case <-ctx.Done():
		return ctx.Err()
	}
}

// awaitFresh is AwaitOpen, and then ErrStale when the store is shared and
// its copy is older than MaxStale: for the requests that decide on the
// store's records (guarded requests, token issuance), which must not be
// decided on data of unbounded age.
func (s *Server) awaitFresh(ctx context.Context) error {
	if err := s.AwaitOpen(ctx); err != nil {
		return err
	}
	if st := s.sharedStore(); st != nil && s.MaxStale > 0 && s.Now().Sub(st.LastContact()) > s.MaxStale {
		return ErrStale
	}
	return nil
}

// sharedStore returns the shared store, or nil when the store is not shared
// or the server has no state yet.
func (s *Server) sharedStore() storage.Shared {
	if st := s.state.Load(); st != nil {
		return st.shared
	}
	return nil
}

// KeySet returns the keys this config signs and verifies with.
func (s *Server) KeySet() *token.KeySet { return s.Keys.KeySet() }

// Resources returns the RFC 9728 documents of this config's protected
// resources, which the issuer serves too.
func (s *Server) Resources() *ResourceMetadata { return s.resources }

// MaxTokenLength is the longest access token the server reads.
func (s *Server) MaxTokenLength() int { return s.verifier.MaxTokenLength }

// RetiredKeyLifetime is how long a retired key stays published: until every
// token it signed has expired, allowing for clock skew.
func (c Config) RetiredKeyLifetime() time.Duration {
	return c.MaxAccessTokenTTL + c.Leeway
}

// Maintain runs one round of upkeep: it rotates the signing key when it is
// older than rotateEvery (0: never automatically), forgets expired
// revocations, flushes the usage counters, and prunes ended sessions and
// expired authorization requests and codes. Errors are logged.
func (s *Server) Maintain(ctx context.Context, rotateEvery time.Duration) {
	if rotateEvery > 0 {
		rotated, err := s.Keys.Rotate(ctx, rotateEvery)
		switch {
		case err != nil:
			s.Logger.Error("automatic key rotation failed", zap.Error(err))
		case rotated:
			s.Logger.Info("signing key rotated", zap.String("kid", s.KeySet().SigningKeyID()))
		}
	}
	if err := s.Revoked.Prune(ctx, s.Now()); err != nil {
		s.Logger.Error("pruning expired revocations failed", zap.Error(err))
	}
	if err := s.FlushUsage(ctx); err != nil {
		s.Logger.Error("flushing usage counters failed", zap.Error(err))
	}
	if s.Sessions != nil {
		if err := s.Sessions.Prune(ctx); err != nil {
			s.Logger.Error("pruning ended sessions failed", zap.Error(err))
		}
	}
	s.pruneAuthRecords(ctx)
}

// pruneAuthRecords forgets the authorization requests, codes and refresh
// token families that have expired: every consent page shown and every code issued stores one, and
// bbolt keeps them until they are deleted (etcd's leases end them by
// themselves, and deleting what a lease already took is harmless). A used
// code is kept until it expires, so that a second redemption within its
// life is still recognised as reuse.
func (s *Server) pruneAuthRecords(ctx context.Context) {
	now := s.Now()
	if err := s.Store.PruneAuthRequests(ctx, now); err != nil {
		s.Logger.Error("pruning expired authorization requests failed", zap.Error(err))
	}
	if err := s.Store.PruneAuthCodes(ctx, now); err != nil {
		s.Logger.Error("pruning expired authorization codes failed", zap.Error(err))
	}
	if err := s.Store.PruneRefreshFamilies(ctx, now); err != nil {
		s.Logger.Error("pruning expired refresh token families failed", zap.Error(err))
	}
}

// ForgetVerifiedTokens empties the verified-token cache, so every token is
// verified again on its next use.
func (s *Server) ForgetVerifiedTokens() { s.verified.Purge() }

// SetClock makes the server, its token verifier included, read the time
// from now: for tests of expiry.
func (s *Server) SetClock(now func() time.Time) {
	s.Now = now
	s.verifier.Now = now
}
