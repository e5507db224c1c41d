package oauth

import (
	"strings"
)

// BearerChallenge builds an RFC 6750 §3 WWW-Authenticate value:
//
//	Bearer realm="api", error="insufficient_scope", error_description="…", scope="a b", resource_metadata="https://…"
//
// Each attribute is present only when its value is: no realm attribute for
// an empty realm, no error or error_description when e is nil or has no
// code (ErrNoBearer), and resource_metadata (RFC 9728 §5.1) only when given.
// Values are quoted strings with `"` and `\` escaped; control characters,
// which a quoted string cannot hold, are dropped.
func BearerChallenge(realm string, e *Error, scope string, resourceMetadata string) string {
	// Attribute names, quotes and separators take under 80 bytes; escapes
	// are rare, so one allocation is the norm.
	size := 80 + len(realm) + len(scope) + len(resourceMetadata)
	if e != nil {
		size += len(e.Code) + len(e.Description)
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString("Bearer")
	n := 0
	if realm != "" {
		writeAttr(&b, &n, "realm", realm)
	}
	if e != nil && e.Code != "" {
		writeAttr(&b, &n, "error", e.Code)
		if e.Description != "" {
			writeAttr(&b, &n, "error_description", e.Description)
		}
	}
	if scope != "" {
		writeAttr(&b, &n, "scope", scope)
	}
	if resourceMetadata != "" {
		writeAttr(&b, &n, "resource_metadata", resourceMetadata)
	}
	return b.String()
}

// writeAttr writes one auth-param, preceded by a space for the first (n is
// 0) and by ", " after that.
func writeAttr(b *strings.Builder, n *int, name, value string) {
	if *n == 0 {
		b.WriteByte(' ')
	} else {
		b.WriteString(", ")
	}
	*n++
	b.WriteString(name)
	b.WriteString(`="`)
	writeQuoted(b, value)
	b.WriteByte('"')
}

// BasicChallenge builds the WWW-Authenticate value that answers a failed
// client_secret_basic login (RFC 6749 §5.2, RFC 7617): Basic realm="…".
// The realm is required by RFC 7617, so it is written even when empty.
func BasicChallenge(realm string) string {
	var b strings.Builder
	b.Grow(len(`Basic realm=""`) + len(realm))
	b.WriteString(`Basic realm="`)
	writeQuoted(&b, realm)
	b.WriteByte('"')
	return b.String()
}

// writeQuoted writes s as the inside of an RFC 9110 quoted-string.
func writeQuoted(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 && c != '\t', c == 0x7f:
			// Not allowed in a quoted-string, even escaped.
		default:
			b.WriteByte(c)
		}
	}
}
