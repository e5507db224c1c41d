// Package etcd is a storage.Store on etcd, for many gateways that share one
// registry. Each Store keeps a full local replica of its key prefix
// (storage/replica): it lists the prefix at one revision and then watches
// it from the next, so every read (GetClient, ListClients, CountClients,
// SigningKeys, Revocations, Usage) is served from memory without touching
// the network. Writes are etcd transactions that compare revisions
// (compare-and-swap), and a write returns once this Store's replica has
// applied it, so a gateway reads its own writes.
//
// A Store is a storage.Shared: Follow tells what changed, whoever wrote it,
// so that caches and derived state (storage.Cached, a key ring, a
// revocation set) follow the registry.
//
// # Availability
//
// New returns at once, without touching the network, and the Store keeps
// trying to connect and list in the background: a gateway starts while
// etcd is down. Until the first list is in memory (Ready), every read and
// write fails with storage.ErrUnavailable. Once listed, reads are served
// from the replica whatever etcd's state; Health and LastContact say how
// fresh it is. Open is New and a wait for Ready, for callers (a command
// line tool) that would rather fail.
//
// Writes require a leader (clientv3.WithRequireLeader) and are bounded by
// Options.WriteTimeout, all attempts of the compare-and-swap included. No
// leader, no connection, and that bound running out fail with an error
// that is storage.ErrUnavailable; the write may or may not have been
// committed then (etcd's own answer when a leader fails mid-write), so a
// caller that retries must expect its own earlier attempt (ErrAlreadyExists
// for a create). A caller's own cancelled or expired context is returned as
// that, never as ErrUnavailable.
//
// A write that committed but that this Store's replica has not applied
// within WriteTimeout (the watch is behind or cut) succeeds: it is in etcd,
// every other gateway will see it, and an answer of failure would make the
// caller repeat or abandon a write that took effect (and lose the secret
// of a client created). Until the replica catches up, this gateway's reads
// may not show it; Follow reports it when it arrives, which is what evicts
// any cached copy read meanwhile.
//
// # Keys
//
// Under the prefix P (Options.Prefix):
//
//	P/meta/schema          the layout version, "1"
//	P/meta/client-count    the number of clients, in decimal
//	P/clients/<id>         a client, in storage.MarshalClient's form (the bytes bbolt keeps)
//	P/names/<name key>     the ID of the client with that name (storage.NameKey)
//	P/keys                 the signing key set, JSON, each private key sealed (see Sealer)
//	P/revocations/<jti>    a storage.Revocation, JSON, under a lease that ends with the token
//	P/usage/<id>/<gateway> one gateway's usage counters of a client, JSON; <id> path-escaped
//	P/meta/user-count      the number of users, in decimal
//	P/users/<id>           a user: a tag byte and JSON, its password hash sealed (see Sealer)
//	P/usernames/<name key> the ID of the user with that username (storage.NameKey)
//	P/roles/<name>         a role, in storage.MarshalRole's form
//	P/sessions/<id>        a session, in storage.MarshalSession's form, under a lease (sessions.go)
//	P/user-sessions/<user>/<id> the index of a user's sessions; <user> path-escaped
//	P/auth-requests/<id>   a pending authorization request, under a lease (authz.go)
//	P/auth-codes/<hash>    an authorization code, by its hash, under a lease
//	P/consents/<user>/<client> a person's consent to a client; both path-escaped
//	P/refresh-families/<id> a refresh token family, under a lease (refresh.go)
//
// Users and roles are written as clients are: creates compare
// CreateRevision == 0 on the ID and username keys and the user count's
// ModRevision; updates and deletes compare the ModRevision they read.
// Organizations, when they come, take keys of their own beside these
// (see userKey).
//
// A create compares CreateRevision == 0 on the client and name keys and the
// count key's ModRevision with the count it read, and writes all three in
// one transaction: two creates cannot both take the last place under the
// limit, nor one name. Updates compare the ModRevision they read. A
// transaction that loses a race re-reads what it compared, from its own
// answer, and tries again; a refusal (exists, not found, limit) is only
// ever given from values read in the same transaction as the compare that
// failed, never from the replica alone, which may be a moment behind.
package etcd

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// schemaVersion is the key layout this build reads and writes.
const schemaVersion = 1

// Defaults of Options.
const (
	DefaultPrefix      = "/scopegate"
	defaultDialTimeout = 5 * time.Second
	// DefaultWriteTimeout bounds a write when Options.WriteTimeout is zero.
	DefaultWriteTimeout = 5 * time.Second
	defaultHeartbeat    = time.Second
	// reconnectMax bounds the wait between attempts to reach etcd (gRPC's
	// connects, the replica's lists): a gateway cut off follows again
	// within about this long of its link coming back.
	reconnectMax     = 500 * time.Millisecond
	defaultMinRevTTL = time.Second
)

// ErrNoSealer is returned when signing keys are to be stored and the Store
// has no Sealer: etcd never holds a private key in the clear.
var ErrNoSealer = errors.New("no sealing key is configured, and signing keys are never stored in etcd unsealed")

// errClosed is returned by every method after Close.
var errClosed = errors.New("the etcd store is closed")

// Options configures New and Open.
type Options struct {
	// Client is an etcd client to use; the Store does not close it. When
	// nil, the Store makes one from Endpoints, Username, Password and TLS
	// (in the background: with a user name, making it talks to etcd), and
	// Close closes it.
	Client    *clientv3.Client
	Endpoints []string
	Username  string
	Password  string
	TLS       *tls.Config
	// DialTimeout bounds connecting, each request of a list, and Open's
	// wait for the first list. Zero means 5 s.
	DialTimeout time.Duration
	// WriteTimeout bounds a write, every attempt and the wait for this
	// Store's replica included; past it the write fails with
	// storage.ErrUnavailable. Zero means 5 s.
	WriteTimeout time.Duration

	// Prefix is where the registry lives in etcd; gateways that share a
	// registry use the same one. Empty means "/scopegate".
	Prefix string
	// GatewayID names this gateway; its usage counters are kept under it.
	// It must be unique among the gateways that share the prefix, and
	// must not contain "/".
	GatewayID string
	// Sealer seals signing keys. Without one the Store refuses to store
	// keys (ErrNoSealer), and reports stored ones as unreadable.
	Sealer *Sealer
	// Heartbeat is how often the replica asks etcd to confirm that its
	// watch is alive and caught up. Zero means one second.
	Heartbeat time.Duration
	// MinRevocationTTL is the shortest lease a revocation gets, for tokens
	// that expire sooner or expired already. Zero means one second.
	MinRevocationTTL time.Duration
	// Logger receives the etcd client's log; nil means none.
	Logger *zap.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// wrapFeed, set by tests, wraps the change feed to cut or hold it.
	wrapFeed func(replica.Feed) replica.Feed
}

// Store is the etcd storage.Store. It is safe for concurrent use.
type Store struct {
	// cli is nil until the client is made (at once when Options.Client is
	// given, else by the first list); it never changes after.
	cli          atomic.Pointer[clientv3.Client]
	clientConfig clientv3.Config // to make it; zero when given
	ownClient    bool
	endpoints    []string
	replica      *replica.Replica
	prefix       string // with a trailing "/"
	gateway      string
	sealer       *Sealer
	minRevTTL    time.Duration
	dialTimeout  time.Duration
	writeTimeout time.Duration
	now          func() time.Time

	// life ends at Close: it cancels making the client.
	life    context.Context
	endLife context.CancelFunc

	// refused is closed, with refusal set, when a list found a registry
	// this build must not touch (a newer schema): Open gives up at once.
	refused    chan struct{}
	refuseOnce sync.Once
	refusal    error

	leases leaseCache

	// usageMu keeps this gateway's own usage writes from racing each
	// other; the compare on each key still guards against any other.
	usageMu sync.Mutex

	// countLock, a mutex that a waiter can give up on, keeps this
	// gateway's own counted writes (client and user creates and deletes)
	// from racing each other (countCAS); lastCount holds, per count key,
	// the count the latest of them wrote, guarded by countLock.
	countLock chan struct{}
	lastCount map[string]*replica.KV

	closeMu sync.RWMutex
	closed  bool

	// pruned is the latest time PruneRevocations was given: revocations
	// that expire at or before it are no longer reported, even if etcd has
	// not yet dropped them.
	prunedMu sync.Mutex
	pruned   time.Time
}

// New returns a Store at once, without touching the network, and starts
// connecting to etcd, listing the registry under the prefix into memory
// and following it, in the background, retrying until it succeeds or the
// Store is closed. Until the first list is in memory (Ready), every read
// and write fails with storage.ErrUnavailable; Health's LastError says
// why. New fails only on options it cannot use.
func New(opts Options) (*Store, error) {
	if opts.GatewayID == "" || strings.Contains(opts.GatewayID, "/") {
		return nil, fmt.Errorf("etcd: gateway id %q: want a non-empty name without '/'", opts.GatewayID)
	}
	if opts.Client == nil && len(opts.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	prefix = strings.TrimSuffix(prefix, "/") + "/"
	s := &Store{
		prefix:       prefix,
		gateway:      opts.GatewayID,
		sealer:       opts.Sealer,
		minRevTTL:    opts.MinRevocationTTL,
		dialTimeout:  opts.DialTimeout,
		writeTimeout: opts.WriteTimeout,
		now:          opts.Now,
		refused:      make(chan struct{}),
		countLock:    make(chan struct{}, 1),
		lastCount:    make(map[string]*replica.KV),
	}
	if s.minRevTTL <= 0 {
		s.minRevTTL = defaultMinRevTTL
	}
	if s.dialTimeout <= 0 {
		s.dialTimeout = defaultDialTimeout
	}
	if s.writeTimeout <= 0 {
		s.writeTimeout = DefaultWriteTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.life, s.endLife = context.WithCancel(context.Background())
	if opts.Client != nil {
		s.cli.Store(opts.Client)
		s.endpoints = opts.Client.Endpoints()
	} else {
		logger := opts.Logger
		if logger == nil {
			logger = zap.NewNop()
		}
		s.ownClient = true
		s.endpoints = slices.Clone(opts.Endpoints)
		s.clientConfig = clientv3.Config{
			Endpoints:   s.endpoints,
			DialTimeout: s.dialTimeout,
			Username:    opts.Username,
			Password:    opts.Password,
			TLS:         opts.TLS,
			Logger:      logger,
			// Close cancels making the client, which authenticates.
			Context: s.life,
			// Without keepalives a link cut without a reset (a dropped
			// route, a paused proxy) stays "connected" until TCP gives up,
			// minutes later. etcd refuses pings more often than every 5 s.
			DialKeepAliveTime:    10 * time.Second,
			DialKeepAliveTimeout: s.dialTimeout,
			DialOptions: []grpc.DialOption{
				// gRPC's default reconnect backoff grows to two minutes:
				// a gateway would stay stale that long after etcd came
				// back. A failed connect costs little.
				grpc.WithConnectParams(grpc.ConnectParams{
					Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: reconnectMax},
					MinConnectTimeout: s.dialTimeout,
				}),
			},
		}
	}
	heartbeat := opts.Heartbeat
	if heartbeat <= 0 {
		heartbeat = defaultHeartbeat
	}
	var f replica.Feed = &feed{s: s, heartbeat: heartbeat}
	if opts.wrapFeed != nil {
		f = opts.wrapFeed(f)
	}
	s.replica = replica.New(f, replica.Options{
		Decode:    s.decode,
		Heartbeat: heartbeat,
		RetryMax:  reconnectMax,
		Now:       s.now,
	})
	s.replica.Go()
	return s, nil
}

// Open is New, then waits until the registry is in memory. It fails when
// that takes longer than DialTimeout (or ctx), with the last error met,
// and at once when the registry was written by a newer build.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.dialTimeout)
	defer cancel()
	select {
	case <-s.Ready():
		return s, nil
	case <-s.refused:
		err = s.refusal
	case <-ctx.Done():
		err = ctx.Err()
		if last := s.replica.Status().LastError; last != nil {
			err = fmt.Errorf("%w; last attempt: %w", err, last)
		}
	}
	_ = s.Close()
	return nil, fmt.Errorf("etcd: open %s on %v: %w", s.prefix, s.endpoints, err)
}

// client returns the etcd client, making it the first time. Only the
// replica's goroutine calls it before Ready; everything after Ready finds
// it made.
func (s *Store) client() (*clientv3.Client, error) {
	if cli := s.cli.Load(); cli != nil {
		return cli, nil
	}
	cli, err := clientv3.New(s.clientConfig)
	if err != nil {
		return nil, fmt.Errorf("connect to etcd at %v: %w", s.endpoints, err)
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		_ = cli.Close()
		return nil, errClosed
	}
	s.cli.Store(cli)
	return cli, nil
}

// refuse records a registry this build must not touch.
func (s *Store) refuse(err error) {
	s.refuseOnce.Do(func() {
		s.refusal = err
		close(s.refused)
	})
}

// Close stops following etcd and closes the client the Store made. Calling
// it again does nothing.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	s.endLife()
	s.replica.Close()
	if cli := s.cli.Load(); s.ownClient && cli != nil {
		if err := cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("etcd: close: %w", err)
		}
	}
	return nil
}

// Status returns the replica's state, for health checks and metrics: the
// last revision applied, when etcd was last heard from, and from it
// whether reads may be behind (Degraded) or too old to serve (Stale, given
// a max_stale).
func (s *Store) Status() replica.Status { return s.replica.Status() }

// Ready is closed once the first list of the registry is in memory.
func (s *Store) Ready() <-chan struct{} { return s.replica.Ready() }

// LastContact is when etcd was last heard from (a change or a progress
// report; a live watch hears one every heartbeat), zero before Ready. It
// costs one atomic load.
func (s *Store) LastContact() time.Time { return s.replica.LastContact() }

// Health reports the replica's state. Degraded is only ever set once
// Ready: before, Ready false says more.
func (s *Store) Health() storage.Health {
	st := s.replica.Status()
	h := storage.Health{
		Ready:       s.isReady(),
		Revision:    st.Revision,
		LastContact: st.LastContact,
		Lists:       st.Lists,
	}
	h.Degraded = h.Ready && st.Degraded(s.now())
	if st.LastError != nil {
		// Errors from etcd and its client name endpoints and keys, never
		// the password or the sealing key.
		h.LastError = st.LastError.Error()
	}
	return h
}

func (s *Store) isReady() bool {
	select {
	case <-s.replica.Ready():
		return true
	default:
		return false
	}
}

// Follow calls fn for every change to the registry once this Store's
// replica has applied it, whoever wrote it, in order and on one goroutine
// of its own; see storage.Shared. A client's record, created, changed or
// deleted, is told as its ClientID, a user's as its UserID, a role's as
// its Role, a session's (created, touched, ended or expired) as its
// SessionID, a consent's as its ConsentUserID and ConsentClientID;
// the signing key set as Keys; a
// revocation recorded (or extended) as Revoked, while one that expires is
// not told. A new list, and a follower too far behind to be told each
// change, is told as Reset. stop waits for a call in progress and must not
// be called from fn.
func (s *Store) Follow(fn func(storage.Change)) (stop func()) {
	return s.replica.Subscribe(func(c replica.Change) {
		if c.Reset {
			fn(storage.Change{Reset: true})
			return
		}
		for _, a := range c.Applied {
			if ch, ok := s.change(a); ok {
				fn(ch)
			}
		}
	})
}

// change translates one applied key into a storage.Change; false for keys
// that nothing follows (name index, count, usage, schema).
func (s *Store) change(a replica.Applied) (storage.Change, bool) {
	rest, ok := strings.CutPrefix(a.Key, s.prefix)
	if !ok {
		return storage.Change{}, false
	}
	switch {
	case strings.HasPrefix(rest, "clients/"):
		return storage.Change{ClientID: strings.TrimPrefix(rest, "clients/")}, true
	case strings.HasPrefix(rest, "users/"):
		return storage.Change{UserID: strings.TrimPrefix(rest, "users/")}, true
	case strings.HasPrefix(rest, "roles/"):
		return storage.Change{Role: strings.TrimPrefix(rest, "roles/")}, true
	case strings.HasPrefix(rest, "sessions/"):
		return storage.Change{SessionID: strings.TrimPrefix(rest, "sessions/")}, true
	case strings.HasPrefix(rest, "consents/"):
		userID, clientID, ok := consentPair(strings.TrimPrefix(rest, "consents/"))
		return storage.Change{ConsentUserID: userID, ConsentClientID: clientID}, ok
	case rest == "keys":
		return storage.Change{Keys: true}, true
	case strings.HasPrefix(rest, "revocations/"):
		// A revocation that does not decode is not told: Revocations
		// reports it.
		if a.Entry == nil || a.Entry.Err != nil {
			return storage.Change{}, false
		}
		r := a.Entry.Decoded.(storage.Revocation)
		return storage.Change{Revoked: &r}, true
	}
	return storage.Change{}, false
}

// usable fails once the Store is closed, when ctx has ended, and, with
// storage.ErrUnavailable, before the first list.
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.closeMu.RLock()
	closed := s.closed
	s.closeMu.RUnlock()
	if closed {
		return errClosed
	}
	if !s.isReady() {
		return s.notListed()
	}
	return nil
}

// notListed is the error of a call before the first list.
func (s *Store) notListed() error {
	if last := s.replica.Status().LastError; last != nil {
		return fmt.Errorf("%w: etcd at %v not listed yet; last attempt: %v", storage.ErrUnavailable, s.endpoints, last)
	}
	return fmt.Errorf("%w: etcd at %v not listed yet", storage.ErrUnavailable, s.endpoints)
}

// write runs fn, a write, with a context that requires an etcd leader and
// ends after WriteTimeout, and makes what says etcd cannot take the write
// now storage.ErrUnavailable (see the package documentation).
func (s *Store) write(ctx context.Context, fn func(ctx context.Context) error) error {
	wctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), s.writeTimeout)
	defer cancel()
	err := fn(wctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The caller's own deadline or cancellation: not ours to retry.
		return err
	}
	if na := (*notAppliedError)(nil); errors.As(err, &na) {
		return nil
	}
	if isUnavailable(err) || (wctx.Err() != nil && isDeadline(err)) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// isDeadline reports whether err is a request's deadline passing, as the
// client or etcd says it.
func isDeadline(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if ee := (rpctypes.EtcdError{}); errors.As(err, &ee) {
		return ee.Code() == codes.DeadlineExceeded
	}
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.DeadlineExceeded
}

// isUnavailable reports whether err says etcd cannot serve now: no leader,
// no connection, a request timed out inside etcd. gRPC's Unavailable code
// is what etcd gives all of these.
func isUnavailable(err error) bool {
	if ee := (rpctypes.EtcdError{}); errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable
	}
	if st, ok := status.FromError(err); ok {
		return st.Code() == codes.Unavailable
	}
	return false
}

// Keys of the layout.
func (s *Store) clientKey(id string) string      { return s.prefix + "clients/" + id }
func (s *Store) nameKey(name string) string      { return s.prefix + "names/" + storage.NameKey(name) }
func (s *Store) countKey() string                { return s.prefix + "meta/client-count" }
func (s *Store) keysKey() string                 { return s.prefix + "keys" }
func (s *Store) revocationKey(jti string) string { return s.prefix + "revocations/" + jti }
func (s *Store) usagePrefix(id string) string    { return s.prefix + "usage/" + url.PathEscape(id) + "/" }
func (s *Store) usageKey(id string) string       { return s.usagePrefix(id) + s.gateway }

// decode turns a value into what reads serve, once, as the replica applies
// it. A value that does not decode is kept with its error, which the read
// of that key returns.
func (s *Store) decode(key string, value []byte) (any, error) {
	rest, ok := strings.CutPrefix(key, s.prefix)
	if !ok {
		return nil, nil
	}
	switch {
	case strings.HasPrefix(rest, "clients/"):
		return storage.UnmarshalClient(strings.TrimPrefix(rest, "clients/"), value)
	case strings.HasPrefix(rest, "users/"):
		return s.openUser(value)
	case strings.HasPrefix(rest, "roles/"):
		return storage.UnmarshalRole(value)
	case strings.HasPrefix(rest, "sessions/"):
		return storage.UnmarshalSession(value)
	case strings.HasPrefix(rest, "auth-requests/"):
		return storage.UnmarshalAuthRequest(value)
	case strings.HasPrefix(rest, "auth-codes/"):
		return storage.UnmarshalAuthCode(value)
	case strings.HasPrefix(rest, "consents/"):
		return storage.UnmarshalConsent(value)
	case strings.HasPrefix(rest, "refresh-families/"):
		return storage.UnmarshalRefreshFamily(value)
	case rest == "keys":
		return s.openKeys(value)
	case strings.HasPrefix(rest, "revocations/"):
		var r storage.Revocation
		if err := json.Unmarshal(value, &r); err != nil {
			return nil, fmt.Errorf("decode revocation: %w", err)
		}
		return r, nil
	case strings.HasPrefix(rest, "usage/"):
		var u storage.Usage
		if err := json.Unmarshal(value, &u); err != nil {
			return nil, fmt.Errorf("decode usage: %w", err)
		}
		return u, nil
	case rest == "meta/client-count", rest == "meta/user-count":
		n, err := strconv.ParseUint(string(value), 10, 63)
		if err != nil {
			return nil, fmt.Errorf("unreadable count %s: %q", rest, clip(value))
		}
		return int64(n), nil
	}
	return nil, nil
}

// clip shortens a value quoted in an error.
func clip(b []byte) string {
	const maxQuoted = 64
	if len(b) > maxQuoted {
		return string(b[:maxQuoted]) + "…"
	}
	return string(b)
}

var (
	_ storage.Store  = (*Store)(nil)
	_ storage.Shared = (*Store)(nil)
)
