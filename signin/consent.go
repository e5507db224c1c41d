package signin

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The consent page asks a signed-in person whether an app may act for them
// with the scopes it asked for. This file renders it; the authorization
// endpoint owns the flow around it (which request, which person, what the
// decision does).
//
// The form is posted back to the gateway, which then redirects the browser
// to the app's redirect URI. Chromium applies the page's CSP form-action to
// that redirect as well as to the form's own action, so a policy of
// form-action 'self' would block the code on its way to the app. Render
// therefore adds the redirect URI's origin to form-action, and nothing else.

// ConsentConfig configures a ConsentRenderer. Zero values take the
// defaults.
type ConsentConfig struct {
	// ProductName is the page's heading and part of its title. Default
	// "Scopegate", as the sign-in page's.
	ProductName string
	// StylesheetURL is the path of the stylesheet, the sign-in page's, which
	// the Handler serves at its Path + "/style.css". Default
	// "/signin/style.css".
	StylesheetURL string
	// ScopeDescriptions maps a scope to the words that tell a person what it
	// lets an app do, such as "read your orders". A scope without one is
	// shown by its name.
	ScopeDescriptions map[string]string
	// TemplateFile, when set, is an html/template file that replaces the
	// built-in consent page, executed with ConsentPage.
	TemplateFile string
}

// ConsentPage is the data the consent page is executed with. All text is
// escaped by html/template; AppURI is shown as a link only when it is an
// http or https URL.
type ConsentPage struct {
	// ProductName and StylesheetURL are set by Render from the config.
	ProductName, StylesheetURL string
	// Title is set by Render.
	Title string
	// AppName is the app's name as registered, or its client ID when it has
	// none: the page names it in its heading and its legend.
	AppName string
	// AppURI is the app's home page, or "".
	AppURI string
	// RedirectTarget, for an app that registered itself, is where the
	// browser goes once the person decides: the host of its redirect URI
	// (or the scheme of a native app's), which its chosen name cannot
	// fake. "" for an app an administrator created.
	RedirectTarget string
	// Scopes are what the app asks for. Render fills an empty Description
	// from ConsentConfig.ScopeDescriptions.
	Scopes []ConsentScope
	// UserName is the signed-in person's display name.
	UserName string
	// Action is the URL the form is posted to.
	Action string
	// CSRFToken is ConsentCSRFToken of the person's session and RequestID.
	CSRFToken string
	// RequestID names the pending authorization request.
	RequestID string
}

// ConsentScope is one scope on the consent page.
type ConsentScope struct {
	// Name is the scope as the app asked for it.
	Name string
	// Description says in plain words what the scope allows; "" shows the
	// name instead.
	Description string
}

// ConsentRenderer renders the consent page.
type ConsentRenderer struct{ appPages }

// appPages is what the pages about a person's apps (consent, account, logout)
// share: their config, defaulted, and their parsed template.
type appPages struct {
	cfg  ConsentConfig
	tmpl *template.Template
}

// newAppPages defaults cfg and parses the page's template: the built-in
// templates/<builtin>, or file when given.
func newAppPages(cfg ConsentConfig, builtin, file, what string) (appPages, error) {
	cfg.ProductName = orDefault(cfg.ProductName, DefaultProductName)
	cfg.StylesheetURL = orDefault(cfg.StylesheetURL, DefaultPath+stylesheetSuffix)
	tmpl, err := parsePage(builtin, file, what)
	if err != nil {
		return appPages{}, fmt.Errorf("signin: %w", err)
	}
	return appPages{cfg: cfg, tmpl: tmpl}, nil
}

// NewConsentRenderer parses the consent page's template, the built-in one
// or cfg.TemplateFile.
func NewConsentRenderer(cfg ConsentConfig) (*ConsentRenderer, error) {
	pages, err := newAppPages(cfg, "consent.html", cfg.TemplateFile, "consent")
	if err != nil {
		return nil, err
	}
	return &ConsentRenderer{pages}, nil
}

// Render writes the consent page with status, for an authorization request
// whose (trusted) redirect URI is redirectURI: the security headers of
// every page, with the redirect URI's origin added to form-action. It
// writes nothing and returns an error when redirectURI has no origin a
// policy can name, or the template fails.
func (c *ConsentRenderer) Render(w http.ResponseWriter, status int, page ConsentPage, redirectURI string) error {
	policy, err := ConsentPolicy(redirectURI)
	if err != nil {
		return err
	}
	page.ProductName, page.StylesheetURL = c.cfg.ProductName, c.cfg.StylesheetURL
	page.Title = "Allow access"
	page.Scopes = c.describe(page.Scopes)
	if u, err := url.Parse(page.AppURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		page.AppURI = ""
	}
	// The headers are set before the page is written; a template failure
	// writes no body, and the caller answers the error with its own.
	setSecurityHeaders(w.Header())
	w.Header().Set("Content-Security-Policy", policy)
	if err := writePage(w, status, c.tmpl, page); err != nil {
		return fmt.Errorf("consent page template: %w", err)
	}
	return nil
}

// describe returns scopes with every empty description filled from the
// operator's map, leaving the caller's slice alone.
func (c *ConsentRenderer) describe(scopes []ConsentScope) []ConsentScope {
	return describeScopes(c.cfg.ScopeDescriptions, scopes)
}

// describeScopes returns scopes with every empty description filled from
// descriptions, leaving the caller's slice alone: the one rule the consent
// and account pages name scopes by.
func describeScopes(descriptions map[string]string, scopes []ConsentScope) []ConsentScope {
	out := make([]ConsentScope, len(scopes))
	for i, s := range scopes {
		if s.Description == "" {
			s.Description = descriptions[s.Name]
		}
		out[i] = s
	}
	return out
}

// ConsentPolicy returns the consent page's Content-Security-Policy: every
// page's, with form-action allowing 'self' and the origin of redirectURI,
// the app the decision is redirected to.
func ConsentPolicy(redirectURI string) (string, error) {
	source, err := formActionSource(redirectURI)
	if err != nil {
		return "", err
	}
	return policyBeforeFormAction + "form-action 'self' " + source + policyAfterFormAction, nil
}

var errNoOrigin = errors.New("signin: the redirect URI has no origin a content security policy can name")

// formActionSource returns the CSP source expression that allows a
// redirect to redirectURI: its scheme, host and port for http and https
// (a host-source), its scheme alone for a native app's private-use scheme
// (a scheme-source). Only characters the CSP grammar allows there are
// accepted, so nothing can end the directive or add another. An IPv6
// literal, which host-source cannot spell, is allowed by scheme.
func formActionSource(redirectURI string) (string, error) {
	u, err := url.Parse(redirectURI)
	if err != nil || !isCSPScheme(u.Scheme) {
		return "", errNoOrigin
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return scheme + ":", nil
	}
	host, port := u.Hostname(), u.Port()
	if strings.HasPrefix(u.Host, "[") && host != "" {
		return scheme + ":", nil
	}
	if host == "" || !isCSPHost(host) || strings.Trim(port, "0123456789") != "" {
		return "", errNoOrigin
	}
	source := scheme + "://" + strings.ToLower(host)
	if port != "" {
		source += ":" + port
	}
	return source, nil
}

// isCSPScheme reports whether s is an RFC 3986 scheme.
func isCSPScheme(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !('0' <= c && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isCSPHost reports whether s is made of CSP host-chars and dots (CSP3
// host-part: ALPHA / DIGIT / "-" between dots).
func isCSPHost(s string) bool {
	for _, label := range strings.Split(s, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isLetter(c) && !('0' <= c && c <= '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// ConsentCSRFToken returns the consent form's CSRF token for the person's
// session cookie value and the authorization request's ID: it binds the
// decision to this browser (only it holds the cookie) and to this request,
// so that neither a cross-site page nor a flow started in another browser
// can answer it (the precedents are Hydra #753 and Dex CVE-2022-39222).
func ConsentCSRFToken(sessionValue, requestID string) string {
	return csrfToken(sessionValue, purposeConsent+requestID)
}

// ValidConsentCSRF reports, in constant time, whether token is
// ConsentCSRFToken(sessionValue, requestID). An empty session value or
// request ID never validates.
func ValidConsentCSRF(sessionValue, requestID, token string) bool {
	return requestID != "" && validCSRF(sessionValue, purposeConsent+requestID, token)
}
