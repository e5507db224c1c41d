package cli

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// tokenServer is a token endpoint and metadata documents for the token
// command's tests.
type tokenServer struct {
	srv *httptest.Server

	mu   sync.Mutex
	form url.Values
	auth string
}

const (
	testClientID     = "client:1"
	testClientSecret = "sgs_p+ss%word&x"
)

// testJWT is the token the server issues: a JWT whose parts decode.
var testJWT = b64(`{"alg":"ES256","typ":"at+jwt","kid":"k1"}`) + "." + b64(`{"iss":"x","sub":"client:1","scope":"a b","aud":["https://api.example.com"]}`) + ".c2ln"

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func newTokenServer(t *testing.T) *tokenServer {
	t.Helper()
	ts := &tokenServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": ts.srv.URL, "token_endpoint": ts.srv.URL + "/oauth2/token"})
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/tenant", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": ts.srv.URL + "/tenant", "token_endpoint": ts.srv.URL + "/tenant/token"})
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/evil", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://attacker.example", "token_endpoint": "https://attacker.example/token"})
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/relative", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": ts.srv.URL + "/relative", "token_endpoint": "/token"})
	})
	token := func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ts.mu.Lock()
		ts.form, ts.auth = r.PostForm, r.Header.Get("Authorization")
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		id, secret, _ := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if id != testClientID || secret != testClientSecret {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"client authentication failed\r\n\u001b[2J"}`))
			return
		}
		if r.PostForm.Get("scope") == "forbidden" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_scope"}`))
			return
		}
		tok := testJWT
		if r.PostForm.Get("scope") == "opaque" {
			tok = "opaque-token"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 600, "scope": r.PostForm.Get("scope")})
	}
	mux.HandleFunc("POST /oauth2/token", token)
	mux.HandleFunc("POST /tenant/token", token)
	ts.srv = httptest.NewServer(mux)
	t.Cleanup(ts.srv.Close)
	return ts
}

func TestTokenFetch(t *testing.T) {
	ts := newTokenServer(t)
	env := map[string]string{secretEnv: testClientSecret}

	t.Run("secret from the environment, token on stdout", func(t *testing.T) {
		r := run(t, env, "token", "--client-id", testClientID, "--token-url", ts.srv.URL+"/oauth2/token",
			"--scope", "a  b", "--resource", "https://api.example.com", "--resource", "https://other.example.com")
		if r.Err != nil || r.Stdout != testJWT+"\n" || r.Stderr != "" {
			t.Fatalf("token: %v, stdout %q, stderr %q", r.Err, r.Stdout, r.Stderr)
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		want := url.Values{"grant_type": {"client_credentials"}, "scope": {"a b"}, "resource": {"https://api.example.com", "https://other.example.com"}}
		if ts.form.Encode() != want.Encode() {
			t.Errorf("form = %v, want %v", ts.form, want)
		}
		if !strings.HasPrefix(ts.auth, "Basic ") {
			t.Errorf("Authorization = %q, want client_secret_basic", ts.auth)
		}
	})
	t.Run("flag wins over the environment", func(t *testing.T) {
		r := run(t, map[string]string{secretEnv: "sgs_wrong"}, "token", "--client-id", testClientID, "--client-secret", testClientSecret,
			"--token-url", ts.srv.URL+"/oauth2/token", "--scope", "a")
		if r.Err != nil || r.Stdout != testJWT+"\n" {
			t.Errorf("token: %v %q", r.Err, r.Stderr)
		}
	})
	t.Run("json with decoded claims", func(t *testing.T) {
		r := run(t, env, "token", "--client-id", testClientID, "--issuer", ts.srv.URL, "--scope", "a b", "--json")
		if r.Err != nil {
			t.Fatalf("token --json: %v %s", r.Err, r.Stderr)
		}
		var out struct {
			AccessToken string         `json:"access_token"`
			TokenType   string         `json:"token_type"`
			ExpiresIn   int64          `json:"expires_in"`
			Scope       string         `json:"scope"`
			Header      map[string]any `json:"header"`
			Claims      map[string]any `json:"claims"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("token --json does not parse: %v\n%s", err, r.Stdout)
		}
		if out.AccessToken != testJWT || out.TokenType != "Bearer" || out.ExpiresIn != 600 || out.Scope != "a b" ||
			out.Header["typ"] != "at+jwt" || out.Claims["sub"] != "client:1" || out.Claims["scope"] != "a b" {
			t.Errorf("token --json = %+v", out)
		}
	})
	t.Run("issuer with a path", func(t *testing.T) {
		r := run(t, env, "token", "--client-id", testClientID, "--issuer", ts.srv.URL+"/tenant", "--scope", "a")
		if r.Err != nil || r.Stdout != testJWT+"\n" {
			t.Errorf("token: %v %q", r.Err, r.Stderr)
		}
	})
	t.Run("opaque token", func(t *testing.T) {
		r := run(t, env, "token", "--client-id", testClientID, "--token-url", ts.srv.URL+"/oauth2/token", "--scope", "opaque", "--json")
		if r.Err != nil || !strings.Contains(r.Stdout, `"access_token": "opaque-token"`) || strings.Contains(r.Stdout, "claims") {
			t.Errorf("opaque token --json: %v %q", r.Err, r.Stdout)
		}
		if r.Stderr != "scopegate: the access token is not a JWT; no claims to show\n" {
			t.Errorf("stderr = %q", r.Stderr)
		}
	})
}

func TestTokenFailures(t *testing.T) {
	ts := newTokenServer(t)
	dead := closedAddr(t)
	env := map[string]string{secretEnv: testClientSecret}
	tokenURL := ts.srv.URL + "/oauth2/token"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no secret", nil, []string{"--client-id", "x", "--token-url", tokenURL}, "scopegate: no client secret: set SCOPEGATE_CLIENT_SECRET (or give --client-secret)\n"},
		{"no client id", env, []string{"--token-url", tokenURL}, "scopegate: --client-id is required\n"},
		{"no endpoint", env, []string{"--client-id", "x"}, "scopegate: give --token-url, or --issuer to find the token endpoint from the issuer's metadata\n"},
		{"both endpoints", env, []string{"--client-id", "x", "--token-url", tokenURL, "--issuer", ts.srv.URL}, "scopegate: give --token-url or --issuer, not both\n"},
		{"relative token URL", env, []string{"--client-id", "x", "--token-url", "/oauth2/token"}, "scopegate: --token-url: \"/oauth2/token\" is not an absolute http or https URL\n"},
		{"wrong secret", map[string]string{secretEnv: "sgs_wrong"}, []string{"--client-id", testClientID, "--token-url", tokenURL, "--scope", "a"},
			"scopegate: token request refused: invalid_client: client authentication failed???[2J (HTTP 401)\n"},
		{"refused scope", env, []string{"--client-id", testClientID, "--token-url", tokenURL, "--scope", "forbidden"},
			"scopegate: token request refused: invalid_scope (HTTP 400)\n"},
		{"not a token endpoint", env, []string{"--client-id", testClientID, "--token-url", ts.srv.URL + "/nothing"},
			"scopegate: token request refused: the token endpoint refused the request (HTTP 404)\n"},
		{"endpoint down", env, []string{"--client-id", testClientID, "--token-url", "http://" + dead + "/oauth2/token"},
			"scopegate: cannot reach the token endpoint http://" + dead + "/oauth2/token (connection refused)\n"},
		{"issuer down", env, []string{"--client-id", testClientID, "--issuer", "http://" + dead},
			"scopegate: cannot reach the issuer's metadata at http://" + dead + "/.well-known/oauth-authorization-server (connection refused)\n"},
		{"issuer mismatch", env, []string{"--client-id", testClientID, "--issuer", ts.srv.URL + "/evil"},
			"scopegate: the metadata at " + ts.srv.URL + "/.well-known/oauth-authorization-server/evil names the issuer \"https://attacker.example\", not \"" + ts.srv.URL + "/evil\": refusing to use it (RFC 8414 §3.3)\n"},
		{"relative endpoint in metadata", env, []string{"--client-id", testClientID, "--issuer", ts.srv.URL + "/relative"},
			"scopegate: the issuer's metadata at " + ts.srv.URL + "/.well-known/oauth-authorization-server/relative: token_endpoint: \"/token\" is not an absolute http or https URL\n"},
		{"no metadata", env, []string{"--client-id", testClientID, "--issuer", ts.srv.URL + "/none"},
			"scopegate: the issuer's metadata at " + ts.srv.URL + "/.well-known/oauth-authorization-server/none: HTTP 404\n"},
		{"issuer with a query", env, []string{"--client-id", testClientID, "--issuer", ts.srv.URL + "?x=1"},
			"scopegate: --issuer: an issuer has no user info, query or fragment\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stderr := runFail(t, tt.env, append([]string{"token"}, tt.args...)...)
			if stderr != tt.want {
				t.Errorf("stderr = %q\nwant     %q", stderr, tt.want)
			}
			if strings.Contains(stderr, testClientSecret) || strings.Contains(stderr, url.QueryEscape(testClientSecret)) {
				t.Errorf("the error holds the secret")
			}
		})
	}
}

func TestDecodeJWT(t *testing.T) {
	tests := []struct {
		name        string
		token       string
		wantHeader  string
		wantClaims  string
		wantNothing bool
	}{
		{"jwt", b64(`{"alg":"ES256"}`) + "." + b64(`{"sub":"a"}`) + ".sig", `{"alg":"ES256"}`, `{"sub":"a"}`, false},
		{"two parts", b64(`{"alg":"ES256"}`) + "." + b64(`{"sub":"a"}`), "", "", true},
		{"five parts (JWE)", "a.b.c.d.e", "", "", true},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte(`{"alg":"x"}`)) + "." + b64(`{"sub":"a"}`) + ".s", "", "", true},
		{"claims an array", b64(`{"alg":"ES256"}`) + "." + b64(`[1]`) + ".s", "", "", true},
		{"claims not JSON", b64(`{"alg":"ES256"}`) + "." + b64(`sub`) + ".s", "", "", true},
		{"empty", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, c := decodeJWT(tt.token)
			if tt.wantNothing {
				if h != nil || c != nil {
					t.Errorf("decodeJWT = %s, %s; want nothing", h, c)
				}
				return
			}
			if string(h) != tt.wantHeader || string(c) != tt.wantClaims {
				t.Errorf("decodeJWT = %s, %s", h, c)
			}
		})
	}
}
