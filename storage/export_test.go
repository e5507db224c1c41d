package storage

import (
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// BulkLoad stores clients the way CreateClient does, chunk clients per
// transaction, so that tests can fill a large store in seconds.
func BulkLoad(b *Bolt, clients []Client, chunk int) error {
	for start := 0; start < len(clients); start += chunk {
		end := min(start+chunk, len(clients))
		err := b.db.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			count, err := readCount(meta)
			if err != nil {
				return err
			}
			for _, c := range clients[start:end] {
				value, err := MarshalClient(c)
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketClients).Put([]byte(c.ID), value); err != nil {
					return err
				}
				if err := tx.Bucket(bucketClientNames).Put([]byte(nameKey(c.Name)), []byte(c.ID)); err != nil {
					return err
				}
				count++
			}
			return putCount(meta, count)
		})
		if err != nil {
			return fmt.Errorf("bulk load: %w", err)
		}
	}
	return nil
}

// SetSchemaVersion overwrites the stored schema version.
func SetSchemaVersion(b *Bolt, version string) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(version))
	})
}

// SchemaVersion reads the stored schema version.
func SchemaVersion(b *Bolt) (int, error) {
	var v int
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = strconv.Atoi(string(tx.Bucket(bucketMeta).Get(keySchemaVersion)))
		return err
	})
	return v, err
}

// Tamper runs fn in a write transaction on the raw file, for tests that
// need a damaged store.
func Tamper(b *Bolt, fn func(tx *bolt.Tx) error) error { return b.db.Update(fn) }

// PagesSize returns how many bytes the store's pages span, which may be less
// than the file's size: bbolt grows the file ahead of use.
func PagesSize(b *Bolt) (int64, error) {
	var n int64
	err := b.db.View(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n, err
}

// LeafPages returns the ids of the file's leaf pages and the page size.
func LeafPages(b *Bolt) ([]int, int, error) {
	var ids []int
	err := b.db.View(func(tx *bolt.Tx) error {
		hwm := int(tx.Size()) / b.db.Info().PageSize
		for id := 2; id < hwm; id++ {
			info, err := tx.Page(id)
			if err != nil {
				return err
			}
			if info != nil && info.Type == "leaf" {
				ids = append(ids, id)
			}
		}
		return nil
	})
	return ids, b.db.Info().PageSize, err
}

// UnknownLen returns how many client IDs the cache remembers as unknown.
func UnknownLen(c *Cached) int { return c.clients.unknown.Len() }
