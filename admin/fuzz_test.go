package admin

import (
	"errors"
	"testing"

	"github.com/scopegate/scopegate/registry"
)

// FuzzRotateRequest feeds arbitrary bytes to the rotate body decoder:
// nothing may panic, and every refusal is a *registry.ValidationError.
func FuzzRotateRequest(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"grace_period":"1h"}`, `{"grace_period":3600,"expires_in":"720h"}`,
		`{"grace":1}`, `[]`, `null`, `{} {}`, `{"grace_period":1e99}`, "{\"grace_period\":\"\xff\"}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req rotateRequest
		err := decodeRotateRequest(body, &req)
		var ve *registry.ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("error %v (%T) is not a *registry.ValidationError", err, err)
		}
	})
}
