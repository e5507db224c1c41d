package authserver

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// A refresh token is "sgr_", its family's ID (16 bytes, see codeFamilyID), a dot and
// its secret (32 random bytes), both base64url without padding: 70
// characters. Only its CodeID (the SHA-256 of the whole token) is stored;
// the family ID names the record to read, so a refresh needs no index, and
// alone it refreshes nothing. The prefix lets secret scanners and people
// tell it from an access token or a client secret.
const (
	refreshPrefix      = "sgr_"
	familyIDBytes      = 16
	refreshSecretBytes = 32
)

var (
	familyIDLen      = base64.RawURLEncoding.EncodedLen(familyIDBytes)
	refreshSecretLen = base64.RawURLEncoding.EncodedLen(refreshSecretBytes)
	refreshTokenLen  = len(refreshPrefix) + familyIDLen + 1 + refreshSecretLen
)

// newRefreshToken returns a fresh refresh token of the family.
func newRefreshToken(familyID string) (string, error) {
	b := make([]byte, refreshSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random refresh token: %w", err)
	}
	return refreshPrefix + familyID + "." + base64.RawURLEncoding.EncodeToString(b), nil
}

// RefreshFamilyID returns the family ID a presented refresh token names,
// and whether it has a refresh token's shape at all: the prefix, the exact
// length, and base64url in both parts. What a client sends is untrusted;
// nothing that fails this reaches the store.
func RefreshFamilyID(token string) (string, bool) {
	if len(token) != refreshTokenLen || !strings.HasPrefix(token, refreshPrefix) {
		return "", false
	}
	rest := token[len(refreshPrefix):]
	familyID, secret := rest[:familyIDLen], rest[familyIDLen:]
	if secret[0] != '.' || !base64URL(familyID) || !base64URL(secret[1:]) {
		return "", false
	}
	return familyID, true
}

// base64URL reports whether s holds only the base64url alphabet.
func base64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
