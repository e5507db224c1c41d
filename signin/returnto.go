package signin

import (
	"net/url"
	"strings"

	"github.com/scopegate/scopegate/oauth"
)

// ReturnTo returns raw when it is a safe place to send a person after
// sign-in, and "" otherwise. This is the one rule for return_to. Safe means
// a relative reference that every browser resolves to this origin, at a path
// that is exactly one of allowed:
//
//   - at most MaxReturnToLen bytes of printable ASCII other than '\' and
//     '#' (oauth.IsURIText): no control characters, spaces or non-ASCII
//     that a browser might strip or reinterpret, and no backslash, which
//     browsers treat as '/';
//   - beginning with one '/' (never "//", a network-path reference to
//     another host), so no scheme, host or userinfo;
//   - a path, before any '?', equal byte for byte to an allowed path: no
//     percent-encoding in it at all, so "%2F", "%2e%2e" and the like never
//     reach a comparison;
//   - no fragment, and a query that parses as a form (it is kept as sent).
//
// Anything else is dropped rather than refused: the person simply lands on
// the signed-in page.
func ReturnTo(raw string, allowed []string) string {
	if raw == "" || len(raw) > MaxReturnToLen || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
		return ""
	}
	if !oauth.IsURIText(raw) {
		return ""
	}
	path, query, _ := strings.Cut(raw, "?")
	if !contains(allowed, path) {
		return ""
	}
	if _, err := url.ParseQuery(query); err != nil {
		return ""
	}
	return raw
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
