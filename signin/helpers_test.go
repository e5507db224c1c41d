package signin

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// account is one user of fakeAccounts.
type account struct {
	id, name, password string
	disabled           bool
}

// fakeAccounts holds users in memory and counts password checks.
type fakeAccounts struct {
	mu     sync.Mutex
	users  map[string]account // by lower-cased username
	checks atomic.Int64
	fault  error // returned by SignIn when set
}

func newAccounts() *fakeAccounts {
	return &fakeAccounts{users: map[string]account{
		"alice": {id: "u-alice", name: "Alice Example", password: "correct horse battery"},
		"bob":   {id: "u-bob", name: "Bob", password: "bobs password 1"},
		"carol": {id: "u-carol", name: "Carol", password: "carols password", disabled: true},
	}}
}

func (a *fakeAccounts) SignIn(_ context.Context, username, password string) (string, string, error) {
	a.checks.Add(1)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fault != nil {
		return "", "", a.fault
	}
	u, ok := a.users[strings.ToLower(username)]
	if !ok || u.disabled || u.password != password {
		return "", "", ErrBadCredentials
	}
	return u.id, u.name, nil
}

func (a *fakeAccounts) DisplayName(_ context.Context, userID string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, u := range a.users {
		if u.id == userID {
			return u.name, nil
		}
	}
	return "", errors.New("no such user")
}

// session is one session of memSessions.
type session struct {
	userID     string
	persistent bool
	meta       Meta
	ended      bool
}

// memSessions keeps sessions in a map by cookie value.
type memSessions struct {
	mu       sync.Mutex
	sessions map[string]*session
	now      func() time.Time
}

func newSessions() *memSessions {
	return &memSessions{sessions: map[string]*session{}, now: func() time.Time { return t0 }}
}

func (s *memSessions) Start(_ context.Context, userID string, persistent bool, meta Meta) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	value := randomValue()
	s.sessions[value] = &session{userID: userID, persistent: persistent, meta: meta}
	lifetime := 12 * time.Hour
	if persistent {
		lifetime = 30 * 24 * time.Hour
	}
	return value, s.now().Add(lifetime), nil
}

func (s *memSessions) Lookup(_ context.Context, value string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if se, ok := s.sessions[value]; ok && !se.ended {
		return se.userID, nil
	}
	return "", ErrNoSession
}

func (s *memSessions) End(_ context.Context, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if se, ok := s.sessions[value]; ok {
		se.ended = true
	}
	return nil
}

// live reports whether value names a live session.
func (s *memSessions) live(value string) bool {
	_, err := s.Lookup(context.Background(), value)
	return err == nil
}

// fixture is a handler with in-memory accounts and sessions.
type fixture struct {
	h        *Handler
	accounts *fakeAccounts
	sessions *memSessions
	now      time.Time
}

func newFixture(t *testing.T, cfg Config, logger *zap.Logger) *fixture {
	t.Helper()
	f := &fixture{accounts: newAccounts(), sessions: newSessions(), now: t0}
	cfg.Now = func() time.Time { return f.now }
	if cfg.ReturnPaths == nil {
		cfg.ReturnPaths = []string{"/oauth2/authorize"}
	}
	h, err := New(cfg, f.accounts, f.sessions, logger)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// browser is a minimal browser over a handler: it keeps cookies as a
// browser would for one origin and follows no redirects.
type browser struct {
	t       *testing.T
	f       *fixture
	tls     bool
	addr    string // RemoteAddr host
	cookies map[string]string
}

func (f *fixture) browser(t *testing.T, tls bool, addr string) *browser {
	return &browser{t: t, f: f, tls: tls, addr: addr, cookies: map[string]string{}}
}

// request builds a request to target with the browser's cookies.
func (b *browser) request(method, target, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RemoteAddr = b.addr + ":40000"
	if strings.Contains(b.addr, ":") {
		r.RemoteAddr = "[" + b.addr + "]:40000"
	}
	if b.tls {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	} else {
		r.TLS = nil
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for name, value := range b.cookies {
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	return r
}

// send serves r and stores the cookies the response sets.
func (b *browser) send(r *http.Request) (*http.Response, string) {
	b.t.Helper()
	rec := httptest.NewRecorder()
	b.f.h.ServeHTTP(rec, r)
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return resp, string(body)
}

func (b *browser) get(target string) (*http.Response, string) {
	return b.send(b.request(http.MethodGet, target, "", ""))
}

func (b *browser) post(target string, form url.Values) (*http.Response, string) {
	return b.send(b.request(http.MethodPost, target, "application/x-www-form-urlencoded", form.Encode()))
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// token returns the CSRF token of the form in body.
func token(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf_token in the page:\n%s", body)
	}
	return m[1]
}

// signInForm loads the sign-in page and returns a form with its token.
func (b *browser) signInForm(username, password string) url.Values {
	b.t.Helper()
	resp, body := b.get("/signin")
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /signin: %d", resp.StatusCode)
	}
	if !strings.Contains(body, `name="password"`) {
		b.t.Fatal("GET /signin shows no sign-in form: this browser is signed in")
	}
	return url.Values{"username": {username}, "password": {password}, "csrf_token": {token(b.t, body)}}
}

// signIn signs in and fails the test unless it succeeds.
func (b *browser) signIn(username, password string) *http.Response {
	b.t.Helper()
	resp, body := b.post("/signin", b.signInForm(username, password))
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign-in: %d\n%s", resp.StatusCode, body)
	}
	return resp
}

// sessionCookie returns the Set-Cookie of the session cookie in resp.
func sessionCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
