package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

// refreshClient registers a public app for the authorization_code and
// refresh_token grants, consented to by the fixture's person for both
// scopes.
func (f *codeFixture) refreshClient(t testing.TB, name string) string {
	t.Helper()
	c, _, err := f.s.Registry.Create(context.Background(), registry.Metadata{
		ClientName: name, Scope: "orders:read orders:write", GrantTypes: []string{grant.AuthorizationCode, grant.RefreshToken},
		RedirectURIs: []string{testRedirect}, TokenEndpointAuthMethod: storage.AuthMethodNone,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.consent(t, c.ClientID, "orders:read", "orders:write")
	return c.ClientID
}

// startGrant redeems a fresh code of clientID and returns the response's
// access and refresh tokens.
func (f *codeFixture) startGrant(t *testing.T, clientID string) (access, refresh string) {
	t.Helper()
	verifier, challenge := pkcePair("refresh-")
	status, body := f.exchange(t, codeForm(clientID, f.issueCode(t, clientID, challenge, nil), verifier))
	if status != http.StatusOK {
		t.Fatalf("code exchange: %d %v", status, body)
	}
	access, _ = body["access_token"].(string)
	refresh, _ = body["refresh_token"].(string)
	return access, refresh
}

func refreshForm(clientID, refreshToken string) url.Values {
	return url.Values{"grant_type": {grant.RefreshToken}, "client_id": {clientID}, "refresh_token": {refreshToken}}
}

// refresh posts a refresh request and returns the status and body.
func (f *codeFixture) refresh(t *testing.T, clientID, refreshToken string, scope string) (int, map[string]any) {
	t.Helper()
	form := refreshForm(clientID, refreshToken)
	if scope != "" {
		form.Set("scope", scope)
	}
	return f.exchange(t, form)
}

// wantAdmitted checks that the guard admits the access token with exactly
// scope.
func (f *codeFixture) wantAdmitted(t *testing.T, access, scope string) {
	t.Helper()
	claims, client, err := f.s.CheckToken(context.Background(), access)
	if err != nil {
		t.Fatalf("the guard refused the token: %v", err)
	}
	held, err := f.s.HeldScopes(context.Background(), claims, client)
	if err != nil || held.String() != scope || claims.Subject != f.userID {
		t.Fatalf("the guard admits %q for %q (%v); want %q for the person", held.String(), claims.Subject, err, scope)
	}
}

// wantRefused checks that the guard refuses the access token as revoked.
func (f *codeFixture) wantRevoked(t *testing.T, access string) {
	t.Helper()
	if _, _, err := f.s.CheckToken(context.Background(), access); !errors.Is(err, refusedRevoked) {
		t.Fatalf("the guard's check of a token of the ended grant = %v; want it revoked", err)
	}
}

func (f *codeFixture) wantNoFamily(t *testing.T, refreshToken string) {
	t.Helper()
	id, _ := RefreshFamilyID(refreshToken)
	if _, err := f.s.Store.GetRefreshFamily(context.Background(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the family is still stored: %v", err)
	}
}

// wantRefreshRefused posts a refresh and checks it is refused.
func (f *codeFixture) wantRefreshRefused(t *testing.T, clientID, refreshToken string) {
	t.Helper()
	status, body := f.refresh(t, clientID, refreshToken, "")
	wantInvalidGrant(t, status, body)
}

func wantInvalidGrant(t *testing.T, status int, body map[string]any) {
	t.Helper()
	if status != http.StatusBadRequest || body["error"] != oauth.CodeInvalidGrant {
		t.Fatalf("%d %v; want 400 invalid_grant", status, body)
	}
	if _, ok := body["access_token"]; ok {
		t.Fatal("a refused refresh carried an access token")
	}
}

// A client registered for refresh_token gets a refresh token with its code
// (opaque, 256-bit secret, only its hash stored); refreshing gives a new
// access token the guard admits for the person and a new refresh token,
// and the one used is spent. A client not registered for it gets none.
func TestRefreshTokenIssuedWithCodeAndRotated(t *testing.T) {
	f := newCodeFixture(t)
	if _, refresh := f.startGrant(t, f.clientID); refresh != "" {
		t.Fatal("a client not registered for refresh_token got a refresh token")
	}
	app := f.refreshClient(t, "offline-app")
	access, refresh := f.startGrant(t, app)
	id, ok := RefreshFamilyID(refresh)
	if !ok || !strings.HasPrefix(refresh, "sgr_") {
		t.Fatalf("refresh token %q has not the documented shape", refresh)
	}
	fam, err := f.s.Store.GetRefreshFamily(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(fam.Current) != 1 || fam.Current[0] != CodeID(refresh) || strings.Contains(fam.Current[0], refresh) {
		t.Fatalf("the family holds %v; want only the token's hash", fam.Current)
	}
	if got := fam.ExpiresAt.Sub(fam.CreatedAt); got != DefaultRefreshTokenTTL {
		t.Fatalf("family lifetime %s; want the 30-day default", got)
	}
	f.wantAdmitted(t, access, "orders:read orders:write")

	status, body := f.refresh(t, app, refresh, "")
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	next, _ := body["refresh_token"].(string)
	if next == "" || next == refresh {
		t.Fatalf("refresh gave refresh token %q; want a new one", next)
	}
	if nextID, _ := RefreshFamilyID(next); nextID != id {
		t.Fatal("the rotated token left its family")
	}
	f.wantAdmitted(t, body["access_token"].(string), "orders:read orders:write")
	status, body = f.refresh(t, app, next, "")
	if status != http.StatusOK {
		t.Fatalf("refresh with the rotated token: %d %v", status, body)
	}
}

// Replaying a rotated refresh token after the grace period revokes the
// whole family: the replay is refused, the current token stops working,
// and the guard refuses every access token the family gave, on the next
// request (RFC 9700 §4.14.2).
func TestRefreshTokenReplayRevokesTheFamily(t *testing.T) {
	f := newCodeFixture(t)
	f.s.Refresh.Grace = new(registry.Duration) // no grace: any second use is a replay
	app := f.refreshClient(t, "offline-app")
	first, stolen := f.startGrant(t, app)
	status, body := f.refresh(t, app, stolen, "")
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	second, current := body["access_token"].(string), body["refresh_token"].(string)
	f.wantAdmitted(t, second, "orders:read orders:write")

	f.wantRefreshRefused(t, app, stolen)
	f.wantRevoked(t, first)
	f.wantRevoked(t, second)
	f.wantRefreshRefused(t, app, current)
	f.wantNoFamily(t, current)
}

// Concurrent refreshes with one token, within the grace period, each
// succeed once with a token of their own, and none is taken for theft:
// every access token stays admitted, and each new refresh token works.
func TestRefreshTokenConcurrentRetriesWithinGrace(t *testing.T) {
	f := newCodeFixture(t)
	app := f.refreshClient(t, "offline-app")
	_, refresh := f.startGrant(t, app)
	const racers = storage.MaxLiveRefresh
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accesses []string
		tokens   = map[string]bool{}
		failures []string
	)
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.PostForm(f.srv.URL, refreshForm(app, refresh))
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				return
			}
			defer resp.Body.Close()
			var body struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
			}
			raw, _ := io.ReadAll(resp.Body)
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil {
				failures = append(failures, string(raw))
				return
			}
			accesses = append(accesses, body.AccessToken)
			tokens[body.RefreshToken] = true
		}()
	}
	wg.Wait()
	if len(failures) > 0 || len(tokens) != racers {
		t.Fatalf("%d distinct refresh tokens, failures %v; want %d successes", len(tokens), failures, racers)
	}
	for _, a := range accesses {
		f.wantAdmitted(t, a, "orders:read orders:write")
	}
	for tok := range tokens {
		status, body := f.refresh(t, app, tok, "")
		if status != http.StatusOK {
			t.Fatalf("a token from a concurrent retry: %d %v", status, body)
		}
		break // using one retires its siblings, within the grace again
	}
}

// A refresh may ask for fewer scopes than the grant holds, never more;
// narrowing once does not shrink the grant.
func TestRefreshTokenNarrowsScopesNeverWidens(t *testing.T) {
	f := newCodeFixture(t)
	app := f.refreshClient(t, "offline-app")
	_, refresh := f.startGrant(t, app)
	status, body := f.refresh(t, app, refresh, "orders:read")
	if status != http.StatusOK || body["scope"] != "orders:read" {
		t.Fatalf("narrowed refresh: %d %v; want scope orders:read", status, body)
	}
	f.wantAdmitted(t, body["access_token"].(string), "orders:read")
	refresh = body["refresh_token"].(string)
	status, body = f.refresh(t, app, refresh, "orders:read admin")
	if status != http.StatusBadRequest || body["error"] != oauth.CodeInvalidScope {
		t.Fatalf("widened refresh: %d %v; want 400 invalid_scope", status, body)
	}
	status, body = f.refresh(t, app, refresh, "")
	if status != http.StatusOK || body["scope"] != "orders:read orders:write" {
		t.Fatalf("refresh without scope after narrowing: %d %v; want the whole grant", status, body)
	}
}

// Whatever ends the person's grant ends the family: the refresh is
// refused with invalid_grant and the family is gone.
func TestRefreshTokenEndsWithThePersonsGrant(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, f *codeFixture, app string)
	}{
		{"user disabled", func(t *testing.T, f *codeFixture, _ string) {
			if _, err := f.s.Registry.PatchUser(context.Background(), f.userID, []byte(`{"disabled":true}`)); err != nil {
				t.Fatal(err)
			}
		}},
		{"user deleted", func(t *testing.T, f *codeFixture, _ string) {
			if err := f.s.Registry.DeleteUser(context.Background(), f.userID); err != nil {
				t.Fatal(err)
			}
		}},
		{"role removed", func(t *testing.T, f *codeFixture, _ string) {
			if _, err := f.s.Registry.PatchUser(context.Background(), f.userID, []byte(`{"roles":[]}`)); err != nil {
				t.Fatal(err)
			}
		}},
		{"role narrowed", func(t *testing.T, f *codeFixture, _ string) {
			if _, err := f.s.Registry.PatchRole(context.Background(), "buyer", []byte(`{"scopes":["orders:read"]}`)); err != nil {
				t.Fatal(err)
			}
		}},
		{"consent withdrawn", func(t *testing.T, f *codeFixture, app string) {
			if err := f.s.WithdrawConsent(context.Background(), f.userID, app); err != nil {
				t.Fatal(err)
			}
		}},
		{"client's tokens revoked", func(t *testing.T, f *codeFixture, app string) {
			f.s.Now = func() time.Time { return time.Now().Add(-2 * time.Second) }
			defer func() { f.s.Now = time.Now }()
			if _, err := f.s.Registry.RevokeTokens(context.Background(), app); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCodeFixture(t)
			app := f.refreshClient(t, "offline-app")
			_, refresh := f.startGrant(t, app)
			tt.end(t, f, app)
			f.wantRefreshRefused(t, app, refresh)
			f.wantNoFamily(t, refresh)
		})
	}
}

// A family never outlives its first token's lifetime, however often it
// rotates.
func TestRefreshTokenFamilyExpires(t *testing.T) {
	f := newCodeFixture(t)
	app := f.refreshClient(t, "offline-app")
	_, refresh := f.startGrant(t, app)
	status, body := f.refresh(t, app, refresh, "")
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	start := time.Now()
	f.s.Now = func() time.Time { return start.Add(DefaultRefreshTokenTTL) }
	f.wantRefreshRefused(t, app, body["refresh_token"].(string))
}

// Refresh tokens are refused to another client, and garbage is refused
// before the store is asked.
func TestRefreshTokenRefusals(t *testing.T) {
	f := newCodeFixture(t)
	app := f.refreshClient(t, "offline-app")
	other := f.refreshClient(t, "other-app")
	_, refresh := f.startGrant(t, app)
	f.wantRefreshRefused(t, other, refresh)
	for _, bad := range []string{"x", refresh[:len(refresh)-1], strings.Replace(refresh, ".", "_", 1), "sgr_" + strings.Repeat("A", 66)} {
		f.wantRefreshRefused(t, app, bad)
	}
	status, body := f.exchange(t, url.Values{"grant_type": {grant.RefreshToken}, "client_id": {app}})
	if status != http.StatusBadRequest || body["error"] != oauth.CodeInvalidRequest {
		t.Fatalf("no refresh_token: %d %v; want 400 invalid_request", status, body)
	}
	status, body = f.refresh(t, f.clientID, refresh, "")
	if status != http.StatusBadRequest || body["error"] != oauth.CodeUnauthorizedClient {
		t.Fatalf("a client not registered for the grant: %d %v; want unauthorized_client", status, body)
	}
	if status, body := f.refresh(t, app, refresh, ""); status != http.StatusOK {
		t.Fatalf("the refused attempts spent the token: %d %v", status, body)
	}
}

// Using the code a second time ends the family it started, and revokes
// its access tokens.
func TestAuthorizationCodeReuseEndsItsRefreshTokens(t *testing.T) {
	f := newCodeFixture(t)
	app := f.refreshClient(t, "offline-app")
	verifier, challenge := pkcePair("reuse-")
	code := f.issueCode(t, app, challenge, nil)
	status, body := f.exchange(t, codeForm(app, code, verifier))
	if status != http.StatusOK {
		t.Fatalf("first use: %d %v", status, body)
	}
	refresh := body["refresh_token"].(string)
	status, body = f.refresh(t, app, refresh, "")
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	access := body["access_token"].(string)
	status, body = f.exchange(t, codeForm(app, code, verifier))
	wantInvalidGrant(t, status, body)
	f.wantRevoked(t, access)
	f.wantNoFamily(t, refresh)
}

// golang.org/x/oauth2's TokenSource refreshes by itself once the access
// token expires, with the rotated refresh token each time.
func TestRefreshTokenWithOAuth2TokenSource(t *testing.T) {
	f := newCodeFixture(t)
	app := f.refreshClient(t, "offline-app")
	verifier, challenge := pkcePair("source-")
	cfg := oauth2.Config{
		ClientID:    app,
		Endpoint:    oauth2.Endpoint{TokenURL: f.srv.URL, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: testRedirect,
	}
	tok, err := cfg.Exchange(context.Background(), f.issueCode(t, app, challenge, nil), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	seen := map[string]bool{tok.RefreshToken: true}
	for range 3 {
		tok.Expiry = time.Now().Add(-time.Minute) // as if it had expired
		next, err := cfg.TokenSource(context.Background(), tok).Token()
		if err != nil {
			t.Fatalf("TokenSource: %v", err)
		}
		if seen[next.RefreshToken] || next.AccessToken == tok.AccessToken {
			t.Fatal("the token source did not get a rotated token")
		}
		seen[next.RefreshToken] = true
		f.wantAdmitted(t, next.AccessToken, "orders:read orders:write")
		tok = next
	}
}

// Revoking a refresh token at the revocation endpoint (RFC 7009) ends its
// family and the access tokens it gave; another client may not revoke it,
// and an unknown token gets 200.
func TestRevokingARefreshTokenEndsItsFamily(t *testing.T) {
	f := newCodeFixture(t)
	c, secret, err := f.s.Registry.Create(context.Background(), registry.Metadata{
		ClientName: "web", Scope: "orders:read orders:write", GrantTypes: []string{grant.AuthorizationCode, grant.RefreshToken},
		RedirectURIs: []string{testRedirect},
	})
	if err != nil {
		t.Fatal(err)
	}
	otherID, otherSecret := newTestClient(t, f.s, "orders:read")
	f.consent(t, c.ClientID, "orders:read", "orders:write")
	verifier, challenge := pkcePair("revoke-")
	form := codeForm(c.ClientID, f.issueCode(t, c.ClientID, challenge, nil), verifier)
	form.Del("client_id")
	resp := postWithBasic(t, f.srv.URL, c.ClientID, secret, form)
	access, refresh := resp["access_token"].(string), resp["refresh_token"].(string)

	revoke := httptest.NewServer(RevocationEndpoint{f.s})
	defer revoke.Close()
	if status := revokeStatus(t, revoke.URL, otherID, otherSecret, refresh); status != http.StatusBadRequest && status != http.StatusUnauthorized {
		t.Fatalf("another client revoking the token: %d; want it refused", status)
	}
	f.wantAdmitted(t, access, "orders:read orders:write")
	if status := revokeStatus(t, revoke.URL, c.ClientID, secret, "sgr_"+strings.Repeat("A", 22)+"."+strings.Repeat("B", 43)); status != http.StatusOK {
		t.Fatalf("revoking an unknown refresh token: %d; want 200", status)
	}
	f.wantAdmitted(t, access, "orders:read orders:write")
	if status := revokeStatus(t, revoke.URL, c.ClientID, secret, refresh); status != http.StatusOK {
		t.Fatalf("revoking the refresh token: %d", status)
	}
	f.wantRevoked(t, access)
	f.wantNoFamily(t, refresh)
}

func postWithBasic(t *testing.T, endpoint, id, secret string, form url.Values) map[string]any {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
	return body
}

func revokeStatus(t *testing.T, endpoint, id, secret, tok string) int {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRefreshFamilyID: the parser of presented refresh tokens takes only
// the exact shape.
func TestRefreshFamilyID(t *testing.T) {
	good, err := newRefreshToken(codeFamilyID("code"))
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := RefreshFamilyID(good); !ok || id != codeFamilyID("code") || len(good) != 70 {
		t.Fatalf("RefreshFamilyID(%q) = %q, %v", good, id, ok)
	}
	for name, bad := range map[string]string{
		"empty":           "",
		"no prefix":       "xgr_" + good[4:],
		"short":           good[:69],
		"long":            good + "A",
		"no dot":          good[:26] + "A" + good[27:],
		"dot in id":       good[:5] + "." + good[6:],
		"padding":         good[:69] + "=",
		"space":           good[:30] + " " + good[31:],
		"non-ASCII":       good[:30] + "é" + good[32:],
		"an access token": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
	} {
		if id, ok := RefreshFamilyID(bad); ok {
			t.Errorf("%s: RefreshFamilyID(%q) = %q, true", name, bad, id)
		}
	}
}

// FuzzRefreshFamilyID: whatever a client sends as a refresh token, the
// parser never panics, and a family ID it returns is 22 base64url
// characters taken from the token.
func FuzzRefreshFamilyID(f *testing.F) {
	good, _ := newRefreshToken(codeFamilyID("code"))
	f.Add(good)
	f.Add("sgr_" + strings.Repeat(".", 66))
	f.Add("")
	f.Add(strings.Repeat("\xff", 70))
	f.Fuzz(func(t *testing.T, raw string) {
		id, ok := RefreshFamilyID(raw)
		if !ok {
			return
		}
		if len(id) != familyIDLen || !base64URL(id) || !strings.Contains(raw, id) {
			t.Fatalf("RefreshFamilyID(%q) = %q", raw, id)
		}
	})
}

// BenchmarkRefreshTokenGrant measures the token endpoint rotating a
// refresh token: the client, the family's read and its compare-and-swap
// (one store write that records the rotation and the access token's jti),
// the person's roles and consent (cached) and the signature.
func BenchmarkRefreshTokenGrant(b *testing.B) {
	f := newCodeFixture(b)
	app := f.refreshClient(b, "offline-app")
	verifier, challenge := pkcePair("bench-")
	form := codeForm(app, f.issueCode(b, app, challenge, nil), verifier)
	w := serveToken(f.s, form)
	if w.Code != http.StatusOK {
		b.Fatalf("code exchange: %d %s", w.Code, w.Body)
	}
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		b.Fatal(err)
	}
	refresh := body.RefreshToken
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		form := refreshForm(app, refresh)
		b.StartTimer()
		w := serveToken(f.s, form)
		b.StopTimer()
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			b.Fatal(err)
		}
		refresh = body.RefreshToken
		b.StartTimer()
	}
}

func serveToken(s *Server, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	TokenEndpoint{Server: s}.ServeHTTP(w, r)
	return w
}

// A client's own refresh_token_ttl sets its families' lifetime, bounded by
// the server's max_ttl.
func TestRefreshTokenLifetimeOfTheClient(t *testing.T) {
	f := newCodeFixture(t)
	app := f.refreshClient(t, "offline-app")
	lifetime := func() time.Duration {
		t.Helper()
		_, refresh := f.startGrant(t, app)
		id, _ := RefreshFamilyID(refresh)
		fam, err := f.s.Store.GetRefreshFamily(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return fam.ExpiresAt.Sub(fam.CreatedAt)
	}
	if _, err := f.s.Registry.Patch(context.Background(), app, []byte(`{"refresh_token_ttl":"168h"}`)); err != nil {
		t.Fatal(err)
	}
	if got := lifetime(); got != 7*24*time.Hour {
		t.Fatalf("family lifetime %s; want the client's 168h", got)
	}
	f.s.Refresh.MaxTTL = registry.Duration(24 * time.Hour)
	if got := lifetime(); got != 24*time.Hour {
		t.Fatalf("family lifetime %s; want the server's max_ttl, 24h", got)
	}
}
