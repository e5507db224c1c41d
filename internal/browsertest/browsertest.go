// Package browsertest starts a real Chromium for tests that drive pages
// through the Chrome DevTools Protocol (chromedp): the sign-in page's own
// tests, and integration tests that sign in through a running gateway. It
// holds the one set of browser options they share.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// EnvExecPath names an environment variable that, when set, is the browser
// binary to use instead of the first of Candidates found.
const EnvExecPath = "SCOPEGATE_CHROMIUM"

// Candidates are the browser binaries looked for on PATH, in order; Debian's
// chromium package installs the first.
var Candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Timeout bounds everything one test does in its browser.
const Timeout = 2 * time.Minute

// ExecPath returns the browser binary to run, or "" when there is none.
func ExecPath() string {
	if p := os.Getenv(EnvExecPath); p != "" {
		return p
	}
	for _, name := range Candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// AllocatorOptions are the options every test browser starts with: headless,
// no sandbox (tests run as root in CI containers, where Chromium's sandbox
// cannot start), and test servers' self-signed certificates accepted, so
// that pages are served over TLS and "__Host-" cookies are exercised.
func AllocatorOptions(execPath string) []chromedp.ExecAllocatorOption {
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	return append(opts,
		chromedp.ExecPath(execPath),
		chromedp.NoSandbox,
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800),
	)
}

// New starts a browser for t and returns the context of its first tab,
// bounded by Timeout. The browser stops when t ends. t is skipped when no
// browser binary is found, and only then.
func New(t testing.TB) context.Context {
	t.Helper()
	execPath := ExecPath()
	if execPath == "" {
		t.Skip("no Chromium binary found (install Debian's chromium package or set " + EnvExecPath + ")")
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), AllocatorOptions(execPath)...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first Do starts the browser; it must not run under a timeout,
	// which would stop the whole browser when it fires.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", execPath, err)
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Cookies returns the browser's cookies for url, as the browser stores them.
func Cookies(ctx context.Context, url string) ([]*network.Cookie, error) {
	return chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
		return r.Cookies, err
	})
}

// Cookie returns the cookie named name for url, or nil when the browser
// holds none.
func Cookie(ctx context.Context, url, name string) (*network.Cookie, error) {
	cookies, err := Cookies(ctx, url)
	if err != nil {
		return nil, err
	}
	for _, c := range cookies {
		if c.Name == name {
			return c, nil
		}
	}
	return nil, nil
}
