package integration

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestKeyReferencesAreNeverFollowed sends tokens whose headers point at a
// listener the test owns (jku, x5u, a jwk with its own jku, a kid shaped as
// a URL). Every one is refused with invalid_token, and the gateway never
// connects to the listener.
func TestKeyReferencesAreNeverFollowed(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// accepted lists the peers of the listener's connections in the order
	// they were accepted, which is the order they were made in.
	var mu sync.Mutex
	var accepted []string
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c.RemoteAddr().String())
			mu.Unlock()
			c.Close()
		}
	}()
	trap := fmt.Sprintf("http://%s", l.Addr())

	f := startGuard(t)
	attacker := newSigner(t)
	forged := map[string]func() string{
		"jku": func() string {
			h := f.header()
			h["jku"] = trap + "/jwks.json"
			return attacker.es256(t, h, f.claims())
		},
		"x5u": func() string {
			h := f.header()
			h["x5u"] = trap + "/cert.pem"
			return attacker.es256(t, h, f.claims())
		},
		"jwk of the signer, with a jku": func() string {
			h := f.header()
			// The uncompressed point is 0x04 || X || Y.
			point, err := attacker.key.PublicKey.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": b64(point[1:33]), "y": b64(point[33:]), "jku": trap + "/jwks.json"}
			return attacker.es256(t, h, f.claims())
		},
		"kid a URL": func() string {
			h := f.header()
			h["kid"] = trap + "/key"
			return attacker.es256(t, h, f.claims())
		},
		"jku with our own key's signature": func() string {
			h := f.header()
			h["jku"] = trap + "/jwks.json"
			return f.key.es256(t, h, f.claims())
		},
	}
	for name, build := range forged {
		t.Run(name, func(t *testing.T) {
			wantChallenge(t, f.call(t, http.MethodGet, "/orders/1", "Bearer "+build()), http.StatusUnauthorized, "invalid_token")
		})
	}
	// A probe connection of the test's own marks the end of the requests:
	// the listener accepts connections in the order they were made, so
	// once it has accepted the probe, it has accepted every connection the
	// gateway made while answering. The probe must be the first and only
	// one; that it is seen at all shows the listener counts.
	probe, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(accepted)
	}
	if !eventually(5*time.Second, func() bool { return slices.Contains(seen(), probe.LocalAddr().String()) }) {
		t.Fatalf("the listener did not accept the test's own connection; it accepted %v", seen())
	}
	if got := seen(); len(got) != 1 {
		t.Fatalf("the gateway connected to the URL in a token header: connections from %v, the test's own from %s", got, probe.LocalAddr())
	}
}
