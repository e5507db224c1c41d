package caddystore

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/internal/caddyopt"
	"github.com/scopegate/scopegate/storage"
)

func init() {
	caddy.RegisterModule(Bolt{})
}

// defaultLockTimeout is Bolt.LockTimeout's default.
const defaultLockTimeout = time.Second

// Bolt keeps the state in an embedded bbolt file: one gateway, no set-up.
// It is the default backend.
type Bolt struct {
	// Path is the bbolt file. Default: scopegate/scopegate.db under Caddy's
	// data directory. A missing directory is created with mode 0700; the
	// file gets mode 0600.
	Path string `json:"path,omitempty"`
	// LockTimeout is how long opening the file waits for another process to
	// release it before failing. Default: 1s.
	LockTimeout caddy.Duration `json:"lock_timeout,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Bolt) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "scopegate.storage.bolt",
		New: func() caddy.Module { return new(Bolt) },
	}
}

// Provision applies the defaults and makes the path absolute, so that two
// configs naming one file by different paths share it.
func (b *Bolt) Provision(caddy.Context) error {
	if b.Path == "" {
		b.Path = filepath.Join(caddy.AppDataDir(), "scopegate", "scopegate.db")
	}
	abs, err := filepath.Abs(b.Path)
	if err != nil {
		return fmt.Errorf("storage bolt: path %q: %w", b.Path, err)
	}
	b.Path = abs
	if b.LockTimeout < 0 {
		return fmt.Errorf("storage bolt: lock_timeout must not be negative")
	}
	if b.LockTimeout == 0 {
		b.LockTimeout = caddy.Duration(defaultLockTimeout)
	}
	return nil
}

// PoolKey is the file's absolute path.
func (b *Bolt) PoolKey() string { return "bolt:" + b.Path }

// Open opens the file, waiting up to LockTimeout for its lock.
func (b *Bolt) Open(*zap.Logger) (storage.Store, error) {
	return storage.Open(b.Path, storage.BoltOptions{Timeout: time.Duration(b.LockTimeout)})
}

// Name is "bolt".
func (b *Bolt) Name() string { return "bolt" }

// Describe is the file's path.
func (b *Bolt) Describe() string { return b.Path }

// StaleLimit is 0: the file is the truth, never a copy.
func (b *Bolt) StaleLimit() time.Duration { return 0 }

// UnmarshalCaddyfile reads the backend. Syntax:
//
//	bolt [<path>] {
//		path         <path>
//		lock_timeout <duration>
//	}
func (b *Bolt) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend's name
	if d.NextArg() {
		b.Path = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for d.NextBlock(0) {
		switch option := d.Val(); option {
		case "path":
			if !d.AllArgs(&b.Path) {
				return d.ArgErr()
			}
		case "lock_timeout":
			if err := caddyopt.Duration(d, &b.LockTimeout); err != nil {
				return err
			}
		default:
			return d.Errf("unknown storage bolt option %q", option)
		}
	}
	return nil
}

// Interface guards
var (
	_ Backend               = (*Bolt)(nil)
	_ caddy.Provisioner     = (*Bolt)(nil)
	_ caddyfile.Unmarshaler = (*Bolt)(nil)
)
