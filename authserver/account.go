package authserver

import (
	"errors"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/signin"
	"github.com/scopegate/scopegate/storage"
)

// maxAccountForm bounds the account page's form body, in bytes: two short
// fields.
const maxAccountForm = 4 << 10

// Messages of the account page.
const (
	noticeWithdrawn  = "Access withdrawn. The app can no longer act for you, and must ask you again."
	alertExpired     = "This page expired. Reload it and try again."
	alertNoConsent   = "You have not allowed this app, or already withdrew it."
	alertMalformed   = "The form could not be read. Reload the page and try again."
	alertUnavailable = "Your apps cannot be shown right now. Try again later."
)

// AccountPage is the account page (at the sign-in page's AccountPath): a
// signed-in person sees the apps they allowed to act for them and withdraws
// one. GET shows the page; POST withdraws the consent its client_id names,
// for the session's person only, and answers 303 back to the page. It is
// one of the issuer's Pages.
type AccountPage struct {
	server *Server
	page   *signin.Handler
	view   *signin.AccountRenderer
}

// NewAccountPage returns the account page served at the sign-in page's
// AccountPath, in its style and with its scope descriptions. It finds the
// person by the page's cookie rule and sends people who are not signed in
// to it.
func (s *Server) NewAccountPage(page *signin.Handler) (*AccountPage, error) {
	view, err := signin.NewAccountRenderer(page.ConsentConfig())
	if err != nil {
		return nil, err
	}
	return &AccountPage{server: s, page: page, view: view}, nil
}

// Paths returns the one path the page serves.
func (a *AccountPage) Paths() []string { return []string{a.page.AccountPath()} }

// ServeHTTP answers GET and HEAD (the page) and POST (a withdrawal), each
// with the pages' security headers.
func (a *AccountPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	signin.SetSecurityHeaders(w.Header())
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		a.show(w, r)
	case http.MethodPost:
		a.withdraw(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// person returns the signed-in person's session and cookie value, or
// sends the browser (303) to sign in with return_to this page and reports
// false.
func (a *AccountPage) person(w http.ResponseWriter, r *http.Request) (storage.Session, string, bool) {
	value := a.page.SessionValue(r)
	sess, err := a.server.liveSession(r.Context(), value)
	if err != nil {
		a.fault(w, r, "looking up the session", err)
		return storage.Session{}, "", false
	}
	if sess.UserID == "" {
		target := a.server.issuerOrigin() + a.page.SignInPath() + "?return_to=" + url.QueryEscape(a.page.AccountPath())
		http.Redirect(w, r, target, http.StatusSeeOther)
		return storage.Session{}, "", false
	}
	return sess, value, true
}

// show renders the page, with the notice of a withdrawal just made.
func (a *AccountPage) show(w http.ResponseWriter, r *http.Request) {
	sess, value, ok := a.person(w, r)
	if !ok {
		return
	}
	notice := ""
	if r.URL.Query().Has("withdrawn") {
		notice = noticeWithdrawn
	}
	a.render(w, r, http.StatusOK, sess.UserID, value, notice, "")
}

// withdraw takes a withdraw form: its CSRF token must be the one the page
// was rendered with for this session and this client, and it only ever
// withdraws a consent of the session's person.
func (a *AccountPage) withdraw(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAccountForm)
	if err := r.ParseForm(); err != nil {
		sess, value, ok := a.person(w, r)
		if ok {
			a.render(w, r, http.StatusBadRequest, sess.UserID, value, "", alertMalformed)
		}
		return
	}
	sess, value, ok := a.person(w, r)
	if !ok {
		return
	}
	clientID := r.PostForm.Get("client_id")
	if !signin.ValidWithdrawCSRF(value, clientID, r.PostForm.Get("csrf_token")) {
		a.render(w, r, http.StatusForbidden, sess.UserID, value, "", alertExpired)
		return
	}
	err := a.server.WithdrawConsent(r.Context(), sess.UserID, clientID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a.render(w, r, http.StatusNotFound, sess.UserID, value, "", alertNoConsent)
		return
	case err != nil:
		a.fault(w, r, "withdrawing a consent", err)
		return
	}
	a.server.Logger.Info("consent withdrawn by the person", zap.String("user_id", sess.UserID), zap.String("client_id", clientID))
	http.Redirect(w, r, a.server.issuerOrigin()+a.page.AccountPath()+"?withdrawn", http.StatusSeeOther)
}

// render shows the person's standing consents with status, a notice or an
// alert.
func (a *AccountPage) render(w http.ResponseWriter, r *http.Request, status int, userID, value, notice, alert string) {
	ctx := r.Context()
	consents, err := a.server.StandingConsents(ctx, userID)
	if err != nil {
		a.fault(w, r, "listing consents", err)
		return
	}
	page := signin.AccountPage{Action: a.page.AccountPath(), Notice: notice, Alert: alert}
	if u, err := a.server.Store.GetUser(ctx, userID); err == nil {
		page.UserName = u.DisplayName()
	}
	for _, c := range consents {
		app := signin.AccountApp{
			AppName: c.ClientID, ClientID: c.ClientID, ApprovedAt: c.UpdatedAt,
			CSRFToken: signin.WithdrawCSRFToken(value, c.ClientID),
		}
		if client, err := a.server.Registry.Lookup(ctx, c.ClientID); err == nil && client.Name != "" {
			app.AppName = client.Name
		}
		for _, s := range c.Scopes {
			app.Scopes = append(app.Scopes, signin.ConsentScope{Name: s})
		}
		page.Apps = append(page.Apps, app)
	}
	if err := a.view.Render(w, status, page); err != nil {
		a.fault(w, r, "rendering the account page", err)
	}
}

// fault answers a failure that is not the person's (pageFault).
func (a *AccountPage) fault(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.server.pageFault(w, "account page: "+what, alertUnavailable, err)
}

// pageFault answers a page's failure that is not the person's, as plain
// text saying message: 503 with Retry-After when the store is unavailable
// for now, else 500 with what failed (never the person's data) logged. The
// one rule of the account and logout pages.
func (s *Server) pageFault(w http.ResponseWriter, what, message string, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, storage.ErrUnavailable) {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	} else {
		s.Logger.Error(what+" failed", zap.Error(err))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(message + "\n"))
}
