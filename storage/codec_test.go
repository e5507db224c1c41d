package storage_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

func TestClientRecordRoundTrip(t *testing.T) {
	full := sampleClient("client-1", "Billing")
	offset := sampleClient("client-2", "Offsets")
	offset.CreatedAt = sampleTime.In(time.FixedZone("", 2*3600))
	offset.Secrets[0].CreatedAt = sampleTime.In(time.FixedZone("", -(5*3600 + 30*60)))
	tests := []struct {
		name string
		in   storage.Client
		want storage.Client // zero: in itself
	}{
		{name: "every field", in: full},
		{name: "identity only", in: storage.Client{ID: "c", Name: "n"}},
		{name: "empty slices read back as nil", in: storage.Client{ID: "c", Name: "n", Scopes: []string{}, Secrets: []storage.Secret{}, Claims: json.RawMessage{}},
			want: storage.Client{ID: "c", Name: "n"}},
		{name: "zones other than UTC", in: offset},
		{name: "negative lifetime and far times", in: storage.Client{ID: "c", Name: "n", AccessTokenTTL: -time.Second,
			CreatedAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), UpdatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
		{name: "invalid UTF-8 kept byte for byte", in: storage.Client{ID: "c", Name: "bad\xff", Scopes: []string{"\xfe"}}},
		{name: "JSON compacted", in: storage.Client{ID: "c", Name: "n", Claims: json.RawMessage("{ \"a\" : [1, 2] }")},
			want: storage.Client{ID: "c", Name: "n", Claims: json.RawMessage(`{"a":[1,2]}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want.ID == "" {
				want = tt.in
			}
			raw, err := storage.MarshalClient(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), tt.in.ID) {
				t.Errorf("the record holds the ID %q, which is its key", tt.in.ID)
			}
			got, err := storage.UnmarshalClient(tt.in.ID, raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestClientRecordReadsJSON(t *testing.T) {
	// What schema version 1 wrote: json.Marshal of the client. Read with
	// the key it was stored under, it decodes to the same client as the
	// binary form does.
	c := sampleClient("client-1", "Billing")
	legacy, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := storage.UnmarshalClient(c.ID, legacy)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := storage.MarshalClient(c)
	if err != nil {
		t.Fatal(err)
	}
	fromBinary, err := storage.UnmarshalClient(c.ID, raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, fromBinary) || !reflect.DeepEqual(fromJSON, c) {
		t.Fatalf("JSON form:\n %+v\nbinary form:\n %+v\nwant %+v", fromJSON, fromBinary, c)
	}
	if len(raw)*2 > len(legacy) {
		t.Errorf("binary record %d bytes, JSON %d: want it under half", len(raw), len(legacy))
	}
}

func TestClientRecordRefusesBadInput(t *testing.T) {
	if _, err := storage.MarshalClient(storage.Client{ID: "c", Name: "n", Metadata: json.RawMessage("{")}); err == nil || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("MarshalClient with invalid metadata JSON: error %v, want one naming metadata", err)
	}
	raw, err := storage.MarshalClient(sampleClient("client-1", "Billing"))
	if err != nil {
		t.Fatal(err)
	}
	base := sampleClient("client-1", "Billing")
	base.PostLogoutRedirectURIs = nil
	base.IDTokenSignedResponseAlg = ""
	rawBase, err := storage.MarshalClient(base)
	if err != nil {
		t.Fatal(err)
	}
	// Every shorter record is an error, never a panic or a wrong client,
	// but for the record without its extensions, which is what an older
	// build wrote.
	for n := range len(raw) {
		if n == len(rawBase) {
			continue
		}
		if c, err := storage.UnmarshalClient("client-1", raw[:n]); err == nil {
			t.Fatalf("record cut to %d of %d bytes decoded to %+v", n, len(raw), c)
		}
	}
	bad := map[string][]byte{
		"unknown extension": append(append([]byte(nil), rawBase...), 0x7f, 0),
		"trailing byte":     append(append([]byte(nil), raw...), 0),
		"unknown form":      append([]byte{0x7f}, raw[1:]...),
		"huge count":        {0x01, 0x01, 'n', 0xff, 0xff, 0xff, 0xff, 0x0f},
		"unknown flags":     binaryWithFlags(t, 0x80),
		"not JSON after {":  []byte("{nope"),
	}
	for name, data := range bad {
		if c, err := storage.UnmarshalClient("c", data); err == nil || !strings.Contains(err.Error(), "decode stored record") {
			t.Errorf("%s: decoded to %+v, error %v", name, c, err)
		}
	}
}

// binaryWithFlags returns a minimal record whose flags byte is flags.
func binaryWithFlags(t *testing.T, flags byte) []byte {
	t.Helper()
	raw, err := storage.MarshalClient(storage.Client{ID: "c", Name: "n"})
	if err != nil {
		t.Fatal(err)
	}
	// tag, name (2), no secrets, four empty lists, no prefixes, no features:
	// then the flags byte.
	const flagsAt = 1 + 2 + 1 + 4 + 1 + 1
	if raw[flagsAt] != 0 {
		t.Fatalf("record layout moved: %x", raw)
	}
	raw[flagsAt] = flags
	return raw
}

// TestOpenSchema1Store opens a store written by schema version 1, which kept
// clients as JSON: testdata/schema1-json.db was written by the build before
// the binary form (commit c183225), with the clients below, a signing key, a
// revocation and usage counters.
func TestOpenSchema1Store(t *testing.T) {
	ctx := t.Context()
	src, err := os.ReadFile(filepath.Join("testdata", "schema1-json.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "store.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)
	full := storage.Client{
		ID:   "legacy-full",
		Name: "Legacy Full",
		Secrets: []storage.Secret{
			{ID: "sec-1", Hash: []byte{0x00, 0x01, 0xfe, 0xff}, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)},
			{ID: "sec-2", Hash: []byte("second-hash"), CreatedAt: t0.Add(time.Minute)},
		},
		GrantTypes:          []string{"client_credentials"},
		Scopes:              []string{"orders:read", "orders:write"},
		Audience:            []string{"https://api.example.com"},
		RedirectURIs:        []string{"https://app.example.com/callback"},
		IPAllowlist:         []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		Features:            []string{"introspect"},
		RequireScopeRequest: true,
		AccessTokenTTL:      10 * time.Minute,
		Claims:              json.RawMessage(`{"tenant":"acme"}`),
		Disabled:            true,
		Metadata:            json.RawMessage(`{"team":"billing","tags":["a","b"]}`),
		CreatedAt:           t0,
		UpdatedAt:           t0.Add(time.Second),
		TokensRevokedAt:     t0.Add(time.Hour),
	}
	minimal := storage.Client{ID: "legacy-minimal", Name: "legacy minimal", CreatedAt: t0, UpdatedAt: t0}
	offset := storage.Client{
		ID: "legacy-offset", Name: "Légacy Offset",
		Secrets:   []storage.Secret{{ID: "sec-a", Hash: []byte("hash-a"), CreatedAt: t0.In(time.FixedZone("", 2*3600))}},
		Scopes:    []string{"a"},
		CreatedAt: t0.In(time.FixedZone("", -(5*3600 + 30*60))), UpdatedAt: t0.In(time.FixedZone("", 2*3600)),
	}
	want := []storage.Client{full, minimal, offset}

	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := storage.SchemaVersion(b); err != nil || v != 6 {
		t.Fatalf("schema version after Open = %d, %v; want 6", v, err)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	for _, c := range want {
		if got := mustGetClient(t, b, c.ID); !reflect.DeepEqual(got, c) {
			t.Fatalf("GetClient(%q) = %+v, want %+v", c.ID, got, c)
		}
	}
	if got := mustList(t, b); !reflect.DeepEqual(got, want) {
		t.Fatalf("ListClients = %+v, want %+v", got, want)
	}
	if n, err := b.CountClients(ctx); err != nil || n != 3 {
		t.Fatalf("CountClients = %d, %v; want 3", n, err)
	}
	if keys, err := b.SigningKeys(ctx); err != nil || len(keys) != 1 || keys[0].ID != "kid-1" {
		t.Fatalf("SigningKeys = %+v, %v", keys, err)
	}
	if revs, err := b.Revocations(ctx, t0); err != nil || len(revs) != 1 || revs[0].JTI != "jti-1" {
		t.Fatalf("Revocations = %+v, %v", revs, err)
	}
	if u, err := b.Usage(ctx, "legacy-full"); err != nil || u.TokensIssued != 7 || u.RequestsDenied != 1 {
		t.Fatalf("Usage = %+v, %v", u, err)
	}

	// Writes: an update rewrites the record in the binary form, a rename
	// moves the index, a delete of a JSON record frees its name, and a
	// new client sits beside the old ones.
	renamed, err := b.UpdateClient(ctx, "legacy-full", func(c storage.Client) (storage.Client, error) {
		c.Name = "Renamed"
		c.Scopes = append(c.Scopes, "invoices:read")
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantRenamed := full
	wantRenamed.Name = "Renamed"
	wantRenamed.Scopes = []string{"orders:read", "orders:write", "invoices:read"}
	if !reflect.DeepEqual(renamed, wantRenamed) {
		t.Fatalf("UpdateClient = %+v, want %+v", renamed, wantRenamed)
	}
	if err := b.DeleteClient(ctx, "legacy-minimal"); err != nil {
		t.Fatal(err)
	}
	mustCreateClient(t, b, storage.Client{ID: "new-1", Name: "legacy minimal", CreatedAt: t0, UpdatedAt: t0})
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	b.Close()

	b, err = storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	if got := mustGetClient(t, b, "legacy-full"); !reflect.DeepEqual(got, wantRenamed) {
		t.Fatalf("after reopening, GetClient = %+v, want %+v", got, wantRenamed)
	}
	if got := mustList(t, b); len(got) != 3 || got[0].ID != "legacy-full" || got[1].ID != "legacy-offset" || got[2].ID != "new-1" {
		t.Fatalf("after reopening, ListClients = %+v", got)
	}
}

func mustList(t *testing.T, b *storage.Bolt) []storage.Client {
	t.Helper()
	page, more, err := b.ListClients(t.Context(), storage.ListOptions{Limit: 100})
	if err != nil || more {
		t.Fatalf("ListClients: more %v, %v", more, err)
	}
	return page
}

func mustCreateClient(t *testing.T, b *storage.Bolt, c storage.Client) {
	t.Helper()
	if err := b.CreateClient(t.Context(), c, 0); err != nil {
		t.Fatal(err)
	}
}

// FuzzUnmarshalClient decodes arbitrary records: never a panic, and what
// decodes encodes back to a record that decodes to the same client.
func FuzzUnmarshalClient(f *testing.F) {
	// Documents with spaces and with characters encoding/json escapes by
	// default: the stored form keeps their bytes and drops only the spaces.
	escaped := sampleClient("c", "Escaped")
	escaped.Claims = json.RawMessage(`{ "a&b": "<x>" }`)
	escaped.Metadata = json.RawMessage(`{"u":"\u0026 \u2028"}`)
	for _, c := range []storage.Client{sampleClient("c", "Billing"), {ID: "c", Name: "n"}, escaped} {
		raw, err := storage.MarshalClient(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		// Extensions out of order, repeated, unknown, zero, cut short.
		f.Add(append(raw, 0x01, 0x02))
		f.Add(append(slices.Clone(raw), 0x02, 0x00))
		f.Add(append(slices.Clone(raw), 0x01))
		legacy, err := json.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(legacy)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := storage.UnmarshalClient("c", data)
		if err != nil || data[0] != 0x01 {
			return
		}
		raw, err := storage.MarshalClient(c)
		if err != nil {
			t.Fatalf("MarshalClient of a decoded record: %v", err)
		}
		again, err := storage.UnmarshalClient("c", raw)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("re-encoded record decodes to %+v, %v; want %+v", again, err, c)
		}
	})
}

// A stored document holding characters encoding/json escapes, or spaces, is
// read in the one compact form the codec writes, so that a record read and
// written again is the same record.
func TestUnmarshalClientCompactsDocuments(t *testing.T) {
	c := storage.Client{ID: "c", Name: "n",
		Claims: json.RawMessage(`{"k":"a_b"}`), Metadata: json.RawMessage(`{"k":"vv"}`)}
	raw, err := storage.MarshalClient(c)
	if err != nil {
		t.Fatal(err)
	}
	// Same lengths, so the length prefixes stay right.
	raw = bytes.Replace(raw, []byte(`"a_b"`), []byte(`"a&b"`), 1)
	raw = bytes.Replace(raw, []byte(`{"k":"vv"}`), []byte(`{"k":"v"} `), 1)
	got, err := storage.UnmarshalClient("c", raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Claims) != `{"k":"a&b"}` || string(got.Metadata) != `{"k":"v"}` {
		t.Fatalf("claims %s, metadata %s", got.Claims, got.Metadata)
	}
	again, err := storage.MarshalClient(got)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := storage.UnmarshalClient("c", again); err != nil || !reflect.DeepEqual(back, got) {
		t.Fatalf("written again and read: %+v, %v; want %+v", back, err, got)
	}
}

// FuzzUnmarshalSession feeds session records, as a damaged file or anyone
// who can write to etcd could leave them, to the decoder: it never panics,
// and a record that decodes is written back to the same record.
func FuzzUnmarshalSession(f *testing.F) {
	now := time.Unix(1_800_000_000, 0).UTC()
	good, err := storage.MarshalSession(storage.Session{ID: "s1", UserID: "u1", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Minute, Persistent: true, UserAgent: "Mozilla/5.0"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x01})
	f.Add([]byte{0x02, '{', '}'})
	f.Add([]byte("\x01{\"idle_timeout\":\"1m\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := storage.UnmarshalSession(data)
		if err != nil {
			return
		}
		again, err := storage.MarshalSession(s)
		if err != nil {
			t.Fatalf("a decoded session does not encode: %v", err)
		}
		back, err := storage.UnmarshalSession(again)
		if err != nil || !back.CreatedAt.Equal(s.CreatedAt) || back.ID != s.ID || back.UserID != s.UserID || back.IdleTimeout != s.IdleTimeout {
			t.Fatalf("round trip of %+v gave %+v, %v", s, back, err)
		}
	})
}

// fuzzRoundTrip is the property every versioned record decoder holds: what
// decodes encodes again (unless too large to store) and decodes to the same
// record.
func fuzzRoundTrip[T any](t *testing.T, data []byte, unmarshal func([]byte) (T, error), marshal func(T) ([]byte, error)) {
	rec, err := unmarshal(data)
	if err != nil {
		return
	}
	again, err := marshal(rec)
	if errors.Is(err, storage.ErrLimitExceeded) {
		return
	}
	if err != nil {
		t.Fatalf("a decoded record does not encode: %v", err)
	}
	back, err := unmarshal(again)
	if err != nil {
		t.Fatalf("an encoded record does not decode: %v", err)
	}
	if again2, err := marshal(back); err != nil || !bytes.Equal(again, again2) {
		t.Fatalf("round trip of %+v gave %+v, %v", rec, back, err)
	}
}

// FuzzUnmarshalAuthRequest feeds authorization request records, as a
// damaged file or anyone with write access to etcd could hold them.
func FuzzUnmarshalAuthRequest(f *testing.F) {
	now := time.Unix(1_800_000_000, 0).UTC()
	good, err := storage.MarshalAuthRequest(storage.AuthRequest{ID: "r1", ClientID: "c1", Scopes: []string{"openid"}, MaxAge: -1, CodeChallengeMethod: "S256", CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x01})
	f.Add([]byte{0x02, '{', '}'})
	f.Add([]byte("\x01{\"max_age\":\"1\"}"))
	f.Add([]byte("\x01{\"scopes\":[\"a\",null],\"expires_at\":\"9999-12-31T23:59:59Z\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip(t, data, storage.UnmarshalAuthRequest, storage.MarshalAuthRequest)
	})
}

// FuzzUnmarshalAuthCode feeds authorization code records.
func FuzzUnmarshalAuthCode(f *testing.F) {
	now := time.Unix(1_800_000_000, 0).UTC()
	good, err := storage.MarshalAuthCode(storage.AuthCode{ID: "h", ClientID: "c1", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Minute), UsedAt: now, TokenIDs: []string{"j1"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x01})
	f.Add([]byte("\x01{\"used_at\":\"0001-01-01T00:00:00Z\",\"token_ids\":{}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip(t, data, storage.UnmarshalAuthCode, storage.MarshalAuthCode)
	})
}

// FuzzUnmarshalConsent feeds consent records.
func FuzzUnmarshalConsent(f *testing.F) {
	now := time.Unix(1_800_000_000, 0).UTC()
	good, err := storage.MarshalConsent(storage.Consent{UserID: "u1", ClientID: "c1", Scopes: []string{"openid"}, CreatedAt: now, UpdatedAt: now, TokensRevokedAt: now})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x01})
	f.Add([]byte("\x01{\"withdrawn_at\":1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip(t, data, storage.UnmarshalConsent, storage.MarshalConsent)
	})
}

// TestClientRecordAuthorizationCodeFields round-trips the fields of the
// authorization code grant (issue 15), kept as flag bits so that a record
// without them, written by an older build, reads as a confidential client
// using client_secret_basic that must use PKCE and asks for consent. The
// default method is stored as "" and named by AuthMethod.
func TestClientRecordAuthorizationCodeFields(t *testing.T) {
	for _, c := range []storage.Client{
		{ID: "c", Name: "public", TokenEndpointAuthMethod: storage.AuthMethodNone, SkipConsent: true},
		{ID: "c", Name: "post", TokenEndpointAuthMethod: storage.AuthMethodSecretPost, PKCEOptional: true},
		{ID: "c", Name: "basic", RequireScopeRequest: true},
		{ID: "c", Name: "registered", TokenEndpointAuthMethod: storage.AuthMethodNone, Registered: true},
	} {
		raw, err := storage.MarshalClient(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := storage.UnmarshalClient(c.ID, raw)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
		}
		if got.Public() != (c.TokenEndpointAuthMethod == storage.AuthMethodNone) {
			t.Errorf("%s: Public() = %v", c.Name, got.Public())
		}
	}
	// A record an older build wrote has none of the new bits.
	old := binaryWithFlags(t, 0x01)
	got, err := storage.UnmarshalClient("c", old)
	if err != nil {
		t.Fatal(err)
	}
	if got.Public() || got.SkipConsent || got.PKCEOptional || got.Registered || got.AuthMethod() != storage.AuthMethodSecretBasic {
		t.Errorf("an older record read as %+v; want a confidential client using client_secret_basic, PKCE required, consent asked", got)
	}
	// The defaults write no bit, so the records of existing clients stay
	// the bytes older builds read.
	plain, err := storage.MarshalClient(storage.Client{ID: "c", Name: "n", TokenEndpointAuthMethod: storage.AuthMethodSecretBasic})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, binaryWithFlags(t, 0)) {
		t.Errorf("a default client's record changed: %x", plain)
	}
	if c, err := storage.UnmarshalClient("c", binaryWithFlags(t, 0x04|0x08)); err == nil {
		t.Errorf("a record with two auth methods decoded to %+v", c)
	}
	if _, err := storage.MarshalClient(storage.Client{ID: "c", Name: "n", TokenEndpointAuthMethod: "private_key_jwt"}); err == nil {
		t.Error("an unknown token_endpoint_auth_method was encoded")
	}
}

// TestSkipsConsent: a client that registered itself never skips the
// consent page, even when an administrator later sets skip_consent on it.
func TestSkipsConsent(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    storage.Client
		want bool
	}{
		{"first-party app", storage.Client{SkipConsent: true}, true},
		{"ordinary app", storage.Client{}, false},
		{"registered app with skip_consent", storage.Client{SkipConsent: true, Registered: true}, false},
		{"registered app", storage.Client{Registered: true}, false},
		{"app trusted with passwords", storage.Client{GrantTypes: []string{"client_credentials", "password"}}, true},
		{"registered app listing password", storage.Client{GrantTypes: []string{"password"}, Registered: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.SkipsConsent(); got != tc.want {
				t.Errorf("SkipsConsent() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClientRecordIDTokenAlg(t *testing.T) {
	// A record written before the field existed decodes with it unset, and
	// a client without it still writes those very bytes.
	before := sampleClient("client-1", "Billing")
	before.IDTokenSignedResponseAlg = ""
	oldRaw, err := storage.MarshalClient(before)
	if err != nil {
		t.Fatal(err)
	}
	old, err := storage.UnmarshalClient("client-1", oldRaw)
	if err != nil || old.IDTokenSignedResponseAlg != "" {
		t.Fatalf("old record: alg %q, error %v; want none", old.IDTokenSignedResponseAlg, err)
	}
	for name, c := range map[string]storage.Client{
		"beside other extensions": func() storage.Client {
			c := sampleClient("client-1", "Billing")
			c.IDTokenSignedResponseAlg = "RS256"
			return c
		}(),
		"the only extension": {ID: "client-1", Name: "n", IDTokenSignedResponseAlg: "ES256"},
	} {
		t.Run(name, func(t *testing.T) {
			raw, err := storage.MarshalClient(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := storage.UnmarshalClient(c.ID, raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
			}
			if bytes.Equal(raw, oldRaw) {
				t.Fatal("the algorithm left no trace in the record")
			}
		})
	}
	// The extension written empty is refused: a record has one encoding.
	raw, err := storage.MarshalClient(storage.Client{ID: "c", Name: "n", IDTokenSignedResponseAlg: "x"})
	if err != nil {
		t.Fatal(err)
	}
	empty := append(raw[:len(raw)-2:len(raw)-2], 0)
	if c, err := storage.UnmarshalClient("c", empty); err == nil {
		t.Fatalf("an empty algorithm decoded to %+v", c)
	}
}
