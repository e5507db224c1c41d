package etcd

import (
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
)

// A person's flow moves between gateways faster than a watch delivers: a
// session, a pending authorization request and a consent written at one
// gateway are read at another whose watch is held back, from etcd, and
// through a cache in front of it too. An ID etcd has none of is still
// ErrNotFound.
func TestPersonRecordsReadBeforeTheWatchDelivers(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	var gate *gatedFeed
	a := openStore(t, prefix, "gw-a")
	b := openStore(t, prefix, "gw-b", func(o *Options) {
		o.wrapFeed = func(f replica.Feed) replica.Feed {
			gate = &gatedFeed{Feed: f}
			return gate
		}
	})
	cached, err := storage.NewCached(b, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer cached.Close()
	release := gate.cutAndHold(t)
	defer release()

	now := time.Now().UTC().Truncate(time.Second)
	sess := storage.Session{ID: "sid-1", UserID: "u/1", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := a.CreateSession(ctx, sess, 0); err != nil {
		t.Fatal(err)
	}
	req := storage.AuthRequest{ID: "req-1", ClientID: "spa", UserID: "u/1", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := a.CreateAuthRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutConsent(ctx, "u/1", "spa", func(c storage.Consent) (storage.Consent, error) {
		c.Scopes = []string{"orders:read"}
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.replica.Get(b.sessionKey("sid-1")); ok {
		t.Fatal("gateway b's replica has the session: the watch was not held back")
	}

	for name, s := range map[string]storage.Store{"store": b, "cache": cached} {
		if got, err := s.GetSession(ctx, "sid-1"); err != nil || got.UserID != "u/1" {
			t.Fatalf("%s: GetSession = %+v, %v", name, got, err)
		}
		if got, err := s.GetAuthRequest(ctx, "req-1"); err != nil || got.ClientID != "spa" {
			t.Fatalf("%s: GetAuthRequest = %+v, %v", name, got, err)
		}
		if got, err := s.GetConsent(ctx, "u/1", "spa"); err != nil || !got.Granted() {
			t.Fatalf("%s: GetConsent = %+v, %v", name, got, err)
		}
		if _, err := s.GetSession(ctx, "sid-unknown"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("%s: GetSession of an unknown ID = %v, want ErrNotFound", name, err)
		}
	}
}
