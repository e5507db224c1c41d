package etcd

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const testHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"

// The password hash is never in etcd in the clear: it is sealed for its
// user's ID, a gateway without the sealing key cannot read or write it,
// and a sealed hash moved onto another user does not open.
func TestUserPasswordHashSealed(t *testing.T) {
	prefix := testPrefix(t)
	a := openStore(t, prefix, "gw-a")
	ctx := t.Context()
	u := storage.User{ID: "user-1", Username: "Ada", PasswordHash: testHash, CreatedAt: t0, UpdatedAt: t0}
	if err := a.CreateUser(ctx, u, 0); err != nil {
		t.Fatal(err)
	}
	cli := rawClient(t)
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	for _, kv := range resp.Kvs {
		if bytes.Contains(kv.Value, []byte("argon2id")) || bytes.Contains(kv.Value, []byte("aGFzaA")) {
			t.Fatalf("key %s holds the password hash in the clear: %q", kv.Key, kv.Value)
		}
		if string(kv.Key) == prefix+"/users/user-1" {
			raw = kv.Value
		}
	}
	if raw == nil {
		t.Fatal("no users/user-1 key")
	}
	if got, err := a.GetUser(ctx, "user-1"); err != nil || got.PasswordHash != testHash {
		t.Fatalf("GetUser = %+v, %v; want the hash back", got, err)
	}

	t.Run("bound to the user ID", func(t *testing.T) {
		moved := bytes.Replace(raw, []byte(`"user_id":"user-1"`), []byte(`"user_id":"user-2"`), 1)
		if _, err := cli.Put(ctx, prefix+"/users/user-2", string(moved)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "replica sees user-2", func() bool {
			_, err := a.GetUser(ctx, "user-2")
			return !errors.Is(err, storage.ErrNotFound)
		})
		if _, err := a.GetUser(ctx, "user-2"); err == nil {
			t.Fatal("a hash sealed for user-1 opened as user-2's")
		}
	})

	t.Run("no sealer", func(t *testing.T) {
		c := openStore(t, prefix, "gw-c", func(o *Options) { o.Sealer = nil })
		if _, err := c.GetUser(ctx, "user-1"); !errors.Is(err, ErrNoSealer) {
			t.Fatalf("GetUser without a sealer: error = %v, want ErrNoSealer", err)
		}
		err := c.CreateUser(ctx, storage.User{ID: "user-3", Username: "Bob", PasswordHash: testHash}, 0)
		if !errors.Is(err, ErrNoSealer) {
			t.Fatalf("CreateUser with a hash without a sealer: error = %v, want ErrNoSealer", err)
		}
		// A user without a password needs no sealer.
		if err := c.CreateUser(ctx, storage.User{ID: "user-4", Username: "Cy"}, 0); err != nil {
			t.Fatal(err)
		}
	})
}

// Another gateway's replica serves users and roles written through the
// first, and Follow tells each as UserID or Role.
func TestFollowUsersAndRoles(t *testing.T) {
	prefix := testPrefix(t)
	a := openStore(t, prefix, "gw-a")
	b := openStore(t, prefix, "gw-b")
	ctx := t.Context()
	var (
		mu    sync.Mutex
		heard []string
	)
	stop := b.Follow(func(c storage.Change) {
		var line string
		switch {
		case c.UserID != "":
			line = "user " + c.UserID
		case c.Role != "":
			line = "role " + c.Role
		default:
			line = fmt.Sprintf("other %+v", c)
		}
		mu.Lock()
		heard = append(heard, line)
		mu.Unlock()
	})
	defer stop()
	if err := a.CreateRole(ctx, storage.Role{Name: "viewer", Scopes: []string{"read"}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateUser(ctx, storage.User{ID: "user-1", Username: "Ada", Roles: []string{"viewer"}, PasswordHash: testHash, CreatedAt: t0}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateUser(ctx, "user-1", func(u storage.User) (storage.User, error) { u.Username = "Ada2"; return u, nil }); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteRole(ctx, "viewer"); err != nil {
		t.Fatal(err)
	}
	want := "role viewer|user user-1|user user-1|role viewer"
	eventually(t, 5*time.Second, "b hears "+want, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(heard, "|") == want
	})
	u, err := b.GetUserByUsername(ctx, "ADA2")
	if err != nil || u.ID != "user-1" || u.PasswordHash != testHash {
		t.Fatalf("b: GetUserByUsername = %+v, %v", u, err)
	}
	if n, err := b.CountUsers(ctx); err != nil || n != 1 {
		t.Fatalf("b: CountUsers = %d, %v; want 1", n, err)
	}
}
