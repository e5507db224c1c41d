package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/signin"
)

// selfServiceFixture is an issuer with the password grant on (the
// simplest way to a person's token), the self-service endpoint under
// opts, and Alice; loginApp has the login_client feature, plainApp does
// not, and fencedApp has it but only from 10.0.0.0/8. The sign-in page's
// throttles allow 3 failures per source and 2 per (username, source).
type selfServiceFixture struct {
	s         *Server
	endpoints *Endpoints
	logs      *observer.ObservedLogs
	userID    string
	loginApp  [2]string
	plainApp  [2]string
	fencedApp [2]string
}

const selfServiceSource = "192.0.2.1"

func newSelfServiceFixture(t *testing.T, opts SelfServiceOptions) *selfServiceFixture {
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
	endpoints, err := s.NewEndpoints(EndpointPaths{PasswordGrant: true, SelfService: opts}, page)
	if err != nil {
		t.Fatal(err)
	}
	f := &selfServiceFixture{s: s, endpoints: endpoints, logs: logs}
	if _, err := s.Registry.CreateRole(ctx, registry.RoleMetadata{Name: "reader", Scopes: []string{"orders:read"}}); err != nil {
		t.Fatal(err)
	}
	u, err := s.Registry.CreateUser(ctx, registry.UserMetadata{
		Username: "alice", Name: "Alice", Email: "alice@example.com", EmailVerified: true, Roles: []string{"reader"},
	}, alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	f.userID = u.UserID
	f.loginApp = f.client(t, "login-app", nil, registry.FeatureLoginClient)
	f.plainApp = f.client(t, "plain-app", nil)
	f.fencedApp = f.client(t, "fenced-app", []string{"10.0.0.0/8"}, registry.FeatureLoginClient)
	return f
}

// client creates a confidential client of the password and
// client_credentials grants.
func (f *selfServiceFixture) client(t *testing.T, name string, allow []string, features ...string) [2]string {
	t.Helper()
	c, secret, err := f.s.Registry.Create(context.Background(), registry.Metadata{
		ClientName: name, Scope: "orders:read", GrantTypes: []string{grant.Password, grant.ClientCredentials},
		IPAllowlist: allow, Features: features,
	})
	if err != nil {
		t.Fatal(err)
	}
	return [2]string{c.ClientID, secret}
}

// token returns an access token of app, fetched from addr with form.
func (f *selfServiceFixture) token(t *testing.T, addr string, app [2]string, form url.Values) string {
	t.Helper()
	h, _ := f.endpoints.Lookup(DefaultTokenPath)
	r := httptest.NewRequest(http.MethodPost, DefaultTokenPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(app[0]), url.QueryEscape(app[1]))
	r.RemoteAddr = addr + ":4000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &body) != nil {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	return body.AccessToken
}

// personToken is Alice's token held by app.
func (f *selfServiceFixture) personToken(t *testing.T, app [2]string) string {
	return f.token(t, selfServiceSource, app, passwordForm("alice", alicePassword, "orders:read"))
}

// call sends a request to path with the token (none when "") and a body
// of contentType (none when body is "") from addr.
func (f *selfServiceFixture) call(t *testing.T, addr, method, path, tok, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	h, ok := f.endpoints.Lookup(path)
	if !ok {
		t.Fatalf("nothing is served at %s", path)
	}
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	r.RemoteAddr = addr + ":4000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// record decodes a successful answer's user.
func record(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var u map[string]any
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &u) != nil {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", w.Header().Get("Cache-Control"))
	}
	return u
}

// wantRefusal checks an error answer's status and code.
func wantRefusal(t *testing.T, w *httptest.ResponseRecorder, status int, code string) map[string]any {
	t.Helper()
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != status || (code != "" && body["error"] != code) {
		t.Fatalf("got %d %s, want %d %s", w.Code, w.Body, status, code)
	}
	return body
}

// A login_client app reads the person's record as the admin API shows it,
// and patches the fields the operator allows; each change is audited with
// the app and the person, never with a value.
func TestSelfServiceReadsAndPatchesTheRecord(t *testing.T) {
	f := newSelfServiceFixture(t, SelfServiceOptions{})
	tok := f.personToken(t, f.loginApp)
	u := record(t, f.call(t, selfServiceSource, http.MethodGet, DefaultSelfServicePath, tok, "", ""))
	if u["user_id"] != f.userID || u["username"] != "alice" || u["name"] != "Alice" || u["has_password"] != true {
		t.Fatalf("record %v", u)
	}
	for name := range u {
		if strings.Contains(name, "hash") || strings.Contains(name, "password") && name != "has_password" {
			t.Fatalf("the record holds %s", name)
		}
	}
	for _, mediaType := range []string{"application/merge-patch+json", "application/json; charset=utf-8"} {
		u = record(t, f.call(t, selfServiceSource, http.MethodPatch, DefaultSelfServicePath, tok, mediaType, `{"name":"Alice Liddell","given_name":"Alice"}`))
		if u["name"] != "Alice Liddell" || u["given_name"] != "Alice" || u["email_verified"] != true {
			t.Fatalf("patched record %v", u)
		}
	}
	lines := f.logs.FilterMessage("self-service change").All()
	if len(lines) != 2 {
		t.Fatalf("%d audit lines, want 2", len(lines))
	}
	fields := lines[0].ContextMap()
	if fields["client_id"] != f.loginApp[0] || fields["user_id"] != f.userID || fields["action"] != "user.update" {
		t.Fatalf("audit line %v", fields)
	}
	for _, e := range f.logs.All() {
		if strings.Contains(e.Message+" "+jsonOf(e.ContextMap()), "Liddell") {
			t.Fatalf("a value reached the log: %v", e.ContextMap())
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Fields outside the operator's list, and the operator's own fields, are
// refused with 400 naming them; the record is unchanged.
func TestSelfServicePatchRefusals(t *testing.T) {
	f := newSelfServiceFixture(t, SelfServiceOptions{})
	tok := f.personToken(t, f.loginApp)
	before := record(t, f.call(t, selfServiceSource, http.MethodGet, DefaultSelfServicePath, tok, "", ""))
	for _, tc := range []struct{ patch, field string }{
		{`{"roles":["admin"]}`, "roles"},
		{`{"disabled":false}`, "disabled"},
		{`{"email_verified":true}`, "email_verified"},
		{`{"username":"alice2"}`, "username"},
		{`{"email":"new@example.com"}`, "email"},
		{`{"password_hash":"$2b$04$x"}`, "password_hash"},
		{`{"name":"A","name":"B"}`, "name"},
		{`{"name":"` + strings.Repeat("x", 300) + `"}`, "name"},
		{`[]`, "body"},
	} {
		body := wantRefusal(t, f.call(t, selfServiceSource, http.MethodPatch, DefaultSelfServicePath, tok, "application/merge-patch+json", tc.patch), http.StatusBadRequest, "invalid_request")
		if d, _ := body["error_description"].(string); !strings.Contains(d, tc.field) {
			t.Errorf("patch %.40s: description %q does not name %s", tc.patch, d, tc.field)
		}
	}
	wantRefusal(t, f.call(t, selfServiceSource, http.MethodPatch, DefaultSelfServicePath, tok, "text/plain", `{"name":"A"}`), http.StatusUnsupportedMediaType, "invalid_request")
	wantRefusal(t, f.call(t, selfServiceSource, http.MethodPatch, DefaultSelfServicePath, tok, "application/json; charset=latin1", `{"name":"A"}`), http.StatusUnsupportedMediaType, "invalid_request")
	wantRefusal(t, f.call(t, selfServiceSource, http.MethodPatch, DefaultSelfServicePath, tok, "application/json", `{"name":"`+strings.Repeat("x", maxSelfServiceBody)+`"}`), http.StatusRequestEntityTooLarge, "invalid_request")
	w := f.call(t, selfServiceSource, http.MethodDelete, DefaultSelfServicePath, tok, "", "")
	wantRefusal(t, w, http.StatusMethodNotAllowed, "invalid_request")
	if w.Header().Get("Allow") != "GET, PATCH" {
		t.Errorf("Allow %q", w.Header().Get("Allow"))
	}
	after := record(t, f.call(t, selfServiceSource, http.MethodGet, DefaultSelfServicePath, tok, "", ""))
	if jsonOf(after) != jsonOf(before) {
		t.Fatalf("refused patches changed the record:\n%v\n%v", before, after)
	}
}

// When the operator allows email and username, a new email is unverified
// and a username another person holds is 409.
func TestSelfServiceEmailAndUsername(t *testing.T) {
	f := newSelfServiceFixture(t, SelfServiceOptions{Fields: []string{"name", "email", "username"}})
	if _, err := f.s.Registry.CreateUser(context.Background(), registry.UserMetadata{Username: "bob"}, ""); err != nil {
		t.Fatal(err)
	}
	tok := f.personToken(t, f.loginApp)
	patch := func(body string) *httptest.ResponseRecorder {
		return f.call(t, selfServiceSource, http.MethodPatch, DefaultSelfServicePath, tok, "application/json", body)
	}
	if u := record(t, patch(`{"email":"alice@example.com","name":"A"}`)); u["email_verified"] != true {
		t.Fatalf("the same email lost its verification: %v", u)
	}
	if u := record(t, patch(`{"email":"alice@example.org"}`)); u["email"] != "alice@example.org" || u["email_verified"] != false {
		t.Fatalf("a new email: %v, want it unverified", u)
	}
	if u := record(t, patch(`{"username":"alice.l"}`)); u["username"] != "alice.l" {
		t.Fatalf("username: %v", u)
	}
	wantRefusal(t, patch(`{"username":"Bob"}`), http.StatusConflict, "invalid_request")
	wantRefusal(t, patch(`{"given_name":"A"}`), http.StatusBadRequest, "invalid_request")
}

// Only a person's token, held by a login_client app, from an address the
// app's allowlist admits, reaches the record: no token is 401 without an
// error attribute, a bad one 401 invalid_token, a client's own token and
// another app's person token 403 insufficient_scope with a challenge, an
// address outside the allowlist 403, a disabled person 401.
func TestSelfServiceRefusesOtherTokens(t *testing.T) {
	f := newSelfServiceFixture(t, SelfServiceOptions{})
	own := f.token(t, selfServiceSource, f.loginApp, url.Values{"grant_type": {grant.ClientCredentials}, "scope": {"orders:read"}})
	plain := f.personToken(t, f.plainApp)
	fenced := f.token(t, "10.1.2.3", f.fencedApp, passwordForm("alice", alicePassword, "orders:read"))
	for _, path := range []string{DefaultSelfServicePath, DefaultSelfServicePath + "/password"} {
		method, contentType, body := http.MethodGet, "", ""
		if strings.HasSuffix(path, "/password") {
			method, contentType, body = http.MethodPut, "application/json", `{"current_password":"`+alicePassword+`","new_password":"a-brand-new-passphrase"}`
		}
		t.Run(path, func(t *testing.T) {
			w := f.call(t, selfServiceSource, method, path, "", contentType, body)
			if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") || strings.Contains(w.Header().Get("WWW-Authenticate"), "error=") {
				t.Fatalf("no token: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
			}
			wantRefusal(t, f.call(t, selfServiceSource, method, path, "not.a.token", contentType, body), http.StatusUnauthorized, "invalid_token")
			for name, tok := range map[string]string{"a client's own token": own, "an app without login_client": plain} {
				w := f.call(t, selfServiceSource, method, path, tok, contentType, body)
				wantRefusal(t, w, http.StatusForbidden, "insufficient_scope")
				if !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="insufficient_scope"`) {
					t.Errorf("%s: challenge %q", name, w.Header().Get("WWW-Authenticate"))
				}
			}
			wantRefusal(t, f.call(t, selfServiceSource, method, path, fenced, contentType, body), http.StatusForbidden, "access_denied")
		})
	}
	if w := f.call(t, "10.1.2.3", http.MethodGet, DefaultSelfServicePath, fenced, "", ""); w.Code != http.StatusOK {
		t.Fatalf("the fenced app from its own network: %d %s", w.Code, w.Body)
	}
	tok := f.personToken(t, f.loginApp)
	if _, err := f.s.Registry.SetUserDisabled(context.Background(), f.userID, true); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, f.call(t, selfServiceSource, http.MethodGet, DefaultSelfServicePath, tok, "", ""), http.StatusUnauthorized, "invalid_token")
	if _, err := f.s.Registry.GetUser(context.Background(), f.userID); err != nil {
		t.Fatal(err)
	}
}

// The password changes only with the current one: a wrong one is 400
// invalid_grant (as the password grant answers it) and counts against the
// sign-in throttles of the source and the token's person; the new one
// meets the policy; success is 204, the old password stops working, and
// no password reaches the log.
func TestSelfServiceChangesThePassword(t *testing.T) {
	f := newSelfServiceFixture(t, SelfServiceOptions{})
	tok := f.personToken(t, f.loginApp)
	path := DefaultSelfServicePath + "/password"
	put := func(body string) *httptest.ResponseRecorder {
		return f.call(t, selfServiceSource, http.MethodPut, path, tok, "application/json", body)
	}
	body := wantRefusal(t, put(`{"current_password":"not-alices-password","new_password":"a-brand-new-passphrase"}`), http.StatusBadRequest, "invalid_grant")
	if d, _ := body["error_description"].(string); !strings.Contains(d, "current_password") {
		t.Errorf("description %q", d)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"current_password":"` + alicePassword + `","new_password":"short"}`, "new_password"},
		{`{"current_password":"` + alicePassword + `"}`, "new_password"},
		{`{"new_password":"a-brand-new-passphrase"}`, "current_password"},
		{`{"current_password":"` + alicePassword + `","new_password":"x","password":"y"}`, "password"},
		{`{"current_password":"a","current_password":"b","new_password":"c"}`, "current_password"},
	} {
		body := wantRefusal(t, put(tc.body), http.StatusBadRequest, "invalid_request")
		if d, _ := body["error_description"].(string); !strings.Contains(d, tc.field) {
			t.Errorf("%s: description %q does not name %s", tc.body, d, tc.field)
		}
	}
	wantRefusal(t, f.call(t, selfServiceSource, http.MethodPut, path, tok, "application/merge-patch+json", `{}`), http.StatusUnsupportedMediaType, "invalid_request")
	w := f.call(t, selfServiceSource, http.MethodPost, path, tok, "application/json", `{}`)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "PUT" {
		t.Fatalf("POST: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if w := put(`{"current_password":"` + alicePassword + `","new_password":"a-brand-new-passphrase"}`); w.Code != http.StatusNoContent {
		t.Fatalf("change: %d %s", w.Code, w.Body)
	}
	ctx := context.Background()
	if _, err := f.s.Registry.SignIn(ctx, "alice", alicePassword); err == nil {
		t.Fatal("the old password still signs in")
	}
	if _, err := f.s.Registry.SignIn(ctx, "alice", "a-brand-new-passphrase"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	changed := f.logs.FilterMessage("self-service change").FilterField(zap.String("action", "user.password")).All()
	if len(changed) != 1 || changed[0].ContextMap()["client_id"] != f.loginApp[0] || changed[0].ContextMap()["user_id"] != f.userID {
		t.Fatalf("audit of the change: %v", changed)
	}
	for _, e := range f.logs.All() {
		line := e.Message + " " + jsonOf(e.ContextMap())
		for _, pw := range []string{alicePassword, "not-alices-password", "a-brand-new-passphrase"} {
			if strings.Contains(line, pw) {
				t.Fatalf("a password reached the log: %s", line)
			}
		}
	}
}

// Wrong current passwords are throttled per (person, source) with the
// sign-in page's counters: after two, even the right one is 429 with
// Retry-After from that source, while the person still signs in from
// another.
func TestSelfServicePasswordThrottled(t *testing.T) {
	f := newSelfServiceFixture(t, SelfServiceOptions{})
	tok := f.personToken(t, f.loginApp)
	put := func(current string) *httptest.ResponseRecorder {
		return f.call(t, selfServiceSource, http.MethodPut, DefaultSelfServicePath+"/password", tok, "application/json",
			`{"current_password":"`+current+`","new_password":"a-brand-new-passphrase"}`)
	}
	for range 2 {
		wantRefusal(t, put("not-alices-password"), http.StatusBadRequest, "invalid_grant")
	}
	w := put(alicePassword)
	wantRefusal(t, w, http.StatusTooManyRequests, "temporarily_unavailable")
	if w.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// The password grant shares the page's counters: blocked from this
	// source, and open from another.
	h, _ := f.endpoints.Lookup(DefaultTokenPath)
	for addr, want := range map[string]int{selfServiceSource: http.StatusTooManyRequests, "198.51.100.7": http.StatusOK} {
		r := httptest.NewRequest(http.MethodPost, DefaultTokenPath, strings.NewReader(passwordForm("alice", alicePassword, "orders:read").Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(url.QueryEscape(f.loginApp[0]), url.QueryEscape(f.loginApp[1]))
		r.RemoteAddr = addr + ":4000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("password grant from %s: %d, want %d", addr, rec.Code, want)
		}
	}
}

// The operator's field list is checked when the endpoints are built, as
// is the path.
func TestSelfServiceOptionsChecked(t *testing.T) {
	s := newTestServer(t)
	for _, opts := range []SelfServiceOptions{
		{Fields: []string{"roles"}}, {Fields: []string{"email_verified"}}, {Fields: []string{"name", "name"}}, {Path: "me"},
	} {
		if _, err := s.NewEndpoints(EndpointPaths{SelfService: opts}); err == nil {
			t.Errorf("%+v accepted", opts)
		}
	}
	e, err := s.NewEndpoints(EndpointPaths{SelfService: SelfServiceOptions{Path: "/account/me"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Lookup("/account/me"); !ok {
		t.Error("the configured path is not served")
	}
	if _, ok := e.Lookup("/account/me/password"); ok {
		t.Error("the password route is served without the sign-in page whose throttles it needs")
	}
}
