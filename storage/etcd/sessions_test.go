package etcd

import (
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// A session and its index entry live under a lease that lasts until the
// session's absolute end, so etcd forgets them by itself; a touch keeps
// the lease. Nothing of the record is sealed: it holds no secret.
func TestSessionKeysAreLeased(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	s := openStore(t, prefix, "gw-a")
	now := time.Now().UTC().Truncate(time.Second)
	sess := storage.Session{ID: "sid", UserID: "a/b", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Minute}
	if err := s.CreateSession(ctx, sess, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, "sid", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	cli := rawClient(t)
	for _, key := range []string{prefix + "/sessions/sid", prefix + "/user-sessions/a%2Fb/sid"} {
		resp, err := cli.Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("Get(%s) = %v, %v", key, resp, err)
		}
		if resp.Kvs[0].Lease == 0 {
			t.Fatalf("%s has no lease", key)
		}
		ttl, err := cli.TimeToLive(ctx, clientLeaseID(resp.Kvs[0].Lease))
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Duration(ttl.TTL) * time.Second; left < time.Until(sess.ExpiresAt)-5*time.Second || left > time.Hour+5*time.Second {
			t.Fatalf("%s lease ends in %v, want about the session's end (1h)", key, left)
		}
	}
	got, err := s.GetSession(ctx, "sid")
	if err != nil || !got.LastSeenAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("GetSession after touch = %+v, %v", got, err)
	}
}

// A Cached over one gateway evicts a session that another gateway ends.
func TestCachedFollowsSessionsOfOtherGateway(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	a, b := openStore(t, prefix, "gw-a"), openStore(t, prefix, "gw-b")
	cache, err := storage.NewCached(a, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	now := time.Now().UTC()
	sess := storage.Session{ID: "sid", UserID: "u", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := b.CreateSession(ctx, sess, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "gateway a sees the session", func() bool {
		_, err := cache.GetSession(ctx, "sid")
		return err == nil
	})
	if err := b.DeleteSession(ctx, "sid"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "gateway a's cache forgets the ended session", func() bool {
		_, err := cache.GetSession(ctx, "sid")
		return errors.Is(err, storage.ErrNotFound)
	})
}
