package etcd

import (
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openStore(t, testPrefix(t), "gw-a", func(o *Options) {
			// The suite's revocations expire in 2026, before or after the
			// test runs; a long floor keeps etcd from dropping them while
			// the suite looks at them.
			o.MinRevocationTTL = time.Hour
		})
	})
}
