package module

import (
	"context"
	"errors"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/token"
)

// Refusals of key changes when the operator supplies the key as a file:
// the file is the only key, so the way to change it is to replace it.
var (
	errRotateKeyFile = &admin.KeyConflictError{Reason: "the signing key comes from signing_key_file; " +
		"to rotate, replace the file and reload the config"}
	errRevokeKeyFile = &admin.KeyConflictError{Reason: "this key comes from signing_key_file and is the only key that signs; " +
		"to retire it, replace the file with a new key and reload the config"}
)

// keyAdmin gives the admin API the signing keys: their public descriptions,
// rotation on demand, and revocation of a key that may be compromised.
type keyAdmin struct{ app *App }

// Keys lists every signing key's public description.
func (k keyAdmin) Keys(context.Context) (any, error) {
	return map[string]any{"keys": k.app.keySet().Keys()}, nil
}

// RotateKeys rotates now: the published next key starts signing, the active
// one retires and stays published until its tokens have expired.
func (k keyAdmin) RotateKeys(ctx context.Context) (any, error) {
	if k.app.SigningKeyFile != "" {
		return nil, errRotateKeyFile
	}
	if _, err := k.app.backend.keys.rotate(ctx, k.app.SigningAlg, k.app.retiredKeyLifetime(), 0); err != nil {
		return nil, err
	}
	return k.Keys(ctx)
}

// RevokeKey retires the key kid at once: it leaves the JWKS and its tokens
// are refused on the next request, cached or not, because the guard only
// accepts tokens of keys in the current set. Revoking the active key makes
// the next key sign and publishes a new next key. A file key cannot be
// revoked this way: it is the only key there is.
func (k keyAdmin) RevokeKey(ctx context.Context, kid string) (any, error) {
	if k.app.SigningKeyFile != "" {
		if k.app.keySet().HasKey(kid) {
			return nil, errRevokeKeyFile
		}
		return nil, admin.ErrKeyNotFound
	}
	err := k.app.backend.keys.revoke(ctx, kid)
	if errors.Is(err, token.ErrKeyNotFound) {
		return nil, admin.ErrKeyNotFound
	}
	if err != nil {
		return nil, err
	}
	return k.Keys(ctx)
}

var _ admin.KeyManager = keyAdmin{}
