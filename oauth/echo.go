package oauth

// maxEchoLen bounds a value named in an error_description.
const maxEchoLen = 64

// Echoable reports whether s, a value the client sent, may be named in an
// error_description so that the client learns what did not match: it is
// short and made only of letters, digits and - . _ ~ : / * + @, so it can
// carry no markup, quote, escape or line break into a log viewer, a page or
// a header that shows it. Anything else is described, never repeated.
func Echoable(s string) bool {
	if s == "" || len(s) > maxEchoLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == ':', c == '/', c == '*', c == '+', c == '@':
		default:
			return false
		}
	}
	return true
}
