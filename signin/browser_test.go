package signin

import (
	"context"
	"flag"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/internal/browsertest"
)

// screenshots, when set, makes TestBrowserScreenshots write the page's
// pictures for the README into docs/images:
//
//	go test ./signin -run TestBrowserScreenshots -screenshots
var screenshots = flag.Bool("screenshots", false, "write screenshots of the sign-in page into docs/images")

// browserSite serves the sign-in handler over TLS with real time, and a
// stand-in for the authorization endpoint at /oauth2/authorize.
type browserSite struct {
	server   *httptest.Server
	sessions *memSessions
	accounts *fakeAccounts
}

func newBrowserSite(t *testing.T, productName string) *browserSite {
	t.Helper()
	s := &browserSite{sessions: newSessions(), accounts: newAccounts()}
	s.sessions.now = time.Now
	h, err := New(Config{Options: Options{ProductName: productName, ReturnPaths: []string{"/oauth2/authorize"}}}, s.accounts, s.sessions, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/signin", h)
	mux.Handle("/signin/", h)
	mux.Handle("/signout", h)
	mux.HandleFunc("/oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>authorize</title><p id="authorize">authorize <span id="query">%s</span></p>`,
			html.EscapeString(r.URL.RawQuery))
	})
	s.server = httptest.NewTLSServer(mux)
	t.Cleanup(s.server.Close)
	return s
}

// emulateColorScheme makes the page see prefers-color-scheme dark or light.
func emulateColorScheme(dark bool) chromedp.Action[chromedp.Void] {
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return chromedp.Void{}, err
	}
}

// must runs a browser step and fails the test on error.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestBrowserSignsInAndOut(t *testing.T) {
	ctx := browsertest.New(t)
	site := newBrowserSite(t, "Acme Cloud")
	base := site.server.URL
	returnTo := "/oauth2/authorize?client_id=app1&state=xyz"

	must(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin?return_to="+url.QueryEscape(returnTo)),
		chromedp.WaitVisible(chromedp.ID("username")),
	), "loading the page")
	title, err := chromedp.Run(ctx, chromedp.Title())
	must(t, err, "reading the title")
	if title != "Sign in · Acme Cloud" {
		t.Fatalf("title %q", title)
	}

	// A wrong password: the error is shown, tied to the field, and the
	// username is kept while the password is not.
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)),
	), "a wrong password")
	alert, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[role=alert]`)))
	must(t, err, "reading the alert")
	if !strings.Contains(alert, msgBadCredentials) {
		t.Fatalf("alert %q", alert)
	}
	invalid, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("password"), "aria-invalid"))
	must(t, err, "reading aria-invalid")
	describedBy, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("password"), "aria-describedby"))
	must(t, err, "reading aria-describedby")
	if invalid.Value != "true" || describedBy.Value == "" {
		t.Fatalf("password field aria-invalid=%q aria-describedby=%q", invalid.Value, describedBy.Value)
	}
	fieldError, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(describedBy.Value)))
	must(t, err, "reading the field's error")
	if fieldError != msgCheckBoth {
		t.Fatalf("the password's description is %q", fieldError)
	}
	username, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("username")))
	must(t, err, "reading the username")
	password, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("password")))
	must(t, err, "reading the password")
	if username != "alice" || password != "" {
		t.Fatalf("after a failure username %q password %q; want alice and empty", username, password)
	}

	// The right password, kept signed in: the browser lands on return_to.
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.Click(chromedp.ID("remember")),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("authorize")),
	), "signing in")
	location, err := chromedp.Run(ctx, chromedp.Location())
	must(t, err, "reading the location")
	if location != base+returnTo {
		t.Fatalf("landed on %s, want %s", location, base+returnTo)
	}

	c, err := browsertest.Cookie(ctx, base, "__Host-scopegate_session")
	must(t, err, "reading cookies")
	if c == nil {
		t.Fatal("the browser holds no __Host-scopegate_session cookie")
	}
	if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Session {
		t.Fatalf("cookie %+v: want HttpOnly, Secure, SameSite=Lax, Path=/, persistent", c)
	}
	if host := site.server.Listener.Addr().(interface{ String() string }).String(); !strings.HasPrefix(host, c.Domain) || strings.HasPrefix(c.Domain, ".") {
		t.Fatalf("cookie domain %q: want host-only %s", c.Domain, host)
	}
	expires := time.Unix(int64(c.Expires), 0)
	if d := time.Until(expires); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Fatalf("cookie expires %v, want in about 30 days", expires)
	}
	if !site.sessions.live(c.Value) {
		t.Fatal("the cookie names no live session")
	}
	session := c.Value

	// Signed in, the page says who, and signs out.
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.ID("signed-in-name")),
	), "loading the signed-in page")
	name, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("signed-in-name")))
	must(t, err, "reading the name")
	if name != "Alice Example" {
		t.Fatalf("signed in as %q", name)
	}
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("username")),
	), "signing out")
	c, err = browsertest.Cookie(ctx, base, "__Host-scopegate_session")
	must(t, err, "reading cookies")
	if c != nil {
		t.Fatalf("the session cookie is still held after sign-out: %+v", c)
	}
	if site.sessions.live(session) {
		t.Fatal("the session is live after sign-out")
	}
}

// TestBrowserScreenshots renders the page at desktop and phone width, with
// and without an error, light and dark, and checks what a person sees: the
// card fits the phone's width and the colours follow prefers-color-scheme. With -screenshots it writes the pictures into
// docs/images.
func TestBrowserScreenshots(t *testing.T) {
	ctx := browsertest.New(t)
	site := newBrowserSite(t, "Acme Cloud")
	shots := []struct {
		file          string
		width, height int64
		mobile        bool
		withError     bool
		dark          bool
	}{
		{"signin-desktop.png", 1280, 800, false, false, false},
		{"signin-phone.png", 390, 844, true, false, false},
		{"signin-error-phone.png", 390, 844, true, true, false},
		{"signin-dark-phone.png", 390, 844, true, true, true},
	}
	// An element is visible before the page's stylesheet has loaded; the
	// computed background is only the theme's once the load event is over.
	stylesLoaded := chromedp.Poll[chromedp.Void](`document.readyState === "complete"`)
	for _, shot := range shots {
		t.Run(shot.file, func(t *testing.T) {
			viewport := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
			if shot.mobile {
				viewport = []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile}
			}
			must(t, chromedp.Do(ctx,
				emulateColorScheme(shot.dark),
				chromedp.EmulateViewport(shot.width, shot.height, viewport...),
				chromedp.Navigate(site.server.URL+"/signin"),
				chromedp.WaitVisible(chromedp.ID("username")),
				stylesLoaded,
			), "loading the page")
			if shot.withError {
				must(t, chromedp.Do(ctx,
					chromedp.SendKeys(chromedp.ID("username"), "alice"),
					chromedp.SendKeys(chromedp.ID("password"), "wrong"),
					chromedp.Click(chromedp.CSS(`button[type=submit]`)),
					chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)),
					stylesLoaded,
				), "failing a sign-in")
			}
			cardWidth, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector("main").getBoundingClientRect().width`))
			must(t, err, "measuring the card")
			scrollWidth, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
			must(t, err, "measuring the page")
			if cardWidth > float64(shot.width) || scrollWidth > float64(shot.width) {
				t.Fatalf("the card is %vpx and the page %vpx wide in a %dpx viewport", cardWidth, scrollWidth, shot.width)
			}
			background, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
			must(t, err, "reading the background")
			if want := map[bool]string{false: "rgb(243, 244, 247)", true: "rgb(15, 17, 23)"}[shot.dark]; background != want {
				t.Fatalf("dark=%v: background %s, want %s", shot.dark, background, want)
			}
			if !*screenshots {
				return
			}
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			must(t, err, "taking the screenshot")
			dir := filepath.Join("..", "docs", "images")
			must(t, os.MkdirAll(dir, 0o755), "making docs/images")
			must(t, os.WriteFile(filepath.Join(dir, shot.file), png, 0o644), "writing the screenshot")
		})
	}
}
