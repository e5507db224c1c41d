package etcd

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/storagetest"
)

// A single-machine deployment moves to etcd: storage.Copy from bbolt.
func TestCopyBoltToEtcd(t *testing.T) {
	openBolt := func(t *testing.T) storage.Store {
		b, err := storage.Open(filepath.Join(t.TempDir(), "scopegate.db"), storage.BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	openEtcd := func(t *testing.T) storage.Store {
		return openStore(t, testPrefix(t), "gw-migrate", func(o *Options) { o.MinRevocationTTL = time.Hour })
	}
	storagetest.RunCopy(t, openEtcd, openBolt)
}
