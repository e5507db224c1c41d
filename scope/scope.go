// Package scope parses OAuth 2.0 scope strings (RFC 6749 §3.3) and decides
// whether a set of granted scopes satisfies a route's required scopes under
// Scopegate's implication rules.
//
// Everything here is pure and safe for concurrent use. Errors never contain
// the input they reject, so they may be shown to a client as they are.
package scope

import (
	"errors"
	"fmt"
	"strings"
)

// MaxTokenLen is the longest scope token accepted, in bytes. RFC 6749 sets no
// limit; 128 is far above any real scope name and keeps a single token from
// dominating the 4 KiB a token request may spend on its scope parameter.
const MaxTokenLen = 128

// Sentinel errors, checked with errors.Is. Parse and ParseToken wrap them
// with the position that failed.
var (
	// ErrEmpty: a token is empty, which in a scope string means a leading,
	// trailing or doubled space.
	ErrEmpty = errors.New("empty scope token (leading, trailing or repeated space)")
	// ErrTooLong: a token is longer than MaxTokenLen bytes.
	ErrTooLong = errors.New("scope token longer than 128 bytes")
	// ErrInvalidChar: a byte outside %x21 / %x23-5B / %x5D-7E, such as a
	// tab, CR, LF, a double quote, a backslash or non-ASCII.
	ErrInvalidChar = errors.New("character not allowed in a scope token")
)

// tokenChar marks the bytes RFC 6749 §3.3 allows in a scope token:
// NQCHAR = %x21 / %x23-5B / %x5D-7E.
var tokenChar = func() (t [256]bool) {
	for c := 0x21; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// ParseToken reports whether tok is one valid scope token: 1 to MaxTokenLen
// bytes of %x21 / %x23-5B / %x5D-7E.
func ParseToken(tok string) error {
	if i, err := checkToken(tok); err != nil {
		if errors.Is(err, ErrInvalidChar) {
			return fmt.Errorf("byte %d: %w", i+1, err)
		}
		return err
	}
	return nil
}

// checkToken validates tok and, for ErrInvalidChar, returns the offending
// byte's offset. The length is checked first so a huge input is refused
// without being scanned.
func checkToken(tok string) (int, error) {
	switch {
	case tok == "":
		return 0, ErrEmpty
	case len(tok) > MaxTokenLen:
		return 0, ErrTooLong
	}
	for i := 0; i < len(tok); i++ {
		if !tokenChar[tok[i]] {
			return i, ErrInvalidChar
		}
	}
	return 0, nil
}

// dedupMapThreshold is the token count above which duplicates are found with
// a map instead of a quadratic scan; below it the scan is faster and does not
// allocate.
const dedupMapThreshold = 32

// Parse splits a scope string as sent in a token request into its tokens.
// Tokens are separated by single spaces (no leading, trailing or doubled
// space, no tab, CR or LF), each token must pass ParseToken, and duplicates
// are dropped keeping the first occurrence's order.
//
// An empty string yields no scopes and no error: RFC 6749 §3.2 treats an
// empty parameter as absent, and whether a scope must be requested is the
// caller's decision. The returned strings share memory with s.
//
// The error names the token (1-based) and the rule it broke, never its bytes.
func Parse(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	out := make([]string, 0, strings.Count(s, " ")+1)
	for n := 1; ; n++ {
		tok, rest, more := strings.Cut(s, " ")
		if i, err := checkToken(tok); err != nil {
			if errors.Is(err, ErrInvalidChar) {
				return nil, fmt.Errorf("scope token %d, byte %d: %w", n, i+1, err)
			}
			return nil, fmt.Errorf("scope token %d: %w", n, err)
		}
		out = append(out, tok)
		if !more {
			break
		}
		s = rest
	}
	return dedup(out), nil
}

// dedup removes repeated strings from list in place, keeping first order.
func dedup(list []string) []string {
	if len(list) < 2 {
		return list
	}
	out := list[:0]
	if len(list) <= dedupMapThreshold {
		for _, s := range list {
			if !contains(out, s) {
				out = append(out, s)
			}
		}
	} else {
		seen := make(map[string]struct{}, len(list))
		for _, s := range list {
			if _, ok := seen[s]; !ok {
				seen[s] = struct{}{}
				out = append(out, s)
			}
		}
	}
	clear(list[len(out):]) // let dropped substrings be collected
	return out[:len(out):len(out)]
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Join is the inverse of Parse: the scopes separated by single spaces.
func Join(scopes []string) string {
	return strings.Join(scopes, " ")
}

// Subset returns the requested scopes that are not in allowed, in request
// order, or nil when every requested scope is allowed. Membership is exact
// and case-sensitive.
//
// Implication rules deliberately play no part here: they say what a granted
// scope satisfies on a route, not what a client may be issued. A client
// allowed `full` that asks for `read:x` is refused; it should ask for `full`.
func Subset(requested, allowed []string) (notAllowed []string) {
	if len(allowed) > dedupMapThreshold && len(requested) > 1 {
		set := make(map[string]struct{}, len(allowed))
		for _, s := range allowed {
			set[s] = struct{}{}
		}
		for _, s := range requested {
			if _, ok := set[s]; !ok {
				notAllowed = append(notAllowed, s)
			}
		}
		return notAllowed
	}
	for _, s := range requested {
		if !contains(allowed, s) {
			notAllowed = append(notAllowed, s)
		}
	}
	return notAllowed
}
