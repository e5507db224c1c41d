package integration

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// signinPage is a client of the sign-in page that never follows a redirect
// and sends only the cookies it is told to.
var signinPage = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true},
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// pageAt loads g's sign-in page with the given cookies and returns the
// answer and the cookies it set.
func pageAt(t *testing.T, g *Gateway, method string, form url.Values, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, g.URL("/signin"), body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := signinPage.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(raw)
}

// cookieNamed returns the cookie resp set with that name, or nil.
func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// A person signed in through one gateway is signed in at every gateway on
// the same etcd, and signing them out everywhere through any gateway's
// admin API holds at all of them.
func TestClusterSessionsAreEverywhere(t *testing.T) {
	t.Parallel()
	f := startClusterFixture(t, 3)
	created := f.gws[0].mustAdmin(t, http.StatusCreated, http.MethodPost, "/users",
		map[string]any{"username": "carol", "name": "Carol", "password": "quiet-meadow-5813"})
	userID := regexp.MustCompile(`"user_id":"([^"]+)"`).FindStringSubmatch(string(created.body))[1]

	// Sign in at gw1: the form's CSRF token is bound to the pre-session
	// cookie it came with.
	resp, page := pageAt(t, f.gws[1].Gateway, http.MethodGet, nil)
	pre, token := cookieNamed(resp, "scopegate_csrf"), csrfField.FindStringSubmatch(page)
	if pre == nil || token == nil {
		t.Fatalf("the page set no CSRF cookie or token: %v", resp.Header)
	}
	resp, _ = pageAt(t, f.gws[1].Gateway, http.MethodPost,
		url.Values{"username": {"carol"}, "password": {"quiet-meadow-5813"}, "csrf_token": {token[1]}}, pre)
	session := cookieNamed(resp, "scopegate_session")
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign-in at gw1: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}

	signedIn := func(g *clusterGateway) bool {
		_, page := pageAt(t, g.Gateway, http.MethodGet, nil, session)
		return strings.Contains(page, `id="signed-in-name">Carol<`)
	}
	for _, g := range f.gws {
		if !poll(5*time.Second, func() bool { return signedIn(g) }) {
			t.Fatalf("the session started at gw1 is not honoured at %s", g.id)
		}
	}
	f.gws[2].mustAdmin(t, http.StatusOK, http.MethodDelete, "/users/"+userID+"/sessions", nil)
	for _, g := range f.gws {
		if !poll(5*time.Second, func() bool { return !signedIn(g) }) {
			t.Fatalf("the session ended through gw2 is still honoured at %s", g.id)
		}
	}
}

// An app's RP-initiated logout answered at one gateway ends the session at
// every gateway on the same etcd.
func TestClusterLogoutEndsTheSessionEverywhere(t *testing.T) {
	t.Parallel()
	f := startClusterFixture(t, 3)
	f.gws[0].mustAdmin(t, http.StatusCreated, http.MethodPost, "/users",
		map[string]any{"username": "dave", "name": "Dave", "password": "amber-quarry-3390"})
	resp, page := pageAt(t, f.gws[1].Gateway, http.MethodGet, nil)
	pre, token := cookieNamed(resp, "scopegate_csrf"), csrfField.FindStringSubmatch(page)
	if pre == nil || token == nil {
		t.Fatalf("the page set no CSRF cookie or token: %v", resp.Header)
	}
	resp, _ = pageAt(t, f.gws[1].Gateway, http.MethodPost,
		url.Values{"username": {"dave"}, "password": {"amber-quarry-3390"}, "csrf_token": {token[1]}}, pre)
	session := cookieNamed(resp, "scopegate_session")
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign-in at gw1: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	signedIn := func(g *clusterGateway) bool {
		_, page := pageAt(t, g.Gateway, http.MethodGet, nil, session)
		return strings.Contains(page, `id="signed-in-name">Dave<`)
	}
	for _, g := range f.gws {
		if !poll(5*time.Second, func() bool { return signedIn(g) }) {
			t.Fatalf("the session started at gw1 is not honoured at %s", g.id)
		}
	}

	logout := func(method string, form url.Values) (*http.Response, string) {
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, f.gws[2].URL("/oauth2/logout"), body)
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.AddCookie(session)
		resp, err := signinPage.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, string(raw)
	}
	resp, page = logout(http.MethodGet, nil)
	confirm := csrfField.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || confirm == nil {
		t.Fatalf("the logout page at gw2: %d %s", resp.StatusCode, page)
	}
	resp, page = logout(http.MethodPost, url.Values{"csrf_token": {confirm[1]}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "You are signed out") {
		t.Fatalf("confirming at gw2: %d %s", resp.StatusCode, page)
	}
	for _, g := range f.gws {
		if !poll(5*time.Second, func() bool { return !signedIn(g) }) {
			t.Fatalf("the session ended at gw2 is still honoured at %s", g.id)
		}
	}
}
