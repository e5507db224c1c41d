package signin

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopegate/scopegate/oauth"
)

// Defaults for Config's zero values.
const (
	DefaultPath        = "/signin"
	DefaultSignOutPath = "/signout"
	DefaultProductName = "Scopegate"
	DefaultCookieName  = "scopegate_session"
	// DefaultAccountPath is where a signed-in person sees and withdraws
	// the apps they allowed.
	DefaultAccountPath = "/account"
	// DefaultSourceLimit is how many failed sign-ins one source (an IPv4
	// address or an IPv6 /64) may make per window, whatever usernames it
	// tries. It is high enough for a few people behind one NAT.
	DefaultSourceLimit = 30
	// DefaultPairLimit is how many failed sign-ins one source may make for
	// one username per window.
	DefaultPairLimit = 5
	// DefaultWindow is the throttles' window.
	DefaultWindow = 5 * time.Minute
	// DefaultThrottleSize is how many sources, and how many (username,
	// source) pairs, the throttles track at most.
	DefaultThrottleSize = 10000
)

// Limits on what a sign-in form may carry.
const (
	// MaxBody is the largest form body accepted, in bytes: room for a
	// username, a password and a return_to at their longest, each byte of
	// which a browser may encode as three (%XX), and the CSRF token.
	MaxBody = 3*(MaxUsernameLen+MaxPasswordLen+MaxReturnToLen) + 1<<10
	// MaxUsernameLen is the longest username accepted, in bytes.
	MaxUsernameLen = 256
	// MaxPasswordLen is the longest password accepted, in bytes: longer
	// than any password manager makes, short enough to hash cheaply.
	MaxPasswordLen = 1024
	// MaxReturnToLen is the longest return_to accepted, in bytes: a path
	// of up to MaxReturnPathLen bytes, '?', and the longest query the
	// authorization endpoint accepts, so that no request it accepts loses
	// its way back through sign-in.
	MaxReturnToLen = MaxReturnPathLen + 1 + oauth.MaxAuthorizeQueryLen
	// MaxReturnPathLen is the longest path a return_to may lead to, in
	// bytes: New refuses a longer ReturnPaths entry.
	MaxReturnPathLen = 256
	// maxCookieLen bounds a session cookie value passed to Sessions.
	maxCookieLen = 512
	// MaxScopeDescriptionLen is the longest scope description accepted, in
	// characters: a line on the consent page, not a paragraph.
	MaxScopeDescriptionLen = 200
)

// Options are an operator's settings of the pages, as a gateway's
// configuration holds them (the JSON names are the config's). Zero values
// take the defaults.
type Options struct {
	// Path serves the sign-in page (GET) and takes its form (POST).
	// Default: /signin. Its stylesheet is at Path + "/style.css".
	Path string `json:"path,omitempty"`
	// SignOutPath takes the sign-out form. Default: /signout.
	SignOutPath string `json:"signout_path,omitempty"`
	// ProductName is the page's heading and part of its title. Default:
	// Scopegate.
	ProductName string `json:"product_name,omitempty"`
	// TemplateFile is an html/template file that replaces the built-in
	// page, read when the config loads and executed with Page; README.md
	// lists its data.
	TemplateFile string `json:"template_file,omitempty"`
	// ReturnPaths are the paths of this site a sign-in may go on to (its
	// return_to), compared exactly (the query is kept), such as
	// "/oauth2/authorize"; anything else ends on the signed-in page, so the
	// page is never an open redirect.
	ReturnPaths []string `json:"return_paths,omitempty"`
	// CookieName is the session cookie's name, sent with the "__Host-"
	// prefix over TLS. Default: scopegate_session.
	CookieName string `json:"cookie_name,omitempty"`
	// TLSInFront marks every request as having come over TLS, for a
	// gateway behind a proxy that terminates it: cookies are then Secure
	// and "__Host-" prefixed. Without it a request is secure when it came
	// over TLS to this server.
	TLSInFront bool `json:"tls_in_front,omitempty"`
	// SourceLimit is how many failed sign-ins one source (the client's
	// IPv4 address or IPv6 /64) may make per window, whatever usernames
	// it tries. Default: 30.
	SourceLimit int `json:"failed_per_source,omitempty"`
	// PairLimit is how many failed sign-ins one source may make for one
	// username per window. Failures are never counted per username alone,
	// so nobody can lock a person out from elsewhere. Default: 5.
	PairLimit int `json:"failed_per_username,omitempty"`
	// AccountPath serves the account page, where a signed-in person sees
	// the apps they allowed and withdraws them. It is always one of the
	// sign-in page's return paths. Default: /account.
	AccountPath string `json:"account_path,omitempty"`
	// ScopeDescriptions maps a scope to the words that tell a person what
	// it lets an app do, such as "Read your orders", shown on the consent
	// and account pages; a scope without one is shown by its name. At most
	// 200 characters each, for a scope that is not empty.
	ScopeDescriptions map[string]string `json:"scope_descriptions,omitempty"`
	// ConsentTemplateFile is an html/template file that replaces the
	// built-in consent page, read when the config loads and executed with
	// ConsentPage; README.md lists its data.
	ConsentTemplateFile string `json:"consent_template_file,omitempty"`
}

// Config configures a Handler: the operator's Options and what the host
// server provides. Zero values take the defaults.
type Config struct {
	Options
	// Window is the throttles' window. Default 5 minutes.
	Window time.Duration
	// ThrottleSize bounds how many keys each throttle tracks. Default
	// 10,000.
	ThrottleSize int
	// ClientAddr returns the address a request comes from. The default
	// reads r.RemoteAddr; a host server behind trusted proxies passes its
	// own resolution (in Caddy, the client_ip variable).
	ClientAddr func(r *http.Request) netip.Addr
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// withDefaults returns c with every zero value at its default.
func (c Config) withDefaults() Config {
	c.Path = orDefault(c.Path, DefaultPath)
	c.SignOutPath = orDefault(c.SignOutPath, DefaultSignOutPath)
	c.ProductName = orDefault(c.ProductName, DefaultProductName)
	c.CookieName = orDefault(c.CookieName, DefaultCookieName)
	c.AccountPath = orDefault(c.AccountPath, DefaultAccountPath)
	if c.SourceLimit <= 0 {
		c.SourceLimit = DefaultSourceLimit
	}
	if c.PairLimit <= 0 {
		c.PairLimit = DefaultPairLimit
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.ThrottleSize <= 0 {
		c.ThrottleSize = DefaultThrottleSize
	}
	if c.ClientAddr == nil {
		c.ClientAddr = remoteAddr
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// validate checks a defaulted config.
func (c Config) validate() error {
	for _, p := range []struct{ name, path string }{{"path", c.Path}, {"sign-out path", c.SignOutPath}, {"account path", c.AccountPath}} {
		if !isPlainPath(p.path) {
			return fmt.Errorf("the %s %q must be an absolute path of letters, digits and - . _ ~ / only", p.name, p.path)
		}
	}
	if c.Path == c.SignOutPath || c.AccountPath == c.Path || c.AccountPath == c.SignOutPath {
		return errors.New("the sign-in, sign-out and account paths must differ")
	}
	for _, p := range c.ReturnPaths {
		if !isPlainPath(p) {
			return fmt.Errorf("the return path %q must be an absolute path of letters, digits and - . _ ~ / only", p)
		}
	}
	if !isCookieToken(c.CookieName) {
		return fmt.Errorf("the cookie name %q must be letters, digits, - and _ only", c.CookieName)
	}
	if strings.TrimSpace(c.ProductName) == "" || len(c.ProductName) > 100 {
		return errors.New("the product name must be 1 to 100 characters")
	}
	return validateScopeDescriptions(c.ScopeDescriptions)
}

// validateScopeDescriptions refuses a description for an empty scope, and
// one that is empty or longer than MaxScopeDescriptionLen characters.
func validateScopeDescriptions(descriptions map[string]string) error {
	for name, words := range descriptions {
		switch n := utf8.RuneCountInString(words); {
		case strings.TrimSpace(name) == "":
			return errors.New("a scope description must name its scope")
		case strings.TrimSpace(words) == "":
			return fmt.Errorf("the description of scope %q is empty", name)
		case n > MaxScopeDescriptionLen:
			return fmt.Errorf("the description of scope %q is %d characters long; at most %d are allowed", name, n, MaxScopeDescriptionLen)
		}
	}
	return nil
}

// isPlainPath reports whether p is an absolute path made only of unreserved
// characters and slashes, without "//" or dot segments: a path that means
// the same to every parser, so it can be compared byte for byte.
func isPlainPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || len(p) > MaxReturnPathLen {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	for i := 0; i < len(p); i++ {
		if !isUnreserved(p[i]) && p[i] != '/' {
			return false
		}
	}
	return true
}

// isUnreserved reports whether b is an RFC 3986 unreserved character.
func isUnreserved(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}

func isCookieToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// remoteAddr is the default ClientAddr: the connection's peer address.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, _ := netip.ParseAddr(host) // invalid: the zero Addr, one shared source
	return addr
}
