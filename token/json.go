package token

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// This file holds a small strict JSON reader for the flat objects of a JWS
// header and a JWT claims set, and the string writer used to build payloads.
//
// encoding/json is not used on the verify path because it matches object keys
// without regard to case and lets a repeated key overwrite an earlier one: an
// extra claim named "Client_ID" would then override client_id after the
// signature check. This reader matches keys exactly, refuses repeated known
// keys, unescapes keys before matching them (so "\u0063rit" is crit), accepts
// only valid UTF-8 and well-formed numbers, and bounds nesting depth.

// maxJSONDepth bounds the nesting of values skipped inside an object, so that
// a hostile document cannot drive recursion deep.
const maxJSONDepth = 32

var errJSON = errors.New("invalid JSON")

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
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

// scanString reads the JSON string that starts at b[i] (a quote). It returns
// the bounds of its raw content between the quotes, whether that content
// holds escapes, and the index after the closing quote.
func scanString(b []byte, i int) (start, end int, escaped bool, next int, err error) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false, 0, errJSON
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
			return 0, 0, false, 0, errJSON
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, 0, false, 0, errJSON
			}
			i += size
		}
	}
	return 0, 0, false, 0, errJSON
}

// scanEscape checks the escape sequence at b[i] (a backslash) and returns the
// index after it. A \u escape of a UTF-16 surrogate must be a complete pair:
// lone surrogates have no UTF-8 encoding and are refused.
func scanEscape(b []byte, i int) (int, error) {
	if i+1 >= len(b) {
		return 0, errJSON
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, nil
	case 'u':
		r, ok := hex4(b, i+2)
		if !ok {
			return 0, errJSON
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return 0, errJSON
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
				return 0, errJSON
			}
			low, ok := hex4(b, i+8)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return 0, errJSON
			}
			return i + 12, nil
		}
		return i + 6, nil
	}
	return 0, errJSON
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

// unescape decodes the raw content of a JSON string that scanString accepted.
func unescape(raw []byte) []byte {
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

// scanNumber reads the JSON number that starts at b[i] and returns the index
// after it. It follows the JSON grammar exactly: no leading '+', no leading
// zeros, digits on both sides of a '.', and no NaN or Infinity.
func scanNumber(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return 0, errJSON
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, errJSON
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
			return 0, errJSON
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

// skipValue checks the JSON value that starts at b[i] and returns the index
// after it.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errJSON
	}
	switch c := b[i]; {
	case c == '"':
		_, _, _, next, err := scanString(b, i)
		return next, err
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '{':
		if depth >= maxJSONDepth {
			return 0, errJSON
		}
		return skipObject(b, i, depth+1)
	case c == '[':
		if depth >= maxJSONDepth {
			return 0, errJSON
		}
		return skipArray(b, i, depth+1)
	}
	return 0, errJSON
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errJSON
	}
	return i + len(lit), nil
}

func skipObject(b []byte, i, depth int) (int, error) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		_, _, _, next, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return 0, errJSON
		}
		if i, err = skipValue(b, skipSpace(b, i+1), depth); err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errJSON
		}
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, errJSON
		}
	}
}

// objectReader walks the members of one JSON object, one member at a time.
// After next reports a member, the caller reads its value starting at r.i and
// stores the index after the value back in r.i.
type objectReader struct {
	b     []byte
	i     int
	first bool
}

// openObject starts reading the object that must make up all of b (apart from
// surrounding whitespace).
func openObject(b []byte) (objectReader, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return objectReader{}, errJSON
	}
	return objectReader{b: b, i: i + 1, first: true}, nil
}

// next advances to the next member. It returns done when the object has
// ended, and then also checks that nothing but whitespace follows it. key is
// the member's name, unescaped when needed (only then does it allocate), and
// keyStart is the index of the quote that opens the name.
func (r *objectReader) next() (key []byte, keyStart int, done bool, err error) {
	i := skipSpace(r.b, r.i)
	if i >= len(r.b) {
		return nil, 0, false, errJSON
	}
	if r.b[i] == '}' {
		if skipSpace(r.b, i+1) != len(r.b) {
			return nil, 0, false, errJSON
		}
		return nil, 0, true, nil
	}
	if !r.first {
		if r.b[i] != ',' {
			return nil, 0, false, errJSON
		}
		i = skipSpace(r.b, i+1)
	}
	r.first = false
	start, end, escaped, next, err := scanString(r.b, i)
	if err != nil {
		return nil, 0, false, err
	}
	key = r.b[start:end]
	if escaped {
		key = unescape(key)
	}
	keyStart = i
	i = skipSpace(r.b, next)
	if i >= len(r.b) || r.b[i] != ':' {
		return nil, 0, false, errJSON
	}
	r.i = skipSpace(r.b, i+1)
	return key, keyStart, false, nil
}

// stringValue reads a string value at r.i and returns its raw bounds and
// whether it must be unescaped.
func (r *objectReader) stringValue() (start, end int, escaped bool, err error) {
	start, end, escaped, next, err := scanString(r.b, r.i)
	if err != nil {
		return 0, 0, false, err
	}
	r.i = next
	return start, end, escaped, nil
}

// skip passes over a value of any type at r.i.
func (r *objectReader) skip() error {
	next, err := skipValue(r.b, r.i, 0)
	if err != nil {
		return err
	}
	r.i = next
	return nil
}

// maxNumericDate is 9999-12-31T23:59:59Z. A later time is no real token's and
// would overflow time arithmetic.
const maxNumericDate = 253402300799

// parseNumericDate reads a NumericDate (RFC 7519 §2): a JSON number of
// seconds since the epoch, never a string. Fractions are truncated. Negative
// values and values past maxNumericDate are refused.
func parseNumericDate(b []byte, i int) (value int64, next int, err error) {
	next, err = scanNumber(b, i)
	if err != nil {
		return 0, 0, err
	}
	num := b[i:next]
	if len(num) <= 12 && num[0] != '-' && allDigits(num) {
		for _, c := range num {
			value = value*10 + int64(c-'0')
		}
	} else {
		f, err := strconv.ParseFloat(string(num), 64)
		if err != nil || f < 0 || f > maxNumericDate {
			return 0, 0, errJSON
		}
		value = int64(f)
	}
	if value > maxNumericDate {
		return 0, 0, errJSON
	}
	return value, next, nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// appendString writes s as a JSON string. Quote, backslash and control
// characters are escaped, and so are U+2028 and U+2029 as encoding/json does.
// s must be valid UTF-8; callers check that first.
func appendString(dst []byte, s string) []byte {
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
