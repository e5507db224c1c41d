package etcd

import (
	"bytes"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
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
