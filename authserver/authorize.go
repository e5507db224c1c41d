package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/session"
	"github.com/scopegate/scopegate/signin"
	"github.com/scopegate/scopegate/storage"
)

// Lifetimes of what the authorization endpoint stores.
const (
	// authRequestTTL is how long a person has to answer the consent page.
	authRequestTTL = 10 * time.Minute
	// authCodeTTL is an authorization code's life, RFC 9700 §2.1.1's
	// advice of a short one: the app redeems it at once.
	authCodeTTL = 60 * time.Second
	// maxConsentForm bounds the consent form's body, in bytes: three short
	// fields.
	maxConsentForm = 4 << 10
)

// AuthorizeEndpoint is the authorization endpoint (RFC 6749 §4.1.1) of the
// authorization code grant with PKCE: GET checks the request, finds the
// signed-in person (sending them to the sign-in page when needed), works
// out the scopes they can grant, and either issues a code at once (consent
// given before, or not needed) or shows the consent page; POST takes the
// consent page's decision. It is one of the issuer's Pages.
type AuthorizeEndpoint struct {
	server  *Server
	path    string
	page    *signin.Handler
	consent *signin.ConsentRenderer
}

// NewAuthorizeEndpoint returns the endpoint served at path. It reads the
// person's session by the sign-in page's cookie rule, sends people who
// must sign in to that page, and shows the consent page in the page's
// style, under its product name, with the operator's scope descriptions
// and consent template.
func (s *Server) NewAuthorizeEndpoint(path string, page *signin.Handler) (*AuthorizeEndpoint, error) {
	consent, err := signin.NewConsentRenderer(page.ConsentConfig())
	if err != nil {
		return nil, err
	}
	return &AuthorizeEndpoint{server: s, path: path, page: page, consent: consent}, nil
}

// Paths returns the one path the endpoint serves.
func (e *AuthorizeEndpoint) Paths() []string { return []string{e.path} }

// ServeHTTP answers GET (an authorization request) and POST (a consent
// decision), each with the pages' security headers. HEAD is refused: a
// request here stores records, which a HEAD must not do.
func (e *AuthorizeEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	signin.SetSecurityHeaders(w.Header())
	switch r.Method {
	case http.MethodGet:
		e.authorize(w, r)
	case http.MethodPost:
		e.decide(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// authorize handles an authorization request, in RFC 6749 §4.1.2.1's
// order: nothing is redirected before the client and its redirect URI are
// trusted.
func (e *AuthorizeEndpoint) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, aerr := oauth.ParseAuthorizeQuery(r.URL.RawQuery)
	if req == nil {
		e.fail(w, r, aerr)
		return
	}
	client, err := e.client(ctx, req.ClientID)
	if err != nil {
		e.failOr(w, r, oauth.UnknownClient(), err)
		return
	}
	if aerr := req.Trust(client.RedirectURIs); aerr != nil {
		e.fail(w, r, aerr)
		return
	}
	decision, aerr := e.checkRequest(req, client)
	if aerr != nil {
		e.fail(w, r, aerr)
		return
	}
	sess, value, ok := e.person(w, r, req)
	if !ok {
		return
	}
	scopes, aerr := e.personScopes(ctx, req, sess.UserID, decision.Scopes)
	if aerr != nil {
		e.fail(w, r, aerr)
		return
	}
	e.askOrIssue(w, r, req, client, sess, value, scopes)
}

// client returns the client named by id when it may use this endpoint;
// storage.ErrNotFound when it is unknown, disabled or not registered for
// the authorization code grant, which the person is shown alike.
func (e *AuthorizeEndpoint) client(ctx context.Context, id string) (storage.Client, error) {
	client, err := e.server.Registry.Lookup(ctx, id)
	if err != nil {
		return storage.Client{}, err
	}
	if client.Disabled || grant.Allowed(client, grant.AuthorizationCode) != nil {
		return storage.Client{}, storage.ErrNotFound
	}
	return client, nil
}

// checkRequest applies the client's rules to a trusted request: PKCE when
// the client must use it, then the token endpoint's own scope and resource
// rules (grant.Decide), so that the two endpoints cannot disagree.
func (e *AuthorizeEndpoint) checkRequest(req *oauth.AuthorizeRequest, client storage.Client) (grant.Decision, *oauth.AuthorizeError) {
	if client.Public() || !client.PKCEOptional {
		if aerr := req.RequirePKCE(); aerr != nil {
			return grant.Decision{}, aerr
		}
	}
	decision, oerr := grant.Decide(&oauth.TokenRequest{
		GrantType: grant.AuthorizationCode, Scopes: req.Scopes, Resource: req.Resources,
	}, client, e.server.Issuer)
	if oerr != nil {
		return grant.Decision{}, req.Fail(oerr)
	}
	return decision, nil
}

// person returns the signed-in person's session and cookie value. When
// there is none, or it must be renewed (prompt=login, or max_age has
// passed since sign-in), it answers instead: login_required for
// prompt=none, else a 303 to the sign-in page.
func (e *AuthorizeEndpoint) person(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest) (storage.Session, string, bool) {
	value := e.page.SessionValue(r)
	sess, err := e.session(r.Context(), value)
	if err != nil {
		e.fault(w, r, "looking up the session", err)
		return storage.Session{}, "", false
	}
	live := sess.UserID != ""
	renew := live && (slices.Contains(req.Prompt, oauth.PromptLogin) || e.tooOld(sess, req.MaxAge))
	if live && !renew {
		return sess, value, true
	}
	if slices.Contains(req.Prompt, oauth.PromptNone) {
		e.fail(w, r, req.Fail(oauth.LoginRequired("the person is not signed in")))
		return storage.Session{}, "", false
	}
	if renew {
		// The person must sign in again: ending this session makes the
		// sign-in page show its form rather than send them straight back,
		// and the new session's CreatedAt satisfies max_age.
		if err := e.server.Sessions.End(r.Context(), value); err != nil {
			e.fault(w, r, "ending a session to sign in again", err)
			return storage.Session{}, "", false
		}
	}
	http.Redirect(w, r, e.signInURL(r, req), http.StatusSeeOther)
	return storage.Session{}, "", false
}

// session returns the live session of a cookie value, or a zero Session
// when there is none.
func (e *AuthorizeEndpoint) session(ctx context.Context, value string) (storage.Session, error) {
	return e.server.liveSession(ctx, value)
}

// liveSession returns the live session of a cookie value, or a zero
// Session when there is none: how the pages served beside the sign-in
// page find the signed-in person.
func (s *Server) liveSession(ctx context.Context, value string) (storage.Session, error) {
	if value == "" {
		return storage.Session{}, nil
	}
	sess, err := s.Sessions.Lookup(ctx, value)
	if errors.Is(err, session.ErrNoSession) || errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, nil
	}
	return sess, err
}

// tooOld reports whether the sign-in behind sess is older than maxAge
// seconds (OpenID Connect Core §3.1.2.1).
func (e *AuthorizeEndpoint) tooOld(sess storage.Session, maxAge *int) bool {
	return maxAge != nil && e.server.Now().Sub(sess.CreatedAt) > time.Duration(*maxAge)*time.Second
}

// signInURL returns the sign-in page's URL on the issuer's origin, with
// return_to this request as it stands once the person has signed in
// (afterSignIn), so that it comes back once and does not send them to sign
// in again, and the request's login_hint.
func (e *AuthorizeEndpoint) signInURL(r *http.Request, req *oauth.AuthorizeRequest) string {
	returnTo := e.path + "?" + afterSignIn(r.URL.RawQuery)
	u := e.origin() + e.page.SignInPath() + "?return_to=" + url.QueryEscape(returnTo)
	if req.LoginHint != "" {
		// The page pre-fills the username with it, and trusts it for
		// nothing else (OpenID Connect Core §3.1.2.1).
		u += "&login_hint=" + url.QueryEscape(req.LoginHint)
	}
	return u
}

// afterSignIn returns rawQuery, which oauth.ParseAuthorizeQuery accepted,
// as it stands once the person has signed in: "login" taken out of its
// prompt, and max_age taken out, both met by that sign-in (a max_age kept
// would be measured again against the new sign-in, and max_age=0, which
// Core §3.1.2.1 makes prompt=login, could never be met). The ID token
// carries auth_time whatever the request. Every other pair is kept byte for
// byte, never encoded again (which could triple its length), so the
// return_to is never longer than the request, and every request the
// endpoint accepts fits the sign-in page's bound (signin.MaxReturnToLen).
func afterSignIn(rawQuery string) string {
	pairs := strings.Split(rawQuery, "&")
	kept := pairs[:0]
	for _, pair := range pairs {
		name, value, _ := strings.Cut(pair, "=")
		key, _ := url.QueryUnescape(name)
		if key == "max_age" {
			continue
		}
		if key == "prompt" {
			prompt, _ := url.QueryUnescape(value) // unescaped once already
			rest := slices.DeleteFunc(strings.Split(prompt, " "), func(v string) bool { return v == oauth.PromptLogin })
			if len(rest) == 0 {
				continue
			}
			pair = name + "=" + url.QueryEscape(strings.Join(rest, " "))
		}
		kept = append(kept, pair)
	}
	return strings.Join(kept, "&")
}

// origin returns the configured issuer's scheme and host: the URLs the
// endpoint builds never come from the request's Host.
func (e *AuthorizeEndpoint) origin() string { return e.server.issuerOrigin() }

// issuerOrigin returns the configured issuer's scheme and host, the origin
// of every URL the pages build.
func (s *Server) issuerOrigin() string {
	u, err := url.Parse(s.Issuer)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// personScopes narrows the scopes the client may have to those the
// person's roles grant. Nothing left is access_denied: the app asked for
// nothing this person may delegate.
func (e *AuthorizeEndpoint) personScopes(ctx context.Context, req *oauth.AuthorizeRequest, userID string, scopes []string) ([]string, *oauth.AuthorizeError) {
	u, err := e.server.Store.GetUser(ctx, userID)
	if err == nil && u.Disabled {
		err = storage.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, req.Fail(oauth.AccessDenied("the person may not use this app"))
		}
		return nil, req.Fail(oauth.TemporarilyUnavailable("the request cannot be decided now; try again"))
	}
	allowed, err := e.server.UserAllows(ctx, u, scopes)
	if err != nil {
		return nil, req.Fail(oauth.TemporarilyUnavailable("the request cannot be decided now; try again"))
	}
	if len(allowed) == 0 {
		return nil, req.Fail(oauth.AccessDenied("the person holds none of the requested scopes"))
	}
	return allowed, nil
}

// askOrIssue issues a code at once when the client needs no consent or the
// person approved these scopes before (and prompt is not consent);
// otherwise it stores the request and shows the consent page, or answers
// consent_required for prompt=none.
func (e *AuthorizeEndpoint) askOrIssue(w http.ResponseWriter, r *http.Request, req *oauth.AuthorizeRequest, client storage.Client, sess storage.Session, value string, scopes []string) {
	ctx := r.Context()
	if !slices.Contains(req.Prompt, oauth.PromptConsent) {
		approved, err := e.approved(ctx, client, sess.UserID, scopes)
		if err != nil {
			e.fault(w, r, "reading a consent", err)
			return
		}
		if approved {
			e.issue(w, r, pending(req, sess, scopes), sess)
			return
		}
	}
	if slices.Contains(req.Prompt, oauth.PromptNone) {
		e.fail(w, r, req.Fail(oauth.ConsentRequired("the person has not approved this request")))
		return
	}
	ar := pending(req, sess, scopes)
	var err error
	if ar.ID, err = NewCode(); err == nil {
		ar.CreatedAt = e.server.Now()
		ar.ExpiresAt = ar.CreatedAt.Add(authRequestTTL)
		err = e.server.Store.CreateAuthRequest(ctx, ar)
	}
	if err != nil {
		e.fault(w, r, "storing an authorization request", err)
		return
	}
	e.showConsent(w, r, client, ar, value)
}

// approved reports whether the client needs no consent, or the person's
// standing consent covers scopes.
func (e *AuthorizeEndpoint) approved(ctx context.Context, client storage.Client, userID string, scopes []string) (bool, error) {
	if client.SkipsConsent() {
		return true, nil
	}
	c, err := e.server.Store.GetConsent(ctx, userID, client.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return c.Granted() && len(scope.Subset(scopes, c.Scopes)) == 0, nil
}

// pending returns the parts of an authorization request that a code is
// issued from, bound to the person's session.
func pending(req *oauth.AuthorizeRequest, sess storage.Session, scopes []string) storage.AuthRequest {
	maxAge := -1
	if req.MaxAge != nil {
		maxAge = *req.MaxAge
	}
	return storage.AuthRequest{
		ClientID: req.ClientID, UserID: sess.UserID, RedirectURI: req.RedirectURI, Scopes: scopes,
		State: req.State, Nonce: req.Nonce, CodeChallenge: req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod, Resources: req.Resources,
		Prompt: strings.Join(req.Prompt, " "), MaxAge: maxAge, BrowserBinding: sess.ID,
	}
}

// showConsent renders the consent page for a stored request.
func (e *AuthorizeEndpoint) showConsent(w http.ResponseWriter, r *http.Request, client storage.Client, ar storage.AuthRequest, value string) {
	page := signin.ConsentPage{
		AppName: client.Name, Action: e.path, RequestID: ar.ID,
		CSRFToken: signin.ConsentCSRFToken(value, ar.ID),
	}
	if page.AppName == "" {
		page.AppName = client.ID
	}
	if client.Registered {
		page.RedirectTarget = redirectTarget(ar.RedirectURI)
	}
	for _, s := range ar.Scopes {
		page.Scopes = append(page.Scopes, signin.ConsentScope{Name: s})
	}
	if u, err := e.server.Store.GetUser(r.Context(), ar.UserID); err == nil {
		page.UserName = u.DisplayName()
	}
	if err := e.consent.Render(w, http.StatusOK, page, ar.RedirectURI); err != nil {
		e.fault(w, r, "rendering the consent page", err)
	}
}

// redirectTarget names where a redirect URI sends the browser: its host
// (with the port, when one is given), or for a private-use scheme its
// scheme.
func redirectTarget(redirectURI string) string {
	u, err := url.Parse(redirectURI) // registered and checked
	if err != nil {
		return ""
	}
	if u.Host != "" {
		return u.Host
	}
	return u.Scheme + ":"
}

// decide takes the consent page's form: the request it answers must be
// live and bound to this browser's session, and the CSRF token must be
// the one the page was rendered with.
func (e *AuthorizeEndpoint) decide(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxConsentForm)
	if err := r.ParseForm(); err != nil {
		e.show(w, oauth.InvalidRequest("the form is malformed or too long"))
		return
	}
	value := e.page.SessionValue(r)
	sess, err := e.session(ctx, value)
	if err != nil {
		e.fault(w, r, "looking up the session", err)
		return
	}
	id := r.PostForm.Get("request_id")
	ar, ok, err := e.pendingRequest(ctx, id, sess)
	switch {
	case err != nil:
		e.fault(w, r, "reading an authorization request", err)
		return
	case !ok:
		e.show(w, oauth.InvalidRequest("this approval request is unknown, expired, or was started in another browser"))
		return
	case !signin.ValidConsentCSRF(value, id, r.PostForm.Get("csrf_token")):
		e.show(w, forbidden("the form's CSRF token is not valid; go back to the app and try again"))
		return
	}
	decision := r.PostForm.Get("decision")
	if decision != "allow" && decision != "deny" {
		e.show(w, oauth.InvalidRequest("decision must be allow or deny"))
		return
	}
	req, aerr := e.retrust(ctx, ar)
	if aerr != nil {
		e.fail(w, r, aerr)
		return
	}
	if err := e.server.Store.DeleteAuthRequest(ctx, ar.ID); err != nil {
		// A request already answered (deleted by the first answer) is not
		// answered twice.
		e.failOr(w, r, new(oauth.AuthorizeRequest).Fail(oauth.InvalidRequest("this approval request was answered already")), err)
		return
	}
	if decision == "deny" {
		e.fail(w, r, req.Fail(oauth.AccessDenied("the person denied the request")))
		return
	}
	e.allow(w, r, ar, sess)
}

// pendingRequest returns the live request id names when the session is
// the one that started it: a flow started in one browser cannot be
// finished in another (Hydra #753, Dex CVE-2022-39222).
func (e *AuthorizeEndpoint) pendingRequest(ctx context.Context, id string, sess storage.Session) (storage.AuthRequest, bool, error) {
	if id == "" || len(id) > maxRequestIDLen || sess.ID == "" {
		return storage.AuthRequest{}, false, nil
	}
	ar, err := e.server.Store.GetAuthRequest(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.AuthRequest{}, false, nil
	}
	if err != nil {
		return storage.AuthRequest{}, false, err
	}
	ok := ar.Live(e.server.Now()) && ar.BrowserBinding == sess.ID && ar.UserID == sess.UserID
	return ar, ok, nil
}

// maxRequestIDLen bounds a request_id read from the form: the IDs are
// NewCode's 43 characters.
const maxRequestIDLen = 64

// retrust checks a stored request against the client's registration as it
// is now (it may have been disabled, or the redirect URI removed, since),
// and returns a request whose errors go back to the app.
func (e *AuthorizeEndpoint) retrust(ctx context.Context, ar storage.AuthRequest) (*oauth.AuthorizeRequest, *oauth.AuthorizeError) {
	req := &oauth.AuthorizeRequest{ClientID: ar.ClientID, RedirectURI: ar.RedirectURI, State: ar.State}
	client, err := e.client(ctx, ar.ClientID)
	if err != nil {
		return nil, oauth.UnknownClient()
	}
	if aerr := req.Trust(client.RedirectURIs); aerr != nil {
		return nil, aerr
	}
	return req, nil
}

// allow records the person's consent, adding these scopes to what they
// approved before, and issues the code.
func (e *AuthorizeEndpoint) allow(w http.ResponseWriter, r *http.Request, ar storage.AuthRequest, sess storage.Session) {
	now := e.server.Now()
	_, err := e.server.Store.PutConsent(r.Context(), ar.UserID, ar.ClientID, func(c storage.Consent) (storage.Consent, error) {
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
		c.UpdatedAt = now
		c.Scopes = union(c.Scopes, ar.Scopes)
		return c, nil
	})
	if err != nil {
		e.fault(w, r, "storing a consent", err)
		return
	}
	e.issue(w, r, ar, sess)
}

// union returns a's scopes followed by those of b it lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// issue stores a code for the request (only its hash, CodeID) and sends it
// to the app (RFC 6749 §4.1.2, with iss by RFC 9207).
func (e *AuthorizeEndpoint) issue(w http.ResponseWriter, r *http.Request, ar storage.AuthRequest, sess storage.Session) {
	code, err := NewCode()
	if err != nil {
		e.fault(w, r, "making a code", err)
		return
	}
	now := e.server.Now()
	err = e.server.Store.CreateAuthCode(r.Context(), storage.AuthCode{
		ID: CodeID(code), ClientID: ar.ClientID, UserID: ar.UserID, SessionID: sess.ID,
		RedirectURI: ar.RedirectURI, Scopes: ar.Scopes, Resources: ar.Resources, Nonce: ar.Nonce,
		CodeChallenge: ar.CodeChallenge, CodeChallengeMethod: ar.CodeChallengeMethod,
		AuthTime: sess.CreatedAt, CreatedAt: now, ExpiresAt: now.Add(authCodeTTL),
	})
	if err != nil {
		e.fault(w, r, "storing a code", err)
		return
	}
	http.Redirect(w, r, oauth.SuccessRedirect(ar.RedirectURI, code, ar.State, e.server.Issuer), http.StatusSeeOther)
}

// fail answers an authorization error: back to the app when it may be
// redirected (303), else shown.
func (e *AuthorizeEndpoint) fail(w http.ResponseWriter, r *http.Request, aerr *oauth.AuthorizeError) {
	if aerr.Redirectable() {
		http.Redirect(w, r, aerr.RedirectURL(e.server.Issuer), http.StatusSeeOther)
		return
	}
	e.show(w, aerr.Err)
}

// failOr answers with aerr when err is storage.ErrNotFound, else as a
// fault.
func (e *AuthorizeEndpoint) failOr(w http.ResponseWriter, r *http.Request, aerr *oauth.AuthorizeError, err error) {
	if errors.Is(err, storage.ErrNotFound) {
		e.fail(w, r, aerr)
		return
	}
	e.fault(w, r, "reading the store", err)
}

// show writes an error the person sees, as plain text with the error's
// status: never a redirect, and never anything but fixed text.
func (e *AuthorizeEndpoint) show(w http.ResponseWriter, oerr *oauth.Error) {
	status := oerr.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "The app's request cannot be completed (%s): %s.\n", oerr.Code, oerr.Description)
}

// fault answers a failure that is not the request's: 503 with Retry-After
// when the store is unavailable for now, 500 otherwise, logged without the
// request's secrets.
func (e *AuthorizeEndpoint) fault(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, storage.ErrUnavailable) {
		w.Header().Set("Retry-After", "1")
		e.show(w, oauth.TemporarilyUnavailable("the gateway cannot complete the request now; try again"))
		return
	}
	e.server.Logger.Error("authorization endpoint: "+what+" failed", zap.Error(err))
	e.show(w, oauth.ServerError("the gateway could not complete the request"))
}

// forbidden is a 403 shown for a form that does not prove it came from
// this browser's consent page.
func forbidden(description string) *oauth.Error {
	return &oauth.Error{Code: oauth.CodeAccessDenied, Description: description, Status: http.StatusForbidden}
}
