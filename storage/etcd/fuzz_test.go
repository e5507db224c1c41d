package etcd

import (
	"bytes"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
)

// FuzzDecode feeds what etcd holds under the prefix, as written by another
// gateway, another build or anyone with write access to etcd, to the
// replica's decoder: it never panics, and a signing key set that decodes
// was sealed under this gateway's key for the very key ID it carries.
func FuzzDecode(f *testing.F) {
	sealer, err := NewSealer(bytes.Repeat([]byte{7}, SealKeySize))
	if err != nil {
		f.Fatal(err)
	}
	s := &Store{prefix: "/p/", sealer: sealer}
	now := time.Unix(1_800_000_000, 0).UTC()
	keys, err := s.sealKeys([]storage.SigningKey{{ID: "k1", Algorithm: "ES256", PrivateKey: []byte("der"), CreatedAt: now, ActiveAt: now}})
	if err != nil {
		f.Fatal(err)
	}
	client, err := storage.MarshalClient(storage.Client{ID: "c1", Name: "billing", Scopes: []string{"read"}, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		f.Fatal(err)
	}
	session, err := storage.MarshalSession(storage.Session{ID: "s1", UserID: "u1", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	code, err := storage.MarshalAuthCode(storage.AuthCode{ID: "h", ClientID: "c1", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("/p/auth-codes/h", code)
	f.Add("/p/refresh-families/f1", []byte("\x01{\"id\":\"f1\",\"client_id\":\"c1\",\"user_id\":\"u1\",\"current\":[\"h\"],\"rotated\":[{\"hash\":\"g\",\"at\":\"2027-01-01T00:00:00Z\"}]}"))
	f.Add("/p/refresh-families/f1", []byte("\x01{\"rotated\":{}}"))
	f.Add("/p/auth-requests/r1", []byte("\x01{\"id\":\"r1\",\"client_id\":\"c1\",\"max_age\":-1}"))
	f.Add("/p/consents/u%2F1/c1", []byte("\x01{\"user_id\":\"u/1\",\"client_id\":\"c1\",\"scopes\":[\"openid\"]}"))
	f.Add("/p/consents/%zz/c1", []byte{0x01})
	f.Add("/p/sessions/s1", session)
	f.Add("/p/sessions/s1", []byte{0x02, '{', '}'})
	f.Add("/p/user-sessions/u1/s1", []byte{})
	f.Add("/p/keys", keys)
	f.Add("/p/keys", bytes.Replace(keys, []byte(`"k1"`), []byte(`"k2"`), 1))
	f.Add("/p/clients/c1", client)
	f.Add("/p/revocations/j1", []byte(`{"jti":"j1","client_id":"c1","expires_at":"2027-01-01T00:00:00Z"}`))
	f.Add("/p/usage/c1/gw1", []byte(`{"tokens_issued":3}`))
	f.Add("/p/meta/client-count", []byte("12"))
	f.Add("/p/meta/client-count", []byte("-1"))
	f.Add("/p/keys", []byte(`{"keys":[{"kid":"k1","alg":"ES256","sealed_private_key":"AAAA"}]}`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		// Telling the change of any key never panics either.
		_, _ = s.change(replica.Applied{Key: key})
		decoded, err := s.decode(key, value)
		if err != nil {
			return
		}
		if set, ok := decoded.([]storage.SigningKey); ok {
			for _, k := range set {
				if k.ID != "k1" || !bytes.Equal(k.PrivateKey, []byte("der")) {
					t.Fatalf("a key set that was not sealed for its key IDs decoded: %+v", k)
				}
			}
		}
	})
}

// FuzzConsentKey: whatever bytes a user and client ID hold, the pair that
// Follow reads back from a consent's key is the pair it was written for,
// so a change evicts exactly that pair from every gateway's cache.
func FuzzConsentKey(f *testing.F) {
	s := &Store{prefix: "/p/"}
	f.Add("u1", "c1")
	f.Add("a/b", "c/d")
	f.Add("%2F", "%")
	f.Add("", "x")
	f.Add("\xff\x00", "é ")
	f.Fuzz(func(t *testing.T, userID, clientID string) {
		key := s.consentKey(userID, clientID)
		ch, ok := s.change(replica.Applied{Key: key})
		if !ok || ch.ConsentUserID != userID || ch.ConsentClientID != clientID {
			t.Fatalf("change(%q) = %+v, %v; want the pair (%q, %q)", key, ch, ok, userID, clientID)
		}
	})
}
