package token

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestVerifiedCache(t *testing.T) {
	ks, k := keySetFor(t, AlgES256)
	c := validClaims()
	c.ExpiresAt = t0.Add(time.Minute).Unix()
	raw, err := ks.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := testVerifier().Verify(ks, raw)
	if err != nil {
		t.Fatal(err)
	}
	if claims.KeyID != k.ID {
		t.Fatalf("KeyID = %q, want %q", claims.KeyID, k.ID)
	}

	vc, err := NewVerifiedCache(2)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := vc.Get(raw, t0); ok {
		t.Fatal("hit on an empty cache")
	}
	vc.Add(raw, claims)
	exp := time.Unix(claims.ExpiresAt, 0)
	tests := []struct {
		name  string
		token string
		now   time.Time
		hit   bool
	}{
		{"same bytes", raw, t0, true},
		{"a second before exp", raw, exp.Add(-time.Second), true},
		{"just before exp", raw, exp.Add(-time.Nanosecond), true},
		{"other bytes", raw + "x", t0, false},
		{"a prefix", raw[:len(raw)-1], t0, false},
		{"at exp, no leeway", raw, exp, false},
		{"after exp", raw, exp.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := vc.Get(tt.token, tt.now)
			if ok != tt.hit {
				t.Fatalf("hit = %v, want %v", ok, tt.hit)
			}
			if ok && got != claims {
				t.Errorf("hit returned other claims")
			}
		})
	}
	if vc.Len() != 0 {
		t.Errorf("an expired entry stayed: Len = %d", vc.Len())
	}

	t.Run("bounded", func(t *testing.T) {
		vc, _ := NewVerifiedCache(2)
		for i := range 5 {
			vc.Add(fmt.Sprint("token-", i), &Claims{ExpiresAt: t0.Unix() + 60})
		}
		if vc.Len() != 2 {
			t.Errorf("Len = %d, want 2", vc.Len())
		}
		if _, ok := vc.Get("token-0", t0); ok {
			t.Error("the oldest entry was not evicted")
		}
		if _, ok := vc.Get("token-4", t0); !ok {
			t.Error("the newest entry was evicted")
		}
		vc.Purge()
		if vc.Len() != 0 {
			t.Error("Purge left entries")
		}
	})
	t.Run("a shared key never admits another token", func(t *testing.T) {
		// Two tokens whose 64-bit keys collide: forced here, since finding
		// a real pair for a random seed would take billions of tries.
		vc, _ := NewVerifiedCache(2)
		const key = 42
		vc.add(key, raw, claims)
		if _, ok := vc.get(key, flipLast(raw), t0); ok {
			t.Fatal("another token with the same key was a hit")
		}
		if got, ok := vc.get(key, raw, t0); !ok || got != claims {
			t.Fatal("the cached token itself missed")
		}
		other := &Claims{ExpiresAt: t0.Unix() + 60}
		vc.add(key, "other", other)
		if _, ok := vc.get(key, raw, t0); ok {
			t.Error("the replaced token is still a hit")
		}
		if got, ok := vc.get(key, "other", t0); !ok || got != other {
			t.Error("the newer token with the shared key missed")
		}
	})
	t.Run("claims without exp are not cached", func(t *testing.T) {
		vc, _ := NewVerifiedCache(2)
		vc.Add("a", &Claims{})
		vc.Add("b", nil)
		if vc.Len() != 0 {
			t.Errorf("Len = %d", vc.Len())
		}
	})
	t.Run("size must be positive", func(t *testing.T) {
		for _, size := range []int{0, -1} {
			if _, err := NewVerifiedCache(size); err == nil {
				t.Errorf("size %d accepted", size)
			}
		}
	})
}

func TestVerifyCached(t *testing.T) {
	ks, _ := keySetFor(t, AlgES256)
	raw, err := ks.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	vc, err := NewVerifiedCache(8)
	if err != nil {
		t.Fatal(err)
	}
	v := testVerifier()
	first, err := v.VerifyCached(ks, vc, raw)
	if err != nil {
		t.Fatal(err)
	}
	second, err := v.VerifyCached(ks, vc, raw)
	if err != nil || second != first {
		t.Fatalf("second call: %v, same claims %v", err, second == first)
	}

	t.Run("a refused token is not cached", func(t *testing.T) {
		bad := flipLast(raw) // always a different signature
		for range 2 {
			if _, err := v.VerifyCached(ks, vc, bad); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("error = %v, want ErrBadSignature", err)
			}
		}
		if vc.Len() != 1 {
			t.Errorf("Len = %d, want 1", vc.Len())
		}
	})
	t.Run("another issuer does not take cached claims", func(t *testing.T) {
		other := testVerifier()
		other.Issuer = "https://other.example"
		if _, err := other.VerifyCached(ks, vc, raw); !errors.Is(err, ErrWrongIssuer) {
			t.Errorf("error = %v, want ErrWrongIssuer", err)
		}
		none := testVerifier()
		none.Issuer = ""
		if _, err := none.VerifyCached(ks, vc, raw); !errors.Is(err, ErrWrongIssuer) {
			t.Errorf("empty issuer: error = %v, want ErrWrongIssuer", err)
		}
	})
	t.Run("a key set without the key refuses cached claims", func(t *testing.T) {
		otherKS, _ := keySetFor(t, AlgEdDSA)
		if _, err := v.VerifyCached(otherKS, vc, raw); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("error = %v, want ErrUnknownKey", err)
		}
	})
	t.Run("a nil key set refuses cached claims", func(t *testing.T) {
		if _, err := v.VerifyCached(nil, vc, raw); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("error = %v, want ErrUnknownKey", err)
		}
	})
	t.Run("expired cached claims are verified again", func(t *testing.T) {
		late := testVerifier()
		late.Now = func() time.Time { return t0.Add(time.Hour) }
		if _, err := late.VerifyCached(ks, vc, raw); !errors.Is(err, ErrExpired) {
			t.Errorf("error = %v, want ErrExpired", err)
		}
	})
	t.Run("too long before hashing", func(t *testing.T) {
		long := make([]byte, MaxLength+1)
		if _, err := v.VerifyCached(ks, vc, string(long)); !errors.Is(err, ErrTooLong) {
			t.Errorf("error = %v, want ErrTooLong", err)
		}
	})
	t.Run("nil cache", func(t *testing.T) {
		if _, err := v.VerifyCached(ks, nil, raw); err != nil {
			t.Errorf("error = %v", err)
		}
	})
}

func TestVerifiedCacheHitAllocations(t *testing.T) {
	ks, _ := keySetFor(t, AlgES256)
	raw, err := ks.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := NewVerifiedCache(8)
	v := testVerifier()
	if _, err := v.VerifyCached(ks, vc, raw); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.VerifyCached(ks, vc, raw); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("a cache hit allocated %v times, want 0", allocs)
	}
}
