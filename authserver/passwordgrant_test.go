package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/signin"
	"github.com/scopegate/scopegate/storage"
)

const (
	alicePassword = "correct horse battery staple 7"
	bobPassword   = "another long passphrase 42"
)

// passwordFixture is a token endpoint with the password grant on, a
// confidential app that lists it, and Alice, whose role grants orders:read
// only. The sign-in page's throttles allow 3 failures per source and 2 per
// (username, source).
type passwordFixture struct {
	s             *Server
	token         http.Handler
	logs          *observer.ObservedLogs
	userID        string
	clientID, sec string
	bobID         string
}

func newPasswordFixture(t *testing.T, on bool) *passwordFixture {
	t.Helper()
	ctx := context.Background()
	s := newTestServer(t)
	core, logs := observer.New(zap.DebugLevel)
	s.Logger = zap.New(core)
	page, err := signin.New(signin.Config{Options: signin.Options{SourceLimit: 3, PairLimit: 2}},
		SignInAccounts{Server: s}, SignInSessions{Server: s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	endpoints, err := s.NewEndpoints(EndpointPaths{PasswordGrant: on}, page)
	if err != nil {
		t.Fatal(err)
	}
	tokenEndpoint, _ := endpoints.Lookup(DefaultTokenPath)
	f := &passwordFixture{s: s, token: tokenEndpoint, logs: logs}
	if _, err := s.Registry.CreateRole(ctx, registry.RoleMetadata{Name: "reader", Scopes: []string{"orders:read"}}); err != nil {
		t.Fatal(err)
	}
	u, err := s.Registry.CreateUser(ctx, registry.UserMetadata{Username: "alice", Roles: []string{"reader"}}, alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.Registry.CreateUser(ctx, registry.UserMetadata{Username: "bob", Roles: []string{"reader"}}, bobPassword)
	if err != nil {
		t.Fatal(err)
	}
	f.userID, f.bobID = u.UserID, bob.UserID
	f.clientID, f.sec = f.client(t, "legacy", grant.Password)
	return f
}

// client creates a confidential client with grants and the scopes
// orders:read orders:write admin.
func (f *passwordFixture) client(t *testing.T, name string, grants ...string) (string, string) {
	t.Helper()
	c, secret, err := f.s.Registry.Create(context.Background(), registry.Metadata{
		ClientName: name, Scope: "orders:read orders:write admin", GrantTypes: grants,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.ClientID, secret
}

// post sends a password grant request from addr with the client's Basic
// credentials and returns the status, Retry-After and body.
func (f *passwordFixture) post(t *testing.T, addr, clientID, secret string, form url.Values) (int, string, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, DefaultTokenPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	r.RemoteAddr = addr + ":4000"
	w := httptest.NewRecorder()
	f.token.ServeHTTP(w, r)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d, body not JSON: %q", w.Code, w.Body.String())
	}
	return w.Code, w.Header().Get("Retry-After"), body
}

func passwordForm(username, pw, scope string) url.Values {
	form := url.Values{"grant_type": {grant.Password}, "username": {username}, "password": {pw}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return form
}

func wantOAuthError(t *testing.T, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantCode {
		t.Fatalf("got %d %v, want %d %s", status, body, wantStatus, wantCode)
	}
	if _, ok := body["access_token"]; ok {
		t.Fatal("a refusal carries an access token")
	}
}

// The password grant issues a token held for the person: sub is the user,
// client_id the app, the scopes those requested that the client may have
// and the person's roles grant. It needs no consent record, is accepted as
// the guard checks tokens, and stops working when the person is disabled.
func TestPasswordGrantIssuesATokenForThePerson(t *testing.T) {
	f := newPasswordFixture(t, true)
	ctx := context.Background()
	status, _, body := f.post(t, "192.0.2.1", f.clientID, f.sec, passwordForm("alice", alicePassword, "orders:read orders:write"))
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, body)
	}
	if body["scope"] != "orders:read" {
		t.Errorf("scope = %v, want orders:read (orders:write is not in Alice's roles)", body["scope"])
	}
	raw, _ := body["access_token"].(string)
	claims, client, err := f.s.CheckToken(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != f.userID || claims.ClientID != f.clientID || claims.AuthTime == 0 {
		t.Errorf("sub %q client_id %q auth_time %d; want %q, %q and the time of the check", claims.Subject, claims.ClientID, claims.AuthTime, f.userID, f.clientID)
	}
	if _, err := f.s.Store.GetConsent(ctx, f.userID, f.clientID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a consent record was written: %v", err)
	}
	held, err := f.s.HeldScopes(ctx, claims, client)
	if err != nil || held.String() != "orders:read" {
		t.Fatalf("the guard's check: %v %v, want orders:read", held.String(), err)
	}
	if _, err := f.s.Registry.SetUserDisabled(ctx, f.userID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.HeldScopes(ctx, claims, client); err != refusedUserOff {
		t.Fatalf("after disabling the person: %v, want %v", err, refusedUserOff)
	}
	status, _, body = f.post(t, "192.0.2.1", f.clientID, f.sec, passwordForm("alice", alicePassword, "orders:read"))
	wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
}

func TestPasswordGrantRefusals(t *testing.T) {
	f := newPasswordFixture(t, true)
	ccID, ccSecret := f.client(t, "machine", grant.ClientCredentials)
	public, _, err := f.s.Registry.Create(context.Background(), registry.Metadata{
		ClientName: "spa", Scope: "orders:read", TokenEndpointAuthMethod: storage.AuthMethodNone,
		RedirectURIs: []string{"https://spa.example/cb"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name               string
		clientID, secret   string
		form               url.Values
		wantStatus         int
		wantCode, wantDesc string
	}{
		{"client without the grant", ccID, ccSecret, passwordForm("alice", alicePassword, "orders:read"), 400, "unauthorized_client", ""},
		{"public client", public.ClientID, "", passwordForm("alice", alicePassword, "orders:read"), 400, "unauthorized_client", ""},
		{"scope the client may not have", f.clientID, f.sec, passwordForm("alice", alicePassword, "billing"), 400, "invalid_scope", ""},
		{"scope the person's roles do not grant", f.clientID, f.sec, passwordForm("alice", alicePassword, "admin"), 400, "invalid_scope", "none of the requested scopes may be delegated by this person"},
		{"no password", f.clientID, f.sec, url.Values{"grant_type": {grant.Password}, "username": {"alice"}, "scope": {"orders:read"}}, 400, "invalid_request", ""},
		{"no username", f.clientID, f.sec, url.Values{"grant_type": {grant.Password}, "password": {alicePassword}, "scope": {"orders:read"}}, 400, "invalid_request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var status int
			var body map[string]any
			if tc.secret == "" {
				status, body = f.postPublic(t, tc.clientID, tc.form)
			} else {
				status, _, body = f.post(t, "192.0.2.9", tc.clientID, tc.secret, tc.form)
			}
			wantOAuthError(t, status, body, tc.wantStatus, tc.wantCode)
			if tc.wantDesc != "" && body["error_description"] != tc.wantDesc {
				t.Errorf("description %q, want %q", body["error_description"], tc.wantDesc)
			}
		})
	}
}

// postPublic sends form as a public client (client_id in the body).
func (f *passwordFixture) postPublic(t *testing.T, clientID string, form url.Values) (int, map[string]any) {
	t.Helper()
	form.Set("client_id", clientID)
	r := httptest.NewRequest(http.MethodPost, DefaultTokenPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	f.token.ServeHTTP(w, r)
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

// Off unless the operator turns it on: unsupported_grant_type, even for a
// client that lists it and the right password; the metadata does not name it.
func TestPasswordGrantOffByDefault(t *testing.T) {
	f := newPasswordFixture(t, false)
	status, _, body := f.post(t, "192.0.2.1", f.clientID, f.sec, passwordForm("alice", alicePassword, "orders:read"))
	wantOAuthError(t, status, body, http.StatusBadRequest, "unsupported_grant_type")
	for _, on := range []bool{false, true} {
		doc, err := Metadata("https://gw.example", EndpointPaths{PasswordGrant: on}.WithDefaults())
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Grants []string `json:"grant_types_supported"`
		}
		if err := json.Unmarshal(doc.Body, &m); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(m.Grants, grant.Password) != on {
			t.Errorf("password_grant %v: grant_types_supported %v", on, m.Grants)
		}
	}
}

// A wrong password, an unknown username and a disabled person get one
// answer, byte for byte; every attempt is in the log with the client, the
// source and the outcome, and no log line holds a password.
func TestPasswordGrantBadCredentialsAreOneAnswer(t *testing.T) {
	f := newPasswordFixture(t, true)
	if _, err := f.s.Registry.SetUserDisabled(context.Background(), f.bobID, true); err != nil {
		t.Fatal(err)
	}
	var answers []string
	for i, form := range []url.Values{
		passwordForm("alice", "wrong password here", "orders:read"),
		passwordForm("nobody", "wrong password here", "orders:read"),
		passwordForm("bob", bobPassword, "orders:read"),
	} {
		addr := "192.0.2." + strconv.Itoa(10+i)
		status, _, body := f.post(t, addr, f.clientID, f.sec, form)
		wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
		b, _ := json.Marshal(body)
		answers = append(answers, string(b))
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Errorf("answers differ:\n%s", strings.Join(answers, "\n"))
	}
	f.post(t, "192.0.2.20", f.clientID, f.sec, passwordForm("alice", alicePassword, "orders:read"))
	var refused, issued int
	for _, e := range f.logs.All() {
		fields := e.ContextMap()
		for _, v := range fields {
			if s, ok := v.(string); ok && (strings.Contains(s, alicePassword) || strings.Contains(s, bobPassword) || strings.Contains(s, "wrong password here")) {
				t.Errorf("log line %q holds a password", e.Message)
			}
		}
		if fields["client_id"] != f.clientID || fields["source"] == nil {
			continue
		}
		switch e.Message {
		case "password grant refused: bad credentials":
			if fields["username_ref"] == nil {
				t.Errorf("refusal without username_ref: %v", fields)
			}
			refused++
		case "password grant issued":
			if fields["username"] != "alice" || fields["user_id"] != f.userID {
				t.Errorf("issued line %v", fields)
			}
			issued++
		}
	}
	if refused != 3 || issued != 1 {
		t.Errorf("audit lines: %d refused, %d issued; want 3 and 1", refused, issued)
	}
}

// Guessing is throttled as on the sign-in page: per (username, source)
// after 2 failures, and per source after 3 whatever the usernames; the
// throttled get 429 with Retry-After even with the right password, while
// the person signs in from elsewhere.
func TestPasswordGrantThrottled(t *testing.T) {
	f := newPasswordFixture(t, true)
	const attacker = "198.51.100.7"
	for range 2 {
		status, _, body := f.post(t, attacker, f.clientID, f.sec, passwordForm("alice", "guess guess guess", "orders:read"))
		wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
	}
	status, retry, body := f.post(t, attacker, f.clientID, f.sec, passwordForm("alice", alicePassword, "orders:read"))
	wantOAuthError(t, status, body, http.StatusTooManyRequests, "temporarily_unavailable")
	if retry == "" || retry == "0" {
		t.Errorf("Retry-After %q", retry)
	}
	if status, _, body := f.post(t, "203.0.113.5", f.clientID, f.sec, passwordForm("alice", alicePassword, "orders:read")); status != http.StatusOK {
		t.Fatalf("Alice from elsewhere: %d %v", status, body)
	}
	// The attacker's source: one more failure for another username uses up
	// its 3, and then every username is throttled from it.
	status, _, body = f.post(t, attacker, f.clientID, f.sec, passwordForm("bob", "guess guess guess", "orders:read"))
	wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
	status, _, body = f.post(t, attacker, f.clientID, f.sec, passwordForm("bob", bobPassword, "orders:read"))
	wantOAuthError(t, status, body, http.StatusTooManyRequests, "temporarily_unavailable")
}
