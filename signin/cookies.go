package signin

import (
	"net/http"
	"time"
)

// hostPrefix makes a browser accept a cookie only when it is Secure, has
// Path=/ and no Domain: no subdomain or plain-HTTP page can set or shadow it.
const hostPrefix = "__Host-"

// secure reports whether r reached the gateway over TLS.
func (h *Handler) secure(r *http.Request) bool {
	return r.TLS != nil || h.cfg.TLSInFront
}

// cookieName returns base as it is named on r: "__Host-" prefixed when secure.
func (h *Handler) cookieName(r *http.Request, base string) string {
	if h.secure(r) {
		return hostPrefix + base
	}
	return base
}

// cookieValue returns the value of the one cookie named base (as named on
// r), or "" when it is absent, sent twice or too long. Two cookies of one
// name mean one was planted (by a sibling subdomain, say): trust neither.
func (h *Handler) cookieValue(r *http.Request, base string) string {
	name := h.cookieName(r, base)
	value := ""
	for _, c := range r.Cookies() {
		if c.Name != name {
			continue
		}
		if value != "" {
			return ""
		}
		value = c.Value
	}
	if len(value) > maxCookieLen {
		return ""
	}
	return value
}

// newCookie returns a cookie named base (as named on r) with the attributes
// every cookie of ours has: Path=/, HttpOnly, SameSite=Lax, no Domain, and
// Secure over TLS.
func (h *Handler) newCookie(r *http.Request, base, value string) *http.Cookie {
	return &http.Cookie{
		Name:     h.cookieName(r, base),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   h.secure(r),
		SameSite: http.SameSiteLaxMode,
	}
}

// setSessionCookie sets the session cookie: persistent until expires, or a
// browser-session cookie.
func (h *Handler) setSessionCookie(w http.ResponseWriter, r *http.Request, value string, persistent bool, expires time.Time) {
	c := h.newCookie(r, h.cfg.CookieName, value)
	if persistent {
		c.Expires = expires.UTC()
		c.MaxAge = max(int(expires.Sub(h.cfg.Now())/time.Second), 1)
	}
	http.SetCookie(w, c)
}

// clearCookie tells the browser to drop the cookie named base.
func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request, base string) {
	c := h.newCookie(r, base, "")
	c.MaxAge = -1 // sent as Max-Age=0
	http.SetCookie(w, c)
}

// csrfKey returns the pre-session cookie's value, setting a fresh one on w
// when r has none that is well-formed.
func (h *Handler) csrfKey(w http.ResponseWriter, r *http.Request) string {
	if v := h.cookieValue(r, csrfCookieName); isRandomValue(v) {
		return v
	}
	v := randomValue()
	http.SetCookie(w, h.newCookie(r, csrfCookieName, v))
	return v
}

// SessionValue returns the session cookie's value on r, named as the page
// names it ("__Host-" prefixed over TLS), or "" when it is absent, sent
// twice or too long. The authorization endpoint finds the signed-in person
// with it, by the same rule as the page.
func (h *Handler) SessionValue(r *http.Request) string {
	return h.cookieValue(r, h.cfg.CookieName)
}

// SignInPath returns where the sign-in page is served.
func (h *Handler) SignInPath() string { return h.cfg.Path }

// ProductName returns the name the page shows, for the consent page.
func (h *Handler) ProductName() string { return h.cfg.ProductName }

// AccountPath returns where the account page is served.
func (h *Handler) AccountPath() string { return h.cfg.AccountPath }

// ConsentConfig returns the consent page's settings in this page's style:
// its product name and stylesheet, and the operator's scope descriptions
// and consent template.
func (h *Handler) ConsentConfig() ConsentConfig {
	return ConsentConfig{
		ProductName: h.cfg.ProductName, StylesheetURL: h.cfg.Path + stylesheetSuffix,
		ScopeDescriptions: h.cfg.ScopeDescriptions, TemplateFile: h.cfg.ConsentTemplateFile,
	}
}
