package integration

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A person's part of an authorization, played without a browser by an
// HTTP client that keeps cookies and trusts the gateway's internal CA, for
// the tests of client libraries (openid-client, an MCP client) where the
// pages themselves are not under test: those run in Chromium.

// caddyRootCA returns the path of the root certificate of the gateway's
// internal CA once its site, https://127.0.0.1:<HTTPPort>, answers a TLS
// handshake with a certificate that root signed: Caddy writes the root,
// then obtains the site's certificate, in the background after it starts,
// and a request before that fails with a TLS alert.
func caddyRootCA(t *testing.T, g *Gateway) string {
	t.Helper()
	path := filepath.Join(g.Dir, "data", "caddy", "pki", "authorities", "local", "root.crt")
	pool := x509.NewCertPool()
	if !eventually(10*time.Second, func() bool {
		pem, err := os.ReadFile(path)
		return err == nil && pool.AppendCertsFromPEM(pem)
	}) {
		t.Fatalf("the gateway wrote no root certificate at %s", path)
	}
	site := fmt.Sprintf("127.0.0.1:%d", g.HTTPPort)
	if !eventually(20*time.Second, func() bool {
		conn, err := tls.Dial("tcp", site, &tls.Config{RootCAs: pool})
		if err == nil {
			conn.Close()
		}
		return err == nil
	}) {
		t.Fatalf("https://%s never completed a TLS handshake with a certificate of the gateway's CA", site)
	}
	return path
}

// trustingClient returns a browser-like HTTP client: it trusts rootCA,
// keeps cookies, follows redirects, but stops at one to stopAt when given
// (the app's redirect URI, which it then never loads).
func trustingClient(t *testing.T, rootCA, stopAt string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(rootCA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", rootCA)
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Timeout:   10 * time.Second,
		Jar:       jar,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if stopAt != "" && strings.HasPrefix(req.URL.String(), stopAt) {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

var (
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
)

// visit sends a request, a form when form is not nil, and returns the
// last answer and its body.
func visit(t *testing.T, browser *http.Client, method, target string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(raw)
}

// pageForm returns the absolute URL of the first form on page and its
// hidden fields, as a browser would submit them.
func pageForm(t *testing.T, resp *http.Response, page string) (string, url.Values) {
	t.Helper()
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form on %s: %s", resp.Request.URL, page)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for _, f := range hiddenField.FindAllStringSubmatch(page, -1) {
		form.Set(f[1], html.UnescapeString(f[2]))
	}
	return action.String(), form
}
