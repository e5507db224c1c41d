package module

import (
	"context"
	"errors"

	"github.com/scopegate/scopegate/admin"
)

// errKeysFromFile refuses rotation when the operator supplies the key.
var errKeysFromFile = errors.New("the signing key comes from signing_key_file; replace the file and reload to rotate")

// keyAdmin gives the admin API the signing keys: their public descriptions,
// and rotation on demand.
type keyAdmin struct{ app *App }

// Keys lists every signing key's public description.
func (k keyAdmin) Keys(context.Context) (any, error) {
	return map[string]any{"keys": k.app.keySet().Keys()}, nil
}

// RotateKeys rotates now: the published next key starts signing, the active
// one retires and stays published until its tokens have expired.
func (k keyAdmin) RotateKeys(ctx context.Context) (any, error) {
	if k.app.SigningKeyFile != "" {
		return nil, errKeysFromFile
	}
	if _, err := k.app.backend.keys.rotate(ctx, k.app.SigningAlg, k.app.retiredKeyLifetime(), 0); err != nil {
		return nil, err
	}
	return k.Keys(ctx)
}

var _ admin.KeyManager = keyAdmin{}
