package signin

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/internal/browsertest"
)

// TestBrowserLogoutScreenshots renders the logout confirmation and the
// signed-out page at desktop and phone width, checks that each fits and is
// styled, and with -screenshots writes docs/images/logout-*.png.
func TestBrowserLogoutScreenshots(t *testing.T) {
	ctx := browsertest.New(t)
	renderer, err := NewLogoutRenderer(ConsentConfig{ProductName: "Acme Cloud", StylesheetURL: "/signin/style.css"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /signin/style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(stylesheet)
	})
	mux.HandleFunc("GET /confirm", func(w http.ResponseWriter, r *http.Request) {
		page := LogoutPage{Confirm: &LogoutConfirm{
			Action: "/confirm", CSRFToken: LogoutCSRFToken("session"), UserName: "Alice Example",
			AppName: "Orders app", ClientID: "app-1", PostLogoutRedirectURI: "https://app.example/bye", State: "s",
		}}
		if err := renderer.Render(w, http.StatusOK, page, "https://app.example/bye"); err != nil {
			t.Errorf("render: %v", err)
		}
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		if err := renderer.Render(w, http.StatusOK, LogoutPage{SignInURL: "/signin"}, ""); err != nil {
			t.Errorf("render: %v", err)
		}
	})
	site := httptest.NewTLSServer(mux)
	t.Cleanup(site.Close)
	for _, shot := range []struct {
		file, path, waitFor string
		width, height       int64
		mobile              bool
	}{
		{"logout-desktop.png", "/confirm", "logout-confirm", 1280, 800, false},
		{"logout-phone.png", "/confirm", "logout-confirm", 390, 844, true},
		{"logout-done-phone.png", "/done", "logout-done", 390, 844, true},
	} {
		t.Run(shot.file, func(t *testing.T) {
			viewport := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
			if shot.mobile {
				viewport = []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile}
			}
			must(t, chromedp.Do(ctx,
				emulateColorScheme(false),
				chromedp.EmulateViewport(shot.width, shot.height, viewport...),
				chromedp.Navigate(site.URL+shot.path),
				chromedp.WaitVisible(chromedp.ID(shot.waitFor)),
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
