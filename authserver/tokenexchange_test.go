package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// exchangeFixture is a token endpoint with Alice, whose role grants
// orders:read and orders:write; app A, an access_issuer with its own API
// (https://a.example/api); target B, which may have orders:read only, for
// https://b.example/orders; and C, an unrelated app. Alice consented to A
// and C for orders:read and orders:write.
type exchangeFixture struct {
	s        *Server
	token    http.Handler
	logs     *observer.ObservedLogs
	userID   string
	a, aSec  string
	b, c     string
	cSec     string
	aAPI     string
	bAPI     string
	subjects []string // every subject token minted, never to be logged
}

func newExchangeFixture(t testing.TB) *exchangeFixture {
	t.Helper()
	ctx := context.Background()
	s := newTestServer(t)
	core, logs := observer.New(zap.DebugLevel)
	s.Logger = zap.New(core)
	endpoints, err := s.NewEndpoints(EndpointPaths{})
	if err != nil {
		t.Fatal(err)
	}
	tokenEndpoint, _ := endpoints.Lookup(DefaultTokenPath)
	f := &exchangeFixture{s: s, token: tokenEndpoint, logs: logs, aAPI: "https://a.example/api", bAPI: "https://b.example/orders"}
	if _, err := s.Registry.CreateRole(ctx, registry.RoleMetadata{Name: "staff", Scopes: []string{"orders:read", "orders:write"}}); err != nil {
		t.Fatal(err)
	}
	u, err := s.Registry.CreateUser(ctx, registry.UserMetadata{Username: "alice", Roles: []string{"staff"}}, alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	f.userID = u.UserID
	f.a, f.aSec = f.client(t, registry.Metadata{
		ClientName: "app-a", Scope: "orders:read orders:write billing:read", Audience: []string{f.aAPI},
		GrantTypes: []string{grant.ClientCredentials, grant.TokenExchange}, Features: []string{registry.FeatureAccessIssuer},
		RequireScopeRequest: new(bool),
	})
	f.b, _ = f.client(t, registry.Metadata{ClientName: "app-b", Scope: "orders:read", Audience: []string{f.bAPI, "https://b.example/other"}})
	f.c, f.cSec = f.client(t, registry.Metadata{ClientName: "app-c", Scope: "orders:read orders:write"})
	f.consent(t, f.a)
	f.consent(t, f.c)
	return f
}

func (f *exchangeFixture) client(t testing.TB, m registry.Metadata) (string, string) {
	t.Helper()
	c, secret, err := f.s.Registry.Create(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return c.ClientID, secret
}

func (f *exchangeFixture) consent(t testing.TB, clientID string) {
	t.Helper()
	_, err := f.s.Store.PutConsent(context.Background(), f.userID, clientID, func(c storage.Consent) (storage.Consent, error) {
		c.Scopes = []string{"orders:read", "orders:write"}
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// subject signs a token as the token endpoint would: held for Alice by
// clientID (or the client's own when sub is clientID), changed by edit.
func (f *exchangeFixture) subject(t testing.TB, clientID, scopes string, edit func(*token.Claims)) string {
	t.Helper()
	now := f.s.Now()
	c := &token.Claims{
		Issuer: f.s.Issuer, Subject: f.userID, Audience: token.Audience{f.s.Issuer},
		ExpiresAt: now.Add(10 * time.Minute).Unix(), IssuedAt: now.Unix(), JWTID: token.NewJTI(),
		ClientID: clientID, Scope: scopes,
	}
	if edit != nil {
		edit(c)
	}
	raw, err := f.s.KeySet().Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	f.subjects = append(f.subjects, raw)
	return raw
}

// exchangeForm is a token exchange request for subject, meant for target.
func exchangeForm(subject, target string) url.Values {
	return url.Values{
		"grant_type": {grant.TokenExchange}, "subject_token": {subject},
		"subject_token_type": {accessTokenType}, "audience": {target},
	}
}

// post sends form with the client's Basic credentials from 192.0.2.1 and
// returns the status and body.
func (f *exchangeFixture) post(t testing.TB, clientID, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, DefaultTokenPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	r.RemoteAddr = "192.0.2.1:4000"
	w := httptest.NewRecorder()
	f.token.ServeHTTP(w, r)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d, body not JSON: %q", w.Code, w.Body.String())
	}
	return w.Code, body
}

// exchange posts an exchange by A and returns the issued token, failing
// the test on a refusal.
func (f *exchangeFixture) exchange(t *testing.T, form url.Values) (string, map[string]any) {
	t.Helper()
	status, body := f.post(t, f.a, f.aSec, form)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, body)
	}
	raw, _ := body["access_token"].(string)
	return raw, body
}

// noTokenLogged fails when any log line holds a subject token or issued
// token, in a message or a field.
func (f *exchangeFixture) noTokenLogged(t *testing.T, issued ...string) {
	t.Helper()
	for _, e := range f.logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + strings.TrimSpace(strings.ReplaceAll(toString(v), "\n", " "))
		}
		for _, tok := range append(slices.Clone(f.subjects), issued...) {
			if tok != "" && strings.Contains(line, tok) {
				t.Fatalf("a log line holds a token: %q", e.Message)
			}
		}
	}
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// auditLines returns the token exchange audit lines with message msg.
func (f *exchangeFixture) auditLines(msg string) []map[string]any {
	var lines []map[string]any
	for _, e := range f.logs.FilterMessage(msg).All() {
		lines = append(lines, e.ContextMap())
	}
	return lines
}

// A exchanges Alice's token for one meant for B: held for Alice, A's
// (client_id, act), with B's audience and the scopes B may have, no longer
// lived than the subject token, and answered as RFC 8693 §2.2.1 says. The
// guard's check accepts it; the exchange is audited with both clients and
// the person, and no log line holds a token.
func TestTokenExchangeIssuesATokenForTheTarget(t *testing.T) {
	f := newExchangeFixture(t)
	ctx := context.Background()
	subject := f.subject(t, f.a, "orders:read orders:write", func(c *token.Claims) {
		c.ExpiresAt = f.s.Now().Add(5 * time.Minute).Unix()
	})
	raw, body := f.exchange(t, exchangeForm(subject, f.b))
	if body["issued_token_type"] != accessTokenType || body["token_type"] != "Bearer" || body["scope"] != "orders:read" {
		t.Errorf("response %v: want issued_token_type access_token, token_type Bearer, scope orders:read (B may have no more)", body)
	}
	if exp, _ := body["expires_in"].(float64); exp <= 0 || exp > 300 {
		t.Errorf("expires_in = %v, want within the subject token's 300 s left", body["expires_in"])
	}
	for _, absent := range []string{"refresh_token", "id_token"} {
		if _, ok := body[absent]; ok {
			t.Errorf("the response carries %s", absent)
		}
	}
	claims, client, err := f.s.CheckToken(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != f.userID || claims.ClientID != f.a || !slices.Equal(claims.Audience, token.Audience{f.bAPI, "https://b.example/other"}) {
		t.Errorf("sub %q client_id %q aud %v; want Alice, A and B's audience", claims.Subject, claims.ClientID, claims.Audience)
	}
	if !claims.HasActor() || !strings.Contains(string(claims.Extra), `"act":{"sub":"`+f.a+`"}`) {
		t.Errorf("act missing or not naming A: extra %s", claims.Extra)
	}
	held, err := f.s.HeldScopes(ctx, claims, client)
	if err != nil || held.String() != "orders:read" {
		t.Fatalf("the guard's check: %q %v, want orders:read", held.String(), err)
	}
	lines := f.auditLines("token exchange issued")
	if len(lines) != 1 || lines[0]["client_id"] != f.a || lines[0]["target_client_id"] != f.b || lines[0]["user_id"] != f.userID {
		t.Errorf("audit lines %v: want one with A, B and Alice", lines)
	}
	f.noTokenLogged(t, raw)
}

// A token sent to A's API by another app (C) may be exchanged by A;
// requested_token_type access_token, a resource of B's and a narrower
// scope are honoured.
func TestTokenExchangeAcceptsATokenForTheIssuersAudience(t *testing.T) {
	f := newExchangeFixture(t)
	subject := f.subject(t, f.c, "orders:read orders:write", func(c *token.Claims) { c.Audience = token.Audience{f.aAPI} })
	form := exchangeForm(subject, f.b)
	form.Set("requested_token_type", accessTokenType)
	form.Set("resource", f.bAPI)
	form.Set("scope", "orders:read")
	raw, body := f.exchange(t, form)
	claims, _, err := f.s.CheckToken(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claims.Audience, token.Audience{f.bAPI}) || body["scope"] != "orders:read" {
		t.Errorf("aud %v scope %v; want the one resource and orders:read", claims.Audience, body["scope"])
	}
}

// Every refusal, with RFC 8693 §2.2.2 / RFC 6749 §5.2's code and status,
// no token, and an audit line naming the caller and the target.
func TestTokenExchangeRefusals(t *testing.T) {
	f := newExchangeFixture(t)
	ctx := context.Background()
	// D has the feature without listing the grant; E lists client
	// credentials only. Neither may exchange.
	d, dSec := f.client(t, registry.Metadata{ClientName: "app-d", Scope: "orders:read", Features: []string{registry.FeatureAccessIssuer}})
	disabled, _ := f.client(t, registry.Metadata{ClientName: "app-off", Scope: "orders:read", Disabled: true})
	elsewhere, elsewhereSec := f.client(t, registry.Metadata{
		ClientName: "app-elsewhere", Scope: "orders:read", IPAllowlist: []string{"198.51.100.0/24"},
		GrantTypes: []string{grant.TokenExchange}, Features: []string{registry.FeatureAccessIssuer},
	})
	mine := func(scopes string) string { return f.subject(t, f.a, scopes, nil) }
	revoked := mine("orders:read")
	revokedClaims, _, err := f.s.CheckToken(ctx, revoked)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.Revoked.Add(ctx, revokedClaims.JWTID, f.a, f.s.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	exchanged, _ := f.exchange(t, exchangeForm(mine("orders:read"), f.b))
	clientOwn := f.subject(t, f.a, "orders:read", func(c *token.Claims) { c.Subject = f.a })
	with := func(subject, target string, set ...string) url.Values {
		form := exchangeForm(subject, target)
		for i := 0; i+1 < len(set); i += 2 {
			if set[i+1] == "" {
				form.Del(set[i])
			} else {
				form.Set(set[i], set[i+1])
			}
		}
		return form
	}
	cases := []struct {
		name         string
		id, secret   string
		form         url.Values
		status       int
		code         string
		descContains string
	}{
		{"client without access_issuer", f.c, f.cSec, with(mine("orders:read"), f.b), 400, "unauthorized_client", "access_issuer"},
		{"access_issuer without the grant listed", d, dSec, with(mine("orders:read"), f.b), 400, "unauthorized_client", "grant type"},
		{"access_issuer outside its allowlist", elsewhere, elsewhereSec, with(f.subject(t, elsewhere, "orders:read", nil), f.b), 400, "unauthorized_client", "may not connect from"},
		{"missing subject_token", f.a, f.aSec, with("", f.b, "subject_token", ""), 400, "invalid_request", "subject_token"},
		{"missing subject_token_type", f.a, f.aSec, with(mine("orders:read"), f.b, "subject_token_type", ""), 400, "invalid_request", "subject_token_type"},
		{"id_token subject_token_type", f.a, f.aSec, with(mine("orders:read"), f.b, "subject_token_type", "urn:ietf:params:oauth:token-type:id_token"), 400, "invalid_request", "subject_token_type"},
		{"actor_token", f.a, f.aSec, with(mine("orders:read"), f.b, "actor_token", mine("orders:read"), "actor_token_type", accessTokenType), 400, "invalid_request", "actor_token"},
		{"refresh token requested", f.a, f.aSec, with(mine("orders:read"), f.b, "requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), 400, "invalid_request", "requested_token_type"},
		{"garbage subject_token", f.a, f.aSec, with("not.a.token", f.b), 400, "invalid_request", "subject_token is not acceptable"},
		{"revoked subject_token", f.a, f.aSec, with(revoked, f.b), 400, "invalid_request", "revoked"},
		{"expired subject_token", f.a, f.aSec, with(f.subject(t, f.a, "orders:read", func(c *token.Claims) {
			c.IssuedAt, c.ExpiresAt = f.s.Now().Add(-time.Hour).Unix(), f.s.Now().Add(-time.Minute).Unix()
		}), f.b), 400, "invalid_request", "subject_token is not acceptable"},
		{"subject_token expired within the leeway", f.a, f.aSec, with(f.subject(t, f.a, "orders:read", func(c *token.Claims) {
			c.IssuedAt, c.ExpiresAt = f.s.Now().Add(-time.Minute).Unix(), f.s.Now().Add(-time.Second).Unix()
		}), f.b), 400, "invalid_request", "it has expired"},
		{"a client's own token", f.a, f.aSec, with(clientOwn, f.b), 400, "invalid_request", "client's own token"},
		{"another app's token", f.a, f.aSec, with(f.subject(t, f.c, "orders:read", nil), f.b), 400, "invalid_request", "neither issued to this client"},
		{"another app's token for a look-alike audience", f.a, f.aSec, with(f.subject(t, f.c, "orders:read", func(c *token.Claims) { c.Audience = token.Audience{f.aAPI + "/"} }), f.b), 400, "invalid_request", "neither issued to this client"},
		{"an exchanged token exchanged again", f.a, f.aSec, with(exchanged, f.b), 400, "invalid_request", "cannot be exchanged again"},
		{"missing audience", f.a, f.aSec, with(mine("orders:read"), "", "resource", f.bAPI), 400, "invalid_request", "audience is required"},
		{"unknown audience", f.a, f.aSec, with(mine("orders:read"), "no-such-client"), 400, "invalid_target", "no enabled client"},
		{"disabled audience", f.a, f.aSec, with(mine("orders:read"), disabled), 400, "invalid_target", "no enabled client"},
		{"resource outside the target's audience", f.a, f.aSec, with(mine("orders:read"), f.b, "resource", f.aAPI), 400, "invalid_target", "resource"},
		{"scope beyond the target's", f.a, f.aSec, with(mine("orders:read orders:write"), f.b, "scope", "orders:write"), 400, "invalid_scope", "beyond"},
		{"scope beyond the subject token's", f.a, f.aSec, with(mine("orders:read"), f.a, "scope", "orders:read orders:write"), 400, "invalid_scope", "beyond"},
		{"scope beyond the person's roles", f.a, f.aSec, with(mine("orders:read billing:read"), f.a, "scope", "billing:read"), 400, "invalid_scope", "beyond"},
		{"no scope left for the target", f.a, f.aSec, with(mine("orders:write"), f.b), 400, "invalid_scope", "no scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.auditLines("token exchange refused"))
			status, body := f.post(t, tc.id, tc.secret, tc.form)
			wantOAuthError(t, status, body, tc.status, tc.code)
			if desc, _ := body["error_description"].(string); !strings.Contains(desc, tc.descContains) {
				t.Errorf("error_description %q, want it to say %q", desc, tc.descContains)
			}
			lines := f.auditLines("token exchange refused")
			if tc.id == elsewhere {
				// Refused at client authentication, as for every grant,
				// before the exchange is looked at.
				return
			}
			if len(lines) != before+1 {
				t.Fatalf("%d audit lines for the refusal, want 1", len(lines)-before)
			}
			last := lines[len(lines)-1]
			if last["client_id"] != tc.id || last["target_client_id"] != tc.form.Get("audience") || last["error"] != tc.code {
				t.Errorf("audit line %v: want the caller, the target as named and the error", last)
			}
		})
	}
	f.noTokenLogged(t, exchanged)
}

// A subject token whose person or consent no longer holds is refused, as
// the guard refuses it: disabled person, withdrawn consent to the app the
// token was issued to, and no consent to A for a token sent to A's API.
func TestTokenExchangeRefusesWhatTheGuardRefuses(t *testing.T) {
	ctx := context.Background()
	t.Run("person disabled", func(t *testing.T) {
		f := newExchangeFixture(t)
		subject := f.subject(t, f.a, "orders:read", nil)
		if _, err := f.s.Registry.SetUserDisabled(ctx, f.userID, true); err != nil {
			t.Fatal(err)
		}
		status, body := f.post(t, f.a, f.aSec, exchangeForm(subject, f.b))
		wantOAuthError(t, status, body, 400, "invalid_request")
		if lines := f.auditLines("token exchange refused"); len(lines) != 1 || lines[0]["user_id"] != f.userID {
			t.Errorf("audit lines %v: want one naming Alice", lines)
		}
	})
	t.Run("consent to the token's app withdrawn", func(t *testing.T) {
		f := newExchangeFixture(t)
		subject := f.subject(t, f.c, "orders:read", func(c *token.Claims) { c.Audience = token.Audience{f.aAPI} })
		if err := f.s.WithdrawConsent(ctx, f.userID, f.c); err != nil {
			t.Fatal(err)
		}
		status, body := f.post(t, f.a, f.aSec, exchangeForm(subject, f.b))
		wantOAuthError(t, status, body, 400, "invalid_request")
	})
	t.Run("no consent to the issuer", func(t *testing.T) {
		f := newExchangeFixture(t)
		if err := f.s.WithdrawConsent(ctx, f.userID, f.a); err != nil {
			t.Fatal(err)
		}
		subject := f.subject(t, f.c, "orders:read", func(c *token.Claims) { c.Audience = token.Audience{f.aAPI} })
		status, body := f.post(t, f.a, f.aSec, exchangeForm(subject, f.b))
		wantOAuthError(t, status, body, 400, "invalid_request")
		if body["error_description"] != exchangeNoConsent.Description {
			t.Errorf("error_description %v, want %q", body["error_description"], exchangeNoConsent.Description)
		}
	})
}

// The exchanged token is A's and held for Alice: disabling Alice,
// withdrawing her consent to A, or disabling A ends it on the next check.
func TestTokenExchangeTokenEnds(t *testing.T) {
	ctx := context.Background()
	for _, end := range []struct {
		name string
		do   func(f *exchangeFixture) error
		want *TokenRefusal
	}{
		{"person disabled", func(f *exchangeFixture) error {
			_, err := f.s.Registry.SetUserDisabled(ctx, f.userID, true)
			return err
		}, refusedUserOff},
		{"consent to A withdrawn", func(f *exchangeFixture) error { return f.s.WithdrawConsent(ctx, f.userID, f.a) }, refusedNoConsent},
		{"A disabled", func(f *exchangeFixture) error {
			_, err := f.s.Registry.SetDisabled(ctx, f.a, true)
			return err
		}, refusedOff},
	} {
		t.Run(end.name, func(t *testing.T) {
			f := newExchangeFixture(t)
			raw, _ := f.exchange(t, exchangeForm(f.subject(t, f.a, "orders:read", nil), f.b))
			if err := end.do(f); err != nil {
				t.Fatal(err)
			}
			claims, client, err := f.s.CheckToken(ctx, raw)
			if err == nil {
				_, err = f.s.HeldScopes(ctx, claims, client)
			}
			if err != end.want {
				t.Fatalf("the guard's check after %s: %v, want %v", end.name, err, end.want)
			}
		})
	}
}

// The RFC 8414 document names the grant among grant_types_supported.
func TestTokenExchangeInMetadata(t *testing.T) {
	doc, err := Metadata("https://gw.example", EndpointPaths{}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Grants []string `json:"grant_types_supported"`
	}
	if err := json.Unmarshal(doc.Body, &m); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(m.Grants, "urn:ietf:params:oauth:grant-type:token-exchange") {
		t.Errorf("grant_types_supported %v lacks token exchange", m.Grants)
	}
}

// FuzzTokenExchange drives A's exchange with arbitrary subject token,
// audience, scope and resource. It must never panic or answer 5xx; a
// refusal is a 400 with a known code; a token is issued only for Alice's
// valid token, with B's audience and scopes B and the subject hold.
func FuzzTokenExchange(f *testing.F) {
	fx := newExchangeFixture(f)
	valid := fx.subject(f, fx.a, "orders:read orders:write", nil)
	f.Add(valid, fx.b, "", "")
	f.Add(valid, fx.b, "orders:read", "https://b.example/orders")
	f.Add(valid, fx.a, "orders:write", "")
	f.Add(valid+"x", fx.b, "orders:read", "")
	f.Add("eyJhbGciOiJub25lIn0.e30.", "app-b", "orders:write", "https://b.example/orders#f")
	f.Add(valid, strings.Repeat("b", 300), "a\"b", "urn:x")
	codes := []string{"invalid_request", "invalid_target", "invalid_scope"}
	f.Fuzz(func(t *testing.T, subject, audience, scopes, resource string) {
		form := exchangeForm(subject, audience)
		form.Set("scope", scopes)
		form.Set("resource", resource)
		status, body := fx.post(t, fx.a, fx.aSec, form)
		if status != http.StatusOK {
			if status != http.StatusBadRequest || !slices.Contains(codes, body["error"].(string)) {
				t.Fatalf("refusal %d %v", status, body)
			}
			return
		}
		if subject != valid || audience != fx.b && audience != fx.a {
			t.Fatalf("issued for subject %q audience %q", subject, audience)
		}
		claims, _, err := fx.s.CheckToken(context.Background(), body["access_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if audience == fx.b && !slices.Contains(claims.Audience, fx.bAPI) && !slices.Contains(claims.Audience, "https://b.example/other") {
			t.Fatalf("aud %v is not B's", claims.Audience)
		}
		for _, sc := range claims.Scopes.Strings() {
			if sc != "orders:read" && (audience == fx.b || sc != "orders:write") {
				t.Fatalf("scope %q beyond the target's and the subject's", sc)
			}
		}
	})
}

// BenchmarkTokenExchange measures one exchange at the token endpoint: A's
// Basic credentials (cached), the subject token checked as the guard
// checks it (cached person checks), the target looked up, the scopes
// bounded, and a new token signed with ES256. No store write is made.
func BenchmarkTokenExchange(b *testing.B) {
	f := newExchangeFixture(b)
	f.s.Logger = zap.NewNop()
	form := exchangeForm(f.subject(b, f.a, "orders:read orders:write", nil), f.b)
	if status, body := f.post(b, f.a, f.aSec, form); status != http.StatusOK {
		b.Fatalf("exchange: %d %v", status, body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	body := form.Encode()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, DefaultTokenPath, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(url.QueryEscape(f.a), url.QueryEscape(f.aSec))
		r.RemoteAddr = "192.0.2.1:4000"
		w := httptest.NewRecorder()
		f.token.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("exchange: %d", w.Code)
		}
	}
}
