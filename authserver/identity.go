package authserver

import (
	"io"
	"net/http"
	"slices"
	"strings"
)

// Identity headers the upstream receives.
const (
	headerClientID = "X-Client-Id"
	headerScope    = "X-Scope"
	headerUserID   = "X-User-Id"
)

// SetIdentity removes identity headers the caller sent (in any case, with
// underscores or hyphens: some upstreams treat them alike) and sets the
// gateway's: X-Client-Id and X-Scope, and X-User-Id when the token is held
// for a person (userID is not empty; see UserID). The caller may not remove the gateway's
// headers either: identity names are dropped from Connection (a proxy drops
// the headers it names) and from request trailers (which arrive after the
// guard has run).
func SetIdentity(r *http.Request, clientID, userID, scopes string) {
	for name, values := range r.Header {
		switch {
		case isIdentityHeader(name):
			delete(r.Header, name)
		case name == "Connection" || name == "Trailer":
			dropIdentityTokens(r.Header, name, values)
		}
	}
	if r.Trailer != nil && r.Body != nil && r.Body != http.NoBody {
		deleteIdentityNames(r.Trailer)
		r.Body = &trailerGuard{ReadCloser: r.Body, trailer: r.Trailer}
	}
	// One array for all values; each slice's capacity is capped so that an
	// append to one (Header.Add) copies it rather than overwriting another.
	v := []string{clientID, scopes, userID}
	r.Header[headerClientID] = v[0:1:1]
	r.Header[headerScope] = v[1:2:2]
	if userID != "" {
		r.Header[headerUserID] = v[2:3:3]
	}
}

// trailerGuard removes identity names from the request's trailers when the
// body has been read to its end. Go's server merges the trailers it receives
// (declared or not) into the request's Trailer map only then, and
// reverse_proxy sends that same map to the upstream after the body. The map
// is non-nil only when the caller declared trailers, so only such requests
// are wrapped.
type trailerGuard struct {
	io.ReadCloser
	trailer http.Header
}

func (t *trailerGuard) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF {
		deleteIdentityNames(t.trailer)
	}
	return n, err
}

// deleteIdentityNames deletes every identity header from h.
func deleteIdentityNames(h http.Header) {
	for name := range h {
		if isIdentityHeader(name) {
			delete(h, name)
		}
	}
}

// dropIdentityTokens removes identity names from the comma-separated lists
// of the header name (Connection or Trailer), deleting the header when
// nothing else is left. Lists without an identity name are left alone and
// cost no allocation.
func dropIdentityTokens(h http.Header, name string, values []string) {
	if !slices.ContainsFunc(values, listsIdentityName) {
		return
	}
	var kept []string
	for _, v := range values {
		var rest []string
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.Trim(item, " \t"); item != "" && !isIdentityHeader(item) {
				rest = append(rest, item)
			}
		}
		if len(rest) > 0 {
			kept = append(kept, strings.Join(rest, ", "))
		}
	}
	if len(kept) == 0 {
		delete(h, name)
		return
	}
	h[name] = kept
}

// listsIdentityName reports whether a comma-separated header value names an
// identity header.
func listsIdentityName(v string) bool {
	for item := range strings.SplitSeq(v, ",") {
		if isIdentityHeader(strings.Trim(item, " \t")) {
			return true
		}
	}
	return false
}

// isIdentityHeader reports whether name is X-Client-Id, X-Scope or
// X-User-Id, ignoring case and treating '_' as '-'.
func isIdentityHeader(name string) bool {
	return headerNameEqual(name, headerClientID) || headerNameEqual(name, headerScope) || headerNameEqual(name, headerUserID)
}

func headerNameEqual(name, want string) bool {
	if len(name) != len(want) {
		return false
	}
	for i := 0; i < len(name); i++ {
		a, b := name[i], want[i]
		if a == '_' {
			a = '-'
		}
		if a|0x20 != b|0x20 {
			return false
		}
	}
	return true
}
