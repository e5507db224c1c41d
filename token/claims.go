package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/scopegate/scopegate/scope"

	"github.com/scopegate/scopegate/internal/strictjson"
)

// Claims is the claims set of an access token (RFC 9068 §2.2): a fixed struct,
// so the hot path never decodes into a map. The JSON names are given with
// each field; MarshalJSON writes them and UnmarshalJSON reads them strictly.
//
// A Claims value returned by Verify or by VerifiedCache may be shared between
// goroutines: treat it, its Audience and its Extra as read-only.
type Claims struct {
	// Issuer is "iss": the issuer's identifier, compared exactly.
	Issuer string
	// Subject is "sub". For the client_credentials grant it equals ClientID;
	// in a token an app holds for a person it is the person's user ID.
	Subject string
	// Audience is "aud": the resources the token is meant for. One audience
	// is written as a JSON string, several as an array; both are read.
	Audience Audience
	// ExpiresAt is "exp", in seconds since the Unix epoch (NumericDate).
	ExpiresAt int64
	// IssuedAt is "iat", in seconds since the Unix epoch.
	IssuedAt int64
	// NotBefore is "nbf", in seconds since the Unix epoch; zero means absent.
	NotBefore int64
	// AuthTime is "auth_time" (OpenID Connect Core §2), in seconds since the
	// Unix epoch: when the person a token is held for signed in. Zero means
	// absent, as in a client's own token.
	AuthTime int64
	// JWTID is "jti": the token's unique identifier (see NewJTI).
	JWTID string
	// ClientID is "client_id": the OAuth client the token was issued to.
	ClientID string
	// Scope is "scope": space-separated scope tokens.
	Scope string
	// Actor is the client ID of the party acting for Subject, written as
	// "act": {"sub": Actor} (RFC 8693 §4.1) in a token issued by token
	// exchange; empty means absent. Verify does not read it back: "act"
	// stays in Extra, where HasActor finds it.
	Actor string
	// Scopes is Scope parsed with the RFC 6749 §3.3 grammar, set by Verify
	// (which refuses a token whose scope is not that syntax). It is not a
	// claim of its own and is never written into a payload.
	Scopes scope.Set
	// Extra holds admin-set claims as a JSON object; its members are written
	// after the registered claims when signing. Names for which
	// IsReservedClaim is true are refused (ErrReservedClaim), as is a name
	// repeated within Extra. When claims are read, members with names this
	// struct does not know are collected here verbatim.
	Extra json.RawMessage
	// KeyID is the kid of the key that signed the token, set by Verify. It
	// is not a claim and is never written into a payload.
	KeyID string
}

// Audience is the "aud" claim.
type Audience []string

// Contains reports whether aud is one of the audiences, compared exactly. An
// empty aud is never contained.
func (a Audience) Contains(aud string) bool {
	if aud == "" {
		return false
	}
	for _, v := range a {
		if v == aud {
			return true
		}
	}
	return false
}

// HasAudience reports whether the token names aud among its audiences,
// compared exactly: no prefix, case or trailing-slash tolerance.
func (c *Claims) HasAudience(aud string) bool { return c.Audience.Contains(aud) }

// reservedClaims are the names Extra may never set: the registered claims
// this package writes or checks, and those RFC 8693 gives security meaning
// (cnf binds a token to a key; act and may_act express delegation). This is
// the one list: the registry refuses admin-set claims through
// CheckExtraClaims, which reads it.
var reservedClaims = map[string]struct{}{
	"iss": {}, "sub": {}, "aud": {}, "exp": {}, "iat": {}, "nbf": {}, "jti": {}, "auth_time": {},
	"client_id": {}, "scope": {}, "cnf": {}, "act": {}, "may_act": {},
}

// IsReservedClaim reports whether name is a registered claim name that extra
// claims may not set. The comparison is exact, as JSON names are; this
// package's own reader also matches names exactly, so a differently cased
// name such as "SUB" is an ordinary extra claim and can never stand in for
// "sub".
func IsReservedClaim(name string) bool {
	_, ok := reservedClaims[name]
	return ok
}

// ReservedClaims returns the reserved claim names, sorted, for documentation
// and messages.
func ReservedClaims() []string {
	names := make([]string, 0, len(reservedClaims))
	for name := range reservedClaims {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ClaimsError is extra claims that cannot be put into a token. Reason
// completes the phrase "extra claims …" and never quotes the input, except a
// reserved name, which is one of ours. It matches ErrInvalidExtraClaims, or
// ErrReservedClaim for a registered name, with errors.Is.
type ClaimsError struct {
	// Reason says what is wrong, e.g. "must be a JSON object".
	Reason string
	kind   error
}

// Error returns "extra claims " followed by the reason.
func (e *ClaimsError) Error() string { return "extra claims " + e.Reason }

// Unwrap returns the sentinel the error matches.
func (e *ClaimsError) Unwrap() error { return e.kind }

var (
	errExtraNotObject = &ClaimsError{kind: ErrInvalidExtraClaims, Reason: "must be a JSON object"}
	errExtraInvalid   = &ClaimsError{kind: ErrInvalidExtraClaims, Reason: "must be valid JSON: " + strictjson.Rule}
	errExtraEmptyName = &ClaimsError{kind: ErrInvalidExtraClaims, Reason: "must not hold an empty claim name"}
	errExtraRepeated  = &ClaimsError{kind: ErrInvalidExtraClaims, Reason: "must not repeat a claim name"}
)

// CheckExtraClaims reports whether extra can be a token's extra claims (see
// Claims.Extra): null or empty, or one JSON object whose member names are
// distinct, non-empty and not reserved, and whose values this package's
// strict reader accepts. It is the one rule for admin-set claims: the
// registry calls it before storing them and Sign applies it while writing
// them, so whatever the admin API accepts signs, and whatever is signed
// Verify reads back. Errors are *ClaimsError.
func CheckExtraClaims(extra json.RawMessage) error {
	return walkExtraClaims(extra, func(string, []byte) {})
}

// walkExtraClaims checks extra as CheckExtraClaims does and calls member
// with each name (unescaped) and raw value, in order.
func walkExtraClaims(extra []byte, member func(name string, value []byte)) error {
	if i := strictjson.SkipSpace(extra, 0); i == len(extra) {
		return nil
	} else if extra[i] == 'n' {
		if _, err := strictjson.SkipLiteral(extra, i, "null"); err == nil && strictjson.SkipSpace(extra, i+4) == len(extra) {
			return nil
		}
	}
	r, err := strictjson.OpenObject(extra)
	if err != nil {
		return errExtraNotObject
	}
	var names []string
	for {
		key, _, done, err := r.Next()
		if err != nil {
			return errExtraInvalid
		}
		if done {
			return nil
		}
		name := string(key)
		switch {
		case name == "":
			return errExtraEmptyName
		case IsReservedClaim(name):
			// The name is one of ours, so it is safe to repeat.
			return &ClaimsError{kind: ErrReservedClaim, Reason: "must not set the registered claim " + strconv.Quote(name)}
		case slices.Contains(names, name):
			return errExtraRepeated
		}
		names = append(names, name)
		valueStart := r.Pos
		if err := r.Skip(); err != nil {
			return errExtraInvalid
		}
		member(name, extra[valueStart:r.Pos])
	}
}

// Bits recording which known claims have been read, to refuse repeats.
const (
	seenIss = 1 << iota
	seenSub
	seenAud
	seenExp
	seenIat
	seenNbf
	seenAuthTime
	seenJTI
	seenClientID
	seenScope
)

// parseClaims decodes a claims set strictly: a single JSON object; known
// claims exactly named, of the right JSON type and not repeated; times as
// JSON numbers only. src must hold the same bytes as b: string values without
// escapes are cut from it, so they share one allocation. Unknown members are
// kept verbatim in Extra.
func parseClaims(b []byte, src string) (*Claims, error) {
	r, err := strictjson.OpenObject(b)
	if err != nil {
		return nil, errClaimsJSON
	}
	c := new(Claims)
	var seen int
	var extra []byte
	for {
		key, keyStart, done, err := r.Next()
		if err != nil {
			return nil, errClaimsJSON
		}
		if done {
			break
		}
		var bit int
		var dst *string
		switch string(key) {
		case "iss":
			bit, dst = seenIss, &c.Issuer
		case "sub":
			bit, dst = seenSub, &c.Subject
		case "jti":
			bit, dst = seenJTI, &c.JWTID
		case "client_id":
			bit, dst = seenClientID, &c.ClientID
		case "scope":
			bit, dst = seenScope, &c.Scope
		case "aud":
			bit = seenAud
		case "exp":
			bit = seenExp
		case "iat":
			bit = seenIat
		case "nbf":
			bit = seenNbf
		case "auth_time":
			bit = seenAuthTime
		}
		if bit == 0 {
			valueStart := r.Pos
			if err := r.Skip(); err != nil {
				return nil, errClaimsJSON
			}
			if extra == nil {
				extra = append(make([]byte, 0, 2+r.Pos-keyStart), '{')
			} else {
				extra = append(extra, ',')
			}
			extra = append(extra, b[keyStart:valueStart]...)
			extra = append(extra, b[valueStart:r.Pos]...)
			continue
		}
		if seen&bit != 0 {
			return nil, errClaimType
		}
		seen |= bit
		switch {
		case dst != nil:
			if *dst, err = readString(&r, b, src); err != nil {
				return nil, errClaimType
			}
		case bit == seenAud:
			if c.Audience, err = readAudience(&r, b, src); err != nil {
				return nil, errClaimType
			}
		default:
			if r.Pos >= len(b) || (b[r.Pos] != '-' && (b[r.Pos] < '0' || b[r.Pos] > '9')) {
				return nil, errClaimType
			}
			v, next, err := parseNumericDate(b, r.Pos)
			if err != nil {
				return nil, errNumericDate
			}
			r.Pos = next
			switch bit {
			case seenExp:
				c.ExpiresAt = v
			case seenIat:
				c.IssuedAt = v
			case seenNbf:
				c.NotBefore = v
			case seenAuthTime:
				c.AuthTime = v
			}
		}
	}
	if extra != nil {
		c.Extra = append(extra, '}')
	}
	return c, nil
}

// readString reads the string value at r.Pos in b and returns it, cut from src when it holds
// no escapes.
func readString(r *strictjson.Object, b []byte, src string) (string, error) {
	start, end, escaped, err := r.StringValue()
	if err != nil {
		return "", err
	}
	if escaped {
		return string(strictjson.Unescape(b[start:end])), nil
	}
	return src[start:end], nil
}

// readAudience reads "aud" at r.Pos in b: a string, or an array of
// strings.
func readAudience(r *strictjson.Object, b []byte, src string) (Audience, error) {
	if r.Pos < len(b) && b[r.Pos] == '"' {
		s, err := readString(r, b, src)
		if err != nil {
			return nil, err
		}
		return Audience{s}, nil
	}
	if r.Pos >= len(b) || b[r.Pos] != '[' {
		return nil, strictjson.ErrSyntax
	}
	var aud Audience
	r.Pos = strictjson.SkipSpace(b, r.Pos+1)
	if r.Pos < len(b) && b[r.Pos] == ']' {
		r.Pos++
		return Audience{}, nil
	}
	for {
		s, err := readString(r, b, src)
		if err != nil {
			return nil, err
		}
		aud = append(aud, s)
		r.Pos = strictjson.SkipSpace(b, r.Pos)
		if r.Pos >= len(b) {
			return nil, strictjson.ErrSyntax
		}
		switch b[r.Pos] {
		case ',':
			r.Pos = strictjson.SkipSpace(b, r.Pos+1)
		case ']':
			r.Pos++
			return aud, nil
		default:
			return nil, strictjson.ErrSyntax
		}
	}
}

// UnmarshalJSON reads a claims set with the same strict rules as Verify.
func (c *Claims) UnmarshalJSON(data []byte) error {
	parsed, err := parseClaims(data, string(data))
	if err != nil {
		return err
	}
	*c = *parsed
	return nil
}

// MarshalJSON writes the claims set as it would be signed: registered claims
// first (empty ones omitted), then the members of Extra. Its value receiver
// makes a Claims value marshal the same way as a pointer to one.
func (c Claims) MarshalJSON() ([]byte, error) {
	return appendClaims(make([]byte, 0, 256), &c)
}

// objectWriter places the commas between the members of a JSON object and
// keeps the first error, which stops further writes. The buffer is passed in
// and returned rather than kept in the writer: a buffer stored through a
// pointer would escape to the heap, and Sign keeps its own on the stack.
type objectWriter struct {
	members int
	err     error
}

// name starts a member whose name needs no escaping.
func (w *objectWriter) name(buf []byte, name string) []byte {
	if w.members > 0 {
		buf = append(buf, ',')
	}
	w.members++
	buf = append(buf, '"')
	buf = append(buf, name...)
	return append(buf, '"', ':')
}

// text writes a string member unless value is empty.
func (w *objectWriter) text(buf []byte, name, value string) []byte {
	if value == "" || w.err != nil {
		return buf
	}
	if !utf8.ValidString(value) {
		w.err = fmt.Errorf("claim %s is not valid UTF-8", name)
		return buf
	}
	buf = w.name(buf, name)
	return strictjson.AppendString(buf, value)
}

// numericDate writes a NumericDate member unless value is zero.
func (w *objectWriter) numericDate(buf []byte, name string, value int64) []byte {
	if value == 0 || w.err != nil {
		return buf
	}
	if value < 0 || value > maxNumericDate {
		w.err = fmt.Errorf("claim %s is out of range", name)
		return buf
	}
	buf = w.name(buf, name)
	return strconv.AppendInt(buf, value, 10)
}

// actor writes "act" as an object naming the actor as its "sub" (RFC 8693
// §4.1), unless actor is empty.
func (w *objectWriter) actor(buf []byte, actor string) []byte {
	if actor == "" || w.err != nil {
		return buf
	}
	if !utf8.ValidString(actor) {
		w.err = errors.New("claim act is not valid UTF-8")
		return buf
	}
	buf = w.name(buf, "act")
	buf = append(buf, `{"sub":`...)
	buf = strictjson.AppendString(buf, actor)
	return append(buf, '}')
}

// HasActor reports whether a verified token carries "act" (RFC 8693
// §4.1): it was issued by a token exchange to a party acting for its
// subject. Verify keeps "act" among the Extra members.
func (c *Claims) HasActor() bool {
	if len(c.Extra) == 0 {
		return false
	}
	r, err := strictjson.OpenObject(c.Extra)
	if err != nil {
		return false
	}
	for {
		key, _, done, err := r.Next()
		if err != nil || done {
			return false
		}
		if string(key) == "act" {
			return true
		}
		if r.Skip() != nil {
			return false
		}
	}
}

// audience writes "aud" whenever it has entries, even a single "", so that
// reading the payload back gives the same claims.
func (w *objectWriter) audience(buf []byte, aud Audience) []byte {
	if len(aud) == 0 || w.err != nil {
		return buf
	}
	for _, a := range aud {
		if !utf8.ValidString(a) {
			w.err = errors.New("claim aud is not valid UTF-8")
			return buf
		}
	}
	buf = w.name(buf, "aud")
	if len(aud) == 1 {
		return strictjson.AppendString(buf, aud[0])
	}
	buf = append(buf, '[')
	for i, a := range aud {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strictjson.AppendString(buf, a)
	}
	return append(buf, ']')
}

// appendClaims writes the claims as a JSON object without reflection. Empty
// strings, zero times and an empty Audience are omitted.
func appendClaims(dst []byte, c *Claims) ([]byte, error) {
	var w objectWriter
	buf := append(dst, '{')
	buf = w.text(buf, "iss", c.Issuer)
	buf = w.text(buf, "sub", c.Subject)
	buf = w.audience(buf, c.Audience)
	buf = w.numericDate(buf, "exp", c.ExpiresAt)
	buf = w.numericDate(buf, "iat", c.IssuedAt)
	buf = w.numericDate(buf, "nbf", c.NotBefore)
	buf = w.numericDate(buf, "auth_time", c.AuthTime)
	buf = w.text(buf, "jti", c.JWTID)
	buf = w.text(buf, "client_id", c.ClientID)
	buf = w.text(buf, "scope", c.Scope)
	buf = w.actor(buf, c.Actor)
	if w.err != nil {
		return nil, w.err
	}
	if len(c.Extra) > 0 {
		// appendExtra's callback holds its buffer, which moves that buffer
		// to the heap: give it its own rather than dst.
		extra, err := appendExtra(nil, c.Extra, w.members > 0)
		if err != nil {
			return nil, err
		}
		buf = append(buf, extra...)
	}
	return append(buf, '}'), nil
}

// appendExtra writes the members of the JSON object extra, checked by
// walkExtraClaims. Each name is unescaped and then written again with
// appendString, so a name holding a quote or a backslash stays one member
// and cannot close its own string and inject another (GHSA-4cf7-xm37-g63h in
// jwx v2). Values are copied as they are. A JSON null counts as no extra
// claims.
func appendExtra(dst, extra []byte, comma bool) ([]byte, error) {
	err := walkExtraClaims(extra, func(name string, value []byte) {
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = strictjson.AppendString(dst, name)
		dst = append(dst, ':')
		dst = append(dst, value...)
	})
	if err != nil {
		return nil, err
	}
	return dst, nil
}
