package caddystore

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/internal/caddyopt"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/etcd"
)

func init() {
	caddy.RegisterModule(Etcd{})
}

// Defaults of the etcd backend.
const (
	// defaultMaxStale is long enough that an etcd upgrade or a leader
	// election never stops the data plane, and shorter than the default
	// access token lifetime (15m), so that a client disabled during a
	// partition is refused well before its tokens would have expired anyway.
	defaultMaxStale    = 5 * time.Minute
	defaultDialTimeout = 5 * time.Second
)

// Etcd keeps the state in etcd, shared by every gateway that names the
// same endpoints and prefix. Each gateway holds a full copy in memory and
// follows etcd's changes, so token issuance and the guard never wait on the
// network.
type Etcd struct {
	// Endpoints are the etcd members' client URLs. Required.
	Endpoints []string `json:"endpoints,omitempty"`
	// Prefix is the key prefix of the registry. Default: /scopegate.
	Prefix string `json:"prefix,omitempty"`
	// GatewayID names this gateway among those sharing the prefix; its
	// usage counters are kept under it. Default: the host name.
	GatewayID string `json:"gateway_id,omitempty"`
	// Username and Password authenticate to etcd. Placeholders such as
	// {env.ETCD_PASSWORD} are replaced, so the secret need not be written
	// in the config.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// TLS, when set, connects to etcd over TLS.
	TLS *EtcdTLS `json:"tls,omitempty"`
	// SealingKeyFile or SealingKeyEnv (exactly one) give the 32-byte key
	// that seals private signing keys before they are written to etcd,
	// which has no encryption at rest: raw bytes (file only), 64 hex digits
	// or base64.
	SealingKeyFile string `json:"sealing_key_file,omitempty"`
	SealingKeyEnv  string `json:"sealing_key_env,omitempty"`
	// MaxStale is how long the gateway goes on deciding from its copy
	// without hearing from etcd; past it, guarded requests and the token
	// endpoint answer 503. Default: 5m.
	MaxStale caddy.Duration `json:"max_stale,omitempty"`
	// DialTimeout bounds each attempt to reach etcd. Default: 5s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`

	sealer    *etcd.Sealer
	tlsConfig *tls.Config
}

// EtcdTLS is the TLS set-up of the link to etcd.
type EtcdTLS struct {
	// CA is a PEM file of the certificates that sign etcd's; default: the
	// system's roots.
	CA string `json:"ca,omitempty"`
	// Cert and Key are a PEM client certificate and its key, for etcd's
	// client certificate authentication.
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
	// ServerName is the name etcd's certificate must carry, when it is not
	// the endpoints' host.
	ServerName string `json:"server_name,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Etcd) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "scopegate.storage.etcd",
		New: func() caddy.Module { return new(Etcd) },
	}
}

// Provision replaces placeholders, applies the defaults, reads the sealing
// key and the TLS files: a config that names a missing one fails to load.
func (e *Etcd) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	for i, ep := range e.Endpoints {
		e.Endpoints[i] = repl.ReplaceKnown(ep, "")
	}
	e.Username = repl.ReplaceKnown(e.Username, "")
	e.Password = repl.ReplaceKnown(e.Password, "")
	if e.Prefix == "" {
		e.Prefix = etcd.DefaultPrefix
	}
	if e.GatewayID == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("storage etcd: gateway_id is not set and the host name is unknown: %w", err)
		}
		e.GatewayID = host
	}
	if e.MaxStale == 0 {
		e.MaxStale = caddy.Duration(defaultMaxStale)
	}
	if e.DialTimeout == 0 {
		e.DialTimeout = caddy.Duration(defaultDialTimeout)
	}
	if err := e.validate(); err != nil {
		return fmt.Errorf("storage etcd: %w", err)
	}
	var err error
	if e.SealingKeyFile != "" {
		e.sealer, err = etcd.SealerFromFile(e.SealingKeyFile)
	} else {
		e.sealer, err = etcd.SealerFromEnv(e.SealingKeyEnv)
	}
	if err != nil {
		return fmt.Errorf("storage etcd: sealing key: %w", err)
	}
	if e.TLS != nil {
		if e.tlsConfig, err = e.TLS.config(); err != nil {
			return fmt.Errorf("storage etcd: tls: %w", err)
		}
	}
	return nil
}

// validate checks the options that need no file.
func (e *Etcd) validate() error {
	switch {
	case len(e.Endpoints) == 0:
		return errors.New("at least one endpoint is required")
	case strings.Contains(e.GatewayID, "/"):
		return fmt.Errorf("gateway_id %q must not contain '/'", e.GatewayID)
	case (e.SealingKeyFile == "") == (e.SealingKeyEnv == ""):
		return errors.New("exactly one of sealing_key_file and sealing_key_env is required: signing keys are sealed before they are written to etcd")
	case e.MaxStale < 0 || e.DialTimeout < 0:
		return errors.New("max_stale and dial_timeout must not be negative")
	case e.Password != "" && e.Username == "":
		return errors.New("password is set without username")
	}
	for _, ep := range e.Endpoints {
		if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
			return fmt.Errorf("endpoint %q: want an http:// or https:// URL", ep)
		}
	}
	return nil
}

// config builds the TLS configuration from the files.
func (t *EtcdTLS) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", t.CA)
		}
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, errors.New("cert and key go together")
	}
	if t.Cert != "" {
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			// The error names the files, never the key's content.
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// PoolKey names the registry, this gateway's place in it and everything
// the connection is made with, so that a reload that changes the password,
// the TLS files or the sealing key opens a new connection rather than
// keeping the old one. The secrets enter only through a hash.
func (e *Etcd) PoolKey() string {
	h := sha256.New()
	for _, part := range []string{e.Username, e.Password, e.SealingKeyFile, e.SealingKeyEnv, e.sealer.Fingerprint(), time.Duration(e.DialTimeout).String()} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	if e.TLS != nil {
		fmt.Fprintf(h, "%q", *e.TLS)
	}
	return "etcd:" + strings.Join(e.Endpoints, ",") + "|" + e.Prefix + "|" + e.GatewayID + "|" + hex.EncodeToString(h.Sum(nil))
}

// Open makes the etcd store; it lists the registry in the background.
func (e *Etcd) Open(logger *zap.Logger) (storage.Store, error) {
	return etcd.New(etcd.Options{
		Endpoints:   e.Endpoints,
		Username:    e.Username,
		Password:    e.Password,
		TLS:         e.tlsConfig,
		DialTimeout: time.Duration(e.DialTimeout),
		Prefix:      e.Prefix,
		GatewayID:   e.GatewayID,
		Sealer:      e.sealer,
		Logger:      logger,
	})
}

// Name is "etcd".
func (e *Etcd) Name() string { return "etcd" }

// Describe names the endpoints, the prefix and the gateway.
func (e *Etcd) Describe() string {
	return fmt.Sprintf("etcd %s prefix %s as gateway %s", strings.Join(e.Endpoints, ","), e.Prefix, e.GatewayID)
}

// StaleLimit is MaxStale.
func (e *Etcd) StaleLimit() time.Duration { return time.Duration(e.MaxStale) }

// UnmarshalCaddyfile reads the backend. Syntax:
//
//	etcd {
//		endpoints        <url>...
//		prefix           <key prefix>
//		gateway_id       <name>
//		username         <name>
//		password         <secret>
//		tls {
//			ca          <PEM file>
//			cert        <PEM file>
//			key         <PEM file>
//			server_name <name>
//		}
//		sealing_key_file <file>
//		sealing_key_env  <variable>
//		max_stale        <duration>
//		dial_timeout     <duration>
//	}
func (e *Etcd) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend's name
	return caddyopt.Set{
		Texts: map[string]*string{
			"prefix": &e.Prefix, "gateway_id": &e.GatewayID, "username": &e.Username, "password": &e.Password,
			"sealing_key_file": &e.SealingKeyFile, "sealing_key_env": &e.SealingKeyEnv,
		},
		Durations: map[string]*caddy.Duration{"max_stale": &e.MaxStale, "dial_timeout": &e.DialTimeout},
		Lists:     map[string]*[]string{"endpoints": &e.Endpoints},
		Other: func(d *caddyfile.Dispenser, option string) (bool, error) {
			if option != "tls" {
				return false, nil
			}
			e.TLS = new(EtcdTLS)
			return true, caddyopt.Set{Texts: map[string]*string{
				"ca": &e.TLS.CA, "cert": &e.TLS.Cert, "key": &e.TLS.Key, "server_name": &e.TLS.ServerName,
			}}.ReadBlock(d, "storage etcd tls")
		},
	}.ReadBlock(d, "storage etcd")
}

// Interface guards
var (
	_ Backend               = (*Etcd)(nil)
	_ caddy.Provisioner     = (*Etcd)(nil)
	_ caddyfile.Unmarshaler = (*Etcd)(nil)
)
