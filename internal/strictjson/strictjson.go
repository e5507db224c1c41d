// Package strictjson is Scopegate's one strict JSON reader, shared by the
// token verifier (JWS headers and JWT claims, on the request path) and the
// registry (admin request bodies and stored claims).
//
// encoding/json is not strict enough for either: it matches object keys
// without regard to case, lets a repeated key overwrite an earlier one (an
// extra claim named "Client_ID" would then override client_id after the
// signature check, and two readers of a client's metadata could disagree on
// which "scope" wins) and turns lone UTF-16 surrogates into U+FFFD. This
// reader matches keys exactly, finds repeated keys, unescapes keys before
// matching them (so "\u0063rit" is crit), accepts only valid UTF-8 and
// complete surrogate pairs, follows the number grammar exactly and bounds
// nesting depth. Reading a document allocates nothing unless a key holds an
// escape.
package strictjson

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Rule describes what this reader accepts, for error messages that complete
// "must be valid JSON: ".
var Rule = "strings in UTF-8 without lone surrogates, numbers in JSON syntax, nested at most " +
	strconv.Itoa(MaxDepth) + " levels deep"

// MaxDepth bounds the nesting of arrays and objects, so that a hostile
// document cannot drive recursion deep.
const MaxDepth = 32

// ErrSyntax is every refusal of the scanning functions: callers map it to
// their own error, so it carries nothing from the input.
var ErrSyntax = errors.New("invalid JSON")

// SkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func SkipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// ScanString reads the JSON string that starts at b[i] (a quote). It returns
// the bounds of its raw content between the quotes, whether that content
// holds escapes, and the index after the closing quote.
func ScanString(b []byte, i int) (start, end int, escaped bool, next int, err error) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false, 0, ErrSyntax
	}
	i++
	start = i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return start, i, escaped, i + 1, nil
		case c == '\\':
			escaped = true
			n, err := scanEscape(b, i)
			if err != nil {
				return 0, 0, false, 0, err
			}
			i = n
		case c < 0x20:
			return 0, 0, false, 0, ErrSyntax
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, 0, false, 0, ErrSyntax
			}
			i += size
		}
	}
	return 0, 0, false, 0, ErrSyntax
}

// scanEscape checks the escape sequence at b[i] (a backslash) and returns the
// index after it. A \u escape of a UTF-16 surrogate must be a complete pair:
// lone surrogates have no UTF-8 encoding and are refused.
func scanEscape(b []byte, i int) (int, error) {
	if i+1 >= len(b) {
		return 0, ErrSyntax
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, nil
	case 'u':
		r, ok := hex4(b, i+2)
		if !ok {
			return 0, ErrSyntax
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return 0, ErrSyntax
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
				return 0, ErrSyntax
			}
			low, ok := hex4(b, i+8)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return 0, ErrSyntax
			}
			return i + 12, nil
		}
		return i + 6, nil
	}
	return 0, ErrSyntax
}

// hex4 reads four hexadecimal digits at b[i].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Unescape decodes the raw content of a JSON string that ScanString accepted.
func Unescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			if r >= 0xD800 && r <= 0xDBFF {
				low, _ := hex4(raw, i+8)
				r = 0x10000 + (r-0xD800)<<10 + (low - 0xDC00)
				i += 6
			}
			out = utf8.AppendRune(out, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			out = append(out, raw[i+1])
		}
		i += 2
	}
	return out
}

// ScanNumber reads the JSON number that starts at b[i] and returns the index
// after it. It follows the JSON grammar exactly: no leading '+', no leading
// zeros, digits on both sides of a '.', and no NaN or Infinity.
func ScanNumber(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return 0, ErrSyntax
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, ErrSyntax
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return 0, ErrSyntax
		}
		i = j
	}
	return i, nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// SkipValue checks the JSON value that starts at b[i], of any type, and
// returns the index after it. Arrays and objects may nest MaxDepth deep.
func SkipValue(b []byte, i int) (int, error) { return skipValue(b, i, 0) }

func skipValue(b []byte, i, depth int) (int, error) {
	var w walker
	return w.value(b, i, depth)
}

// skipScalar checks the string, number or literal that starts at b[i].
func skipScalar(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, ErrSyntax
	}
	switch c := b[i]; {
	case c == '"':
		_, _, _, next, err := ScanString(b, i)
		return next, err
	case c == '-' || (c >= '0' && c <= '9'):
		return ScanNumber(b, i)
	case c == 't':
		return SkipLiteral(b, i, "true")
	case c == 'f':
		return SkipLiteral(b, i, "false")
	case c == 'n':
		return SkipLiteral(b, i, "null")
	}
	return 0, ErrSyntax
}

// SkipLiteral checks that the literal lit (true, false or null) starts at
// b[i] and returns the index after it.
func SkipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, ErrSyntax
	}
	return i + len(lit), nil
}

// Object walks the members of one JSON object, one member at a time.
// After next reports a member, the caller reads its value starting at r.Pos and
// stores the index after the value back in r.Pos.
type Object struct {
	// Pos is the index in the document of the next byte to read.
	Pos   int
	b     []byte
	first bool
}

// OpenObject starts reading the object that must make up all of b (apart from
// surrounding whitespace).
func OpenObject(b []byte) (Object, error) {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return Object{}, ErrSyntax
	}
	return Object{b: b, Pos: i + 1, first: true}, nil
}

// Next advances to the next member. It returns done when the object has
// ended, and then also checks that nothing but whitespace follows it. key is
// the member's name, unescaped when needed (only then does it allocate), and
// keyStart is the index of the quote that opens the name.
func (r *Object) Next() (key []byte, keyStart int, done bool, err error) {
	i := SkipSpace(r.b, r.Pos)
	if i >= len(r.b) {
		return nil, 0, false, ErrSyntax
	}
	if r.b[i] == '}' {
		if SkipSpace(r.b, i+1) != len(r.b) {
			return nil, 0, false, ErrSyntax
		}
		return nil, 0, true, nil
	}
	if !r.first {
		if r.b[i] != ',' {
			return nil, 0, false, ErrSyntax
		}
		i = SkipSpace(r.b, i+1)
	}
	r.first = false
	start, end, escaped, next, err := ScanString(r.b, i)
	if err != nil {
		return nil, 0, false, err
	}
	key = r.b[start:end]
	if escaped {
		key = Unescape(key)
	}
	keyStart = i
	i = SkipSpace(r.b, next)
	if i >= len(r.b) || r.b[i] != ':' {
		return nil, 0, false, ErrSyntax
	}
	r.Pos = SkipSpace(r.b, i+1)
	return key, keyStart, false, nil
}

// StringValue reads a string value at r.Pos and returns its raw bounds and
// whether it must be unescaped.
func (r *Object) StringValue() (start, end int, escaped bool, err error) {
	start, end, escaped, next, err := ScanString(r.b, r.Pos)
	if err != nil {
		return 0, 0, false, err
	}
	r.Pos = next
	return start, end, escaped, nil
}

// Skip passes over a value of any type at r.Pos.
func (r *Object) Skip() error {
	next, err := skipValue(r.b, r.Pos, 0)
	if err != nil {
		return err
	}
	r.Pos = next
	return nil
}

// AppendString writes s as a JSON string. Quote, backslash and control
// characters are escaped, and so are U+2028 and U+2029 as encoding/json does.
// s must be valid UTF-8; callers check that first.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != '\u2028' && r != '\u2029' {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hex[r&0xF])
			i += size
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
