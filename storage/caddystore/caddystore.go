// Package caddystore holds the Caddy guest modules that choose where a
// scopegate app keeps its state (namespace scopegate.storage: bolt, the
// default, and etcd), and the process-wide pool that keeps each chosen store
// open across config reloads together with the server state shared on it.
package caddystore

import (
	"encoding/json"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/storage"
)

// Backend is a scopegate.storage module: it opens the Store a scopegate app
// keeps its clients, keys, revocations and usage in.
type Backend interface {
	// PoolKey identifies the store: configs whose backends have the same key
	// share one open store, so a reload never opens it twice.
	PoolKey() string
	// Open opens the store. A shared store is returned before its engine
	// answers: it says when it is ready (storage.Shared).
	Open(logger *zap.Logger) (storage.Store, error)
	// Name is the backend's name in health answers: "bolt" or "etcd".
	Name() string
	// Describe names the store in log lines, without any secret.
	Describe() string
	// StaleLimit is how long a shared store's copy may go without word from
	// its engine before the gateway refuses to decide on it; 0 for a store
	// that is not shared.
	StaleLimit() time.Duration
}

// Load provisions the backend that raw, the scopegate app's storage JSON,
// names: bolt when raw is empty, and a bolt file at that path when raw is a
// JSON string (the form before backends were modules).
func Load(ctx caddy.Context, raw json.RawMessage) (Backend, error) {
	switch {
	case len(raw) == 0:
		raw = json.RawMessage(`{"backend":"bolt"}`)
	case raw[0] == '"':
		var path string
		if err := json.Unmarshal(raw, &path); err != nil {
			return nil, err
		}
		raw = caddyconfig.JSONModuleObject(Bolt{Path: path}, "backend", "bolt", nil)
	}
	holder := storageHolder{Raw: raw}
	mod, err := ctx.LoadModule(&holder, "Raw")
	if err != nil {
		return nil, err
	}
	return mod.(Backend), nil
}

// storageHolder carries the storage JSON to LoadModule, which reads the
// namespace from the field's tag.
type storageHolder struct {
	Raw json.RawMessage `json:"storage,omitempty" caddy:"namespace=scopegate.storage inline_key=backend"`
}

// UnmarshalCaddyfile reads the scopegate option `storage`, on which d
// stands, and returns the backend's module JSON. Syntax:
//
//	storage <path>                  # a bolt file
//	storage bolt|etcd [...] { ... } # a backend and its options
//
// A bolt file named like a backend is written as a relative path: ./etcd.
func UnmarshalCaddyfile(d *caddyfile.Dispenser) (json.RawMessage, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	name := d.Val()
	if _, err := caddy.GetModule("scopegate.storage." + name); err != nil {
		// Not a backend's name: a bolt file's path.
		if d.NextArg() || d.NextBlock(d.Nesting()) {
			return nil, d.Errf("storage %q: not a backend (bolt or etcd), and a bolt path takes no further arguments or block", name)
		}
		return caddyconfig.JSONModuleObject(Bolt{Path: name}, "backend", "bolt", nil), nil
	}
	mod, err := caddyfile.UnmarshalModule(d, "scopegate.storage."+name)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(mod, "backend", name, nil), nil
}
