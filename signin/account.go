package signin

import (
	"fmt"
	"net/http"
	"time"
)

// The account page shows a signed-in person the apps they allowed to act
// for them, each with its scopes in the operator's words and when it was
// approved, and a form per app that withdraws it. This file renders it;
// the authorization server owns the flow around it (which person, what the
// store holds, what withdrawing does).

// AccountPage is the data the account page is executed with. All text is
// escaped by html/template.
type AccountPage struct {
	// ProductName and StylesheetURL are set by Render from the config.
	ProductName, StylesheetURL string
	// Title is set by Render.
	Title string
	// UserName is the signed-in person's display name.
	UserName string
	// Notice, when set, reports what the last action did ("access
	// withdrawn"), for a role="status" line.
	Notice string
	// Alert, when set, is a message about a form that could not be acted
	// on, for a role="alert" summary.
	Alert string
	// Action is the URL every withdraw form is posted to.
	Action string
	// Apps are the apps the person allowed, withdrawn ones left out.
	Apps []AccountApp
}

// AccountApp is one app on the account page, with its withdraw form.
type AccountApp struct {
	// AppName is the app's name as registered, or its client ID when it
	// has none.
	AppName string
	// ClientID is the app's client ID, the form's client_id field.
	ClientID string
	// Scopes are what the person allowed. Render fills an empty
	// Description from the operator's descriptions.
	Scopes []ConsentScope
	// ApprovedAt is when the person last approved the app.
	ApprovedAt time.Time
	// CSRFToken is WithdrawCSRFToken of the person's session and ClientID.
	CSRFToken string
}

// AccountRenderer renders the account page.
type AccountRenderer struct{ appPages }

// NewAccountRenderer returns the account page's renderer, in the style and
// with the scope descriptions of cfg (a Handler's ConsentConfig); its
// TemplateFile is the consent page's, and not used here.
func NewAccountRenderer(cfg ConsentConfig) (*AccountRenderer, error) {
	pages, err := newAppPages(cfg, "account.html", "", "account")
	if err != nil {
		return nil, err
	}
	return &AccountRenderer{pages}, nil
}

// Render writes the account page with status and every page's security
// headers (forms post to the gateway only).
func (a *AccountRenderer) Render(w http.ResponseWriter, status int, page AccountPage) error {
	page.ProductName, page.StylesheetURL = a.cfg.ProductName, a.cfg.StylesheetURL
	page.Title = "Apps you allowed"
	apps := make([]AccountApp, len(page.Apps))
	for i, app := range page.Apps {
		app.Scopes = describeScopes(a.cfg.ScopeDescriptions, app.Scopes)
		apps[i] = app
	}
	page.Apps = apps
	setSecurityHeaders(w.Header())
	if err := writePage(w, status, a.tmpl, page); err != nil {
		return fmt.Errorf("account page template: %w", err)
	}
	return nil
}

// WithdrawCSRFToken returns the account page's withdraw form's CSRF token
// for the person's session cookie value and the app's client ID: as the
// consent form's, it binds the form to this browser's session and to the
// one app it withdraws.
func WithdrawCSRFToken(sessionValue, clientID string) string {
	return csrfToken(sessionValue, purposeWithdraw+clientID)
}

// ValidWithdrawCSRF reports, in constant time, whether token is
// WithdrawCSRFToken(sessionValue, clientID). An empty session value or
// client ID never validates.
func ValidWithdrawCSRF(sessionValue, clientID, token string) bool {
	return clientID != "" && validCSRF(sessionValue, purposeWithdraw+clientID, token)
}
