package signin

import (
	"fmt"
	"net/http"
)

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) asks a
// signed-in person whether to sign out of the gateway, unless the app's
// request shows it comes from an app the person signed in to, and then
// tells them they are signed out, or sends them back to the app. This file
// renders those pages; the authorization server owns the flow (which
// session, which app, where the browser may go).
//
// As on the consent page, the confirmation form may end in a redirect to
// the app, which Chromium checks against the page's CSP form-action: Render
// adds that one origin, and only for a URI the app registered.

// purposeLogout binds the logout confirmation form's token.
const purposeLogout = "logout"

// LogoutPage is the data the logout pages are executed with: the
// confirmation when Confirm is set, else the signed-out page. All text is
// escaped by html/template.
type LogoutPage struct {
	// ProductName and StylesheetURL are set by Render from the config.
	ProductName, StylesheetURL string
	// Title is set by Render.
	Title string
	// Alert, when set, is a message about a request or form that could not
	// be acted on, for a role="alert" summary.
	Alert string
	// Confirm is the "Sign out?" form, when a person is asked.
	Confirm *LogoutConfirm
	// SignInURL is the sign-in page, linked from the signed-out page.
	SignInURL string
}

// LogoutConfirm is the confirmation form's data. The hidden fields carry
// the app's request on to the POST, where it is checked again.
type LogoutConfirm struct {
	// Action is the URL the form is posted to.
	Action string
	// CSRFToken is LogoutCSRFToken of the person's session.
	CSRFToken string
	// UserName is the signed-in person's display name.
	UserName string
	// AppName names the app that asked, or "" when none is known.
	AppName string
	// ClientID, PostLogoutRedirectURI and State are the request's, for
	// hidden fields; "" when absent or not to be followed.
	ClientID, PostLogoutRedirectURI, State string
}

// LogoutRenderer renders the logout pages.
type LogoutRenderer struct{ appPages }

// NewLogoutRenderer returns the logout pages' renderer, in the style of cfg
// (a Handler's ConsentConfig).
func NewLogoutRenderer(cfg ConsentConfig) (*LogoutRenderer, error) {
	pages, err := newAppPages(cfg, "logout.html", "", "logout")
	if err != nil {
		return nil, err
	}
	return &LogoutRenderer{pages}, nil
}

// Render writes page with status and every page's security headers. When
// the confirmation form may end in a redirect to redirectURI (a URI the
// app registered), form-action allows its origin too.
func (l *LogoutRenderer) Render(w http.ResponseWriter, status int, page LogoutPage, redirectURI string) error {
	page.ProductName, page.StylesheetURL = l.cfg.ProductName, l.cfg.StylesheetURL
	page.Title = "Signed out"
	if page.Confirm != nil {
		page.Title = "Sign out"
	}
	h := w.Header()
	setSecurityHeaders(h)
	if page.Confirm != nil && redirectURI != "" {
		policy, err := ConsentPolicy(redirectURI)
		if err != nil {
			return err
		}
		h.Set("Content-Security-Policy", policy)
	}
	if err := writePage(w, status, l.tmpl, page); err != nil {
		return fmt.Errorf("logout page template: %w", err)
	}
	return nil
}

// LogoutCSRFToken returns the logout confirmation form's CSRF token for the
// person's session cookie value: only a page this gateway served to this
// browser's session holds it.
func LogoutCSRFToken(sessionValue string) string { return csrfToken(sessionValue, purposeLogout) }

// ValidLogoutCSRF reports, in constant time, whether token is
// LogoutCSRFToken(sessionValue). An empty session value never validates.
func ValidLogoutCSRF(sessionValue, token string) bool {
	return validCSRF(sessionValue, purposeLogout, token)
}

// ClearSessionCookie tells the browser to drop the session cookie, as
// sign-out does, once its session has been ended.
func (h *Handler) ClearSessionCookie(w http.ResponseWriter, r *http.Request) {
	h.clearCookie(w, r, h.cfg.CookieName)
}
