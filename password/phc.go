package password

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// phcEncoding is the PHC string format's base64: standard alphabet, no
// padding, strict so that each hash has one spelling.
var phcEncoding = base64.RawStdEncoding.Strict()

// maxPHCLength bounds the text parseArgon2 reads: the longest string the
// bounds allow is well under it.
const maxPHCLength = 256

// randomBytes fills b from crypto/rand, which never fails (since Go 1.24 it
// crashes the program rather than return short or weak output).
func randomBytes(b []byte) {
	_, _ = rand.Read(b)
}

// String returns the PHC string:
// "$argon2id$v=19$m=<KiB>,t=<time>,p=<threads>$<salt>$<hash>".
func (a argon2Hash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		a.params.MemoryKiB, a.params.Time, a.params.Threads,
		phcEncoding.EncodeToString(a.salt), phcEncoding.EncodeToString(a.key))
}

// parseArgon2 reads an argon2id PHC string, refusing any other form, any
// parameter outside the bounds and any number with a sign or a leading
// zero.
func parseArgon2(s string) (Hash, error) {
	if len(s) > maxPHCLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHash, maxPHCLength)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, fmt.Errorf("%w: not an argon2id PHC string or a bcrypt hash", ErrMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, fmt.Errorf("%w: argon2 version must be %d", ErrMalformedHash, argon2.Version)
	}
	p, err := parseArgon2Params(parts[3])
	if err != nil {
		return nil, err
	}
	salt, ok := decodeBase64(parts[4])
	if !ok {
		return nil, fmt.Errorf("%w: salt is not unpadded base64", ErrMalformedHash)
	}
	key, ok := decodeBase64(parts[5])
	if !ok {
		return nil, fmt.Errorf("%w: hash is not unpadded base64", ErrMalformedHash)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	return argon2Hash{params: p, salt: salt, key: key}, nil
}

// decodeBase64 decodes s, accepting only its one canonical spelling: the
// decoder itself skips CR and LF, which would give a hash two spellings.
func decodeBase64(s string) ([]byte, bool) {
	b, err := phcEncoding.DecodeString(s)
	if err != nil || phcEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// parseArgon2Params reads "m=<KiB>,t=<time>,p=<threads>", in that order.
func parseArgon2Params(s string) (Params, error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return Params{}, fmt.Errorf("%w: parameters must be m=,t=,p=", ErrMalformedHash)
	}
	var values [3]uint32
	for i, name := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return Params{}, fmt.Errorf("%w: parameters must be m=,t=,p=", ErrMalformedHash)
		}
		v, ok := parseDecimal(digits)
		if !ok {
			return Params{}, fmt.Errorf("%w: parameter %s is not a decimal number without leading zeros", ErrMalformedHash, name)
		}
		values[i] = v
	}
	if values[2] > MaxThreads {
		return Params{}, fmt.Errorf("%w: %w: threads must be 1 to %d", ErrMalformedHash, ErrBadParams, MaxThreads)
	}
	return Params{MemoryKiB: values[0], Time: values[1], Threads: uint8(values[2])}, nil
}

// parseDecimal reads a canonical decimal number: digits only (ParseUint
// alone would take a sign or underscores), no leading zero, within uint32.
func parseDecimal(s string) (uint32, bool) {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return uint32(v), err == nil
}
