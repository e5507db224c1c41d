package storage_test

import (
	"testing"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/storagetest"
)

func TestCopyBoltToBolt(t *testing.T) {
	open := func(t *testing.T) storage.Store { return openTestBolt(t) }
	storagetest.RunCopy(t, open, open)
}
