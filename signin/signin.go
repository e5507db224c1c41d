// Package signin serves the page where a person signs in to the gateway:
// a username and password form, a "keep me signed in" choice, a return_to
// that only leads back into the gateway's own flows, and sign-out. It
// speaks plain net/http and reaches accounts and sessions through two small
// interfaces, Accounts and Sessions, so the host adapts its own registry
// and session manager to them.
//
// Every form is protected against cross-site request forgery by a token
// that needs no server-side secret (see csrf.go), failed sign-ins are
// throttled per source and per (username, source) pair but never per
// username alone, and every response forbids framing, sniffing, caching and
// referrers.
package signin

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/throttle"
)

// ErrBadCredentials is Accounts.SignIn's answer for an unknown user, a wrong
// password and a disabled user alike.
var ErrBadCredentials = errors.New("signin: bad credentials")

// ErrNoSession is Sessions.Lookup's answer for a cookie value that names no
// live session.
var ErrNoSession = errors.New("signin: no session")

// ErrUnavailable marks an error of Accounts or Sessions as passing: the
// store cannot be written just now, or every password computation is busy.
// The person is asked to try again shortly (503 with Retry-After) rather
// than told the server failed.
var ErrUnavailable = errors.New("signin: temporarily unavailable")

// Accounts checks passwords and names users.
type Accounts interface {
	// SignIn returns the user's ID and display name when the password is
	// right and the user enabled, and ErrBadCredentials otherwise (unknown
	// user, wrong password, disabled: one answer, about the same time).
	// Other errors are the server's.
	SignIn(ctx context.Context, username, password string) (userID, displayName string, err error)
	// DisplayName returns the display name of a user, for the signed-in
	// page.
	DisplayName(ctx context.Context, userID string) (string, error)
}

// Sessions starts, finds and ends sign-in sessions.
type Sessions interface {
	// Start makes a new session and returns the secret cookie value and
	// when the session ends (used as the cookie's Expires when
	// persistent).
	Start(ctx context.Context, userID string, persistent bool, meta Meta) (value string, expires time.Time, err error)
	// Lookup returns the signed-in user of a cookie value, or ErrNoSession.
	Lookup(ctx context.Context, value string) (userID string, err error)
	// End ends the session of a cookie value; unknown is not an error.
	End(ctx context.Context, value string) error
}

// Meta describes where a session was started, for the person's list of
// sessions.
type Meta struct {
	// Address is the client address the sign-in came from.
	Address string
	// UserAgent is the browser's User-Agent header.
	UserAgent string
}

// Handler serves the sign-in page at Config.Path, its stylesheet, and
// sign-out at Config.SignOutPath. Other paths get 404.
type Handler struct {
	cfg      Config
	accounts Accounts
	sessions Sessions
	logger   *zap.Logger
	tmpl     *template.Template

	sources *throttle.Throttle // failures per source
	pairs   *throttle.Throttle // failures per (username, source)
	// logKey keys the username references in failure logs: a pseudonym
	// that correlates attempts within this process, and that cannot be
	// reversed offline as a plain hash could (a password typed into the
	// username field must never be recoverable from a log).
	logKey string
}

// New validates cfg (defaults applied), parses the page template, and
// returns the handler. logger may be nil.
func New(cfg Config, accounts Accounts, sessions Sessions, logger *zap.Logger) (*Handler, error) {
	if accounts == nil || sessions == nil {
		return nil, errors.New("signin: accounts and sessions are required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("signin: %w", err)
	}
	// The account page is always a place a sign-in may lead back to: it
	// sends people who are not signed in here.
	cfg.ReturnPaths = append(slices.Clone(cfg.ReturnPaths), cfg.AccountPath)
	tmpl, err := parsePage("signin.html", cfg.TemplateFile, "sign-in")
	if err != nil {
		return nil, fmt.Errorf("signin: %w", err)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Handler{
		cfg:      cfg,
		accounts: accounts,
		sessions: sessions,
		logger:   logger,
		tmpl:     tmpl,
		sources:  throttle.New(cfg.SourceLimit, cfg.Window, cfg.ThrottleSize),
		pairs:    throttle.New(cfg.PairLimit, cfg.Window, cfg.ThrottleSize),
		logKey:   randomValue(),
	}, nil
}

// Paths returns every path the handler serves, for the host's routing.
func (h *Handler) Paths() []string {
	return []string{h.cfg.Path, h.cfg.Path + stylesheetSuffix, h.cfg.SignOutPath}
}

// ServeHTTP routes by exact path and method.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	switch r.URL.Path {
	case h.cfg.Path:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h.showPage(w, r)
		case http.MethodPost:
			h.signIn(w, r)
		default:
			methodNotAllowed(w, "GET, HEAD, POST")
		}
	case h.cfg.Path + stylesheetSuffix:
		h.serveStylesheet(w, r)
	case h.cfg.SignOutPath:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
			return
		}
		h.signOut(w, r)
	default:
		http.NotFound(w, r)
	}
}

// contentSecurityPolicy allows the page nothing but its own stylesheet and
// images, forms posted back to itself, and no framing: no script may run
// and no resource may load from elsewhere.
const contentSecurityPolicy = policyBeforeFormAction + "form-action 'self'" + policyAfterFormAction

// The parts of every page's policy around its form-action directive, which
// the consent page widens to the app's redirect origin (consent.go).
const (
	policyBeforeFormAction = "default-src 'none'; style-src 'self'; img-src 'self' data:; "
	policyAfterFormAction  = "; frame-ancestors 'none'; base-uri 'none'"
)

// setSecurityHeaders sets the headers every response carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

// SetSecurityHeaders sets the headers every page of ours carries, for the
// authorization endpoint's own answers.
func SetSecurityHeaders(h http.Header) { setSecurityHeaders(h) }
