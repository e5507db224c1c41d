package authserver

import (
	"net/http"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// Cross-origin reads (CORS, Fetch §3.2) of the server's JSON answers by
// browser apps: this file is the one home of which origin may read what.
// The public documents (discovery, RFC 8414 and RFC 9728 metadata, JWKS)
// are anyone's. The token, revocation and UserInfo answers are the
// client's whose request it is, and its origins are the origins of its
// registered redirect URIs (oauth.RedirectURIsHaveOrigin). No answer allows
// credentials: these endpoints use no cookies. Pages (sign-in, consent,
// account, logout, authorize) are navigations, and introspection, remote
// admin, registration and self-service serve servers: they answer no CORS.

// corsMaxAge is how long, in seconds, a browser may keep a preflight's
// answer. 600 is the longest that WebKit honours (Chromium keeps up to
// 7200, Firefox 86400), so every browser keeps it the same ten minutes,
// and a changed answer after an upgrade reaches them all within that time.
// The answer names no client, so keeping it longer would lose nothing
// either.
const corsMaxAge = "600"

// CORS header names.
const (
	allowOriginHeader = "Access-Control-Allow-Origin"
	// originHeader in its canonical form, read from the header map
	// directly: two values must not pass as one.
	originHeader = "Origin"
)

// originRefused answers a token or revocation request that a browser sent
// from an origin that is not the client's.
var originRefused = oauth.InvalidRequest("the Origin is not allowed for this client")

// requestOrigin returns the request's Origin: "" with ok when it has none
// (not a browser's cross-origin fetch), and ok false when the header is not
// one serialized origin ("null", a path, two values).
func requestOrigin(r *http.Request) (origin string, ok bool) {
	values := r.Header[originHeader]
	switch {
	case len(values) == 0:
		return "", true
	case len(values) == 1 && oauth.ValidOrigin(values[0]):
		return values[0], true
	}
	return "", false
}

// isPreflight reports whether r is a CORS preflight: OPTIONS with an Origin
// and Access-Control-Request-Method (Fetch §4.8). Any other OPTIONS goes to
// the endpoint, which answers it as before.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header[originHeader]) > 0 &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// allowOrigin lets origin read the answer; the answer varies by Origin.
func allowOrigin(h http.Header, origin string) {
	h.Set(allowOriginHeader, origin)
	h.Add("Vary", "Origin")
}

// exposedHeaders are the headers beyond the CORS-safelisted ones that an
// app's page may read on an answer it may read: a refused token's
// challenge (RFC 6750 §3) and a throttled request's wait (RFC 9110
// §10.2.3), so that it can tell them apart as a server-side app does.
const exposedHeaders = "WWW-Authenticate, Retry-After"

// allowRead lets origin read an endpoint's answer (not a preflight's), with
// its exposedHeaders.
func allowRead(h http.Header, origin string) {
	allowOrigin(h, origin)
	h.Set("Access-Control-Expose-Headers", exposedHeaders)
}

// publicCORS lets any origin read a public document (discovery, the RFC
// 8414 and RFC 9728 metadata, the JWKS): every GET and HEAD answer may be
// read, and a preflight is answered at once, which it reports.
func publicCORS(w http.ResponseWriter, r *http.Request) (answered bool) {
	h := w.Header()
	switch {
	case isPreflight(r):
		h.Set(allowOriginHeader, "*")
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return true
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		h.Set(allowOriginHeader, "*")
	}
	return false
}

// clientCORS answers the preflights of an endpoint whose answers belong
// to one client (token, revocation, UserInfo). A preflight carries no
// client and reveals nothing, so any serialized origin gets its answer;
// the real request's origin is then checked against its client's by the
// endpoint (admitOrigin, exposeUserInfo).
type clientCORS struct {
	next http.Handler
	// methods is the Access-Control-Allow-Methods value.
	methods string
}

func (c clientCORS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isPreflight(r) {
		c.next.ServeHTTP(w, r)
		return
	}
	origin, ok := requestOrigin(r)
	if !ok {
		oauth.InvalidRequest("the Origin header is not one serialized origin (scheme://host[:port])").Write(w)
		return
	}
	h := w.Header()
	allowOrigin(h, origin)
	h.Set("Access-Control-Allow-Methods", c.methods)
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
}

// admitOrigin decides the Origin of a token or revocation request once its
// client is known. Without one (a server, or a same-origin navigation)
// nothing changes. The client's own origin may read the answer, an OAuth
// error included. Any other origin, or a malformed one, is refused: a
// browser that sends it is not the app's page, and the form post it makes
// needs no preflight, so it would otherwise redeem a code or rotate a
// refresh token that it could not even read the answer of.
func admitOrigin(w http.ResponseWriter, r *http.Request, client storage.Client) *oauth.Error {
	origin, ok := requestOrigin(r)
	switch {
	case ok && origin == "":
		return nil
	case !ok || !oauth.RedirectURIsHaveOrigin(client.RedirectURIs, origin):
		return originRefused
	}
	allowRead(w.Header(), origin)
	return nil
}

// exposeUserInfo lets the origin of the token's client read UserInfo's
// answer, its refusals included. Another origin gets the answer without
// the header, which the browser then hides: the claims are the token's to
// read, not the origin's, so nothing is refused. A refusal of a token that
// names no client (none, or one that did not verify) is the same for
// every caller, so any origin may read it, as Keycloak answers; an app
// then learns that its token expired rather than meeting a network error.
func (s *Server) exposeUserInfo(w http.ResponseWriter, r *http.Request, claims *token.Claims) {
	origin, ok := requestOrigin(r)
	if !ok || origin == "" {
		return
	}
	if claims != nil {
		client, err := s.Registry.Lookup(r.Context(), claims.ClientID)
		if err != nil || !oauth.RedirectURIsHaveOrigin(client.RedirectURIs, origin) {
			return
		}
	}
	allowRead(w.Header(), origin)
}
