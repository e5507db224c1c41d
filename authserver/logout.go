package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/signin"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// DefaultEndSessionPath is where RP-initiated logout is served.
const DefaultEndSessionPath = "/oauth2/logout"

// maxLogoutForm bounds a logout request's form body, in bytes: an
// id_token_hint at the longest a token may be, and the other parameters.
const maxLogoutForm = token.MaxLength + 4<<10

// Messages of the logout pages.
const (
	alertLogoutInvalid = "This sign-out request is not valid. You are still signed in."
	alertLogoutExpired = "This page expired. Reload it and try again."
	alertLogoutFault   = "Signing out is unavailable right now. Try again later."
)

// LogoutEndpoint is the end_session_endpoint of OpenID Connect
// RP-Initiated Logout 1.0: an app sends the person's browser here (GET or
// POST) to end their session at the gateway, the sign-in page's session,
// which the store holds for every gateway. It takes id_token_hint,
// client_id, post_logout_redirect_uri and state.
//
// The person is asked "Sign out?" (a form with a CSRF token bound to the
// session) unless the request carries an id_token_hint of theirs: an ID
// token this server issued to the app (expired or not) whose sub is the
// session's person, which only an app they signed in to holds. §2 of the
// spec requires the question otherwise; Keycloak asks likewise, and ends
// the session at once for a valid hint.
//
// Afterwards the browser goes to post_logout_redirect_uri with state, only
// when it is one the app registered (exactly, by the redirect_uris rule),
// else to the signed-out page: never anywhere else, so the endpoint is no
// open redirect.
type LogoutEndpoint struct {
	server *Server
	path   string
	page   *signin.Handler
	view   *signin.LogoutRenderer
}

// newLogoutEndpoint serves RP-initiated logout at path, ending the sessions
// of the sign-in page (its cookie rule), in its style.
func (s *Server) newLogoutEndpoint(path string, page *signin.Handler) (*LogoutEndpoint, error) {
	view, err := signin.NewLogoutRenderer(page.ConsentConfig())
	if err != nil {
		return nil, err
	}
	return &LogoutEndpoint{server: s, path: path, page: page, view: view}, nil
}

// Paths returns the one path the endpoint serves.
func (e *LogoutEndpoint) Paths() []string { return []string{e.path} }

// logoutRequest is what an app's logout request asks, or the confirmation
// form carries on.
type logoutRequest struct {
	hint, clientID, redirectURI, state string
	// csrfToken is set only in the confirmation form.
	csrfToken string
}

// logoutTarget is what a request may do: the app it names and where the
// browser may go afterwards ("" for the signed-out page).
type logoutTarget struct {
	hint     *token.Claims
	client   storage.Client
	redirect string // the registered URI, with state appended
	uri      string // the registered URI as sent, for the form and its CSP
	state    string
}

// ServeHTTP answers GET, HEAD and POST with the pages' security headers.
func (e *LogoutEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	signin.SetSecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	req, ok := readLogoutRequest(w, r)
	if !ok {
		e.render(w, http.StatusBadRequest, signin.LogoutPage{Alert: alertLogoutInvalid}, "")
		return
	}
	if r.Method == http.MethodPost && req.csrfToken != "" {
		e.confirm(w, r, req)
		return
	}
	e.request(w, r, req)
}

// readLogoutRequest reads the parameters from the query of a GET or the
// form of a POST (§2 allows both); a parameter sent twice, or a form that
// cannot be read, is refused.
func readLogoutRequest(w http.ResponseWriter, r *http.Request) (logoutRequest, bool) {
	values := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxLogoutForm)
		if err := r.ParseForm(); err != nil {
			return logoutRequest{}, false
		}
		values = r.PostForm
	}
	for _, v := range values {
		if len(v) > 1 {
			return logoutRequest{}, false
		}
	}
	return logoutRequest{
		hint: values.Get("id_token_hint"), clientID: values.Get("client_id"),
		redirectURI: values.Get("post_logout_redirect_uri"), state: values.Get("state"),
		csrfToken: values.Get("csrf_token"),
	}, true
}

// request answers an app's logout request: nobody signed in, or the hint's
// person signed in, ends at once (never for HEAD, which changes nothing);
// anyone else is asked.
func (e *LogoutEndpoint) request(w http.ResponseWriter, r *http.Request, req logoutRequest) {
	ctx := r.Context()
	target, ok := e.server.logoutTarget(ctx, req)
	if !ok {
		e.render(w, http.StatusBadRequest, signin.LogoutPage{Alert: alertLogoutInvalid}, "")
		return
	}
	value := e.page.SessionValue(r)
	sess, err := e.server.liveSession(ctx, value)
	if err != nil {
		e.fault(w, "looking up the session", err)
		return
	}
	switch {
	case sess.UserID == "":
		e.finish(w, r, target)
	case target.hint != nil && target.hint.Subject == sess.UserID && r.Method != http.MethodHead:
		e.endSession(w, r, value, sess.UserID, target)
	default:
		e.ask(ctx, w, value, sess.UserID, target)
	}
}

// ask shows the confirmation form, carrying the request's app and, when
// registered, its redirect and state.
func (e *LogoutEndpoint) ask(ctx context.Context, w http.ResponseWriter, value, userID string, target logoutTarget) {
	form := &signin.LogoutConfirm{Action: e.path, CSRFToken: signin.LogoutCSRFToken(value), ClientID: target.client.ID}
	if u, err := e.server.Store.GetUser(ctx, userID); err == nil {
		form.UserName = u.DisplayName()
	}
	if target.client.ID != "" {
		form.AppName = target.client.Name
	}
	if target.redirect != "" {
		form.PostLogoutRedirectURI, form.State = target.uri, target.state
	}
	e.render(w, http.StatusOK, signin.LogoutPage{Confirm: form}, target.uri)
}

// confirm takes the confirmation form: its token must be the one the page
// was rendered with for this session; the app and redirect it carries are
// checked again as a request's are.
func (e *LogoutEndpoint) confirm(w http.ResponseWriter, r *http.Request, req logoutRequest) {
	ctx := r.Context()
	req.hint = "" // the form never carries one
	target, ok := e.server.logoutTarget(ctx, req)
	if !ok {
		e.render(w, http.StatusBadRequest, signin.LogoutPage{Alert: alertLogoutInvalid}, "")
		return
	}
	value := e.page.SessionValue(r)
	sess, err := e.server.liveSession(ctx, value)
	if err != nil {
		e.fault(w, "looking up the session", err)
		return
	}
	if sess.UserID == "" {
		// Signed out already (another tab): nothing a forged form could do.
		e.finish(w, r, target)
		return
	}
	if !signin.ValidLogoutCSRF(value, req.csrfToken) {
		e.server.Logger.Debug("logout confirmation refused: CSRF token missing or wrong")
		e.render(w, http.StatusForbidden, signin.LogoutPage{Alert: alertLogoutExpired, SignInURL: e.page.SignInPath()}, "")
		return
	}
	e.endSession(w, r, value, sess.UserID, target)
}

// endSession ends the session in the store (so at every gateway on it),
// clears the cookie and goes on.
func (e *LogoutEndpoint) endSession(w http.ResponseWriter, r *http.Request, value, userID string, target logoutTarget) {
	if err := e.server.Sessions.End(r.Context(), value); err != nil && !errors.Is(err, storage.ErrNotFound) {
		e.fault(w, "ending a session", err)
		return
	}
	e.page.ClearSessionCookie(w, r)
	e.server.Logger.Info("signed out by the app (RP-initiated logout)",
		zap.String("user_id", userID), zap.String("client_id", target.client.ID), zap.Bool("redirect", target.redirect != ""))
	e.finish(w, r, target)
}

// finish sends the browser to the app's registered URI, or shows the
// signed-out page.
func (e *LogoutEndpoint) finish(w http.ResponseWriter, r *http.Request, target logoutTarget) {
	if target.redirect != "" {
		http.Redirect(w, r, target.redirect, http.StatusSeeOther)
		return
	}
	e.render(w, http.StatusOK, signin.LogoutPage{SignInURL: e.page.SignInPath()}, "")
}

// logoutTarget checks a logout request: the hint must be an ID token of
// this server (VerifyIDTokenHint) naming client_id among its audience when
// both are sent; the app is client_id or the hint's one audience. A
// post_logout_redirect_uri is kept only when the app registered it, and
// state only with it. An invalid hint, or a hint and client_id that
// disagree, is not ok; an unknown app or an unregistered URI leaves the
// request without a redirect.
func (s *Server) logoutTarget(ctx context.Context, req logoutRequest) (logoutTarget, bool) {
	var target logoutTarget
	clientID := req.clientID
	if req.hint != "" {
		claims, err := s.verifier.VerifyIDTokenHint(s.KeySet(), req.hint)
		if err != nil {
			s.Logger.Debug("logout request refused: id_token_hint not valid", zap.Error(err))
			return logoutTarget{}, false
		}
		switch {
		case clientID != "" && !claims.HasAudience(clientID):
			s.Logger.Debug("logout request refused: client_id is not the id_token_hint's audience")
			return logoutTarget{}, false
		case clientID == "" && len(claims.Audience) == 1:
			clientID = claims.Audience[0]
		}
		target.hint = claims
	}
	if clientID != "" {
		c, err := s.Registry.Lookup(ctx, clientID)
		if err == nil {
			target.client = c
		}
	}
	if req.redirectURI == "" {
		return target, true
	}
	if target.client.ID == "" || !oauth.RedirectURIMatches(target.client.PostLogoutRedirectURIs, req.redirectURI) {
		// Debug, as every refusal of a request is: a flood of them must
		// not become a flood of log lines.
		s.Logger.Debug("logout redirect not followed: post_logout_redirect_uri is not one the app registered",
			zap.String("client_id", target.client.ID))
		return target, true
	}
	target.uri, target.state = req.redirectURI, req.state
	target.redirect = withState(req.redirectURI, req.state)
	return target, true
}

// withState appends state to a registered URI, keeping the URI byte for
// byte.
func withState(uri, state string) string {
	if state == "" {
		return uri
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + "state=" + url.QueryEscape(state)
}

// render writes a logout page, or a fault when the template fails.
func (e *LogoutEndpoint) render(w http.ResponseWriter, status int, page signin.LogoutPage, redirectURI string) {
	if page.SignInURL == "" {
		page.SignInURL = e.page.SignInPath()
	}
	if err := e.view.Render(w, status, page, redirectURI); err != nil {
		e.fault(w, "rendering the logout page", err)
	}
}

// fault answers a failure that is not the person's (pageFault).
func (e *LogoutEndpoint) fault(w http.ResponseWriter, what string, err error) {
	e.server.pageFault(w, "logout: "+what, alertLogoutFault, err)
}
