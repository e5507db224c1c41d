package integration

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestKeyReferencesAreNeverFollowed sends tokens whose headers point at a
// listener the test owns (jku, x5u, a jwk with its own jku, a kid shaped as
// a URL). Every one is refused with invalid_token, and the gateway never
// connects to the listener.
func TestKeyReferencesAreNeverFollowed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var connections atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
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
	// Anything fetched would have been fetched before the answer; allow a
	// moment for a connection made in the background all the same.
	time.Sleep(200 * time.Millisecond)
	if n := connections.Load(); n != 0 {
		t.Fatalf("the gateway connected to the URL in a token header %d times", n)
	}
	// The listener works: the count above could have seen a connection.
	if c, err := net.Dial("tcp", l.Addr().String()); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for connections.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if connections.Load() != 1 {
		t.Fatal("the listener did not count a connection made to it")
	}
}
