package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

const testRedirect = "https://app.example/callback"

// codeFixture is a token endpoint over HTTP on a real bbolt store, a person
// whose role grants orders:read and orders:write, and an app they consented
// to for both. Codes are written straight into the store, as the
// authorization endpoint writes them.
type codeFixture struct {
	s        *Server
	srv      *httptest.Server
	userID   string
	clientID string
}

func newCodeFixture(t testing.TB) *codeFixture {
	return newCodeFixtureOver(t, nil)
}

// newCodeFixtureOver is newCodeFixture over a wrapped store, as
// newTestServerOver.
func newCodeFixtureOver(t testing.TB, wrap func(storage.Store) storage.Store) *codeFixture {
	t.Helper()
	s := newTestServerOver(t, wrap)
	ctx := context.Background()
	if _, err := s.Registry.CreateRole(ctx, registry.RoleMetadata{Name: "buyer", Scopes: []string{"orders:read", "orders:write"}}); err != nil {
		t.Fatal(err)
	}
	u, err := s.Registry.CreateUser(ctx, registry.UserMetadata{Username: "alice", Roles: []string{"buyer"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	f := &codeFixture{s: s, srv: httptest.NewServer(TokenEndpoint{Server: s}), userID: u.UserID}
	t.Cleanup(f.srv.Close)
	f.clientID = f.publicClient(t, "app")
	f.consent(t, f.clientID, "orders:read", "orders:write")
	return f
}

// publicClient registers a public app for the authorization_code grant.
func (f *codeFixture) publicClient(t testing.TB, name string) string {
	t.Helper()
	c, _, err := f.s.Registry.Create(context.Background(), registry.Metadata{
		ClientName: name, Scope: "orders:read orders:write", GrantTypes: []string{grant.AuthorizationCode},
		RedirectURIs: []string{testRedirect}, TokenEndpointAuthMethod: storage.AuthMethodNone,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.ClientID
}

func (f *codeFixture) consent(t testing.TB, clientID string, scopes ...string) {
	t.Helper()
	_, err := f.s.Store.PutConsent(context.Background(), f.userID, clientID, func(c storage.Consent) (storage.Consent, error) {
		c.Scopes = scopes
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pkcePair returns a verifier and its S256 challenge.
func pkcePair(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 43/len(seed)+1)[:43]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// issueCode stores a fresh code for clientID as the authorization endpoint
// would, changed by edit, and returns the code.
func (f *codeFixture) issueCode(t testing.TB, clientID, challenge string, edit func(*storage.AuthCode)) string {
	t.Helper()
	code, err := NewCode()
	if err != nil {
		t.Fatal(err)
	}
	now := f.s.Now()
	ac := storage.AuthCode{
		ID: CodeID(code), ClientID: clientID, UserID: f.userID, SessionID: "session-1", RedirectURI: testRedirect,
		Scopes: []string{"orders:read", "orders:write"}, AuthTime: now.Add(-time.Minute),
		CreatedAt: now, ExpiresAt: now.Add(60 * time.Second),
	}
	if challenge != "" {
		ac.CodeChallenge, ac.CodeChallengeMethod = challenge, oauth.PKCEMethodS256
	}
	if edit != nil {
		edit(&ac)
	}
	if err := f.s.Store.CreateAuthCode(context.Background(), ac); err != nil {
		t.Fatal(err)
	}
	return code
}

// exchange posts a token request and returns the status and the decoded
// body.
func (f *codeFixture) exchange(t testing.TB, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(f.srv.URL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("status %d, body not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

func codeForm(clientID, code, verifier string) url.Values {
	form := url.Values{"grant_type": {grant.AuthorizationCode}, "client_id": {clientID}, "code": {code}, "redirect_uri": {testRedirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return form
}

// An app exchanges its code with golang.org/x/oauth2 and PKCE for a token
// held for the person: sub is the person, auth_time when they signed in,
// the scopes the code granted, and the code records the token's jti.
func TestAuthorizationCodeGrantIssuesATokenForThePerson(t *testing.T) {
	f := newCodeFixture(t)
	verifier, challenge := pkcePair("verifier-")
	code := f.issueCode(t, f.clientID, challenge, nil)
	cfg := oauth2.Config{
		ClientID:    f.clientID,
		Endpoint:    oauth2.Endpoint{TokenURL: f.srv.URL, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: testRedirect,
	}
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.Extra("scope") != "orders:read orders:write" || tok.Expiry.IsZero() {
		t.Fatalf("token response: type %q scope %v expiry %v", tok.TokenType, tok.Extra("scope"), tok.Expiry)
	}
	claims, _, err := f.s.CheckToken(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("the guard's check refused the token: %v", err)
	}
	ac, err := f.s.Store.RedeemAuthCode(context.Background(), CodeID(code), f.s.Now())
	if !errors.Is(err, storage.ErrCodeReused) {
		t.Fatalf("the code is not marked used: %v", err)
	}
	switch {
	case claims.Subject != f.userID || claims.ClientID != f.clientID:
		t.Fatalf("sub %q client_id %q, want the person %q and the app %q", claims.Subject, claims.ClientID, f.userID, f.clientID)
	case claims.AuthTime != ac.AuthTime.Unix():
		t.Fatalf("auth_time %d, want %d", claims.AuthTime, ac.AuthTime.Unix())
	case !claims.HasAudience(f.s.Issuer):
		t.Fatalf("aud %v, want the gateway's", claims.Audience)
	case len(ac.TokenIDs) != 1 || ac.TokenIDs[0] != claims.JWTID:
		t.Fatalf("the code records tokens %v, want [%s]", ac.TokenIDs, claims.JWTID)
	}
}

// A code presented a second time is refused, and the token issued from its
// first use is revoked: the guard refuses it from then on (RFC 6749
// §4.1.2, RFC 9700 §4.5).
func TestAuthorizationCodeReuseRevokesItsToken(t *testing.T) {
	f := newCodeFixture(t)
	verifier, challenge := pkcePair("reuse-")
	code := f.issueCode(t, f.clientID, challenge, nil)
	status, body := f.exchange(t, codeForm(f.clientID, code, verifier))
	if status != http.StatusOK {
		t.Fatalf("first use: %d %v", status, body)
	}
	first, _ := body["access_token"].(string)
	if _, _, err := f.s.CheckToken(context.Background(), first); err != nil {
		t.Fatalf("first token refused before reuse: %v", err)
	}
	status, body = f.exchange(t, codeForm(f.clientID, code, verifier))
	if status != http.StatusBadRequest || body["error"] != oauth.CodeInvalidGrant {
		t.Fatalf("second use: %d %v, want 400 invalid_grant", status, body)
	}
	if _, _, err := f.s.CheckToken(context.Background(), first); !errors.Is(err, refusedRevoked) {
		t.Fatalf("the first token after reuse: %v, want it revoked", err)
	}
}

// reuseMidRedemption is the real store, except that the first successful
// redemption answers only after reuse has run: a second use of the code
// that arrives between the first redemption and the token it issues.
type reuseMidRedemption struct {
	storage.Store
	reuse  func()
	reused atomic.Bool
}

func (s *reuseMidRedemption) RedeemAuthCode(ctx context.Context, id string, now time.Time, jtis ...string) (storage.AuthCode, error) {
	ac, err := s.Store.RedeemAuthCode(ctx, id, now, jtis...)
	if err == nil && s.reused.CompareAndSwap(false, true) {
		s.reuse()
	}
	return ac, err
}

// A reuse that comes before the first redemption's token is even written
// still revokes that token: its jti is recorded with the redemption, not
// after it.
func TestAuthorizationCodeReuseBeforeTheTokenIsWrittenRevokesIt(t *testing.T) {
	store := new(reuseMidRedemption)
	f := newCodeFixtureOver(t, func(inner storage.Store) storage.Store {
		store.Store = inner
		return store
	})
	verifier, challenge := pkcePair("race-")
	code := f.issueCode(t, f.clientID, challenge, nil)
	var reuseStatus int
	var reuseBody map[string]any
	store.reuse = func() { reuseStatus, reuseBody = f.exchange(t, codeForm(f.clientID, code, verifier)) }
	status, body := f.exchange(t, codeForm(f.clientID, code, verifier))
	if status != http.StatusOK {
		t.Fatalf("first use: %d %v", status, body)
	}
	if reuseStatus != http.StatusBadRequest || reuseBody["error"] != oauth.CodeInvalidGrant {
		t.Fatalf("the reuse during the first redemption: %d %v, want 400 invalid_grant", reuseStatus, reuseBody)
	}
	first, _ := body["access_token"].(string)
	if _, _, err := f.s.CheckToken(context.Background(), first); !errors.Is(err, refusedRevoked) {
		t.Fatalf("the token of the first use: %v, want it revoked", err)
	}
}

// Every way a code can be presented by the wrong party or without its
// proof is refused with invalid_grant (RFC 9700 §4.5, §4.8), and the body
// never echoes the code or the verifier.
func TestAuthorizationCodeRefusals(t *testing.T) {
	f := newCodeFixture(t)
	other := f.publicClient(t, "other app")
	f.consent(t, other, "orders:read")
	verifier, challenge := pkcePair("right-")
	wrongVerifier, _ := pkcePair("wrong-")
	ctx := context.Background()
	confidential, secret, err := f.s.Registry.Create(ctx, registry.Metadata{
		ClientName: "web", Scope: "orders:read", GrantTypes: []string{grant.AuthorizationCode}, RedirectURIs: []string{testRedirect},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.consent(t, confidential.ClientID, "orders:read")
	tests := []struct {
		name      string
		clientID  string // whose code it is; f.clientID when empty
		challenge string
		edit      func(*storage.AuthCode)
		form      func(form url.Values)
		setup     func(t *testing.T)
		want      string
	}{
		{name: "code injection: another client's code", clientID: other, challenge: challenge, want: oauth.CodeInvalidGrant},
		{name: "code injection: another verifier", challenge: challenge, form: func(v url.Values) { v.Set("code_verifier", wrongVerifier) }, want: oauth.CodeInvalidGrant},
		{name: "PKCE downgrade: verifier missing", challenge: challenge, form: func(v url.Values) { v.Del("code_verifier") }, want: oauth.CodeInvalidGrant},
		{name: "verifier without a challenge", want: oauth.CodeInvalidGrant},
		{name: "redirect_uri mismatch", challenge: challenge, form: func(v url.Values) { v.Set("redirect_uri", testRedirect+"/") }, want: oauth.CodeInvalidGrant},
		{name: "redirect_uri missing", challenge: challenge, form: func(v url.Values) { v.Del("redirect_uri") }, want: oauth.CodeInvalidGrant},
		{name: "expired code", challenge: challenge, edit: func(ac *storage.AuthCode) { ac.ExpiresAt = ac.CreatedAt.Add(-time.Second) }, want: oauth.CodeInvalidGrant},
		{name: "unknown code", challenge: challenge, form: func(v url.Values) { v.Set("code", strings.Repeat("A", 43)) }, want: oauth.CodeInvalidGrant},
		{name: "code missing", challenge: challenge, form: func(v url.Values) { v.Del("code") }, want: oauth.CodeInvalidRequest},
		{name: "person disabled", challenge: challenge, setup: func(t *testing.T) {
			if _, err := f.s.Registry.SetUserDisabled(ctx, f.userID, true); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = f.s.Registry.SetUserDisabled(ctx, f.userID, false) })
		}, want: oauth.CodeInvalidGrant},
		{name: "consent withdrawn since the code was issued", challenge: challenge, setup: func(t *testing.T) {
			if err := f.s.Store.WithdrawConsent(ctx, f.userID, f.clientID, f.s.Now()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.consent(t, f.clientID, "orders:read", "orders:write") })
		}, want: oauth.CodeInvalidGrant},
		{name: "confidential client that must use PKCE, code without a challenge", clientID: confidential.ClientID, form: func(v url.Values) {
			v.Del("code_verifier")
			v.Set("client_secret", secret)
		}, want: oauth.CodeInvalidGrant},
		{name: "confidential client, wrong secret", clientID: confidential.ClientID, challenge: challenge, form: func(v url.Values) {
			v.Set("client_secret", "not-the-secret")
		}, want: oauth.CodeInvalidClient},
		// Last: the withdrawal's cutoff outlives the consent given again.
		{name: "consent withdrawn and given again since the code was issued", challenge: challenge, setup: func(t *testing.T) {
			if err := f.s.Store.WithdrawConsent(ctx, f.userID, f.clientID, f.s.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			f.consent(t, f.clientID, "orders:read", "orders:write")
		}, want: oauth.CodeInvalidGrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner := tt.clientID
			if owner == "" {
				owner = f.clientID
			}
			code := f.issueCode(t, owner, tt.challenge, tt.edit)
			presenter := f.clientID
			if owner == confidential.ClientID {
				presenter = owner
			}
			form := codeForm(presenter, code, verifier)
			if tt.form != nil {
				tt.form(form)
			}
			if tt.setup != nil {
				tt.setup(t)
			}
			status, body := f.exchange(t, form)
			if body["error"] != tt.want || status == http.StatusOK || status >= 500 {
				t.Fatalf("%d %v, want %s", status, body, tt.want)
			}
			desc, _ := body["error_description"].(string)
			if strings.Contains(desc, code) || strings.Contains(desc, verifier) || strings.Contains(desc, wrongVerifier) {
				t.Fatalf("the description echoes a secret: %q", desc)
			}
		})
	}
}

// The scopes a code grants are narrowed to what the person's roles hold
// when it is redeemed, not when it was issued.
func TestAuthorizationCodeScopesAreNarrowedWhenRedeemed(t *testing.T) {
	f := newCodeFixture(t)
	verifier, challenge := pkcePair("narrow-")
	code := f.issueCode(t, f.clientID, challenge, nil)
	if _, err := f.s.Registry.PatchRole(context.Background(), "buyer", []byte(`{"scopes":["orders:read"]}`)); err != nil {
		t.Fatal(err)
	}
	status, body := f.exchange(t, codeForm(f.clientID, code, verifier))
	if status != http.StatusOK || body["scope"] != "orders:read" {
		t.Fatalf("%d %v, want 200 with scope orders:read", status, body)
	}
}

// BenchmarkAuthorizationCodeGrant measures the token endpoint redeeming a
// code for a person's token: the client, the code's redemption (one store
// write, which also records the token's jti), the person's roles and
// consent (cached) and the signature. Writing each code, as the
// authorization endpoint does, is outside the timing.
func BenchmarkAuthorizationCodeGrant(b *testing.B) {
	f := newCodeFixture(b)
	verifier, challenge := pkcePair("bench-")
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		form := codeForm(f.clientID, f.issueCode(b, f.clientID, challenge, nil), verifier)
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		b.StartTimer()
		TokenEndpoint{Server: f.s}.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
