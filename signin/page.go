package signin

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

//go:embed templates/head.html templates/signin.html templates/consent.html templates/account.html templates/logout.html templates/style.css
var templates embed.FS

// stylesheet is the built-in page's CSS, served at Path + "/style.css" so
// that the Content-Security-Policy can forbid inline styles.
var stylesheet = mustRead("templates/style.css")

func mustRead(name string) []byte {
	b, err := templates.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	return b
}

// Page is the data every sign-in page is executed with, the built-in one
// and an operator's TemplateFile alike. Exactly one of Form and SignedIn is
// set. All text is escaped by html/template.
type Page struct {
	// ProductName is Config.ProductName.
	ProductName string
	// Title is the page's title, such as "Sign in".
	Title string
	// StylesheetURL is the path of the built-in stylesheet.
	StylesheetURL string
	// Alert, when set, is a message about the whole page (wrong username
	// or password, too many attempts, an expired form), for a
	// role="alert" summary at the top.
	Alert string
	// Form is the sign-in form, when nobody is signed in.
	Form *Form
	// SignedIn is the signed-in state, with its sign-out form.
	SignedIn *SignedIn
}

// Form is the sign-in form's data.
type Form struct {
	// Action is the URL the form is posted to.
	Action string
	// Username is the username to fill in again after a failure. The
	// password is never sent back.
	Username string
	// UsernameError and PasswordError, when set, describe what is wrong
	// with each field, to show beside it (aria-describedby).
	UsernameError, PasswordError string
	// Remember is whether "keep me signed in" was ticked.
	Remember bool
	// ReturnTo is the validated return_to, for a hidden field; "" when none.
	ReturnTo string
	// CSRFToken is the hidden csrf_token field's value.
	CSRFToken string
}

// SignedIn is the signed-in page's data.
type SignedIn struct {
	// Name is the signed-in person's display name.
	Name string
	// SignOutAction is the URL the sign-out form is posted to.
	SignOutAction string
	// CSRFToken is the sign-out form's hidden csrf_token field's value.
	CSRFToken string
	// AccountURL is the account page, where the person sees and withdraws
	// the apps they allowed.
	AccountURL string
}

// headTemplate defines "head", the start of every page up to <body>.
const headTemplate = "templates/head.html"

// parsePage parses a page's template: the operator's file when one is
// given, else the built-in templates/<builtin>; either with the shared
// "head", which the built-in pages begin with and an operator's may. what
// names the page in errors ("sign-in", "consent").
func parsePage(builtin, file, what string) (*template.Template, error) {
	if file == "" {
		return template.ParseFS(templates, "templates/"+builtin, headTemplate)
	}
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the %s template: %w", what, err)
	}
	tmpl := template.Must(template.New(filepath.Base(file)).ParseFS(templates, headTemplate)) // embedded: cannot fail
	if _, err := tmpl.Parse(string(text)); err != nil {
		return nil, fmt.Errorf("parsing the %s template %s: %w", what, file, err)
	}
	return tmpl, nil
}

// render writes the sign-in page, or a clean 500 when its template fails.
func (h *Handler) render(w http.ResponseWriter, status int, page Page) {
	page.ProductName = h.cfg.ProductName
	page.StylesheetURL = h.cfg.Path + stylesheetSuffix
	if err := writePage(w, status, h.tmpl, page); err != nil {
		h.logger.Error("sign-in page template failed", zap.Error(err))
		http.Error(w, "the sign-in page is unavailable", http.StatusInternalServerError)
	}
}

// writePage executes tmpl with data into a buffer first, so that a
// template that fails halfway writes nothing and the caller can answer a
// clean error, never half a page; then writes it as HTML with status. The
// caller has set the security headers.
func writePage(w http.ResponseWriter, status int, tmpl *template.Template, data any) error {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

const stylesheetSuffix = "/style.css"

func (h *Handler) serveStylesheet(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(stylesheet)
}
