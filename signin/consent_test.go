package signin

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newConsentRenderer(t *testing.T, cfg ConsentConfig) *ConsentRenderer {
	t.Helper()
	if cfg.ScopeDescriptions == nil {
		cfg.ScopeDescriptions = map[string]string{"orders:read": "See your orders and their status"}
	}
	c, err := NewConsentRenderer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func consentData() ConsentPage {
	return ConsentPage{
		AppName:   "Shop <b>Helper</b>",
		AppURI:    "https://shop.example/",
		Scopes:    []ConsentScope{{Name: "orders:read"}, {Name: "profile:write"}},
		UserName:  "Alice Example",
		Action:    "/oauth2/consent",
		CSRFToken: "tok-123",
		RequestID: "req-456",
	}
}

func TestConsentPage(t *testing.T) {
	c := newConsentRenderer(t, ConsentConfig{ProductName: "Acme Cloud"})
	rec := httptest.NewRecorder()
	data := consentData()
	if err := c.Render(rec, http.StatusOK, data, "https://app.example:8443/cb?x=1"); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' https://app.example:8443; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"Content-Type":            "text/html; charset=utf-8",
	}
	for header, value := range want {
		if got := rec.Header().Get(header); got != value {
			t.Errorf("%s = %q, want %q", header, got, value)
		}
	}
	body := rec.Body.String()
	for _, part := range []string{
		"<title>Allow access · Acme Cloud</title>",
		`<link rel="stylesheet" href="/signin/style.css">`,
		"Shop &lt;b&gt;Helper&lt;/b&gt;",
		`<fieldset class="permissions">`, "<legend>If you allow it, Shop &lt;b&gt;Helper&lt;/b&gt; will be able to:</legend>",
		// The operator's words, then the scope's name.
		`<span class="scope-description">See your orders and their status</span> <span class="scope-name">orders:read</span>`,
		// No words configured: the raw name.
		"Use the <code>profile:write</code> permission",
		`<form method="post" action="/oauth2/consent">`,
		`<input type="hidden" name="csrf_token" value="tok-123">`,
		`<input type="hidden" name="request_id" value="req-456">`,
		`<button type="submit" name="decision" value="allow" id="consent-allow">Allow access</button>`,
		`<button type="submit" name="decision" value="deny" class="secondary" id="consent-deny">Deny access</button>`,
		`<a href="https://shop.example/" rel="noreferrer noopener">`,
		"Alice Example",
	} {
		if !strings.Contains(body, part) {
			t.Errorf("the page lacks %s", part)
		}
	}
	if strings.Contains(body, "<b>") || strings.Contains(strings.ToLower(body), "<script") || strings.Contains(body, "style=") {
		t.Error("the page holds markup from input, a script or an inline style")
	}
	// The decision that leaves things as they were comes first, so that
	// Enter in the form denies.
	if strings.Index(body, `value="deny"`) > strings.Index(body, `value="allow"`) {
		t.Error("Allow comes before Deny in the form")
	}
	if data.Scopes[0].Description != "" {
		t.Error("Render changed the caller's scopes")
	}

	t.Run("no scopes", func(t *testing.T) {
		rec := httptest.NewRecorder()
		data := consentData()
		data.Scopes = nil
		if err := c.Render(rec, http.StatusOK, data, "https://app.example/cb"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rec.Body.String(), "Know that you signed in, and nothing more") {
			t.Fatal("an empty scope list is not explained")
		}
	})
	t.Run("an app URI that is not a web page is not linked", func(t *testing.T) {
		for _, uri := range []string{"javascript:alert(1)", "data:text/html,x", "//evil.example", "https://"} {
			rec := httptest.NewRecorder()
			data := consentData()
			data.AppURI = uri
			if err := c.Render(rec, http.StatusOK, data, "https://app.example/cb"); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(rec.Body.String(), "<a ") {
				t.Fatalf("%q is linked", uri)
			}
		}
	})
	t.Run("a redirect URI without an origin writes nothing", func(t *testing.T) {
		rec := httptest.NewRecorder()
		if err := c.Render(rec, http.StatusOK, consentData(), "/relative"); err == nil {
			t.Fatal("rendered")
		}
		if rec.Body.Len() != 0 || len(rec.Header()) != 0 {
			t.Fatalf("wrote %d bytes and headers %v", rec.Body.Len(), rec.Header())
		}
	})
}

// TestConsentPolicy checks the form-action source built from a redirect
// URI, and that no redirect URI can end the directive or add another.
func TestConsentPolicy(t *testing.T) {
	tests := []struct{ uri, source string }{
		{"https://app.example/cb", "https://app.example"},
		{"https://App.Example:8443/cb?x=1", "https://app.example:8443"},
		{"http://127.0.0.1:53219/callback", "http://127.0.0.1:53219"},
		{"http://[::1]:53219/callback", "http:"},
		{"com.example.app:/oauth2redirect", "com.example.app:"},
		{"", ""},
		{"/relative", ""},
		{"https:///cb", ""},
		{"https://app.example;script-src *", ""},
		{"https://app.example,evil.example/", ""},
		{"https://app.example'/", ""},
		{"https://app_example/", ""},
		{"https://app..example/", ""},
		{"https://app.example:80x/", ""},
		{"ja vascript:x", ""},
		{"1app:/x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			policy, err := ConsentPolicy(tt.uri)
			if tt.source == "" {
				if err == nil {
					t.Fatalf("policy %q", policy)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Replace(contentSecurityPolicy, "form-action 'self'", "form-action 'self' "+tt.source, 1)
			if policy != want {
				t.Fatalf("policy\n%s\nwant\n%s", policy, want)
			}
		})
	}
}

// TestConsentCSRF: the consent token answers one request in one browser.
func TestConsentCSRF(t *testing.T) {
	session, other := randomValue(), randomValue()
	token := ConsentCSRFToken(session, "req-1")
	if !ValidConsentCSRF(session, "req-1", token) {
		t.Fatal("the right token is refused")
	}
	for name, ok := range map[string]bool{
		"another browser's session": ValidConsentCSRF(other, "req-1", token),
		"another request":           ValidConsentCSRF(session, "req-2", token),
		"no request ID":             ValidConsentCSRF(session, "", ConsentCSRFToken(session, "")),
		"no session":                ValidConsentCSRF("", "req-1", ConsentCSRFToken("", "req-1")),
		"no token":                  ValidConsentCSRF(session, "req-1", ""),
		"the sign-out token":        ValidConsentCSRF(session, "req-1", csrfToken(session, purposeSignOut)),
		"the sign-in token":         ValidConsentCSRF(session, "req-1", csrfToken(session, purposeSignIn)),
		"a prefix of the request":   ValidConsentCSRF(session, "req-", ConsentCSRFToken(session, "req-1")),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConsentOperatorTemplate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "consent.html")
	if err := os.WriteFile(good, []byte(`<p>{{.AppName}} {{range .Scopes}}[{{.Name}}={{.Description}}]{{end}}</p>`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newConsentRenderer(t, ConsentConfig{TemplateFile: good})
	rec := httptest.NewRecorder()
	if err := c.Render(rec, http.StatusOK, consentData(), "https://app.example/cb"); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.Body.String(), "<p>Shop &lt;b&gt;Helper&lt;/b&gt; [orders:read=See your orders and their status][profile:write=]</p>"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	broken := filepath.Join(dir, "broken.html")
	if err := os.WriteFile(broken, []byte(`{{.AppName`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewConsentRenderer(ConsentConfig{TemplateFile: broken}); err == nil {
		t.Fatal("a broken template was accepted")
	}
	failing := filepath.Join(dir, "failing.html")
	if err := os.WriteFile(failing, []byte(`{{.NoSuchField}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c = newConsentRenderer(t, ConsentConfig{TemplateFile: failing})
	rec = httptest.NewRecorder()
	if err := c.Render(rec, http.StatusOK, consentData(), "https://app.example/cb"); err == nil || rec.Body.Len() != 0 {
		t.Fatalf("a failing template: err %v, %d bytes written", err, rec.Body.Len())
	}
}
