package storage_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
	bolt "go.etcd.io/bbolt"
)

// refuseWrites makes path refuse new entries (a directory) or writing (a
// file), and undoes it when the test ends. As an ordinary user that is a
// mode without write permission; as root, whom modes do not stop, it is
// the file system's immutable attribute (chattr +i), which even root
// obeys. The test is skipped where neither works.
func refuseWrites(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, info.Mode().Perm()&^0o222); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(path, info.Mode().Perm()) })
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("running as root and chattr +i is not available here: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
}

// TestOpenReportsWhatCannotBeCreated: a store that cannot be created or
// opened for writing (no permission, an immutable or read-only file system,
// a parent that is a file) is reported as exactly that, with the system's
// reason, and never as a corrupt store, which would send the operator
// looking for damage that is not there.
func TestOpenReportsWhatCannotBeCreated(t *testing.T) {
	open := func(t *testing.T, path string) error {
		t.Helper()
		b, err := storage.Open(path, storage.BoltOptions{Timeout: 200 * time.Millisecond})
		if err == nil {
			b.Close()
			t.Fatalf("Open(%s) succeeded", path)
		}
		t.Logf("Open: %v", err)
		if strings.Contains(err.Error(), "corrupt") {
			t.Errorf("error = %q: it blames the file's content", err)
		}
		return err
	}
	wantPermission := func(t *testing.T, err error, prefix string) {
		t.Helper()
		if !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("error = %q, want it to start with %q", err, prefix)
		}
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("error = %q does not wrap fs.ErrPermission", err)
		}
	}

	t.Run("directory refuses new files", func(t *testing.T) {
		dir := t.TempDir()
		refuseWrites(t, dir)
		path := filepath.Join(dir, "scopegate.db")
		err := open(t, path)
		wantPermission(t, err, "storage: cannot create "+path+": ")
		if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
			t.Errorf("a file was left behind: %v", statErr)
		}
	})
	t.Run("existing store cannot be opened for writing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "scopegate.db")
		b, err := storage.Open(path, storage.BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		refuseWrites(t, path)
		wantPermission(t, open(t, path), "storage: cannot open "+path+" for reading and writing: ")
	})
	t.Run("a parent is a file", func(t *testing.T) {
		parent := filepath.Join(t.TempDir(), "a-file")
		if err := os.WriteFile(parent, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(parent, "scopegate.db")
		err := open(t, path)
		if want := "storage: cannot create the directory of " + path + ": "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error = %q, want it to start with %q", err, want)
		}
	})
}

// Check finds a username index that disagrees with the users.
func TestCheckFindsUserIndexDamage(t *testing.T) {
	b, err := storage.Open(filepath.Join(t.TempDir(), "store.db"), storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.CreateUser(t.Context(), storage.User{ID: "user-1", Username: "Ada"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(); err != nil {
		t.Fatalf("Check of a sound store: %v", err)
	}
	err = storage.Tamper(b, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("usernames")).Put([]byte("ghost"), []byte("user-9"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check(); err == nil || !strings.Contains(err.Error(), `username index entry "ghost" points at missing user "user-9"`) {
		t.Fatalf("Check = %v, want the dangling username entry named", err)
	}
}
