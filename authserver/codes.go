package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// codeBytes is how many random bytes an authorization code carries: 256
// bits, so codes cannot be guessed within their 60-second life.
const codeBytes = 32

// NewCode returns a fresh authorization code: 32 bytes from crypto/rand,
// base64url without padding (43 characters). Only its CodeID is stored.
func NewCode() (string, error) {
	b := make([]byte, codeBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random code: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CodeID is the storage key of an authorization code: base64url (no
// padding) of its SHA-256, so a copy of the store cannot redeem codes.
func CodeID(code string) string {
	sum := sha256.Sum256([]byte(code))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
