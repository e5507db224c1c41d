package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/internal/browsertest"
)

// signinCaddyfile serves the issuer over TLS with Caddy's own CA, so that
// the browser gets the "__Host-" cookie a real deployment sends, and a page
// of the site that a sign-in may return to.
const signinCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	skip_install_trust
	auto_https disable_redirects
	scopegate {
		issuer https://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
	}
}

https://127.0.0.1:{{.HTTPPort}} {
	tls internal
	scopegate_issuer {
		signin {
			product_name "Acme Cloud"
			return_paths /account
		}
	}
	respond /account "the account page" 200
	respond "not found" 404
}
`

// signinUser creates a role and a user with a password through the admin
// API and returns the user's ID.
func signinUser(t *testing.T, g *Gateway, username, password string) string {
	t.Helper()
	if r := do(t, http.MethodPost, g.AdminURL("/scopegate/roles"), map[string]any{"name": "buyer", "scopes": []string{"orders:read"}}); r.Status != http.StatusCreated && r.Status != http.StatusConflict {
		t.Fatalf("create role: %d %s", r.Status, r.Body)
	}
	r := do(t, http.MethodPost, g.AdminURL("/scopegate/users"), map[string]any{
		"username": username, "name": "Alice Example", "roles": []string{"buyer"}, "password": password,
	})
	if r.Status != http.StatusCreated {
		t.Fatalf("create user: %d %s", r.Status, r.Body)
	}
	var u struct {
		ID string `json:"user_id"`
	}
	r.JSON(t, &u)
	return u.ID
}

// userSessions lists a user's live sessions through the admin API.
func userSessions(t *testing.T, g *Gateway, userID string) []map[string]any {
	t.Helper()
	r := do(t, http.MethodGet, g.AdminURL("/scopegate/users/"+userID+"/sessions"), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("list sessions: %d %s", r.Status, r.Body)
	}
	var page struct {
		Sessions []map[string]any `json:"sessions"`
	}
	r.JSON(t, &page)
	return page.Sessions
}

// signIn fills and posts the sign-in form, and waits for the element
// (by ID) that the page the browser lands on must show.
func signIn(t *testing.T, ctx context.Context, username, password string, remember bool, landsOn string) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SetValue(chromedp.ID("username"), username),
		chromedp.SetValue(chromedp.ID("password"), password),
	}
	if remember {
		steps = append(steps, chromedp.Click(chromedp.ID("remember")))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.ID(landsOn)))
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("signing in as %s: %v", username, err)
	}
}

// run runs one browser action that answers a value.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// browse runs browser steps.
func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// A person signs in through a real browser at a real gateway: a wrong
// password is refused on the page, the right one with "keep me signed in"
// leads on to the return_to with a persistent __Host- cookie, the session
// is the admin's to see, and sign-out ends it.
func TestBrowserSignsInAtTheGateway(t *testing.T) {
	g := StartGateway(t, signinCaddyfile)
	userID := signinUser(t, g, "alice", "violet-harbour-92")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	ctx := browsertest.New(t)

	browse(t, ctx, "loading the page", chromedp.Navigate(site+"/signin?return_to=/account"))
	if title := run(t, ctx, "reading the title", chromedp.Title()); title != "Sign in · Acme Cloud" {
		t.Fatalf("title %q", title)
	}
	signIn(t, ctx, "alice", "not-her-password", false, "form-alert")
	alert := run(t, ctx, "reading the alert", chromedp.Text(chromedp.ID("form-alert")))
	invalid := run(t, ctx, "reading aria-invalid", chromedp.AttributeValue(chromedp.ID("password"), "aria-invalid"))
	if !strings.Contains(alert, "incorrect") || invalid.Value != "true" {
		t.Fatalf("after a wrong password: alert %q, password aria-invalid %q", alert, invalid.Value)
	}

	browse(t, ctx, "the right password", chromedp.SetValue(chromedp.ID("password"), "violet-harbour-92"),
		chromedp.Click(chromedp.ID("remember")), chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitReady(chromedp.CSS("body")))
	if err := waitLocation(ctx, site+"/account"); err != nil {
		t.Fatal(err)
	}
	// The issuer serves the account page itself, before the site's routes.
	if body := run(t, ctx, "reading the page", chromedp.Text(chromedp.CSS("body"))); !strings.Contains(body, "Apps you allowed") || !strings.Contains(body, "Alice Example") {
		t.Fatalf("landed on %q", body)
	}
	cookie, err := browsertest.Cookie(ctx, site+"/", "__Host-scopegate_session")
	if err != nil || cookie == nil {
		t.Fatalf("no __Host-scopegate_session cookie: %v", err)
	}
	expires := time.Unix(int64(cookie.Expires), 0)
	if !cookie.HTTPOnly || !cookie.Secure || cookie.SameSite != network.CookieSameSiteLax || cookie.Path != "/" ||
		cookie.Domain != "127.0.0.1" || time.Until(expires) < 29*24*time.Hour {
		t.Fatalf("session cookie %+v: want HttpOnly, Secure, SameSite=Lax, Path=/, host-only, ~30 days", cookie)
	}
	sessions := userSessions(t, g, userID)
	if len(sessions) != 1 || sessions[0]["persistent"] != true {
		t.Fatalf("sessions after sign-in: %v", sessions)
	}
	if strings.Contains(fmt.Sprint(sessions), cookie.Value) {
		t.Fatal("the admin API shows a session's secret value")
	}

	browse(t, ctx, "the signed-in page", chromedp.Navigate(site+"/signin"), chromedp.WaitVisible(chromedp.ID("signed-in-name")))
	if name := run(t, ctx, "reading the name", chromedp.Text(chromedp.ID("signed-in-name"))); name != "Alice Example" {
		t.Fatalf("the signed-in page names %q", name)
	}
	browse(t, ctx, "signing out", chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("username")))
	if c, _ := browsertest.Cookie(ctx, site+"/", "__Host-scopegate_session"); c != nil {
		t.Fatalf("the session cookie outlived sign-out: %+v", c)
	}
	if s := userSessions(t, g, userID); len(s) != 0 {
		t.Fatalf("sessions after sign-out: %v", s)
	}
	logs := g.Logs()
	if !strings.Contains(logs, userID) {
		t.Fatal("the sign-in is not in the gateway's log")
	}
	for _, secret := range []string{"violet-harbour-92", "not-her-password", cookie.Value} {
		if strings.Contains(logs, secret) {
			t.Fatal("a password or session value is in the gateway's log")
		}
	}
}

// waitLocation waits for the browser to be at want.
func waitLocation(ctx context.Context, want string) error {
	var at string
	if eventually(10*time.Second, func() bool {
		at, _ = chromedp.Run(ctx, chromedp.Location())
		return at == want
	}) {
		return nil
	}
	return fmt.Errorf("the browser is at %s, want %s", at, want)
}

// A sign-in never leads off the site, a browser session's cookie ends with
// the browser, and disabling the person ends their session at once.
func TestBrowserSignInStaysOnTheSite(t *testing.T) {
	g := StartGateway(t, signinCaddyfile)
	userID := signinUser(t, g, "bob", "amber-lantern-417")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	ctx := browsertest.New(t)

	for _, target := range []string{"https://evil.example/", "//evil.example/", "/%2F%2Fevil.example", `/\evil.example`, "/account@evil.example"} {
		browse(t, ctx, "loading the page", chromedp.Navigate(site+"/signin?return_to="+url.QueryEscape(target)))
		signIn(t, ctx, "bob", "amber-lantern-417", false, "signed-in-name")
		if at := run(t, ctx, "reading the location", chromedp.Location()); at != site+"/signin" {
			t.Fatalf("return_to %q led to %s", target, at)
		}
		browse(t, ctx, "signing out", chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("username")))
	}

	signIn(t, ctx, "bob", "amber-lantern-417", false, "signed-in-name")
	c, err := browsertest.Cookie(ctx, site+"/", "__Host-scopegate_session")
	if err != nil || c == nil || !c.Session {
		t.Fatalf("without \"keep me signed in\" the cookie is %+v (%v), want a browser-session cookie", c, err)
	}
	if r := do(t, http.MethodPost, g.AdminURL("/scopegate/users/"+userID+"/disable"), nil); r.Status != http.StatusOK {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	browse(t, ctx, "the page after disabling", chromedp.Navigate(site+"/signin"), chromedp.WaitVisible(chromedp.ID("username")))
	if h := run(t, ctx, "reading the heading", chromedp.Text(chromedp.CSS("h1"))); h != "Sign in" {
		t.Fatalf("a disabled person's browser shows %q", h)
	}
	if s := userSessions(t, g, userID); len(s) != 0 {
		t.Fatalf("a disabled person's sessions: %v", s)
	}
}
