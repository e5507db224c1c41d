package storage

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// namedKind is a kind of record that bbolt keeps by ID with a unique,
// case-folded name index and a count in the meta bucket: clients and users.
// Creating one checks and writes all three the same way for every kind.
type namedKind struct {
	noun     string // "client", in errors
	nameNoun string // "client name"
	records  []byte // ID → record
	names    []byte // nameKey(name) → ID
	countKey []byte // in bucketMeta
}

var (
	clientKind = namedKind{noun: "client", nameNoun: "client name", records: bucketClients, names: bucketClientNames, countKey: keyClientCount}
	userKind   = namedKind{noun: "user", nameNoun: "username", records: bucketUsers, names: bucketUsernames, countKey: keyUserCount}
)

// count returns the stored count.
func (k namedKind) count(meta *bolt.Bucket) (uint64, error) {
	raw := meta.Get(k.countKey)
	if len(raw) != 8 {
		return 0, fmt.Errorf("%s count has %d bytes, want 8", k.noun, len(raw))
	}
	return binary.BigEndian.Uint64(raw), nil
}

// putCount stores the count.
func (k namedKind) putCount(meta *bolt.Bucket, n uint64) error {
	return meta.Put(k.countKey, binary.BigEndian.AppendUint64(nil, n))
}

// create stores a new record under id with its name in the index, within
// tx: ErrAlreadyExists when the ID or the name (ignoring case) is taken,
// ErrLimitExceeded when max records exist already (max <= 0: no limit).
func (k namedKind) create(tx *bolt.Tx, id, name string, value []byte, max int) error {
	records, names, meta := tx.Bucket(k.records), tx.Bucket(k.names), tx.Bucket(bucketMeta)
	idKey, nameIdx := []byte(id), []byte(nameKey(name))
	if records.Get(idKey) != nil {
		return fmt.Errorf("%s id: %w", k.noun, ErrAlreadyExists)
	}
	if names.Get(nameIdx) != nil {
		return fmt.Errorf("%s %q: %w", k.nameNoun, name, ErrAlreadyExists)
	}
	count, err := k.count(meta)
	if err != nil {
		return err
	}
	if max > 0 && count >= uint64(max) {
		return fmt.Errorf("%d %ss exist, the maximum is %d: %w", count, k.noun, max, ErrLimitExceeded)
	}
	if err := records.Put(idKey, value); err != nil {
		return err
	}
	if err := names.Put(nameIdx, idKey); err != nil {
		return err
	}
	return k.putCount(meta, count+1)
}

// readCount returns the stored client count.
func readCount(meta *bolt.Bucket) (uint64, error) { return clientKind.count(meta) }

// putCount stores the client count.
func putCount(meta *bolt.Bucket, n uint64) error { return clientKind.putCount(meta, n) }

// readUserCount returns the stored user count.
func readUserCount(meta *bolt.Bucket) (uint64, error) { return userKind.count(meta) }

// putUserCount stores the user count.
func putUserCount(meta *bolt.Bucket, n uint64) error { return userKind.putCount(meta, n) }
