package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// guardCaddyfile protects several routes in front of one echo upstream. The
// signing key comes from a file the test made, so the test can also sign
// tokens of its own with the gateway's real key. A second server on the
// proxy port stands in for a load balancer whose client is 10.1.2.3: it
// connects from 127.0.0.2, the only trusted proxy, and says so in
// X-Forwarded-For.
const guardCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	servers :{{.HTTPPort}} {
		trusted_proxies static 127.0.0.2/32
	}
	scopegate {
		issuer           http://127.0.0.1:{{.HTTPPort}}
		storage          {{.Dir}}/scopegate.db
		signing_key_file {{.Dir}}/signing.pem
		scope_implies    full      *
		scope_implies    read:full read:*
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	handle /orders/* {
		scopegate_guard {
			scopes   orders:read
			method   POST PUT DELETE scopes orders:write
			audience https://api.example.com/orders
		}
		reverse_proxy {{.Upstream}}
	}
	handle /billing/* {
		scopegate_guard billing:read
		reverse_proxy {{.Upstream}}
	}
	handle /reports/* {
		scopegate_guard {
			scopes read:reports read:all
			mode   any
		}
		reverse_proxy {{.Upstream}}
	}
	handle /private/* {
		scopegate_guard {
			clients {{.RouteClient}}
			strip_authorization
		}
		reverse_proxy {{.Upstream}}
	}
	respond "no such route" 404
}

http://127.0.0.1:{{.ProxyPort}} {
	reverse_proxy 127.0.0.1:{{.HTTPPort}} {
		header_up X-Forwarded-For 10.1.2.3
		transport http {
			local_address 127.0.0.2
		}
	}
}
`

// echoUpstream answers with the request it received, as JSON.
func echoUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "headers": r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// signer signs tokens with a key of the test's choosing.
type signer struct {
	key *ecdsa.PrivateKey
	kid string
}

func newSigner(t *testing.T) *signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{key: key}
}

// writePEM stores the key where the gateway reads it.
func (s *signer) writePEM(t *testing.T, path string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func b64(v any) string {
	var raw []byte
	switch v := v.(type) {
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		raw, _ = json.Marshal(v)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// es256 signs header and claims (any JSON values) with s's key.
func (s *signer) es256(t *testing.T, header, claims any) string {
	t.Helper()
	input := b64(header) + "." + b64(claims)
	digest := sha256.Sum256([]byte(input))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	// The low-S form, as the gateway writes it; the guard refuses the other.
	if n := elliptic.P256().Params().N; sv.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		sv.Sub(n, sv)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return input + "." + b64(sig)
}

// guardFixture is a running gateway with routes, clients and a signer.
type guardFixture struct {
	g        *Gateway
	key      *signer
	upstream *httptest.Server
	app      createdClient // orders:read orders:write billing:read read:all
}

func startGuard(t *testing.T) *guardFixture {
	t.Helper()
	f := &guardFixture{key: newSigner(t), upstream: echoUpstream(t)}
	f.g = NewGateway(t, guardCaddyfile)
	f.g.Vars["Upstream"] = strings.TrimPrefix(f.upstream.URL, "http://")
	f.g.Vars["ProxyPort"] = freePort(t)
	f.g.Vars["RouteClient"] = "none-yet"
	f.key.writePEM(t, filepath.Join(f.g.Dir, "signing.pem"))
	f.g.Start()

	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	do(t, http.MethodGet, f.g.URL("/.well-known/jwks.json"), nil).JSON(t, &jwks)
	if len(jwks.Keys) != 1 {
		t.Fatalf("want the file key alone in the JWKS, got %+v", jwks)
	}
	f.key.kid = jwks.Keys[0].Kid
	f.app = createClient(t, f.g, map[string]any{
		"client_name": "orders-app",
		"scope":       "orders:read orders:write billing:read read:all full read:full",
		"audience":    []string{"https://api.example.com/orders"},
	})
	return f
}

// call sends a request with the given Authorization header values.
func (f *guardFixture) call(t *testing.T, method, path string, authorization ...string) apiResponse {
	t.Helper()
	return f.callVia(t, f.g.URL(path), method, nil, authorization...)
}

func (f *guardFixture) callVia(t *testing.T, url, method string, extra http.Header, authorization ...string) apiResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	return doRequest(t, req)
}

// token fetches a real token for c.
func (f *guardFixture) token(t *testing.T, c createdClient, scopes ...string) string {
	t.Helper()
	return fetchToken(t, f.g, c, scopes...).AccessToken
}

// claims returns a valid claim set for the app client, for forging variants.
func (f *guardFixture) claims() map[string]any {
	now := time.Now().Unix()
	return map[string]any{
		"iss": f.g.URL(""), "sub": f.app.ClientID, "client_id": f.app.ClientID,
		"aud": "https://api.example.com/orders", "exp": now + 300, "iat": now,
		"jti": fmt.Sprint("forged-", now, "-", time.Now().UnixNano()), "scope": "orders:read",
	}
}

func (f *guardFixture) header() map[string]any {
	return map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": f.key.kid}
}

// wantChallenge checks a refusal's status, its error code in the
// WWW-Authenticate header and in the body.
func wantChallenge(t *testing.T, resp apiResponse, status int, code string) {
	t.Helper()
	challenge := resp.Header.Get("WWW-Authenticate")
	if resp.Status != status {
		t.Fatalf("status %d (%s), want %d; challenge %q", resp.Status, resp.Body, status, challenge)
	}
	if !strings.HasPrefix(challenge, `Bearer realm="scopegate"`) {
		t.Fatalf("WWW-Authenticate %q", challenge)
	}
	if code == "" {
		if strings.Contains(challenge, "error=") {
			t.Fatalf("challenge without a token has an error attribute: %q", challenge)
		}
		return
	}
	if !strings.Contains(challenge, `error="`+code+`"`) || resp.ErrorCode() != code {
		t.Fatalf("challenge %q body %s, want error %s", challenge, resp.Body, code)
	}
	if strings.Contains(string(resp.Body), "headers") {
		t.Fatal("the upstream was reached")
	}
}

// upstreamSaw decodes what the echo upstream received.
func upstreamSaw(t *testing.T, resp apiResponse) http.Header {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d: %s; challenge %q", resp.Status, resp.Body, resp.Header.Get("WWW-Authenticate"))
	}
	var echo struct {
		Headers http.Header `json:"headers"`
	}
	resp.JSON(t, &echo)
	return echo.Headers
}

func TestGuardAdmitsAndIdentifies(t *testing.T) {
	t.Parallel()
	f := startGuard(t)
	tok := f.token(t, f.app, "orders:read", "billing:read")

	saw := upstreamSaw(t, f.call(t, http.MethodGet, "/orders/1", "Bearer "+tok))
	if saw.Get("X-Client-Id") != f.app.ClientID || saw.Get("X-Scope") != "orders:read billing:read" {
		t.Fatalf("upstream saw X-Client-Id %q X-Scope %q", saw.Get("X-Client-Id"), saw.Get("X-Scope"))
	}
	if saw.Get("Authorization") != "Bearer "+tok {
		t.Error("Authorization not forwarded by default")
	}
	t.Run("lower-case scheme", func(t *testing.T) {
		upstreamSaw(t, f.call(t, http.MethodGet, "/orders/1", "bearer "+tok))
	})
	t.Run("forged identity headers are replaced", func(t *testing.T) {
		extra := http.Header{"X-Client-Id": {"admin"}, "X-Scope": {"*"}, "X_client_id": {"admin"}, "X_scope": {"*"},
			"X-User-Id": {"admin"}, "X_user_id": {"admin"}}
		saw := upstreamSaw(t, f.callVia(t, f.g.URL("/billing/x"), http.MethodGet, extra, "Bearer "+tok))
		if got := saw.Values("X-Client-Id"); len(got) != 1 || got[0] != f.app.ClientID {
			t.Errorf("X-Client-Id %v", got)
		}
		if got := saw.Values("X-Scope"); len(got) != 1 || got[0] != "orders:read billing:read" {
			t.Errorf("X-Scope %v", got)
		}
		if got := saw.Values("X-User-Id"); len(got) != 0 {
			t.Errorf("X-User-Id %v reached the upstream with the client's own token", got)
		}
		for name := range saw {
			if strings.Contains(name, "_") {
				t.Errorf("underscore header %q reached the upstream", name)
			}
		}
	})
	t.Run("write needs the method's scope", func(t *testing.T) {
		wantChallenge(t, f.call(t, http.MethodPost, "/orders/1", "Bearer "+tok), http.StatusForbidden, "insufficient_scope")
		writer := f.token(t, f.app, "orders:read", "orders:write")
		upstreamSaw(t, f.call(t, http.MethodPost, "/orders/1", "Bearer "+writer))
	})
	t.Run("a method policy holds whatever the method's case", func(t *testing.T) {
		// /orders/ needs orders:write for POST PUT DELETE; tok lacks it.
		// Servers and frameworks (Flask, Express) route `delete` to their
		// DELETE handler, so every spelling must be held to the policy.
		for _, method := range []string{"delete", "Delete", "post", "pUt"} {
			wantChallenge(t, f.call(t, method, "/orders/42", "Bearer "+tok), http.StatusForbidden, "insufficient_scope")
		}
	})
	t.Run("a token cached on one route does not carry to another", func(t *testing.T) {
		only := f.token(t, f.app, "orders:read")
		upstreamSaw(t, f.call(t, http.MethodGet, "/orders/2", "Bearer "+only))
		resp := f.call(t, http.MethodGet, "/billing/2", "Bearer "+only)
		wantChallenge(t, resp, http.StatusForbidden, "insufficient_scope")
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="billing:read"`) {
			t.Errorf("challenge does not name the scope: %q", resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("any-of mode", func(t *testing.T) {
		upstreamSaw(t, f.call(t, http.MethodGet, "/reports/q", "Bearer "+f.token(t, f.app, "read:all")))
		wantChallenge(t, f.call(t, http.MethodGet, "/reports/q", "Bearer "+f.token(t, f.app, "billing:read")),
			http.StatusForbidden, "insufficient_scope")
	})
	t.Run("implication rules", func(t *testing.T) {
		// full implies everything; read:full implies every read: scope.
		upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+f.token(t, f.app, "full")))
		upstreamSaw(t, f.call(t, http.MethodGet, "/reports/1", "Bearer "+f.token(t, f.app, "read:full")))
		wantChallenge(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+f.token(t, f.app, "read:full")),
			http.StatusForbidden, "insufficient_scope")
	})
	t.Run("scope look-alikes", func(t *testing.T) {
		for _, sc := range []string{"billing:readwrite", "BILLING:READ", "billing", "billing:read:x"} {
			claims := f.claims()
			claims["scope"] = sc
			wantChallenge(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+f.key.es256(t, f.header(), claims)),
				http.StatusForbidden, "insufficient_scope")
		}
	})
	t.Run("placeholders are set", func(t *testing.T) {
		// Checked through the access path: the route answers only after the
		// guard set them, and the upstream saw the identity; the log test of
		// the operating issue reads them from access logs.
		upstreamSaw(t, f.call(t, http.MethodGet, "/orders/3", "Bearer "+tok))
	})
}

func TestGuardRefusesBadRequests(t *testing.T) {
	t.Parallel()
	f := startGuard(t)
	tok := f.token(t, f.app, "orders:read")

	t.Run("no Authorization", func(t *testing.T) {
		resp := f.call(t, http.MethodGet, "/orders/1")
		wantChallenge(t, resp, http.StatusUnauthorized, "")
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `resource_metadata="http://127.0.0.1:`) {
			t.Errorf("no resource_metadata: %q", resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("Basic on a guarded route", func(t *testing.T) {
		wantChallenge(t, f.call(t, http.MethodGet, "/orders/1", "Basic "+b64(f.app.ClientID+":"+f.app.ClientSecret)), http.StatusUnauthorized, "")
	})
	t.Run("token in the query only", func(t *testing.T) {
		wantChallenge(t, f.call(t, http.MethodGet, "/orders/1?access_token="+tok), http.StatusUnauthorized, "")
	})
	t.Run("two Authorization headers", func(t *testing.T) {
		wantChallenge(t, f.call(t, http.MethodGet, "/orders/1", "Bearer "+tok, "Bearer "+tok), http.StatusBadRequest, "invalid_request")
	})
	t.Run("Bearer a b", func(t *testing.T) {
		wantChallenge(t, f.call(t, http.MethodGet, "/orders/1", "Bearer a b"), http.StatusBadRequest, "invalid_request")
	})
	t.Run("empty token", func(t *testing.T) {
		resp := f.call(t, http.MethodGet, "/orders/1", "Bearer ")
		if resp.Status != http.StatusBadRequest && resp.Status != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.Status)
		}
	})
	t.Run("a megabyte of dots", func(t *testing.T) {
		start := time.Now()
		resp := f.call(t, http.MethodGet, "/orders/1", "Bearer "+strings.Repeat(".", 1<<20))
		if resp.Status != http.StatusUnauthorized && resp.Status != http.StatusBadRequest && resp.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", resp.Status)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("took %s", time.Since(start))
		}
	})

	forged := map[string]func() string{
		"alg none": func() string {
			h := f.header()
			h["alg"] = "none"
			return b64(h) + "." + b64(f.claims()) + "."
		},
		"alg NONE with a signature": func() string {
			h := f.header()
			h["alg"] = "NONE"
			return b64(h) + "." + b64(f.claims()) + "." + b64("sig")
		},
		"HS256 with our public key as secret": func() string {
			h := f.header()
			h["alg"] = "HS256"
			der, _ := x509.MarshalPKIXPublicKey(&f.key.key.PublicKey)
			input := b64(h) + "." + b64(f.claims())
			mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			mac.Write([]byte(input))
			return input + "." + b64(mac.Sum(nil))
		},
		"foreign key with our kid": func() string {
			return newSigner(t).es256(t, f.header(), f.claims())
		},
		"RS256 header on our ES256 key": func() string {
			h := f.header()
			h["alg"] = "RS256"
			return f.key.es256(t, h, f.claims())
		},
		"jku header": func() string {
			h := f.header()
			h["jku"] = "http://127.0.0.1:1/jwks.json"
			return f.key.es256(t, h, f.claims())
		},
		"jwk header": func() string {
			h := f.header()
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}
			return f.key.es256(t, h, f.claims())
		},
		"x5u header": func() string {
			h := f.header()
			h["x5u"] = "http://127.0.0.1:1/cert.pem"
			return f.key.es256(t, h, f.claims())
		},
		"unknown kid": func() string {
			h := f.header()
			h["kid"] = "nope"
			return f.key.es256(t, h, f.claims())
		},
		"huge kid": func() string {
			h := f.header()
			h["kid"] = strings.Repeat("k", 4000)
			return f.key.es256(t, h, f.claims())
		},
		"path kid": func() string {
			h := f.header()
			h["kid"] = "../../../../etc/passwd"
			return f.key.es256(t, h, f.claims())
		},
		"sql kid": func() string {
			h := f.header()
			h["kid"] = "' OR 1=1 --"
			return f.key.es256(t, h, f.claims())
		},
		"typ missing": func() string {
			h := f.header()
			delete(h, "typ")
			return f.key.es256(t, h, f.claims())
		},
		"typ JWT": func() string {
			h := f.header()
			h["typ"] = "JWT"
			return f.key.es256(t, h, f.claims())
		},
		"crit header": func() string {
			h := f.header()
			h["crit"] = []string{"exp"}
			return f.key.es256(t, h, f.claims())
		},
		"issuer with trailing slash": func() string {
			c := f.claims()
			c["iss"] = f.g.URL("/")
			return f.key.es256(t, f.header(), c)
		},
		"audience missing": func() string {
			c := f.claims()
			delete(c, "aud")
			return f.key.es256(t, f.header(), c)
		},
		"audience empty": func() string {
			c := f.claims()
			c["aud"] = ""
			return f.key.es256(t, f.header(), c)
		},
		"another audience": func() string {
			c := f.claims()
			c["aud"] = "https://api.example.com/billing"
			return f.key.es256(t, f.header(), c)
		},
		"our audience as a prefix": func() string {
			c := f.claims()
			c["aud"] = "https://api.example.com/orders-admin"
			return f.key.es256(t, f.header(), c)
		},
		"exp absent": func() string {
			c := f.claims()
			delete(c, "exp")
			return f.key.es256(t, f.header(), c)
		},
		"exp zero": func() string {
			c := f.claims()
			c["exp"] = 0
			return f.key.es256(t, f.header(), c)
		},
		"exp a string": func() string {
			c := f.claims()
			c["exp"] = fmt.Sprint(time.Now().Unix() + 300)
			return f.key.es256(t, f.header(), c)
		},
		"expired past the leeway": func() string {
			c := f.claims()
			c["exp"] = time.Now().Unix() - 120
			return f.key.es256(t, f.header(), c)
		},
		"nbf in the future": func() string {
			c := f.claims()
			c["nbf"] = time.Now().Unix() + 600
			return f.key.es256(t, f.header(), c)
		},
		"iat far in the future": func() string {
			c := f.claims()
			c["iat"] = time.Now().Unix() + 3600
			return f.key.es256(t, f.header(), c)
		},
		"scope with a tab": func() string {
			// Split on any whitespace this would grant orders:read; the
			// RFC 6749 grammar the token endpoint issues with refuses it.
			c := f.claims()
			c["scope"] = "billing:read\torders:read"
			return f.key.es256(t, f.header(), c)
		},
		"scope with a double space": func() string {
			c := f.claims()
			c["scope"] = "orders:read  billing:read"
			return f.key.es256(t, f.header(), c)
		},
		"scope with a control character": func() string {
			c := f.claims()
			c["scope"] = "orders:read\x0bbilling:read"
			return f.key.es256(t, f.header(), c)
		},
		"expired and badly signed": func() string {
			c := f.claims()
			c["exp"] = time.Now().Unix() - 120
			return newSigner(t).es256(t, f.header(), c)
		},
		"empty signature": func() string {
			parts := strings.Split(f.key.es256(t, f.header(), f.claims()), ".")
			return parts[0] + "." + parts[1] + "."
		},
		"extra segment": func() string {
			return f.key.es256(t, f.header(), f.claims()) + ".x"
		},
		"five-part JWE": func() string {
			return b64(map[string]any{"alg": "RSA-OAEP", "enc": "A256GCM", "kid": f.key.kid}) + ".a.b.c.d"
		},
		"padded base64": func() string {
			// b64token allows '=' only at the end: pad the signature.
			parts := strings.Split(f.key.es256(t, f.header(), f.claims()), ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			return parts[0] + "." + parts[1] + "." + base64.URLEncoding.EncodeToString(sig)
		},
		"standard base64 alphabet": func() string {
			parts := strings.Split(f.key.es256(t, f.header(), f.claims()), ".")
			return parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+/"
		},
	}
	for name, make := range forged {
		t.Run(name, func(t *testing.T) {
			wantChallenge(t, f.call(t, http.MethodGet, "/orders/1", "Bearer "+make()), http.StatusUnauthorized, "invalid_token")
		})
	}
	t.Run("padding inside the token", func(t *testing.T) {
		parts := strings.Split(f.key.es256(t, f.header(), f.claims()), ".")
		wantChallenge(t, f.call(t, http.MethodGet, "/orders/1", "Bearer "+parts[0]+"=."+parts[1]+"."+parts[2]),
			http.StatusBadRequest, "invalid_request")
	})
	t.Run("JSON serialization", func(t *testing.T) {
		resp := f.call(t, http.MethodGet, "/orders/1", `Bearer {"payload":"x","signatures":[]}`)
		if resp.Status != http.StatusBadRequest && resp.Status != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.Status)
		}
	})

	accepted := map[string]func() string{
		"typ at+JWT": func() string {
			h := f.header()
			h["typ"] = "at+JWT"
			return f.key.es256(t, h, f.claims())
		},
		"typ application/at+jwt": func() string {
			h := f.header()
			h["typ"] = "application/at+jwt"
			return f.key.es256(t, h, f.claims())
		},
		"audience array containing ours": func() string {
			c := f.claims()
			c["aud"] = []string{"https://other.example/", "https://api.example.com/orders"}
			return f.key.es256(t, f.header(), c)
		},
	}
	for name, make := range accepted {
		t.Run(name, func(t *testing.T) {
			upstreamSaw(t, f.call(t, http.MethodGet, "/orders/1", "Bearer "+make()))
		})
	}
}

func TestGuardFollowsClientChanges(t *testing.T) {
	t.Parallel()
	f := startGuard(t)
	admin := func(method, path string, body any) {
		t.Helper()
		if resp := do(t, method, f.g.AdminURL("/scopegate/clients/"+f.app.ClientID+path), body); resp.Status >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.Status, resp.Body)
		}
	}
	live := func() string {
		tok := f.token(t, f.app, "billing:read")
		upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok)) // now cached
		return tok
	}

	t.Run("disable", func(t *testing.T) {
		tok := live()
		admin(http.MethodPost, "/disable", nil)
		wantChallenge(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok), http.StatusUnauthorized, "invalid_token")
		admin(http.MethodPost, "/enable", nil)
		upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok))
	})
	t.Run("allowlist", func(t *testing.T) {
		tok := live()
		admin(http.MethodPatch, "", `{"ip_allowlist":["10.0.0.0/8"]}`)
		resp := f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok)
		if resp.Status != http.StatusForbidden || resp.ErrorCode() != "access_denied" {
			t.Fatalf("outside allowlist: %d %s", resp.Status, resp.Body)
		}
		// A forged X-Forwarded-For from an untrusted peer is ignored.
		extra := http.Header{"X-Forwarded-For": {"10.1.2.3"}}
		if resp := f.callVia(t, f.g.URL("/billing/1"), http.MethodGet, extra, "Bearer "+tok); resp.Status != http.StatusForbidden {
			t.Fatalf("forged X-Forwarded-For passed: %d", resp.Status)
		}
		// Through the trusted proxy, the forwarded address counts.
		proxy := fmt.Sprintf("http://127.0.0.1:%d/billing/1", f.g.Vars["ProxyPort"])
		upstreamSaw(t, f.callVia(t, proxy, http.MethodGet, extra, "Bearer "+tok))
		admin(http.MethodPatch, "", `{"ip_allowlist":null}`)
		upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok))
	})
	t.Run("narrowing the client's scopes holds on the next request", func(t *testing.T) {
		// A live token admits only the scopes its client still holds: what
		// the token grants, cut to the client's current scopes.
		tok := live()
		both := f.token(t, f.app, "orders:read", "billing:read")
		upstreamSaw(t, f.call(t, http.MethodGet, "/orders/1", "Bearer "+both)) // now cached
		admin(http.MethodPatch, "", `{"scope":"orders:read"}`)
		wantChallenge(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok), http.StatusForbidden, "insufficient_scope")
		wantChallenge(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+both), http.StatusForbidden, "insufficient_scope")
		// What is left still works, and the upstream is told only that.
		saw := upstreamSaw(t, f.call(t, http.MethodGet, "/orders/1", "Bearer "+both))
		if got := saw.Values("X-Scope"); len(got) != 1 || got[0] != "orders:read" {
			t.Errorf("X-Scope %q, want the effective scopes only", got)
		}
		// A scope given back works again at once.
		admin(http.MethodPatch, "", `{"scope":"orders:read orders:write billing:read read:all full read:full"}`)
		upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok))
	})
	t.Run("narrowing cuts an implied scope too", func(t *testing.T) {
		// full implies every scope: once the client no longer holds full,
		// a token granted full implies nothing.
		full := f.token(t, f.app, "full")
		upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+full))
		admin(http.MethodPatch, "", `{"scope":"orders:read billing:read"}`)
		wantChallenge(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+full), http.StatusForbidden, "insufficient_scope")
		admin(http.MethodPatch, "", `{"scope":"orders:read orders:write billing:read read:all full read:full"}`)
	})
	t.Run("revoke one token", func(t *testing.T) {
		tok := live()
		other := live()
		resp := postFormURL(t, f.g.URL("/oauth2/revoke"), "token="+tok, f.app.ClientID, f.app.ClientSecret)
		if resp.Status != http.StatusOK {
			t.Fatalf("revoke: %d %s", resp.Status, resp.Body)
		}
		wantChallenge(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok), http.StatusUnauthorized, "invalid_token")
		upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+other))
	})
	t.Run("revoke every token of the client", func(t *testing.T) {
		tok := live()
		admin(http.MethodPost, "/revoke", nil)
		// The gateway stamped the revocation with a second no later than
		// this one (both clocks are this machine's).
		revokedBy := time.Now().Unix()
		wantChallenge(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok), http.StatusUnauthorized, "invalid_token")

		// iat counts whole seconds, and the guard refuses every iat up to
		// the revocation's second: within that second the token endpoint
		// must ask the client to come back rather than issue a token the
		// guard refuses; after it, it must issue one the guard accepts.
		asked := time.Now().Unix()
		resp := postFormURL(t, f.g.URL("/oauth2/token"), "grant_type=client_credentials&scope=billing%3Aread", f.app.ClientID, f.app.ClientSecret)
		switch {
		case resp.Status == http.StatusOK:
			var ans struct {
				AccessToken string `json:"access_token"`
			}
			resp.JSON(t, &ans)
			upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+ans.AccessToken))
		case resp.Status == http.StatusServiceUnavailable && resp.ErrorCode() == "temporarily_unavailable" &&
			resp.Header.Get("Retry-After") == "1":
			if asked > revokedBy {
				t.Fatalf("asked to retry at second %d, after the revocation's second %d", asked, revokedBy)
			}
			if !eventually(3*time.Second, func() bool { return time.Now().Unix() > revokedBy }) {
				t.Fatal("the clock did not pass the revocation's second within 3s")
			}
			upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+f.token(t, f.app, "billing:read")))
		default:
			t.Fatalf("token right after revoking all: %d %q %s", resp.Status, resp.Header.Get("Retry-After"), resp.Body)
		}
	})
	t.Run("route client allowlist", func(t *testing.T) {
		tok := live()
		wantStatus := func(want int) {
			t.Helper()
			if resp := f.call(t, http.MethodGet, "/private/1", "Bearer "+tok); resp.Status != want {
				t.Fatalf("private route: %d %s, want %d", resp.Status, resp.Body, want)
			}
		}
		wantStatus(http.StatusForbidden)
		f.g.Vars["RouteClient"] = f.app.ClientID
		if status, msg := f.g.Reload(guardCaddyfile); status != http.StatusOK {
			t.Fatalf("reload: %d %s", status, msg)
		}
		saw := upstreamSaw(t, f.call(t, http.MethodGet, "/private/1", "Bearer "+tok))
		if saw.Get("Authorization") != "" {
			t.Error("strip_authorization did not strip")
		}
	})
	t.Run("delete", func(t *testing.T) {
		tok := live()
		admin(http.MethodDelete, "", nil)
		wantChallenge(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok), http.StatusUnauthorized, "invalid_token")
	})
}

func TestGuardProtectedResourceMetadata(t *testing.T) {
	t.Parallel()
	f := startGuard(t)
	resp := do(t, http.MethodGet, f.g.URL("/.well-known/oauth-protected-resource/orders"), nil)
	var md map[string]any
	resp.JSON(t, &md)
	if md["resource"] != "https://api.example.com/orders" || fmt.Sprint(md["authorization_servers"]) != "["+f.g.URL("")+"]" {
		t.Fatalf("metadata %s", resp.Body)
	}
	if fmt.Sprint(md["scopes_supported"]) != "[orders:read orders:write]" {
		t.Errorf("scopes_supported %v", md["scopes_supported"])
	}
}

// postFormURL posts a raw form body with Basic credentials.
func postFormURL(t *testing.T, url, body, id, secret string) apiResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	return doRequest(t, req)
}
