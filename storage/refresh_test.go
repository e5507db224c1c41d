package storage_test

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// testFamily is a live family whose current token has hash "h0".
func testFamily() storage.RefreshFamily {
	return storage.RefreshFamily{
		ID: "fam", ClientID: "spa", UserID: "u1", Scopes: []string{"openid", "orders:read"},
		CreatedAt: sampleTime, ExpiresAt: sampleTime.Add(30 * 24 * time.Hour), Current: []string{"h0"},
	}
}

func rotation(hash, jti string, at time.Time) storage.RefreshRotation {
	return storage.RefreshRotation{Hash: hash, AccessToken: storage.FamilyToken{JTI: jti, ExpiresAt: at.Add(15 * time.Minute)}}
}

// TestUseRefresh: each way a presented token can meet its family, and
// what the family becomes.
func TestUseRefresh(t *testing.T) {
	const grace = 10 * time.Second
	t1 := sampleTime.Add(time.Hour)
	rotatedOnce, _ := storage.UseRefresh(testFamily(), "h0", t1, grace, rotation("h1", "j1", t1))
	tests := []struct {
		name       string
		family     storage.RefreshFamily
		hash       string
		at         time.Time
		want       storage.RefreshUse
		current    []string
		replayed   bool
		accessJTIs []string
	}{
		{"the current token rotates", testFamily(), "h0", t1, storage.RefreshRotated, []string{"h1"}, false, []string{"j1"}},
		{"an unknown token changes nothing", testFamily(), "nope", t1, storage.RefreshUnknown, []string{"h0"}, false, nil},
		{"an empty hash changes nothing", testFamily(), "", t1, storage.RefreshUnknown, []string{"h0"}, false, nil},
		{"a retry within the grace joins the current tokens", rotatedOnce, "h0", t1.Add(grace), storage.RefreshRetried, []string{"h1", "h2"}, false, []string{"j1", "j2"}},
		{"a rotated token after the grace is a replay", rotatedOnce, "h0", t1.Add(grace + time.Nanosecond), storage.RefreshReplayed, nil, true, []string{"j1"}},
		{"the token issued by the rotation rotates", rotatedOnce, "h1", t1.Add(time.Minute), storage.RefreshRotated, []string{"h2"}, false, []string{"j1", "j2"}},
		{"an expired family is unknown", testFamily(), "h0", testFamily().ExpiresAt, storage.RefreshUnknown, []string{"h0"}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, use := storage.UseRefresh(tt.family.Clone(), tt.hash, tt.at, grace, rotation(nextHash(tt.family), nextJTI(tt.family), tt.at))
			if use != tt.want {
				t.Fatalf("use = %v; want %v", use, tt.want)
			}
			if !slices.Equal(got.Current, tt.current) {
				t.Errorf("current = %v; want %v", got.Current, tt.current)
			}
			if replayed := !got.ReplayedAt.IsZero(); replayed != tt.replayed || got.Live(tt.at) == replayed && use != storage.RefreshUnknown {
				t.Errorf("replayed = %v, live = %v; want replayed %v", replayed, got.Live(tt.at), tt.replayed)
			}
			var jtis []string
			for _, a := range got.AccessTokens {
				jtis = append(jtis, a.JTI)
			}
			if !slices.Equal(jtis, tt.accessJTIs) {
				t.Errorf("access tokens = %v; want %v", jtis, tt.accessJTIs)
			}
			if use == storage.RefreshUnknown && !reflect.DeepEqual(got, tt.family) {
				t.Errorf("an unknown use changed the family: %+v", got)
			}
		})
	}
}

// nextHash and nextJTI name the next token of a family by how many it has
// given, so that a case's expectations can name them.
func nextHash(f storage.RefreshFamily) string {
	return "h" + string(rune('1'+len(f.AccessTokens)))
}

func nextJTI(f storage.RefreshFamily) string {
	return "j" + string(rune('1'+len(f.AccessTokens)))
}

// TestUseRefreshBounds: a family's lists stay bounded however often it is
// used, so that its record never outgrows what a store takes; retries stop
// at MaxLiveRefresh current tokens; expired access tokens are dropped.
func TestUseRefreshBounds(t *testing.T) {
	f := testFamily()
	at := sampleTime
	for i := range 1000 {
		at = at.Add(time.Second)
		var use storage.RefreshUse
		f, use = storage.UseRefresh(f, f.Current[0], at, time.Minute, storage.RefreshRotation{
			Hash:        "hash-" + time.Duration(i).String() + "-0123456789012345678901234567890123456789",
			AccessToken: storage.FamilyToken{JTI: "jti-0123456789abcdef0123456789", ExpiresAt: at.Add(90 * time.Minute)},
		})
		if use != storage.RefreshRotated {
			t.Fatalf("use %d = %v", i, use)
		}
	}
	if len(f.Rotated) != storage.MaxRotatedRefresh || len(f.AccessTokens) != storage.MaxFamilyAccessTokens {
		t.Fatalf("after 1000 uses: %d rotated, %d access tokens; want %d and %d", len(f.Rotated), len(f.AccessTokens), storage.MaxRotatedRefresh, storage.MaxFamilyAccessTokens)
	}
	if _, err := storage.MarshalRefreshFamily(f); err != nil {
		t.Fatalf("a family at its bounds does not fit a record: %v", err)
	}
	rotated := f.Rotated[len(f.Rotated)-1].Hash
	for i := range storage.MaxLiveRefresh + 2 {
		var use storage.RefreshUse
		f, use = storage.UseRefresh(f, rotated, at, time.Minute, storage.RefreshRotation{Hash: "retry-" + string(rune('a'+i))})
		if want := storage.RefreshRetried; i >= storage.MaxLiveRefresh-1 {
			if use != storage.RefreshUnknown {
				t.Fatalf("retry %d with %d current tokens = %v; want RefreshUnknown", i, len(f.Current), use)
			}
		} else if use != want {
			t.Fatalf("retry %d = %v; want %v", i, use, want)
		}
	}
	later := at.Add(91 * time.Minute)
	f, _ = storage.UseRefresh(f, f.Current[0], later, time.Minute, rotation("last", "j-last", later))
	if len(f.AccessTokens) != 1 || f.AccessTokens[0].JTI != "j-last" {
		t.Fatalf("expired access tokens kept: %v", f.AccessTokens)
	}
}

// FuzzUnmarshalRefreshFamily: whatever a store holds under a family's key
// never panics the decoder, and what decodes encodes to a stable form: it
// decodes and encodes again to the same bytes (empty and absent lists are
// one to a store).
func FuzzUnmarshalRefreshFamily(f *testing.F) {
	seed, err := storage.MarshalRefreshFamily(testFamily())
	if err != nil {
		f.Fatal(err)
	}
	used, _ := storage.UseRefresh(testFamily(), "h0", sampleTime.Add(time.Hour), time.Second, rotation("h1", "j1", sampleTime))
	usedSeed, err := storage.MarshalRefreshFamily(used)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(usedSeed)
	f.Add([]byte{0x01})
	f.Add([]byte("\x01{\"rotated\":[{\"hash\":1}]}"))
	f.Add([]byte("\x02{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fam, err := storage.UnmarshalRefreshFamily(data)
		if err != nil {
			return
		}
		again, err := storage.MarshalRefreshFamily(fam)
		if err != nil {
			return // larger than a store takes: refused on write, not a fault
		}
		back, err := storage.UnmarshalRefreshFamily(again)
		if err != nil {
			t.Fatalf("an encoded family does not decode: %v", err)
		}
		third, err := storage.MarshalRefreshFamily(back)
		if err != nil || !bytes.Equal(third, again) {
			t.Fatalf("encoding is not stable: %q, %v; want %q", third, err, again)
		}
	})
}
