package caddystore

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/storage"
)

// pool holds one open store per Backend.PoolKey. A config reload provisions
// the new config before the old one is cleaned up, so both configs hold the
// same store for a moment: opening a bbolt file a second time would wait on
// its exclusive lock, and a second etcd replica would double the memory and
// the watch. The pool hands the second config the store that is open, and
// closes it when the last config lets go.
var pool = caddy.NewUsagePool()

// Handle is an open store and the server state every config on it shares:
// the cache in front of the store (a write made through one config must
// invalidate the records cached for every other config that is still
// serving), the keys, the revoked tokens and the usage counters.
type Handle struct {
	key   string
	store storage.Store
	// State is the server state shared on the store.
	State *authserver.State
}

// Acquire returns the handle of b's store, opening it the first time.
// Every successful call must be paired with Release.
func Acquire(b Backend, cacheSize int, logger *zap.Logger) (*Handle, error) {
	key := b.PoolKey()
	val, loaded, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		store, err := b.Open(logger.Named("store"))
		if err != nil {
			return nil, err
		}
		cached, err := storage.NewCached(store, cacheSize)
		if err != nil {
			_ = store.Close()
			return nil, err
		}
		return &Handle{key: key, store: store, State: authserver.NewState(cached, cacheSize, logger)}, nil
	})
	if err != nil {
		return nil, err
	}
	h := val.(*Handle)
	if loaded {
		// The cache outlives configs; a reload that changes cache_size resizes it.
		if err := h.State.Store.Resize(cacheSize); err != nil {
			_ = h.Release()
			return nil, err
		}
	}
	return h, nil
}

// Release drops one reference; the last one closes the store.
func (h *Handle) Release() error {
	_, err := pool.Delete(h.key)
	return err
}

// Destruct flushes the usage counters and closes the store once no config
// uses it any more.
func (h *Handle) Destruct() error {
	h.State.Close()
	flushErr := h.State.FlushUsage(context.Background())
	if err := h.store.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	return flushErr
}

var _ caddy.Destructor = (*Handle)(nil)
