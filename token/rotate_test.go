package token

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// statusesAt returns the kid → status map of keys at now, through a KeySet.
func statusesAt(t *testing.T, keys []storage.SigningKey, now time.Time) map[string]string {
	t.Helper()
	ks, err := NewKeySet(keys, now)
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	out := map[string]string{}
	for _, info := range ks.Keys() {
		out[info.KeyID] = info.Status
	}
	return out
}

func cloneKeys(keys []storage.SigningKey) []storage.SigningKey {
	return append([]storage.SigningKey(nil), keys...)
}

func TestEnsureKeys(t *testing.T) {
	t.Run("first start creates active and next", func(t *testing.T) {
		keys, changed, err := ensureOperatorKeys(nil, AlgES256, t0)
		if err != nil || !changed || len(keys) != 2 {
			t.Fatalf("EnsureKeys = %d keys, %v, %v", len(keys), changed, err)
		}
		if !keys[0].ActiveAt.Equal(t0) || !keys[1].ActiveAt.IsZero() {
			t.Errorf("ActiveAt = %v, %v; want now and zero (pending)", keys[0].ActiveAt, keys[1].ActiveAt)
		}
		for _, k := range keys {
			if k.Algorithm != AlgES256 || !k.CreatedAt.Equal(t0) {
				t.Errorf("key %s: %s %v", k.ID, k.Algorithm, k.CreatedAt)
			}
		}
		want := map[string]string{keys[0].ID: StatusActive, keys[1].ID: StatusNext}
		if got := statusesAt(t, keys, t0); !reflect.DeepEqual(got, want) {
			t.Errorf("statuses = %v, want %v", got, want)
		}

		again, changed, err := ensureOperatorKeys(keys, AlgES256, t0.Add(time.Hour))
		if err != nil || changed || !reflect.DeepEqual(again, keys) {
			t.Errorf("second EnsureKeys changed=%v err=%v", changed, err)
		}
	})
	t.Run("missing next key gets one of the active key's algorithm", func(t *testing.T) {
		active := testKeys()[AlgEdDSA]
		keys, changed, err := ensureOperatorKeys([]storage.SigningKey{active}, AlgES256, t0)
		if err != nil || !changed || len(keys) != 2 {
			t.Fatalf("EnsureKeys = %d keys, %v, %v", len(keys), changed, err)
		}
		if keys[0].ID != active.ID || keys[1].Algorithm != AlgEdDSA || !keys[1].ActiveAt.IsZero() {
			t.Errorf("keys = %+v", keys)
		}
	})
	t.Run("a changed algorithm is not switched silently", func(t *testing.T) {
		keys, _, err := ensureOperatorKeys(nil, AlgEdDSA, t0)
		if err != nil {
			t.Fatal(err)
		}
		got, changed, err := ensureOperatorKeys(keys, AlgES256, t0.Add(time.Minute))
		if err != nil || changed || !reflect.DeepEqual(got, keys) {
			t.Errorf("EnsureKeys with another alg changed=%v err=%v", changed, err)
		}
	})
	t.Run("no active key promotes the next key", func(t *testing.T) {
		keys, _, err := ensureOperatorKeys(nil, AlgEdDSA, t0)
		if err != nil {
			t.Fatal(err)
		}
		keys[0].RetiredAt = t0.Add(time.Minute)
		before := cloneKeys(keys)
		now := t0.Add(2 * time.Minute)
		got, changed, err := ensureOperatorKeys(keys, AlgEdDSA, now)
		if err != nil || !changed || len(got) != 3 {
			t.Fatalf("EnsureKeys = %d keys, %v, %v", len(got), changed, err)
		}
		if !got[1].ActiveAt.Equal(now) {
			t.Errorf("next key ActiveAt = %v, want %v", got[1].ActiveAt, now)
		}
		want := map[string]string{got[0].ID: StatusRetired, got[1].ID: StatusActive, got[2].ID: StatusNext}
		if s := statusesAt(t, got, now); !reflect.DeepEqual(s, want) {
			t.Errorf("statuses = %v, want %v", s, want)
		}
		if !reflect.DeepEqual(keys, before) {
			t.Error("EnsureKeys modified its argument")
		}
	})
	t.Run("unsupported algorithm", func(t *testing.T) {
		if _, _, err := ensureOperatorKeys(nil, "HS256", t0); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("error = %v", err)
		}
	})
}

func TestRotate(t *testing.T) {
	const keep = time.Hour
	keys, _, err := ensureOperatorKeys(nil, AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	before := cloneKeys(keys)
	active, next := keys[0], keys[1]

	t1 := t0.Add(24 * time.Hour)
	r1, err := rotateOperatorKeys(keys, AlgES256, t1, keep)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if !reflect.DeepEqual(keys, before) {
		t.Error("Rotate modified its argument")
	}
	if len(r1) != 3 {
		t.Fatalf("after rotation %d keys, want 3", len(r1))
	}
	if r1[0].ID != active.ID || !r1[0].RetiredAt.Equal(t1) {
		t.Errorf("old active key = %+v, want retired at %v", r1[0], t1)
	}
	if r1[1].ID != next.ID || !r1[1].ActiveAt.Equal(t1) || !r1[1].RetiredAt.IsZero() {
		t.Errorf("old next key = %+v, want active at %v", r1[1], t1)
	}
	if !r1[2].ActiveAt.IsZero() || r1[2].Algorithm != AlgES256 || slices.Contains([]string{active.ID, next.ID}, r1[2].ID) {
		t.Errorf("new next key = %+v", r1[2])
	}
	want := map[string]string{active.ID: StatusRetired, next.ID: StatusActive, r1[2].ID: StatusNext}
	if got := statusesAt(t, r1, t1); !reflect.DeepEqual(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}

	// Within keep of the first rotation the retired key stays; after it, a
	// rotation drops it.
	t2 := t1.Add(keep)
	r2, err := rotateOperatorKeys(r1, AlgES256, t2, keep)
	if err != nil {
		t.Fatal(err)
	}
	if ids := keyIDs(r2); !slices.Contains(ids, active.ID) || len(ids) != 4 {
		t.Errorf("rotation at exactly keep dropped the retired key: %v", ids)
	}
	t3 := t2.Add(keep + time.Second)
	r3, err := rotateOperatorKeys(r2, AlgES256, t3, keep)
	if err != nil {
		t.Fatal(err)
	}
	if ids := keyIDs(r3); slices.Contains(ids, active.ID) || slices.Contains(ids, next.ID) || len(ids) != 3 {
		t.Errorf("keys after keep = %v, want the two expired retirees gone", ids)
	}

	t.Run("errors", func(t *testing.T) {
		if _, err := rotateOperatorKeys(keys, "none", t1, keep); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("unsupported alg: %v", err)
		}
		if _, err := rotateOperatorKeys(keys, AlgES256, t1, -time.Second); err == nil {
			t.Error("negative keep accepted")
		}
	})
}

func keyIDs(keys []storage.SigningKey) []string {
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

func TestRotateChangesAlgorithm(t *testing.T) {
	keys, _, err := ensureOperatorKeys(nil, AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Hour)
	out, err := rotateOperatorKeys(keys, AlgEdDSA, t1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Old active retired, old ES256 next key dropped (it never signed), a new
	// EdDSA key active now and an EdDSA next key.
	if len(out) != 3 || out[0].ID != keys[0].ID || !out[0].RetiredAt.Equal(t1) {
		t.Fatalf("keys = %+v", out)
	}
	if slices.Contains(keyIDs(out), keys[1].ID) {
		t.Error("the ES256 next key survived an algorithm change")
	}
	ks, err := NewKeySet(out, t1)
	if err != nil {
		t.Fatal(err)
	}
	if ks.SigningAlgorithm() != AlgEdDSA || ks.SigningKeyID() != out[1].ID {
		t.Errorf("signing with %s %s", ks.SigningAlgorithm(), ks.SigningKeyID())
	}
	if out[2].Algorithm != AlgEdDSA || !out[2].ActiveAt.IsZero() {
		t.Errorf("next key = %+v", out[2])
	}
}

func TestRotationKeepsOldTokensValid(t *testing.T) {
	keys, _, err := ensureOperatorKeys(nil, AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	ks0, err := NewKeySet(keys, t0)
	if err != nil {
		t.Fatal(err)
	}
	c := validClaims()
	c.ExpiresAt = t0.Add(30 * time.Minute).Unix()
	old, err := ks0.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	// The next key is published before it signs.
	published := jwkMembers(t, ks0.JWKS())
	if len(published) != 2 || published[1]["kid"] != keys[1].ID {
		t.Fatalf("next key not published before rotation: %v", published)
	}

	t1 := t0.Add(10 * time.Minute)
	rotated, err := rotateOperatorKeys(keys, AlgES256, t1, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ks1, err := NewKeySet(rotated, t1)
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Issuer: testIssuer, Now: func() time.Time { return t1 }}
	got, err := v.Verify(ks1, old)
	if err != nil {
		t.Fatalf("a token signed before the rotation: %v", err)
	}
	if got.KeyID != keys[0].ID {
		t.Errorf("old token kid = %s, want %s", got.KeyID, keys[0].ID)
	}
	fresh, err := ks1.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	got, err = v.Verify(ks1, fresh)
	if err != nil || got.KeyID != keys[1].ID {
		t.Errorf("new token kid = %v (%v), want the former next key %s", got, err, keys[1].ID)
	}

	// Once keep has passed, the next rotation drops the old key and its
	// (long expired) tokens are refused as signed by an unknown key.
	t2 := t1.Add(31 * time.Minute)
	again, err := rotateOperatorKeys(rotated, AlgES256, t2, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ks2, err := NewKeySet(again, t2)
	if err != nil {
		t.Fatal(err)
	}
	if ks2.HasKey(keys[0].ID) {
		t.Error("old key still present after keep")
	}
	v.Now = func() time.Time { return t0 }
	if _, err := v.Verify(ks2, old); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old token after its key was dropped: %v, want ErrUnknownKey", err)
	}
}

func TestRevokeKey(t *testing.T) {
	keys, _, err := ensureOperatorKeys(nil, AlgEdDSA, t0)
	if err != nil {
		t.Fatal(err)
	}
	active, next := keys[0], keys[1]
	t1 := t0.Add(time.Hour)

	t.Run("active key", func(t *testing.T) {
		before := cloneKeys(keys)
		out, err := revokeOperatorKey(keys, active.ID, t1)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(keys, before) {
			t.Error("RevokeKey modified its argument")
		}
		if len(out) != 3 || !out[0].Revoked || !out[0].RetiredAt.Equal(t1) {
			t.Fatalf("keys = %+v", out)
		}
		if !out[1].ActiveAt.Equal(t1) || out[2].Algorithm != AlgEdDSA || !out[2].ActiveAt.IsZero() {
			t.Errorf("next not promoted or no new next: %+v", out)
		}
		want := map[string]string{active.ID: StatusRevoked, next.ID: StatusActive, out[2].ID: StatusNext}
		if got := statusesAt(t, out, t1); !reflect.DeepEqual(got, want) {
			t.Errorf("statuses = %v, want %v", got, want)
		}
	})
	t.Run("next key", func(t *testing.T) {
		out, err := revokeOperatorKey(keys, next.ID, t1)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{active.ID: StatusActive, next.ID: StatusRevoked, out[2].ID: StatusNext}
		if got := statusesAt(t, out, t1); len(out) != 3 || !reflect.DeepEqual(got, want) {
			t.Errorf("statuses = %v, want %v", got, want)
		}
	})
	t.Run("retired key", func(t *testing.T) {
		rotated, err := rotateOperatorKeys(keys, AlgEdDSA, t1, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		out, err := revokeOperatorKey(rotated, active.ID, t1.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 3 || !out[0].Revoked || !out[0].RetiredAt.Equal(t1) {
			t.Errorf("retired key after revocation = %+v", out[0])
		}
		if !reflect.DeepEqual(out[1:], rotated[1:]) {
			t.Error("revoking a retired key changed other keys")
		}
	})
	t.Run("twice", func(t *testing.T) {
		once, err := revokeOperatorKey(keys, active.ID, t1)
		if err != nil {
			t.Fatal(err)
		}
		twice, err := revokeOperatorKey(once, active.ID, t1.Add(time.Minute))
		if err != nil || !reflect.DeepEqual(once, twice) {
			t.Errorf("second revocation changed the set (%v)", err)
		}
	})
	t.Run("unknown kid", func(t *testing.T) {
		if _, err := revokeOperatorKey(keys, "nope", t1); !errors.Is(err, ErrKeyNotFound) {
			t.Errorf("error = %v, want ErrKeyNotFound", err)
		}
	})
}

func TestRevokedKeyTokensRefusedAtOnce(t *testing.T) {
	keys, _, err := ensureOperatorKeys(nil, AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeySet(keys, t0)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ks.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	v := testVerifier()
	cache, err := NewVerifiedCache(16)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyCached(ks, cache, raw); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	revoked, err := revokeOperatorKey(keys, keys[0].ID, t0)
	if err != nil {
		t.Fatal(err)
	}
	ks2, err := NewKeySet(revoked, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ks2, raw); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Verify after revocation: %v, want ErrUnknownKey", err)
	}
	if _, err := v.VerifyCached(ks2, cache, raw); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("VerifyCached after revocation (token cached): %v, want ErrUnknownKey", err)
	}
	for _, m := range jwkMembers(t, ks2.JWKS()) {
		if m["kid"] == keys[0].ID {
			t.Error("revoked key still published")
		}
	}
}

// The tests above follow the operator's keys, as they were before the
// ID-token keys joined them; these wrappers leave those out (TestIDTokenKeys
// follows them). changed says whether the operator's keys changed.
func ensureOperatorKeys(keys []storage.SigningKey, alg string, now time.Time) ([]storage.SigningKey, bool, error) {
	out, _, err := EnsureKeys(keys, alg, now)
	if err != nil {
		return nil, false, err
	}
	out = operatorKeys(out)
	return out, !reflect.DeepEqual(out, operatorKeys(keys)), nil
}

func rotateOperatorKeys(keys []storage.SigningKey, alg string, now time.Time, keep time.Duration) ([]storage.SigningKey, error) {
	out, err := Rotate(keys, alg, now, keep)
	return operatorKeys(out), err
}

func revokeOperatorKey(keys []storage.SigningKey, kid string, now time.Time) ([]storage.SigningKey, error) {
	out, err := RevokeKey(keys, kid, now)
	return operatorKeys(out), err
}

// operatorKeys returns the keys of the operator's algorithm, not those that
// sign ID tokens only; nil for none.
func operatorKeys(keys []storage.SigningKey) []storage.SigningKey {
	var out []storage.SigningKey
	for _, k := range keys {
		if k.Use == "" {
			out = append(out, k)
		}
	}
	return out
}
