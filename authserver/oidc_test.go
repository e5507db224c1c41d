package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

// A person may consent to the identity scopes whatever their roles: the
// fixture's person holds orders:read and orders:write through roles and
// nothing else, and the code carries openid, profile and email beside
// orders:read. A scope that is neither an identity scope nor granted by a
// role is still left out.
func TestAuthorizeIdentityScopesNeedNoRole(t *testing.T) {
	f := newAuthzFixture(t)
	web := f.client(registry.Metadata{ClientName: "oidc-app", TokenEndpointAuthMethod: "none", Scope: "openid profile email offline_access orders:read admin"})
	cookie := f.signIn()
	page := f.get(f.query("client_id", web, "scope", "openid profile email orders:read admin"), cookie)
	form := f.consentForm(page)
	form.Set("decision", "allow")
	c := f.wantCode(f.post(form, cookie))
	if want := []string{"openid", "profile", "email", "orders:read"}; !slices.Equal(c.Scopes, want) {
		t.Fatalf("granted %v, want %v", c.Scopes, want)
	}
	// The client must still be allowed them, as any scope.
	f.wantError(f.get(f.query("scope", "openid orders:read"), cookie), "invalid_scope")
}

// login_hint goes to the sign-in page, which pre-fills the username with
// it (signin's TestLoginHintPrefillsTheUsername).
func TestAuthorizeLoginHintReachesTheSignInPage(t *testing.T) {
	f := newAuthzFixture(t)
	w := f.get(f.query("login_hint", "alice@example.com"), "")
	u, err := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || err != nil || u.Path != "/signin" {
		t.Fatalf("want a 303 to the sign-in page, got %d %q", w.Code, w.Header().Get("Location"))
	}
	if got := u.Query().Get("login_hint"); got != "alice@example.com" {
		t.Fatalf("the sign-in page gets login_hint %q, want alice@example.com", got)
	}
}

// prompt=none with a session older than max_age is login_required (OpenID
// Connect Core §3.1.2.1: the person would have to sign in again).
func TestAuthorizeMaxAgeWithPromptNoneIsLoginRequired(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	f.now = f.now.Add(2 * 60e9)
	f.wantError(f.get(f.query("max_age", "60", "prompt", "none"), cookie), "login_required")
}

// oidcCode is a code fixture whose app may have the identity scopes and
// whose person consented to them.
func oidcCode(t testing.TB) *codeFixture {
	t.Helper()
	f := newCodeFixture(t)
	c, _, err := f.s.Registry.Create(context.Background(), registry.Metadata{
		ClientName: "oidc", Scope: "openid profile email orders:read", GrantTypes: []string{grant.AuthorizationCode},
		RedirectURIs: []string{testRedirect}, TokenEndpointAuthMethod: storage.AuthMethodNone,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.clientID = c.ClientID
	f.consent(t, f.clientID, "openid", "profile", "email", "orders:read")
	return f
}

// redeem exchanges a code with these scopes and nonce and returns the
// token response.
func (f *codeFixture) redeem(t testing.TB, nonce string, scopes ...string) map[string]any {
	t.Helper()
	verifier, challenge := pkcePair("oidc-")
	code := f.issueCode(t, f.clientID, challenge, func(ac *storage.AuthCode) { ac.Scopes, ac.Nonce = scopes, nonce })
	status, body := f.exchange(t, codeForm(f.clientID, code, verifier))
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, body)
	}
	return body
}

// verifyIDToken checks the ID token's signature against the server's JWKS
// with jwx, an independent verifier, and returns its header and claims.
func verifyIDToken(t *testing.T, s *Server, raw string) (map[string]any, map[string]any) {
	t.Helper()
	set, err := jwk.Parse(s.KeySet().JWKS())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(raw), jws.WithKeySet(set, jws.WithRequireKid(true)))
	if err != nil {
		t.Fatalf("the ID token does not verify against the JWKS: %v", err)
	}
	var header, claims map[string]any
	parts := strings.Split(raw, ".")
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(h, &header); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return header, claims
}

// With openid granted, the authorization_code grant answers an id_token
// (Core §3.1.3.3): signed by the server's key with typ JWT, for the app
// (aud), about the person (sub), with the request's nonce, auth_time, and
// at_hash binding it to the access token beside it. The guard never takes
// it for an access token.
func TestAuthorizationCodeIssuesAnIDToken(t *testing.T) {
	f := oidcCode(t)
	body := f.redeem(t, "n-0S6_WzA2Mj", "openid", "orders:read")
	raw, _ := body["id_token"].(string)
	if raw == "" {
		t.Fatalf("no id_token in %v", body)
	}
	header, claims := verifyIDToken(t, f.s, raw)
	if header["typ"] != "JWT" || header["alg"] != f.s.KeySet().SigningAlgorithm() || header["kid"] != f.s.KeySet().SigningKeyID() {
		t.Fatalf("header %v", header)
	}
	access, _ := body["access_token"].(string)
	sum := sha256.Sum256([]byte(access))
	atClaims, _, err := f.s.CheckToken(context.Background(), access)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"iss": f.s.Issuer, "sub": f.userID, "aud": f.clientID, "nonce": "n-0S6_WzA2Mj",
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
		"exp":     float64(atClaims.ExpiresAt), "iat": float64(atClaims.IssuedAt), "auth_time": float64(atClaims.AuthTime),
	}
	for name, v := range want {
		if claims[name] != v {
			t.Errorf("claim %s = %v, want %v", name, claims[name], v)
		}
	}
	if len(claims) != len(want) {
		t.Errorf("claims %v, want exactly %v", claims, want)
	}
	if _, _, err := f.s.CheckToken(context.Background(), raw); err == nil {
		t.Fatal("the guard's check accepted an ID token as an access token")
	}
}

// Without a nonce in the authorization request the ID token has none
// (Core §3.1.2.1: optional for the code flow); without openid there is no
// ID token at all.
func TestIDTokenOnlyForOpenID(t *testing.T) {
	f := oidcCode(t)
	_, claims := verifyIDToken(t, f.s, f.redeem(t, "", "openid")["id_token"].(string))
	if _, ok := claims["nonce"]; ok {
		t.Fatalf("nonce %v in an ID token whose request sent none", claims["nonce"])
	}
	if body := f.redeem(t, "n-1", "orders:read"); body["id_token"] != nil {
		t.Fatalf("an id_token without openid: %v", body)
	}
}

// userInfo calls the UserInfo endpoint with a bearer token.
func userInfo(t *testing.T, s *Server, method, accessToken string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, "https://gw.example/oauth2/userinfo", nil)
	r.RemoteAddr = "192.0.2.7:1234"
	if accessToken != "" {
		r.Header.Set("Authorization", "Bearer "+accessToken)
	}
	w := httptest.NewRecorder()
	s.newUserInfoEndpoint().ServeHTTP(w, r)
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return w, body
}

// UserInfo (Core §5.3) answers GET and POST with sub and the claims the
// token's scopes allow: profile's and email's.
func TestUserInfoClaimsByScope(t *testing.T) {
	f := oidcCode(t)
	ctx := context.Background()
	name, email := "Alice Liddell", "alice@example.com"
	patch := `{"name":"Alice Liddell","email":"alice@example.com","email_verified":true}`
	if _, err := f.s.Registry.PatchUser(ctx, f.userID, []byte(patch)); err != nil {
		t.Fatal(err)
	}
	u, _ := f.s.Store.GetUser(ctx, f.userID)
	tests := []struct {
		name   string
		scopes []string
		want   map[string]any
	}{
		{"openid alone", []string{"openid"}, map[string]any{"sub": f.userID}},
		{"profile", []string{"openid", "profile"}, map[string]any{
			"sub": f.userID, "name": name, "preferred_username": "alice", "updated_at": float64(u.UpdatedAt.Unix()),
		}},
		{"email", []string{"openid", "email"}, map[string]any{"sub": f.userID, "email": email, "email_verified": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			access := f.redeem(t, "", tt.scopes...)["access_token"].(string)
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				w, body := userInfo(t, f.s, method, access)
				if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("%s: %d %v %s", method, w.Code, w.Header(), w.Body)
				}
				if len(body) != len(tt.want) {
					t.Errorf("%s: claims %v, want %v", method, body, tt.want)
				}
				for k, v := range tt.want {
					if body[k] != v {
						t.Errorf("%s: %s = %v, want %v", method, k, body[k], v)
					}
				}
			}
		})
	}
}

// UserInfo refuses as RFC 6750 and Core §5.3.3 say: no token 401 without
// an error; a token without openid 403 insufficient_scope naming openid; a
// client's own token, a disabled person's or one whose consent was
// withdrawn 401 invalid_token; other methods 405.
func TestUserInfoRefusals(t *testing.T) {
	f := oidcCode(t)
	ctx := context.Background()
	wantRefusedBy := func(t *testing.T, s *Server, access string, status int, code, challenge string) {
		t.Helper()
		w, body := userInfo(t, s, http.MethodGet, access)
		if w.Code != status || (code != "" && body["error"] != code) || !strings.Contains(w.Header().Get("WWW-Authenticate"), challenge) {
			t.Fatalf("%d %v %q, want %d %s %q", w.Code, body, w.Header().Get("WWW-Authenticate"), status, code, challenge)
		}
	}
	wantRefused := func(t *testing.T, access string, status int, code, challenge string) {
		t.Helper()
		wantRefusedBy(t, f.s, access, status, code, challenge)
	}
	t.Run("no token", func(t *testing.T) { wantRefused(t, "", http.StatusUnauthorized, "", `Bearer realm="scopegate"`) })
	t.Run("no openid", func(t *testing.T) {
		access := f.redeem(t, "", "orders:read", "profile")["access_token"].(string)
		wantRefused(t, access, http.StatusForbidden, "insufficient_scope", `scope="openid"`)
	})
	t.Run("a client's own token", func(t *testing.T) {
		id, secret := newTestClient(t, f.s, "openid")
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials&scope=openid"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(id, secret)
		r.RemoteAddr = "192.0.2.7:1234"
		TokenEndpoint{Server: f.s}.ServeHTTP(w, r)
		var body map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		wantRefused(t, body["access_token"].(string), http.StatusUnauthorized, "invalid_token", `error="invalid_token"`)
	})
	t.Run("withdrawn consent", func(t *testing.T) {
		g := oidcCode(t)
		access := g.redeem(t, "", "openid")["access_token"].(string)
		if err := g.s.Store.WithdrawConsent(ctx, g.userID, g.clientID, g.s.Now()); err != nil {
			t.Fatal(err)
		}
		wantRefusedBy(t, g.s, access, http.StatusUnauthorized, "invalid_token", `error="invalid_token"`)
	})
	t.Run("disabled person", func(t *testing.T) {
		g := oidcCode(t)
		access := g.redeem(t, "", "openid")["access_token"].(string)
		if _, err := g.s.Registry.PatchUser(ctx, g.userID, []byte(`{"disabled":true}`)); err != nil {
			t.Fatal(err)
		}
		wantRefusedBy(t, g.s, access, http.StatusUnauthorized, "invalid_token", `error="invalid_token"`)
	})
	t.Run("method", func(t *testing.T) {
		w, _ := userInfo(t, f.s, http.MethodPut, "x")
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" {
			t.Fatalf("%d Allow %q", w.Code, w.Header().Get("Allow"))
		}
	})
}

// max_age is satisfied by the sign-in it asks for: the request that comes
// back from the sign-in page goes on, however many seconds the person took
// to sign in, even with max_age=0 (before, it sent them to sign in again,
// each time: max_age=0 could never be met).
func TestAuthorizeMaxAgeMetByTheNewSignIn(t *testing.T) {
	for _, maxAge := range []string{"0", "5"} {
		t.Run("max_age="+maxAge, func(t *testing.T) {
			f := newAuthzFixture(t)
			old := f.signIn()
			f.now = f.now.Add(time.Minute)
			w := f.get(f.query("max_age", maxAge), old)
			u, _ := url.Parse(w.Header().Get("Location"))
			if w.Code != http.StatusSeeOther || u.Path != "/signin" {
				t.Fatalf("a sign-in older than max_age: %d %q, want a 303 to sign in", w.Code, w.Header().Get("Location"))
			}
			back, _ := url.Parse(u.Query().Get("return_to"))
			fresh := f.signIn()
			f.now = f.now.Add(3 * time.Second) // the time the form took
			f.consentForm(f.get(back.RawQuery, fresh))
		})
	}
}
