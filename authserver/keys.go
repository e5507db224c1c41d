package authserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// KeySource is where a config's signing keys come from: the keys generated
// and kept in the store (StoredKeys) or the operator's key file (FileKey).
// Everything that signs, verifies, rotates or retires keys goes through it,
// so nothing else asks which kind it is.
type KeySource interface {
	// KeySet returns the keys to sign and verify with; never nil once
	// loaded.
	KeySet() *token.KeySet
	// Load prepares the keys once the store is open; ring is the store's.
	Load(ctx context.Context, ring *KeyRing) error
	// Rotate makes the next key sign. With due > 0 it is the automatic
	// rotation, done only when the active key is older than due; with 0 it
	// is an operator's request. It reports whether it rotated.
	Rotate(ctx context.Context, due time.Duration) (rotated bool, err error)
	// Retire takes the key kid out of service at once, for a key that may
	// be compromised: its tokens stop verifying. admin.ErrKeyNotFound when
	// there is no such key.
	Retire(ctx context.Context, kid string) error
	// IDTokenAlgorithms are the algorithms ID tokens may be signed with,
	// known with the config (before the keys load): what a client's
	// id_token_signed_response_alg may name.
	IDTokenAlgorithms() []string
}

// StoredKeys are keys generated and kept in the store, rotated by the
// gateway. They are shared: a config reads them when it starts (the first
// start makes them), so a rotation through one config is seen by every
// config on the store.
type StoredKeys struct {
	// Alg is the algorithm of the keys generated from now on.
	Alg string
	// RetiredLifetime is how long a retired key stays published.
	RetiredLifetime time.Duration

	// ring is set by Load, which runs in the background on a shared store
	// that is not ready yet, while requests and the start's log read it.
	ring atomic.Pointer[KeyRing]
}

// KeySet returns the ring's current keys; nil until Load.
func (s *StoredKeys) KeySet() *token.KeySet {
	if ring := s.ring.Load(); ring != nil {
		return ring.keySet()
	}
	return nil
}

// loaded returns the ring, or storage.ErrUnavailable until Load.
func (s *StoredKeys) loaded() (*KeyRing, error) {
	if ring := s.ring.Load(); ring != nil {
		return ring, nil
	}
	return nil, fmt.Errorf("scopegate: the signing keys are not loaded yet: %w", storage.ErrUnavailable)
}

// Load makes sure the store holds an active and a next key and installs
// them for every config on the store, read now so that a rotation made by
// the previous config is kept.
func (s *StoredKeys) Load(ctx context.Context, ring *KeyRing) error {
	if err := ring.prepareStored(ctx, s.Alg); err != nil {
		return fmt.Errorf("scopegate: %w", err)
	}
	s.ring.Store(ring)
	return nil
}

// Rotate rotates to Alg, when due (see KeySource).
func (s *StoredKeys) Rotate(ctx context.Context, due time.Duration) (bool, error) {
	ring, err := s.loaded()
	if err != nil {
		return false, err
	}
	return ring.rotate(ctx, s.Alg, s.RetiredLifetime, due)
}

// Retire retires kid at once. Retiring the active key makes the next key
// sign and publishes a new next key.
func (s *StoredKeys) Retire(ctx context.Context, kid string) error {
	ring, err := s.loaded()
	if err != nil {
		return err
	}
	err = ring.retire(ctx, kid)
	if errors.Is(err, token.ErrKeyNotFound) {
		return admin.ErrKeyNotFound
	}
	return err
}

// IDTokenAlgorithms are Alg and RS256: the store keeps an RS256 key for ID
// tokens beside a key of another algorithm.
func (s *StoredKeys) IDTokenAlgorithms() []string {
	if s.Alg == token.AlgRS256 {
		return []string{token.AlgRS256}
	}
	return []string{s.Alg, token.AlgRS256}
}

// Refusals of key changes when the operator supplies the key as a file:
// the file is the only key, so the way to change it is to replace it.
var (
	errRotateKeyFile = &admin.KeyConflictError{Reason: "the signing key comes from signing_key_file; " +
		"to rotate, replace the file and reload the config"}
	errRetireKeyFile = &admin.KeyConflictError{Reason: "this key comes from signing_key_file and is the only key that signs; " +
		"to retire it, replace the file with a new key and reload the config"}
	errRetireIDTokenKeyFile = &admin.KeyConflictError{Reason: "this key comes from id_token_key_file and is the only key that signs RS256 ID tokens; " +
		"to retire it, replace the file with a new RSA key and reload the config"}
)

// FileKey is the operator's one signing key, read from a file. It is read
// and checked when the config loads, so a config with a bad key file fails
// to load (and `caddy validate` reports it); it stays the config's own, so a
// config that fails to load or start never touches the keys of the one that
// runs. Stored keys stay untouched for a later return to managed keys.
type FileKey struct {
	keys *token.KeySet
	// idTokenKID is the kid of the id_token_key_file's key, if any.
	idTokenKID string
}

// ReadKeyFile reads the key at path (PEM or a private JWK) for alg and,
// when idTokenPath is set, the RSA key there, which then signs RS256 ID
// tokens only (id_token_key_file, for an alg other than RS256). A key that
// cannot be read is an error: the gateway never serves without the keys it
// was told to use.
func ReadKeyFile(path, idTokenPath, alg string, now time.Time) (*FileKey, error) {
	switch {
	case path == "":
		return nil, errors.New("id_token_key_file needs signing_key_file: generated keys come with their own RS256 key for ID tokens")
	case idTokenPath != "" && alg == token.AlgRS256:
		return nil, errors.New("id_token_key_file is not used with signing_alg RS256: the signing key signs ID tokens too")
	}
	key, err := readKey("signing_key_file", path, alg, now)
	if err != nil {
		return nil, err
	}
	keys := []storage.SigningKey{key}
	if idTokenPath != "" {
		idKey, err := readKey("id_token_key_file", idTokenPath, token.AlgRS256, now)
		if err != nil {
			return nil, err
		}
		idKey.Use = storage.KeyUseIDToken
		keys = append(keys, idKey)
	}
	ks, err := token.NewKeySet(keys, now)
	if err != nil {
		return nil, err
	}
	f := &FileKey{keys: ks}
	if len(keys) > 1 {
		f.idTokenKID = keys[1].ID
	}
	return f, nil
}

// readKey reads the key file of option at path for alg.
func readKey(option, path, alg string, now time.Time) (storage.SigningKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("reading %s: %w", option, err)
	}
	key, err := token.KeyFromFile(data, alg, now)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("%s %s: %w", option, path, err)
	}
	return key, nil
}

// KeySet returns the file's key.
func (f *FileKey) KeySet() *token.KeySet { return f.keys }

// IDTokenAlgorithms is the file key's algorithm, and RS256 when an
// id_token_key_file was given.
func (f *FileKey) IDTokenAlgorithms() []string { return f.keys.IDTokenAlgorithms() }

// Load does nothing: the key was read with the config.
func (f *FileKey) Load(context.Context, *KeyRing) error { return nil }

// Rotate is the operator's, by replacing the file: automatic rotation
// passes, a request is refused with a conflict that says so.
func (f *FileKey) Rotate(_ context.Context, due time.Duration) (bool, error) {
	if due > 0 {
		return false, nil
	}
	return false, errRotateKeyFile
}

// Retire refuses: the file's key is the only key there is.
func (f *FileKey) Retire(_ context.Context, kid string) error {
	switch {
	case kid == f.idTokenKID && kid != "":
		return errRetireIDTokenKeyFile
	case f.keys.HasKey(kid):
		return errRetireKeyFile
	}
	return admin.ErrKeyNotFound
}

// KeyAdmin gives the admin API the signing keys: their public descriptions,
// rotation on demand, and retirement of a key that may be compromised.
type KeyAdmin struct{ Source KeySource }

// Keys lists every signing key's public description, as {"keys": [...]}.
func (k KeyAdmin) Keys(context.Context) ([]token.KeyInfo, error) {
	return k.Source.KeySet().Keys(), nil
}

// RotateKeys rotates now: the published next key starts signing, the active
// one retires and stays published until its tokens have expired.
func (k KeyAdmin) RotateKeys(ctx context.Context) ([]token.KeyInfo, error) {
	if _, err := k.Source.Rotate(ctx, 0); err != nil {
		return nil, err
	}
	return k.Keys(ctx)
}

// RevokeKey retires the key kid at once: it leaves the JWKS and its tokens
// are refused on the next request, cached or not, because the guard only
// accepts tokens of keys in the current set.
func (k KeyAdmin) RevokeKey(ctx context.Context, kid string) ([]token.KeyInfo, error) {
	if err := k.Source.Retire(ctx, kid); err != nil {
		return nil, err
	}
	return k.Keys(ctx)
}

var (
	_ KeySource        = (*StoredKeys)(nil)
	_ KeySource        = (*FileKey)(nil)
	_ admin.KeyManager = KeyAdmin{}
)
