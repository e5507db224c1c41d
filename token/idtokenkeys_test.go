package token

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// keysOfUse returns the kid → status map of the keys of use.
func keysOfUse(t *testing.T, ks *KeySet, use string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, info := range ks.Keys() {
		if info.Use == use {
			out[info.KeyID] = info.Status
		}
	}
	return out
}

// headerOf decodes a compact JWS's header.
func headerOf(t *testing.T, jws string) map[string]string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(jws[:strings.IndexByte(jws, '.')])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func idClaimsAt(now time.Time) *IDClaims {
	return &IDClaims{Issuer: testIssuer, Subject: "user-1", Audience: "app-1", ExpiresAt: now.Add(time.Hour).Unix(), IssuedAt: now.Unix()}
}

func TestIDTokenKeys(t *testing.T) {
	keys, _, err := EnsureKeys(nil, AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeySet(keys, t0)
	if err != nil {
		t.Fatal(err)
	}
	idKeys := keysOfUse(t, ks, UseIDToken)
	if len(keys) != 4 || len(idKeys) != 2 || len(keysOfUse(t, ks, UseAll)) != 2 {
		t.Fatalf("first start: %d keys, ID-token keys %v; want an active and a next key of each use", len(keys), idKeys)
	}
	var idActive, idNext string
	for _, k := range keys {
		if k.Use != storage.KeyUseIDToken {
			continue
		}
		if k.Algorithm != AlgRS256 {
			t.Errorf("ID-token key %s is %s", k.ID, k.Algorithm)
		}
		if priv, err := x509.ParsePKCS8PrivateKey(k.PrivateKey); err != nil || priv.(interface{ Size() int }).Size() != rsaMinBits/8 {
			t.Errorf("ID-token key %s: %v", k.ID, err)
		}
		if idKeys[k.ID] == StatusActive {
			idActive = k.ID
		} else {
			idNext = k.ID
		}
	}
	if idActive == "" || idNext == "" {
		t.Fatalf("ID-token key statuses %v", idKeys)
	}
	if got := ks.IDTokenAlgorithms(); !slices.Equal(got, []string{AlgES256, AlgRS256}) {
		t.Errorf("IDTokenAlgorithms = %v", got)
	}
	if got := ks.Algorithms(); !slices.Equal(got, []string{AlgES256, AlgRS256}) {
		t.Errorf("Algorithms = %v", got)
	}
	var jwks struct{ Keys []map[string]any }
	if err := json.Unmarshal(ks.JWKS(), &jwks); err != nil || len(jwks.Keys) != 4 {
		t.Errorf("JWKS holds %d keys (%v), want all four", len(jwks.Keys), err)
	}

	t.Run("access tokens keep the operator's key, RS256 ID tokens the other", func(t *testing.T) {
		at, err := ks.Sign(validClaims())
		if err != nil {
			t.Fatal(err)
		}
		if h := headerOf(t, at); h["alg"] != AlgES256 || h["kid"] != ks.SigningKeyID() {
			t.Errorf("access token header %v", h)
		}
		for alg, want := range map[string]string{"": AlgES256, AlgES256: AlgES256, AlgRS256: AlgRS256} {
			id, err := ks.SignIDTokenWith(alg, idClaimsAt(t0), at)
			if err != nil {
				t.Fatalf("%q: %v", alg, err)
			}
			h := headerOf(t, id)
			if h["alg"] != want || h["typ"] != "JWT" || (want == AlgRS256) != (h["kid"] == idActive) {
				t.Errorf("%q: ID token header %v", alg, h)
			}
			if _, err := testVerifier().VerifyIDTokenHint(ks, id); err != nil {
				t.Errorf("%q: as a hint: %v", alg, err)
			}
			if _, err := testVerifier().Verify(ks, id); err == nil {
				t.Errorf("%q: an ID token verified as an access token", alg)
			}
		}
		if _, err := ks.SignIDTokenWith(AlgEdDSA, idClaimsAt(t0), ""); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("EdDSA ID token: error %v, want ErrUnsupportedAlgorithm", err)
		}
	})
	t.Run("an access token signed by the ID-token key is refused", func(t *testing.T) {
		var key storage.SigningKey
		for _, k := range keys {
			if k.ID == idActive {
				key = k
			}
		}
		payload, err := appendClaims(nil, validClaims())
		if err != nil {
			t.Fatal(err)
		}
		forged := forge(`{"alg":"RS256","kid":"`+idActive+`","typ":"at+jwt"}`, string(payload), signWith(t, AlgRS256, privateOf(t, key)))
		if _, err := testVerifier().Verify(ks, forged); !errors.Is(err, errIDTokenKey) {
			t.Errorf("Verify = %v, want errIDTokenKey", err)
		}
	})

	t1 := t0.Add(24 * time.Hour)
	rotated, err := Rotate(keys, AlgES256, t1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("rotation rotates the ID-token keys too", func(t *testing.T) {
		rs, err := NewKeySet(rotated, t1)
		if err != nil {
			t.Fatal(err)
		}
		got := keysOfUse(t, rs, UseIDToken)
		if len(got) != 3 || got[idActive] != StatusRetired || got[idNext] != StatusActive {
			t.Fatalf("ID-token keys after rotation %v; want the old retired, the next active and a new next", got)
		}
		id, err := rs.SignIDTokenWith(AlgRS256, idClaimsAt(t1), "")
		if err != nil || headerOf(t, id)["kid"] != idNext {
			t.Errorf("RS256 ID token after rotation: %v, kid %v, want %s", err, headerOf(t, id)["kid"], idNext)
		}
	})
	t.Run("revoking the active ID-token key leaves the operator's keys", func(t *testing.T) {
		out, err := RevokeKey(keys, idActive, t1)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(operatorKeys(out), operatorKeys(keys)) {
			t.Error("the operator's keys changed")
		}
		rs, err := NewKeySet(out, t1)
		if err != nil {
			t.Fatal(err)
		}
		got := keysOfUse(t, rs, UseIDToken)
		if len(got) != 3 || got[idActive] != StatusRevoked || got[idNext] != StatusActive || rs.HasKey(idActive) {
			t.Errorf("ID-token keys after revocation %v", got)
		}
	})
	t.Run("rotating to RS256 retires them: one key does both", func(t *testing.T) {
		out, err := Rotate(rotated, AlgRS256, t1.Add(time.Hour), 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := NewKeySet(out, t1.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for kid, status := range keysOfUse(t, rs, UseIDToken) {
			if status != StatusRetired {
				t.Errorf("ID-token key %s is %s, want retired", kid, status)
			}
		}
		if got := rs.IDTokenAlgorithms(); !slices.Equal(got, []string{AlgRS256}) {
			t.Errorf("IDTokenAlgorithms = %v", got)
		}
		id, err := rs.SignIDTokenWith(AlgRS256, idClaimsAt(t1), "")
		if err != nil || headerOf(t, id)["kid"] != rs.SigningKeyID() {
			t.Errorf("RS256 ID token: %v; want the operator's key to sign it", err)
		}
	})
	t.Run("no ID-token keys beside an RS256 key", func(t *testing.T) {
		out, _, err := EnsureKeys(nil, AlgRS256, t0)
		if err != nil || len(out) != 2 || len(operatorKeys(out)) != 2 {
			t.Errorf("EnsureKeys(RS256) = %d keys, %v; want the operator's two only", len(out), err)
		}
	})
	t.Run("a stored key of another use or algorithm is refused", func(t *testing.T) {
		for _, bad := range []func(*storage.SigningKey){
			func(k *storage.SigningKey) { k.Use = "enc" },
			func(k *storage.SigningKey) { *k = testKeys()[AlgES256]; k.Use = storage.KeyUseIDToken },
		} {
			broken := slices.Clone(keys)
			bad(&broken[3])
			if _, err := NewKeySet(broken, t0); err == nil {
				t.Errorf("NewKeySet accepted %s key of use %q", broken[3].Algorithm, broken[3].Use)
			}
		}
	})
}

// olderBuildPicks returns the kids a build that predates the ID-token keys
// would pick from keys, ignoring Use as it does: the key it signs with (the
// unretired active key of the latest ActiveAt, the later on a tie) and the
// next key its rotation would promote (the pending key of the latest
// CreatedAt, the later on a tie).
func olderBuildPicks(keys []storage.SigningKey, now time.Time) (signs, promotes string) {
	si, ni := -1, -1
	for i, k := range keys {
		if k.Revoked || !k.RetiredAt.IsZero() {
			continue
		}
		if pending := k.ActiveAt.IsZero() || k.ActiveAt.After(now); pending {
			if ni < 0 || !k.CreatedAt.Before(keys[ni].CreatedAt) {
				ni = i
			}
		} else if si < 0 || !k.ActiveAt.Before(keys[si].ActiveAt) {
			si = i
		}
	}
	if si >= 0 {
		signs = keys[si].ID
	}
	if ni >= 0 {
		promotes = keys[ni].ID
	}
	return signs, promotes
}

// During a rolling upgrade, gateways of an older build share the stored
// keys and ignore their use. Whatever this build does to the set (first
// start, adding the ID-token keys to an older set, rotation, revoking either
// kind of key), such a gateway must still sign access tokens with the
// operator's key, which this build's guard accepts, and its rotation must
// promote the operator's next key, never an ID-token key.
func TestOlderBuildsPickTheOperatorsKeys(t *testing.T) {
	full, _, err := EnsureKeys(nil, AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	var older []storage.SigningKey // the operator's keys alone, as an older build leaves them
	for _, k := range full {
		if k.Use == "" {
			older = append(older, k)
		}
	}
	t1 := t0.Add(time.Hour)
	steps := map[string]func() ([]storage.SigningKey, error){
		"first start": func() ([]storage.SigningKey, error) {
			keys, _, err := EnsureKeys(nil, AlgES256, t0)
			return keys, err
		},
		"ID-token keys added to an older set": func() ([]storage.SigningKey, error) {
			keys, _, err := EnsureKeys(older, AlgES256, t1)
			return keys, err
		},
		"rotation": func() ([]storage.SigningKey, error) {
			return Rotate(full, AlgES256, t1, time.Hour)
		},
	}
	for name, step := range steps {
		t.Run(name, func(t *testing.T) {
			keys, err := step()
			if err != nil {
				t.Fatal(err)
			}
			checkOlderBuildPicks(t, keys, t1)
			for _, revoke := range []string{"", UseIDToken} {
				ks, err := NewKeySet(keys, t1)
				if err != nil {
					t.Fatal(err)
				}
				for kid, status := range keysOfUse(t, ks, revoke) {
					if status != StatusActive {
						continue
					}
					out, err := RevokeKey(keys, kid, t1.Add(time.Minute))
					if err != nil {
						t.Fatal(err)
					}
					checkOlderBuildPicks(t, out, t1.Add(time.Minute))
				}
			}
		})
	}
}

// checkOlderBuildPicks fails when an older build would sign with, or
// promote, anything but the operator's active and next keys of this set.
func checkOlderBuildPicks(t *testing.T, keys []storage.SigningKey, now time.Time) {
	t.Helper()
	ks, err := NewKeySet(keys, now)
	if err != nil {
		t.Fatal(err)
	}
	var active, next string
	for kid, status := range keysOfUse(t, ks, UseAll) {
		switch status {
		case StatusActive:
			active = kid
		case StatusNext:
			next = kid
		}
	}
	if len(keysOfUse(t, ks, UseIDToken)) == 0 {
		t.Fatal("the set has no ID-token keys")
	}
	signs, promotes := olderBuildPicks(keys, now)
	if signs != active || promotes != next {
		t.Fatalf("an older build signs with %s and promotes %s; want the operator's %s and %s", signs, promotes, active, next)
	}
}
