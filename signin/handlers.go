package signin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/throttle"
)

// Messages shown to the person. One message for every bad-credentials case,
// so the page never tells whether a username exists.
const (
	msgBadCredentials = "The username or password is incorrect."
	msgCheckBoth      = "Check your username and password, then try again."
	msgThrottled      = "Too many failed attempts. Wait a few minutes, then try again."
	msgExpired        = "This page expired. Reload it and sign in again."
	msgMalformed      = "The form could not be read. Reload the page and try again."
	msgUnavailable    = "Signing in is unavailable right now. Try again later."
	msgNeedUsername   = "Enter your username."
	msgNeedPassword   = "Enter your password."
	msgBadUsername    = "This is not a valid username."
	msgLongPassword   = "This password is too long."
	msgFixFields      = "Check the highlighted fields."
)

// showPage answers GET: the form, or for a signed-in person the signed-in
// page, or at once their return_to.
func (h *Handler) showPage(w http.ResponseWriter, r *http.Request) {
	returnTo := ReturnTo(r.URL.Query().Get("return_to"), h.cfg.ReturnPaths)
	if value, userID := h.currentSession(r); userID != "" {
		if returnTo != "" {
			http.Redirect(w, r, returnTo, http.StatusSeeOther)
			return
		}
		h.showSignedIn(w, r, http.StatusOK, "", value, userID)
		return
	}
	h.showForm(w, r, http.StatusOK, "", Form{ReturnTo: returnTo, Username: loginHint(r)})
}

// loginHint returns the login_hint an app passed through the authorization
// endpoint (OpenID Connect Core §3.1.2.1), to pre-fill the username: only
// when it has a username's shape, and never trusted for anything else, as
// anyone can write it into a link.
func loginHint(r *http.Request) string {
	hint := r.URL.Query().Get("login_hint")
	if !usernameShape(hint) {
		return ""
	}
	return hint
}

// currentSession returns the session cookie's value and its user, or ""
// when r carries no live session.
func (h *Handler) currentSession(r *http.Request) (value, userID string) {
	value = h.cookieValue(r, h.cfg.CookieName)
	if value == "" {
		return "", ""
	}
	userID, err := h.sessions.Lookup(r.Context(), value)
	if err != nil {
		if !errors.Is(err, ErrNoSession) {
			h.logger.Error("session lookup failed", zap.Error(err))
		}
		return "", ""
	}
	return value, userID
}

// showSignedIn renders the signed-in page with its sign-out form.
func (h *Handler) showSignedIn(w http.ResponseWriter, r *http.Request, status int, alert, value, userID string) {
	name, err := h.accounts.DisplayName(r.Context(), userID)
	if err != nil {
		h.logger.Error("display name lookup failed", zap.String("user_id", userID), zap.Error(err))
		name = ""
	}
	h.render(w, status, Page{Title: "Signed in", Alert: alert, SignedIn: &SignedIn{
		Name:          name,
		SignOutAction: h.cfg.SignOutPath,
		CSRFToken:     csrfToken(value, purposeSignOut),
		AccountURL:    h.cfg.AccountPath,
	}})
}

// showForm renders the sign-in form with status, an alert and form's field
// values and errors; it adds the action and a CSRF token (setting the
// pre-session cookie when needed).
func (h *Handler) showForm(w http.ResponseWriter, r *http.Request, status int, alert string, form Form) {
	form.Action = h.cfg.Path
	form.CSRFToken = csrfToken(h.csrfKey(w, r), purposeSignIn)
	h.render(w, status, Page{Title: "Sign in", Alert: alert, Form: &form})
}

// signIn answers the sign-in form's POST.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	fields, err := readForm(w, r)
	if err != nil {
		h.refuseForm(w, r, err)
		return
	}
	form := Form{
		Username: fields.Get("username"),
		Remember: fields.Get("remember") != "",
		ReturnTo: ReturnTo(fields.Get("return_to"), h.cfg.ReturnPaths),
	}
	if !validCSRF(h.cookieValue(r, csrfCookieName), purposeSignIn, fields.Get("csrf_token")) {
		h.logger.Debug("sign-in form refused: CSRF token missing or wrong")
		h.showForm(w, r, http.StatusForbidden, msgExpired, form)
		return
	}
	password := fields.Get("password")
	if !checkFields(&form, password) {
		h.showForm(w, r, http.StatusBadRequest, msgFixFields, form)
		return
	}
	h.checkPassword(w, r, form, password)
}

// refuseForm answers a form that could not be read.
func (h *Handler) refuseForm(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, errBodyTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, errNotForm):
		status = http.StatusUnsupportedMediaType
	}
	h.showForm(w, r, status, msgMalformed, Form{})
}

// checkFields checks the username and password before anything is counted
// or hashed, and sets the fields' errors. It reports whether both are fine.
func checkFields(form *Form, password string) bool {
	switch {
	case form.Username == "":
		form.UsernameError = msgNeedUsername
	case !usernameShape(form.Username):
		form.UsernameError = msgBadUsername
		form.Username = "" // not shown back: it may be anything
	}
	switch {
	case password == "":
		form.PasswordError = msgNeedPassword
	case len(password) > MaxPasswordLen:
		form.PasswordError = msgLongPassword
	}
	return form.UsernameError == "" && form.PasswordError == ""
}

// usernameShape reports whether s may be a username: at most
// MaxUsernameLen bytes of UTF-8 without control characters.
func usernameShape(s string) bool {
	return len(s) <= MaxUsernameLen && utf8.ValidString(s) && !hasControl(s)
}

func hasControl(s string) bool {
	for _, c := range s {
		if c < ' ' || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return true
		}
	}
	return false
}

// checkPassword throttles, checks the password and starts the session.
func (h *Handler) checkPassword(w http.ResponseWriter, r *http.Request, form Form, password string) {
	now := h.cfg.Now()
	addr := h.cfg.ClientAddr(r)
	attempt := h.Attempt(addr, form.Username)
	if wait, blocked := attempt.Blocked(now); blocked {
		h.logger.Debug("sign-in throttled", zap.String("source", attempt.Source()))
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		h.showForm(w, r, http.StatusTooManyRequests, msgThrottled, form)
		return
	}
	userID, _, err := h.accounts.SignIn(r.Context(), form.Username, password)
	switch {
	case errors.Is(err, ErrBadCredentials):
		attempt.Failed(now)
		h.logger.Info("sign-in failed",
			zap.String("username_ref", attempt.UsernameRef()),
			zap.String("source", attempt.Source()))
		form.PasswordError = msgCheckBoth
		h.showForm(w, r, http.StatusOK, msgBadCredentials, form)
		return
	case err != nil:
		h.fault(w, r, "sign-in check failed", err, form)
		return
	}
	attempt.Succeeded()
	address := ""
	if addr.IsValid() {
		address = addr.String()
	}
	h.startSession(w, r, userID, form, address)
}

// retryUnavailable is the Retry-After of a 503: long enough for a busy
// hasher to drain or a store to find its leader again.
const retryUnavailable = "2"

// fault answers a failure of Accounts or Sessions: 503 with Retry-After for
// a passing one (ErrUnavailable), 500 otherwise; the form is shown again
// either way, without the password.
func (h *Handler) fault(w http.ResponseWriter, r *http.Request, what string, err error, form Form) {
	status := http.StatusInternalServerError
	if errors.Is(err, ErrUnavailable) {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", retryUnavailable)
		h.logger.Warn(what, zap.Error(err))
	} else {
		h.logger.Error(what, zap.Error(err))
	}
	h.showForm(w, r, status, msgUnavailable, form)
}

// blocked reports whether the source, or the pair, has used up its failures.
func (h *Handler) blocked(source, pair throttle.Key, now time.Time) (time.Duration, bool) {
	if wait, blocked := h.sources.Blocked(source, now); blocked {
		return wait, true
	}
	return h.pairs.Blocked(pair, now)
}

// usernameRef is a keyed pseudonym of a lower-cased username for logs.
func (h *Handler) usernameRef(username string) string {
	mac := hmac.New(sha256.New, []byte(h.logKey))
	mac.Write([]byte(username))
	return hex.EncodeToString(mac.Sum(nil)[:8])
}

// startSession ends the session the browser came with, if any, and starts
// a new one: a session value is never carried across a sign-in (no
// fixation).
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, userID string, form Form, addr string) {
	if old := h.cookieValue(r, h.cfg.CookieName); old != "" {
		if err := h.sessions.End(r.Context(), old); err != nil {
			h.logger.Error("ending the previous session failed", zap.Error(err))
		}
	}
	meta := Meta{Address: addr, UserAgent: r.UserAgent()}
	value, expires, err := h.sessions.Start(r.Context(), userID, form.Remember, meta)
	if err != nil {
		h.fault(w, r, "starting a session failed", err, form)
		return
	}
	h.setSessionCookie(w, r, value, form.Remember, expires)
	h.logger.Info("signed in", zap.String("user_id", userID), zap.Bool("persistent", form.Remember))
	target := h.cfg.Path
	if form.ReturnTo != "" {
		target = form.ReturnTo
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// signOut answers the sign-out form's POST: CSRF-checked against the
// session cookie, it ends the session and clears the cookie.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	fields, err := readForm(w, r)
	if err != nil {
		h.refuseForm(w, r, err)
		return
	}
	value := h.cookieValue(r, h.cfg.CookieName)
	if value == "" {
		// Nobody to sign out: nothing a forged request could do.
		http.Redirect(w, r, h.cfg.Path, http.StatusSeeOther)
		return
	}
	if !validCSRF(value, purposeSignOut, fields.Get("csrf_token")) {
		h.logger.Debug("sign-out refused: CSRF token missing or wrong")
		if _, userID := h.currentSession(r); userID != "" {
			h.showSignedIn(w, r, http.StatusForbidden, msgExpired, value, userID)
			return
		}
		h.showForm(w, r, http.StatusForbidden, msgExpired, Form{})
		return
	}
	_, userID := h.currentSession(r)
	if err := h.sessions.End(r.Context(), value); err != nil {
		h.fault(w, r, "ending a session failed", err, Form{})
		return
	}
	h.clearCookie(w, r, h.cfg.CookieName)
	if userID != "" {
		h.logger.Info("signed out", zap.String("user_id", userID))
	}
	http.Redirect(w, r, h.cfg.Path, http.StatusSeeOther)
}
