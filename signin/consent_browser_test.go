package signin

import (
	"context"
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

	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/internal/browsertest"
	"github.com/scopegate/scopegate/oauth"
)

// consentSite serves the consent page over TLS as a gateway would, and an
// app on another origin that receives the redirect.
type consentSite struct {
	gateway, app *httptest.Server
	// decisions receives each accepted form's decision.
	decisions chan string
}

// consentSession stands for the person's session cookie value; the page's
// token is bound to it and to the request.
const consentSession = "browser-session-value"

// newConsentSite serves the page at /consent. The page's policy names
// policyRedirect (the app's callback when ""), while an accepted decision
// is always redirected to the app: a policy naming another origin shows
// what Chromium does with a redirect form-action does not allow.
func newConsentSite(t *testing.T, policyRedirect string) *consentSite {
	t.Helper()
	s := &consentSite{decisions: make(chan string, 4)}
	s.app = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>app</title><p id="app">app <span id="query">%s</span></p>`, html.EscapeString(r.URL.RawQuery))
	}))
	t.Cleanup(s.app.Close)
	callback := s.app.URL + "/cb"
	if policyRedirect == "" {
		policyRedirect = callback
	}
	renderer, err := NewConsentRenderer(ConsentConfig{
		ProductName:   "Acme Cloud",
		StylesheetURL: "/signin/style.css",
		ScopeDescriptions: map[string]string{
			"orders:read":  "See your orders and where they are",
			"orders:write": "Place and cancel orders for you",
			"profile":      "See your name and email address",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /signin/style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(stylesheet)
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		page := ConsentPage{
			AppName:   "Shop Helper",
			AppURI:    "https://shop-helper.example/",
			Scopes:    []ConsentScope{{Name: "profile"}, {Name: "orders:read"}, {Name: "orders:write"}, {Name: "billing:export"}},
			UserName:  "Alice Example",
			Action:    "/consent",
			CSRFToken: ConsentCSRFToken(consentSession, "req-1"),
			RequestID: "req-1",
		}
		if err := renderer.Render(w, http.StatusOK, page, policyRedirect); err != nil {
			t.Errorf("render: %v", err)
		}
	})
	mux.HandleFunc("POST /consent", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || !ValidConsentCSRF(consentSession, r.PostForm.Get("request_id"), r.PostForm.Get("csrf_token")) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		decision := r.PostForm.Get("decision")
		s.decisions <- decision
		target := oauth.SuccessRedirect(callback, "the-code", "xyz", "https://id.example")
		if decision != "allow" {
			target = callback + "?error=access_denied&state=xyz"
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
	s.gateway = httptest.NewTLSServer(mux)
	t.Cleanup(s.gateway.Close)
	return s
}

// TestBrowserConsentRedirectsToTheApp: Chromium renders the page, and the
// redirect that follows Allow reaches the app on its own origin, which the
// page's form-action names.
func TestBrowserConsentRedirectsToTheApp(t *testing.T) {
	ctx := browsertest.New(t)
	for _, decision := range []string{"allow", "deny"} {
		t.Run(decision, func(t *testing.T) {
			site := newConsentSite(t, "")
			must(t, chromedp.Do(ctx,
				chromedp.Navigate(site.gateway.URL+"/consent"),
				chromedp.WaitVisible(chromedp.ID("consent-"+decision)),
			), "loading the page")
			title, err := chromedp.Run(ctx, chromedp.Title())
			must(t, err, "reading the title")
			heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("consent-heading")))
			must(t, err, "reading the heading")
			scopes, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("consent-scopes")))
			must(t, err, "reading the scopes")
			if title != "Allow access · Acme Cloud" || heading != "Shop Helper wants to access your account" ||
				!strings.Contains(scopes, "Place and cancel orders for you") || !strings.Contains(scopes, "billing:export") {
				t.Fatalf("title %q heading %q scopes %q", title, heading, scopes)
			}
			// Bounded well inside the browser's own timeout, so that a
			// blocked redirect fails this step rather than the browser.
			waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			must(t, chromedp.Do(waitCtx,
				chromedp.Click(chromedp.ID("consent-"+decision)),
				chromedp.WaitVisible(chromedp.ID("app")),
			), "deciding")
			if got := <-site.decisions; got != decision {
				t.Fatalf("the gateway got decision %q", got)
			}
			location, err := chromedp.Run(ctx, chromedp.Location())
			must(t, err, "reading the location")
			u, err := url.Parse(location)
			must(t, err, "parsing the location")
			q := u.Query()
			if u.Scheme+"://"+u.Host+u.Path != site.app.URL+"/cb" || q.Get("state") != "xyz" ||
				(decision == "allow") != (q.Get("code") == "the-code") {
				t.Fatalf("landed on %s", location)
			}
		})
	}
}

// TestBrowserConsentPolicyBlocksOtherOrigins shows why the policy names the
// app's origin: with a page whose form-action names another origin, the
// form is posted but Chromium refuses the redirect to the app.
func TestBrowserConsentPolicyBlocksOtherOrigins(t *testing.T) {
	ctx := browsertest.New(t)
	site := newConsentSite(t, "https://elsewhere.example/cb")
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(site.gateway.URL+"/consent"),
		chromedp.WaitVisible(chromedp.ID("consent-allow")),
	), "loading the page")
	// A listener added through the DevTools protocol, not the page (which
	// runs no script), records the violation Chromium reports.
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.addEventListener("securitypolicyviolation", e => { window.violated = e.effectiveDirective }); true`))
	must(t, err, "listening for violations")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("consent-allow"))), "allowing")
	if got := <-site.decisions; got != "allow" {
		t.Fatalf("the gateway got decision %q", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		violated, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.violated || ""`))
		if err == nil && violated == "form-action" {
			break
		}
		location, _ := chromedp.Run(ctx, chromedp.Location())
		if strings.HasPrefix(location, site.app.URL) {
			t.Fatalf("the redirect reached the app: %s", location)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no form-action violation reported (last %q, %v); location %s", violated, err, location)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserConsentScreenshots renders the page at desktop and phone
// width and checks that it fits; with -screenshots it writes
// docs/images/consent-desktop.png and consent-phone.png.
func TestBrowserConsentScreenshots(t *testing.T) {
	ctx := browsertest.New(t)
	site := newConsentSite(t, "")
	for _, shot := range []struct {
		file          string
		width, height int64
		mobile        bool
	}{
		{"consent-desktop.png", 1280, 800, false},
		{"consent-phone.png", 390, 844, true},
	} {
		t.Run(shot.file, func(t *testing.T) {
			viewport := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
			if shot.mobile {
				viewport = []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile}
			}
			must(t, chromedp.Do(ctx,
				emulateColorScheme(false),
				chromedp.EmulateViewport(shot.width, shot.height, viewport...),
				chromedp.Navigate(site.gateway.URL+"/consent"),
				chromedp.WaitVisible(chromedp.ID("consent-allow")),
			), "loading the page")
			scrollWidth, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
			must(t, err, "measuring the page")
			if scrollWidth > float64(shot.width) {
				t.Fatalf("the page is %vpx wide in a %dpx viewport", scrollWidth, shot.width)
			}
			background, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
			must(t, err, "reading the background")
			if background != "rgb(243, 244, 247)" {
				t.Fatalf("background %s: the stylesheet did not load", background)
			}
			if !*screenshots {
				return
			}
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			must(t, err, "taking the screenshot")
			must(t, os.WriteFile(filepath.Join("..", "docs", "images", shot.file), png, 0o644), "writing the screenshot")
		})
	}
}
