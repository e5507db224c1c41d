package signin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAccountPage(t *testing.T) {
	a, err := NewAccountRenderer(ConsentConfig{ProductName: "Acme Cloud", StylesheetURL: "/login/style.css",
		ScopeDescriptions: map[string]string{"orders:read": "See your orders <now>"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	err = a.Render(rec, http.StatusOK, AccountPage{
		UserName: "Alice Example", Notice: "Access withdrawn.", Action: "/account",
		Apps: []AccountApp{{
			AppName: "Shop <b>Helper</b>", ClientID: "c-1", ApprovedAt: t0, CSRFToken: "tok-1",
			Scopes: []ConsentScope{{Name: "orders:read"}, {Name: "billing:export"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for header, want := range map[string]string{
		"Content-Security-Policy": contentSecurityPolicy,
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"Content-Type":            "text/html; charset=utf-8",
	} {
		if got := rec.Header().Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	body := rec.Body.String()
	for _, part := range []string{
		`<title>Apps you allowed · Acme Cloud</title>`,
		`href="/login/style.css"`,
		`Alice Example`,
		`role="status" id="account-notice">Access withdrawn.`,
		`Shop &lt;b&gt;Helper&lt;/b&gt;`,
		`See your orders &lt;now&gt;</span> <span class="scope-name">orders:read</span>`,
		`Use the <code>billing:export</code> permission`,
		`<time datetime="2026-03-04T05:06:07Z">4 March 2026, 05:06 UTC</time>`,
		`<form method="post" action="/account">`,
		`name="csrf_token" value="tok-1"`,
		`name="client_id" value="c-1"`,
	} {
		if !strings.Contains(body, part) {
			t.Errorf("the page lacks %q", part)
		}
	}
	if strings.Contains(body, "<b>") {
		t.Error("the app's name is not escaped")
	}

	rec = httptest.NewRecorder()
	if err := a.Render(rec, http.StatusNotFound, AccountPage{Alert: "No such app."}); err != nil {
		t.Fatal(err)
	}
	if body := rec.Body.String(); rec.Code != http.StatusNotFound || !strings.Contains(body, `id="account-empty"`) || !strings.Contains(body, `role="alert"`) {
		t.Fatalf("a page without apps, with an alert: %d %s", rec.Code, body)
	}
}

func TestWithdrawCSRF(t *testing.T) {
	tok := WithdrawCSRFToken("session-a", "client-1")
	for name, ok := range map[string]bool{
		"right":            ValidWithdrawCSRF("session-a", "client-1", tok),
		"another session":  !ValidWithdrawCSRF("session-b", "client-1", tok),
		"another client":   !ValidWithdrawCSRF("session-a", "client-2", tok),
		"no session":       !ValidWithdrawCSRF("", "client-1", tok),
		"no client":        !ValidWithdrawCSRF("session-a", "", WithdrawCSRFToken("session-a", "")),
		"consent token":    !ValidWithdrawCSRF("session-a", "client-1", ConsentCSRFToken("session-a", "client-1")),
		"sign-out token":   !ValidWithdrawCSRF("session-a", "client-1", csrfToken("session-a", purposeSignOut)),
		"empty token":      !ValidWithdrawCSRF("session-a", "client-1", ""),
		"consent accepted": !ValidConsentCSRF("session-a", "client-1", tok),
	} {
		if !ok {
			t.Errorf("%s: wrong answer", name)
		}
	}
}
