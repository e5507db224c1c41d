// Package etcd is a storage.Store on etcd, for many gateways that share one
// registry. Each Store keeps a full local replica of its key prefix
// (storage/replica): Open lists the prefix at one revision and then watches
// it from the next, so every read (GetClient, ListClients, CountClients,
// SigningKeys, Revocations, Usage) is served from memory without touching
// the network. Writes are etcd transactions that compare revisions
// (compare-and-swap), and a write returns only once this Store's replica
// has applied it, so a gateway reads its own writes.
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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// schemaVersion is the key layout this build reads and writes.
const schemaVersion = 1

// Defaults of Options.
const (
	DefaultPrefix      = "/scopegate"
	defaultDialTimeout = 5 * time.Second
	defaultHeartbeat   = time.Second
	defaultMinRevTTL   = time.Second
)

// ErrNoSealer is returned when signing keys are to be stored and the Store
// has no Sealer: etcd never holds a private key in the clear.
var ErrNoSealer = errors.New("no sealing key is configured, and signing keys are never stored in etcd unsealed")

// errClosed is returned by every method after Close.
var errClosed = errors.New("the etcd store is closed")

// Options configures Open.
type Options struct {
	// Client is an etcd client to use; the Store does not close it. When
	// nil, Open makes one from Endpoints, Username, Password and TLS, and
	// Close closes it.
	Client    *clientv3.Client
	Endpoints []string
	Username  string
	Password  string
	TLS       *tls.Config
	// DialTimeout bounds connecting and the first list. Zero means 5 s.
	DialTimeout time.Duration

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
	cli       *clientv3.Client
	ownClient bool
	replica   *replica.Replica
	prefix    string // with a trailing "/"
	gateway   string
	sealer    *Sealer
	minRevTTL time.Duration
	now       func() time.Time

	leases leaseCache

	// usageMu keeps this gateway's own usage writes from racing each
	// other; the compare on each key still guards against any other.
	usageMu sync.Mutex

	closeMu sync.RWMutex
	closed  bool

	// pruned is the latest time PruneRevocations was given: revocations
	// that expire at or before it are no longer reported, even if etcd has
	// not yet dropped them.
	prunedMu sync.Mutex
	pruned   time.Time
}

// Open connects to etcd, lists the registry under the prefix into memory
// and starts following it. It fails when etcd cannot be reached within
// DialTimeout (or ctx), or when the registry was written by a newer build.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.GatewayID == "" || strings.Contains(opts.GatewayID, "/") {
		return nil, fmt.Errorf("etcd: open: gateway id %q: want a non-empty name without '/'", opts.GatewayID)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	prefix = strings.TrimSuffix(prefix, "/") + "/"
	dialTimeout := opts.DialTimeout
	if dialTimeout <= 0 {
		dialTimeout = defaultDialTimeout
	}
	s := &Store{
		cli:       opts.Client,
		prefix:    prefix,
		gateway:   opts.GatewayID,
		sealer:    opts.Sealer,
		minRevTTL: opts.MinRevocationTTL,
		now:       opts.Now,
	}
	if s.minRevTTL <= 0 {
		s.minRevTTL = defaultMinRevTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cli == nil {
		logger := opts.Logger
		if logger == nil {
			logger = zap.NewNop()
		}
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:   opts.Endpoints,
			DialTimeout: dialTimeout,
			Username:    opts.Username,
			Password:    opts.Password,
			TLS:         opts.TLS,
			Logger:      logger,
		})
		if err != nil {
			return nil, fmt.Errorf("etcd: open: %w", err)
		}
		s.cli, s.ownClient = cli, true
	}
	heartbeat := opts.Heartbeat
	if heartbeat <= 0 {
		heartbeat = defaultHeartbeat
	}
	var f replica.Feed = &feed{cli: s.cli, prefix: prefix, heartbeat: heartbeat}
	if opts.wrapFeed != nil {
		f = opts.wrapFeed(f)
	}
	s.replica = replica.New(f, replica.Options{
		Decode:    s.decode,
		Heartbeat: heartbeat,
		Now:       s.now,
	})
	openCtx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := s.start(openCtx); err != nil {
		s.replica.Close()
		if s.ownClient {
			_ = s.cli.Close()
		}
		return nil, fmt.Errorf("etcd: open %s on %v: %w", prefix, s.cli.Endpoints(), err)
	}
	return s, nil
}

// start lists the registry and lays out, or checks, its schema version.
func (s *Store) start(ctx context.Context) error {
	if err := s.replica.Start(ctx); err != nil {
		return err
	}
	key := s.prefix + "meta/schema"
	if e, ok := s.replica.Get(key); ok {
		v, err := strconv.Atoi(string(e.Value))
		if err != nil || v < 1 {
			return fmt.Errorf("unreadable schema version %q", clip(e.Value))
		}
		if v > schemaVersion {
			return fmt.Errorf("the registry has schema version %d, and this build reads up to version %d: upgrade Scopegate", v, schemaVersion)
		}
		return nil
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, strconv.Itoa(schemaVersion))).
		Commit()
	if err != nil {
		return fmt.Errorf("lay out the schema version: %w", err)
	}
	// Another gateway may have laid it out first; either way it is there.
	return s.replica.WaitFor(ctx, history(resp.Header), resp.Header.Revision)
}

// Close stops following etcd and closes the client Open made. Calling it
// again does nothing.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	s.replica.Close()
	if s.ownClient {
		if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
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

// usable fails once the Store is closed or when ctx has ended.
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return errClosed
	}
	return nil
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
	case rest == "meta/client-count":
		n, err := strconv.ParseUint(string(value), 10, 63)
		if err != nil {
			return nil, fmt.Errorf("unreadable client count %q", clip(value))
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

var _ storage.Store = (*Store)(nil)
