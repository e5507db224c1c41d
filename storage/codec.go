package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Stored client records. Every backend keeps a client as the bytes
// MarshalClient returns, under a key holding its ID, so that a store of
// 100,000 clients stays small on disk and in memory (bbolt maps its file).
//
// A record's first byte says its form:
//
//   - '{': the JSON encoding of Client that schema version 1 wrote. It is
//     still read; it is never written, and a client is rewritten in the
//     binary form by its next update.
//   - recordBinary: the binary form below. The ID is not in it: it is the
//     record's key.
//
// The binary form is, after its tag, in this order: the name; the secrets
// (a count, then for each its ID, hash, creation and expiry times); the
// grant types, scopes, audience and redirect URIs (each a count and its
// strings); the IP allowlist (a count and each prefix in netip's binary
// form); the features; one flags byte; the access token lifetime; the claims
// and metadata JSON; the creation, update and revoke-all times. Counts and
// lengths are unsigned varints, the lifetime a signed varint; a time is
// timeZero; or timeUTC and its Unix seconds (signed varint) and nanoseconds
// (unsigned varint); or timeOther and time.Time's own binary form behind its
// length; or timeSame, for the same time as the record's previous non-zero
// one (a new client's creation, update and secret times are one moment).
// Nothing may follow the last field. A change of layout takes a new
// tag, so that a record says how to read it.
//
// A new yes/no field takes a flag bit instead, chosen so that its zero is
// the old behaviour (PKCEOptional rather than RequirePKCE): a record
// written before the bit existed reads as it always did, and a record that
// uses none of the new bits is the same bytes older builds write and read.
// An older build refuses a record with a bit it does not know, so it never
// serves a client whose rules it cannot follow.
//
// A new field of another kind is an extension. A record with any sets
// flagExtensions and ends, after the last time, with their count and then
// each as a tag byte and its value, in the order of their tags, each
// written only when its field is not zero. A record without extensions is
// the same bytes older builds write; an older build refuses one with any
// (the flag), and this one a tag it does not know; the count makes a
// record cut short an error.
const (
	// extRefreshTokenTTL: RefreshTokenTTL as a signed varint.
	extRefreshTokenTTL = 0x01
	// extPostLogoutRedirectURIs: PostLogoutRedirectURIs, a count and its
	// strings.
	extPostLogoutRedirectURIs = 0x02
	// extIDTokenSignedResponseAlg: IDTokenSignedResponseAlg, a string.
	extIDTokenSignedResponseAlg = 0x03
)
const (
	recordJSON   = '{'
	recordBinary = 0x01
)

// Flag bits of the binary form.
const (
	flagRequireScopeRequest = 1 << iota
	flagDisabled
	// flagAuthNone and flagAuthPost hold TokenEndpointAuthMethod; neither
	// is the default, client_secret_basic. Both at once is refused.
	flagAuthNone
	flagAuthPost
	flagSkipConsent
	flagPKCEOptional
	flagRegistered
	// flagExtensions: extensions follow the last time (see extRefreshTokenTTL).
	flagExtensions

	knownFlags = flagRequireScopeRequest | flagDisabled | flagAuthNone | flagAuthPost | flagSkipConsent | flagPKCEOptional | flagRegistered |
		flagExtensions
)

// authMethodFlags returns the flag bits of a token endpoint authentication
// method.
func authMethodFlags(method string) (byte, error) {
	switch method {
	case "", AuthMethodSecretBasic:
		return 0, nil
	case AuthMethodSecretPost:
		return flagAuthPost, nil
	case AuthMethodNone:
		return flagAuthNone, nil
	}
	return 0, errors.New("token endpoint auth method: not one the record can hold")
}

// authMethodOf is authMethodFlags reversed; "" is the default.
func authMethodOf(flags byte) (string, error) {
	switch flags & (flagAuthNone | flagAuthPost) {
	case 0:
		return "", nil
	case flagAuthPost:
		return AuthMethodSecretPost, nil
	case flagAuthNone:
		return AuthMethodNone, nil
	}
	return "", errors.New("two token endpoint auth methods")
}

// Time tags of the binary form.
const (
	timeZero  = 0
	timeUTC   = 1
	timeOther = 2
	timeSame  = 3
)

// MarshalClient returns the stored form of c, without its ID (the key it is
// stored under). Claims and Metadata are checked to be valid JSON and kept
// in compact form, as the JSON encoding always kept them.
func MarshalClient(c Client) ([]byte, error) {
	claims, err := compactJSON(c.Claims)
	if err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	metadata, err := compactJSON(c.Metadata)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	b := make([]byte, 0, 128+len(c.Name)+len(claims)+len(metadata))
	var last time.Time // the previous non-zero time written
	b = append(b, recordBinary)
	b = appendString(b, c.Name)
	b = binary.AppendUvarint(b, uint64(len(c.Secrets)))
	for _, s := range c.Secrets {
		b = appendString(b, s.ID)
		b = appendBytes(b, s.Hash)
		if b, err = appendTime(b, s.CreatedAt, &last); err != nil {
			return nil, err
		}
		if b, err = appendTime(b, s.ExpiresAt, &last); err != nil {
			return nil, err
		}
	}
	for _, list := range [...][]string{c.GrantTypes, c.Scopes, c.Audience, c.RedirectURIs} {
		b = appendStrings(b, list)
	}
	b = binary.AppendUvarint(b, uint64(len(c.IPAllowlist)))
	for _, p := range c.IPAllowlist {
		raw, err := p.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("ip allowlist: %w", err)
		}
		b = appendBytes(b, raw)
	}
	b = appendStrings(b, c.Features)
	flags, err := authMethodFlags(c.TokenEndpointAuthMethod)
	if err != nil {
		return nil, err
	}
	if c.SkipConsent {
		flags |= flagSkipConsent
	}
	if c.PKCEOptional {
		flags |= flagPKCEOptional
	}
	if c.Registered {
		flags |= flagRegistered
	}
	if c.RequireScopeRequest {
		flags |= flagRequireScopeRequest
	}
	if c.Disabled {
		flags |= flagDisabled
	}
	extensions := clientExtensions(c)
	if extensions > 0 {
		flags |= flagExtensions
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, int64(c.AccessTokenTTL))
	b = appendBytes(b, claims)
	b = appendBytes(b, metadata)
	for _, t := range [...]time.Time{c.CreatedAt, c.UpdatedAt, c.TokensRevokedAt} {
		if b, err = appendTime(b, t, &last); err != nil {
			return nil, err
		}
	}
	if extensions > 0 {
		b = binary.AppendUvarint(b, uint64(extensions))
	}
	if c.RefreshTokenTTL != 0 {
		b = append(b, extRefreshTokenTTL)
		b = binary.AppendVarint(b, int64(c.RefreshTokenTTL))
	}
	if len(c.PostLogoutRedirectURIs) > 0 {
		b = append(b, extPostLogoutRedirectURIs)
		b = appendStrings(b, c.PostLogoutRedirectURIs)
	}
	if c.IDTokenSignedResponseAlg != "" {
		b = append(b, extIDTokenSignedResponseAlg)
		b = appendString(b, c.IDTokenSignedResponseAlg)
	}
	return b, nil
}

// clientExtensions counts the extensions c's record has: its fields of
// extension tags that are set.
func clientExtensions(c Client) int {
	n := 0
	if c.RefreshTokenTTL != 0 {
		n++
	}
	if len(c.PostLogoutRedirectURIs) > 0 {
		n++
	}
	if c.IDTokenSignedResponseAlg != "" {
		n++
	}
	return n
}

// UnmarshalClient decodes a stored client record, in either form, kept under
// the key id. It copies what it keeps: data may be reused once it returns.
// The strings of a binary record share one allocation.
func UnmarshalClient(id string, data []byte) (Client, error) {
	if len(data) == 0 {
		return Client{}, errors.New("decode stored record: empty record")
	}
	switch data[0] {
	case recordJSON:
		var c Client
		if err := json.Unmarshal(data, &c); err != nil {
			return Client{}, fmt.Errorf("decode stored record: %w", err)
		}
		return c, nil
	case recordBinary:
		c, err := decodeBinary(id, data)
		if err != nil {
			return Client{}, fmt.Errorf("decode stored record: %w", err)
		}
		return c, nil
	default:
		return Client{}, fmt.Errorf("decode stored record: unknown record form 0x%02x", data[0])
	}
}

// storedName returns the name in a stored client record without decoding
// the rest, for index upkeep, and for a JSON record the ID it holds ("" for
// a binary one, whose ID is its key).
func storedName(data []byte) (name, id string, err error) {
	if len(data) > 0 && data[0] == recordBinary {
		r := reader{data: data[1:]}
		return string(r.bytes()), "", r.err
	}
	var head struct {
		ID   string `json:"client_id"`
		Name string `json:"client_name"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", "", fmt.Errorf("decode stored record: %w", err)
	}
	return head.Name, head.ID, nil
}

// compactJSON checks raw and returns it compacted into a new slice; nil when
// raw is empty. It is the one form a stored document takes, written and read:
// json.Compact keeps every byte of a string as it is (json.Marshal would
// escape "&" as "\u0026"), so encoding a decoded record gives it back.
func compactJSON(raw []byte) (json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var b bytes.Buffer
	b.Grow(len(raw))
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = appendString(b, s)
	}
	return b
}

// appendTime appends t without its monotonic reading, and remembers it in
// last. A time in UTC, the common case, takes about ten bytes, and one byte
// when it repeats last; another offset keeps its zone as time.Time's binary
// form does.
func appendTime(b []byte, t time.Time, last *time.Time) ([]byte, error) {
	if t.IsZero() {
		return append(b, timeZero), nil
	}
	if t.Equal(*last) && t.Location() == last.Location() {
		return append(b, timeSame), nil
	}
	*last = t
	switch {
	case t.Location() == time.UTC:
		b = append(b, timeUTC)
		b = binary.AppendVarint(b, t.Unix())
		return binary.AppendUvarint(b, uint64(t.Nanosecond())), nil
	default:
		raw, err := t.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode time: %w", err)
		}
		return appendBytes(append(b, timeOther), raw), nil
	}
}

// decodeBinary decodes the binary form. Its strings are cut from one string
// that holds the whole record, so a decoded client costs few allocations;
// byte slices, which callers may change, are copied apart.
func decodeBinary(id string, data []byte) (Client, error) {
	var all strings.Builder
	all.Grow(len(data))
	all.Write(data)
	r := reader{data: data, text: all.String()}
	r.off = 1 // the tag
	c := Client{ID: id, Name: r.string()}
	if n := r.count(); n > 0 {
		c.Secrets = make([]Secret, n)
		for i := range c.Secrets {
			s := &c.Secrets[i]
			s.ID = r.string()
			s.Hash = r.copyBytes()
			s.CreatedAt = r.time()
			s.ExpiresAt = r.time()
		}
	}
	c.GrantTypes = r.strings()
	c.Scopes = r.strings()
	c.Audience = r.strings()
	c.RedirectURIs = r.strings()
	if n := r.count(); n > 0 {
		c.IPAllowlist = make([]netip.Prefix, n)
		for i := range c.IPAllowlist {
			if err := c.IPAllowlist[i].UnmarshalBinary(r.bytes()); err != nil && r.err == nil {
				r.err = fmt.Errorf("ip allowlist: %w", err)
			}
		}
	}
	c.Features = r.strings()
	flags := r.byte()
	if flags&^knownFlags != 0 && r.err == nil {
		r.err = fmt.Errorf("unknown flags 0x%02x", flags)
	}
	c.RequireScopeRequest = flags&flagRequireScopeRequest != 0
	c.Disabled = flags&flagDisabled != 0
	c.SkipConsent = flags&flagSkipConsent != 0
	c.PKCEOptional = flags&flagPKCEOptional != 0
	c.Registered = flags&flagRegistered != 0
	if method, err := authMethodOf(flags); err != nil && r.err == nil {
		r.err = err
	} else {
		c.TokenEndpointAuthMethod = method
	}
	c.AccessTokenTTL = time.Duration(r.varint())
	c.Claims = r.json("claims")
	c.Metadata = r.json("metadata")
	c.CreatedAt = r.time()
	c.UpdatedAt = r.time()
	c.TokensRevokedAt = r.time()
	if flags&flagExtensions != 0 {
		r.extensions(&c)
	}
	if r.err == nil && r.off != len(r.data) {
		r.err = fmt.Errorf("%d bytes after the last field", len(r.data)-r.off)
	}
	if r.err != nil {
		return Client{}, r.err
	}
	return c, nil
}

// reader reads the binary form. The first error sticks: later reads return
// zero values, and the caller checks err once at the end.
type reader struct {
	data []byte
	// text holds the same bytes as data when strings are to be cut from it.
	text string
	off  int
	err  error
	// last is the previous non-zero time read, for timeSame.
	last time.Time
}

var errTruncated = errors.New("record ends inside a field")

// extensions reads the fields after the last time: at least one, each
// once and in the order of their tags, so that a record has one encoding.
func (r *reader) extensions(c *Client) {
	n := r.uvarint()
	if n == 0 && r.err == nil {
		r.fail(errors.New("extensions flagged but none written"))
	}
	last := byte(0)
	for i := uint64(0); i < n && r.err == nil; i++ {
		tag := r.byte()
		if tag <= last {
			r.fail(fmt.Errorf("extension 0x%02x out of order", tag))
			return
		}
		last = tag
		switch tag {
		case extRefreshTokenTTL:
			if c.RefreshTokenTTL = time.Duration(r.varint()); c.RefreshTokenTTL == 0 && r.err == nil {
				r.fail(errors.New("refresh token lifetime written as zero"))
			}
		case extPostLogoutRedirectURIs:
			if c.PostLogoutRedirectURIs = r.strings(); len(c.PostLogoutRedirectURIs) == 0 && r.err == nil {
				r.fail(errors.New("post-logout redirect URIs written empty"))
			}
		case extIDTokenSignedResponseAlg:
			if c.IDTokenSignedResponseAlg = r.string(); c.IDTokenSignedResponseAlg == "" && r.err == nil {
				r.fail(errors.New("ID token algorithm written empty"))
			}
		default:
			r.fail(fmt.Errorf("unknown extension 0x%02x", tag))
		}
	}
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.off = len(r.data)
}

func (r *reader) byte() byte {
	if r.off >= len(r.data) {
		r.fail(errTruncated)
		return 0
	}
	r.off++
	return r.data[r.off-1]
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.data[r.off:])
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.data[r.off:])
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.off += n
	return v
}

// length reads a length or count; it cannot exceed what is left, since
// every element takes at least a byte, so a damaged record never makes a
// large allocation.
func (r *reader) length() int {
	n := r.uvarint()
	if n > uint64(len(r.data)-r.off) {
		r.fail(errTruncated)
		return 0
	}
	return int(n)
}

func (r *reader) count() int { return r.length() }

// bytes returns the next length-prefixed field, sharing data's memory.
func (r *reader) bytes() []byte {
	n := r.length()
	r.off += n
	return r.data[r.off-n : r.off]
}

// copyBytes returns the next length-prefixed field as a new slice; nil when
// it is empty.
func (r *reader) copyBytes() []byte {
	if b := r.bytes(); len(b) > 0 {
		return append([]byte(nil), b...)
	}
	return nil
}

// json returns the next length-prefixed field as a new slice, checked to be
// JSON and in the compact form MarshalClient writes; nil when it is empty.
func (r *reader) json(field string) json.RawMessage {
	b, err := compactJSON(r.bytes())
	if err != nil {
		r.fail(fmt.Errorf("%s: not valid JSON", field))
		return nil
	}
	return b
}

func (r *reader) string() string {
	n := r.length()
	r.off += n
	return r.text[r.off-n : r.off]
}

// strings returns the next list of strings; nil when it is empty.
func (r *reader) strings() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	list := make([]string, n)
	for i := range list {
		list[i] = r.string()
	}
	return list
}

func (r *reader) time() time.Time {
	var t time.Time
	switch tag := r.byte(); tag {
	case timeZero:
		return time.Time{}
	case timeSame:
		if r.last.IsZero() {
			r.fail(errors.New("a repeated time comes first"))
		}
		return r.last
	case timeUTC:
		sec := r.varint()
		nsec := r.uvarint()
		if nsec >= 1e9 {
			r.fail(errors.New("time has more than a second of nanoseconds"))
			return time.Time{}
		}
		t = time.Unix(sec, int64(nsec)).UTC()
	case timeOther:
		if err := t.UnmarshalBinary(r.bytes()); err != nil {
			r.fail(fmt.Errorf("time: %w", err))
			return time.Time{}
		}
	default:
		r.fail(fmt.Errorf("unknown time tag %d", tag))
		return time.Time{}
	}
	r.last = t
	return t
}
