package etcd

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// SealKeySize is the size of a sealing key: AES-256.
const SealKeySize = 32

// Sealed values are, in order: sealVersion; the sealing key's 8-byte
// fingerprint (so that a value sealed under another key is told apart from
// one that was altered); a 12-byte random nonce; the AES-GCM ciphertext and
// tag. The additional data binds the value to its purpose and to the ID it
// was sealed for, so a sealed private key moved to another key ID fails to
// open.
const (
	sealVersion     = 1
	fingerprintSize = 8
)

// Errors of Sealer.Open, checked with errors.Is.
var (
	// ErrWrongSealKey: the value was sealed under another key.
	ErrWrongSealKey = errors.New("sealed under another sealing key")
	// ErrSealBroken: the value does not open under its key: it was altered,
	// or moved to another ID.
	ErrSealBroken = errors.New("sealed value fails its integrity check (altered, or moved to another key ID)")
)

// Sealer encrypts secrets before they are stored, with AES-256-GCM under an
// operator's key. It is safe for concurrent use.
type Sealer struct {
	aead        cipher.AEAD
	fingerprint [fingerprintSize]byte
}

// NewSealer returns a Sealer for a 32-byte key. The key is copied into the
// cipher; the caller may wipe its slice.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != SealKeySize {
		return nil, fmt.Errorf("etcd: sealing key has %d bytes, want %d (AES-256)", len(key), SealKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("etcd: sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("etcd: sealing key: %w", err)
	}
	s := &Sealer{aead: aead}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("scopegate sealing key fingerprint"))
	copy(s.fingerprint[:], mac.Sum(nil))
	return s, nil
}

// SealerFromFile reads a sealing key from a file: 32 raw bytes, or their
// hexadecimal (64 digits) or standard base64 text, surrounding white space
// ignored. Errors name the file, never its content.
func SealerFromFile(path string) (*Sealer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("etcd: read the sealing key file: %w", err)
	}
	key, err := parseSealKey(raw)
	if err != nil {
		return nil, fmt.Errorf("etcd: sealing key file %s: %w", path, err)
	}
	return NewSealer(key)
}

// SealerFromEnv reads a sealing key from an environment variable, as
// hexadecimal or base64 text (see SealerFromFile). Errors name the
// variable, never its value.
func SealerFromEnv(name string) (*Sealer, error) {
	value, ok := os.LookupEnv(name)
	if !ok || value == "" {
		return nil, fmt.Errorf("etcd: the sealing key variable %s is not set", name)
	}
	key, err := parseSealKey([]byte(value))
	if err != nil {
		return nil, fmt.Errorf("etcd: sealing key variable %s: %w", name, err)
	}
	return NewSealer(key)
}

// parseSealKey decodes a key's text. Its errors say what was wrong with
// the form, never what the text was.
func parseSealKey(raw []byte) ([]byte, error) {
	if len(raw) == SealKeySize {
		return raw, nil
	}
	text := bytes.TrimSpace(raw)
	if len(text) == 2*SealKeySize {
		if key, err := hex.DecodeString(string(text)); err == nil {
			return key, nil
		}
	}
	if key, err := base64.StdEncoding.DecodeString(string(text)); err == nil {
		if len(key) != SealKeySize {
			return nil, fmt.Errorf("base64 text decodes to %d bytes, want %d", len(key), SealKeySize)
		}
		return key, nil
	}
	return nil, fmt.Errorf("want %d raw bytes, %d hexadecimal digits or base64 of %d bytes; got %d bytes that are none of these",
		SealKeySize, 2*SealKeySize, SealKeySize, len(raw))
}

// additionalData binds a sealed value to what it is and whose it is.
func additionalData(purpose, id string) []byte {
	return []byte("scopegate/" + purpose + "\x00" + id)
}

// Seal encrypts plaintext for the given purpose and ID, with a fresh
// random nonce.
func (s *Sealer) Seal(purpose, id string, plaintext []byte) ([]byte, error) {
	nonceSize := s.aead.NonceSize()
	out := make([]byte, 1+fingerprintSize+nonceSize, 1+fingerprintSize+nonceSize+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:], s.fingerprint[:])
	nonce := out[1+fingerprintSize:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("etcd: seal: %w", err)
	}
	return s.aead.Seal(out, nonce, plaintext, additionalData(purpose, id)), nil
}

// Open decrypts what Seal returned for the same purpose and ID.
func (s *Sealer) Open(purpose, id string, sealed []byte) ([]byte, error) {
	nonceSize := s.aead.NonceSize()
	if len(sealed) < 1+fingerprintSize+nonceSize+s.aead.Overhead() {
		return nil, fmt.Errorf("sealed value of %d bytes is too short: %w", len(sealed), ErrSealBroken)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("sealed value has version %d, this build reads version %d", sealed[0], sealVersion)
	}
	if fp := sealed[1 : 1+fingerprintSize]; !hmac.Equal(fp, s.fingerprint[:]) {
		return nil, fmt.Errorf("%w (key fingerprint %x; this sealer's is %x): is the operator's sealing key the one the other gateways use?",
			ErrWrongSealKey, fp, s.fingerprint)
	}
	nonce := sealed[1+fingerprintSize : 1+fingerprintSize+nonceSize]
	plain, err := s.aead.Open(nil, nonce, sealed[1+fingerprintSize+nonceSize:], additionalData(purpose, id))
	if err != nil {
		return nil, ErrSealBroken
	}
	return plain, nil
}

// Fingerprint returns the key's fingerprint in hexadecimal: a name for the
// key that tells keys apart without revealing them.
func (s *Sealer) Fingerprint() string { return hex.EncodeToString(s.fingerprint[:]) }
