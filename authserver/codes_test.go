package authserver

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

func TestNewCodeIs43RandomBase64URLChars(t *testing.T) {
	a, err := NewCode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewCode()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 43 {
		t.Fatalf("code length = %d, want 43", len(a))
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Fatalf("code %q is not 32 bytes of base64url: %v", a, err)
	}
	if a == b {
		t.Fatal("two codes are equal")
	}
}

func TestCodeIDIsBase64URLOfSHA256(t *testing.T) {
	// Known answer: SHA-256("abc") from FIPS 180-2.
	const want = "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
	if got := CodeID("abc"); got != want {
		t.Fatalf("CodeID(abc) = %q, want %q", got, want)
	}
	sum := sha256.Sum256([]byte("another"))
	if got, want := CodeID("another"), base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("CodeID = %q, want %q", got, want)
	}
	if CodeID("a") == CodeID("b") {
		t.Fatal("different codes share an ID")
	}
}
