package signin

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/scopegate/scopegate/oauth"
)

// Defaults for Config's zero values.
const (
	DefaultPath        = "/signin"
	DefaultSignOutPath = "/signout"
	DefaultProductName = "Scopegate"
	DefaultCookieName  = "scopegate_session"
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
)

// Config configures a Handler. Zero values take the defaults.
type Config struct {
	// Path is where the sign-in page is served (GET) and its form posted
	// (POST). Default "/signin". Its stylesheet is served at Path +
	// "/style.css".
	Path string
	// SignOutPath is where the sign-out form is posted. Default "/signout".
	SignOutPath string
	// ProductName is the heading of the page and part of its title.
	// Default "Scopegate".
	ProductName string
	// TemplateFile, when set, is an html/template file that replaces the
	// built-in page. It is parsed once, by New. The data it is executed
	// with is Page.
	TemplateFile string
	// ReturnPaths are the paths a return_to may lead to after sign-in,
	// compared exactly (the query is kept), such as "/oauth2/authorize".
	// With none, a sign-in always ends on the signed-in page.
	ReturnPaths []string
	// CookieName is the session cookie's name; over TLS it is sent with
	// the "__Host-" prefix. Default "scopegate_session".
	CookieName string
	// TLSInFront marks every request as having come over TLS, for a
	// gateway behind a proxy that terminates TLS: cookies are then Secure
	// and "__Host-" prefixed. Without it a request is secure when it came
	// over TLS to this server.
	TLSInFront bool
	// SourceLimit is how many failed sign-ins a source may make in Window.
	// Default 30.
	SourceLimit int
	// PairLimit is how many failed sign-ins a source may make in Window
	// for one username. Default 5.
	PairLimit int
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
	for _, p := range []struct{ name, path string }{{"path", c.Path}, {"sign-out path", c.SignOutPath}} {
		if !isPlainPath(p.path) {
			return fmt.Errorf("the %s %q must be an absolute path of letters, digits and - . _ ~ / only", p.name, p.path)
		}
	}
	if c.Path == c.SignOutPath {
		return errors.New("the sign-in and sign-out paths must differ")
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
