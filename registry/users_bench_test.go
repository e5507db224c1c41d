package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/scopegate/scopegate/password"
)

// BenchmarkSignIn measures one sign-in attempt with the default password
// parameters over the bbolt store: a wrong password for a known user and
// any password for an unknown one should cost the same, one argon2id hash
// (about 19 MiB and tens of milliseconds), and the right password a little
// more (it records last_login_at).
func BenchmarkSignIn(b *testing.B) {
	r, _, _ := newUserRegistry(b, Limits{Passwords: newHasher(b, password.DefaultParams)})
	mustCreateUser(b, r, `{"username":"alice"}`, "violet-harbour-92")
	ctx := context.Background()
	for _, bc := range []struct {
		name, username, pw string
		want               error
	}{
		{"wrong password", "alice", "violet-harbour-93", ErrBadCredentials},
		{"unknown username", "mallory", "violet-harbour-92", ErrBadCredentials},
		{"right password", "alice", "violet-harbour-92", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.SignIn(ctx, bc.username, bc.pw); !errors.Is(err, bc.want) {
					b.Fatalf("SignIn = %v, want %v", err, bc.want)
				}
			}
		})
	}
}
