package module

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/storage"
)

// backends holds one open store per file path. A config reload provisions the
// new config before the old one is cleaned up, so both configs hold the same
// backend for a moment: opening the bbolt file a second time would wait on its
// exclusive lock. The pool hands the second config the handle that is already
// open, and closes it when the last config lets go.
var backends = caddy.NewUsagePool()

// backend is the state shared by every config that names the same store file:
// the open bbolt file and the LRU cache in front of it. Sharing the cache (not
// only the file) matters: a write made through one config must invalidate the
// records cached for every other config that is still serving.
type backend struct {
	path  string
	bolt  *storage.Bolt
	state *authserver.State
}

// acquireBackend returns the backend for path, opening the store the first time.
// Every successful call must be paired with releaseBackend.
func acquireBackend(path string, cacheSize int, lockTimeout time.Duration) (*backend, error) {
	key, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving storage path: %w", err)
	}
	val, loaded, err := backends.LoadOrNew(key, func() (caddy.Destructor, error) {
		db, err := storage.Open(key, storage.BoltOptions{Timeout: lockTimeout})
		if err != nil {
			return nil, err
		}
		cached, err := storage.NewCached(db, cacheSize)
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		state, err := authserver.NewState(context.Background(), cached, cacheSize)
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		return &backend{path: key, bolt: db, state: state}, nil
	})
	if err != nil {
		return nil, err
	}
	b := val.(*backend)
	if loaded {
		// The cache outlives configs; a reload that changes cache_size resizes it.
		b.state.Store.Resize(cacheSize)
	}
	return b, nil
}

// releaseBackend drops one reference; the last one closes the store.
func releaseBackend(b *backend) error {
	_, err := backends.Delete(b.path)
	return err
}

// Destruct flushes the usage counters and closes the store when no config
// uses it any more.
func (b *backend) Destruct() error {
	flushErr := b.state.FlushUsage(context.Background())
	if err := b.bolt.Close(); err != nil {
		return err
	}
	return flushErr
}

var _ caddy.Destructor = (*backend)(nil)
