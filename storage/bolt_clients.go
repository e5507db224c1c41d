package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// callbackError carries an error returned by a caller's update function out
// of the transaction, so that it can be returned exactly as it was.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// CreateClient stores a new client; see Store. The record is encoded before
// the transaction, so the caller may reuse c at once.
//
// Concurrent calls are grouped into shared transactions (bbolt's Batch), so
// many creators share one disk sync.
func (b *Bolt) CreateClient(ctx context.Context, c Client, maxClients int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: create client: %w", err)
	}
	if err := checkIdentity(c); err != nil {
		return fmt.Errorf("storage: create client: %w", err)
	}
	value, err := MarshalClient(c)
	if err != nil {
		return fmt.Errorf("storage: create client %q: encode: %w", c.ID, err)
	}
	err = b.batch(func(tx *bolt.Tx) error {
		return clientKind.create(tx, c.ID, c.Name, value, maxClients)
	})
	if err != nil {
		return fmt.Errorf("storage: create client %q: %w", c.ID, err)
	}
	return nil
}

// CheckIdentity refuses a client that a backend's indexes could not hold:
// one with an empty ID or name. Every backend checks it before a write.
func CheckIdentity(c Client) error { return checkIdentity(c) }

// checkIdentity refuses a client that the indexes could not hold.
func checkIdentity(c Client) error {
	if c.ID == "" {
		return errors.New("empty client id")
	}
	if c.Name == "" {
		return fmt.Errorf("client %q has an empty name", c.ID)
	}
	return nil
}

// GetClient returns the client with that ID; see Store.
func (b *Bolt) GetClient(ctx context.Context, id string) (Client, error) {
	if err := ctx.Err(); err != nil {
		return Client{}, fmt.Errorf("storage: get client: %w", err)
	}
	var c Client
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketClients).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		c, err = UnmarshalClient(id, v)
		return err
	})
	if err != nil {
		return Client{}, fmt.Errorf("storage: get client %q: %w", id, err)
	}
	return c, nil
}

// ListClients returns a page of clients in ascending order of ID; see Store
// and ListOptions. A Limit below 1 is an error.
func (b *Bolt) ListClients(ctx context.Context, opts ListOptions) ([]Client, bool, error) {
	return listNamed(b, ctx, clientKind, opts, func(id, v []byte) (Client, error) { return UnmarshalClient(string(id), v) }, opts.SelectsClient)
}

// UpdateClient replaces a client atomically; see Store. The returned client
// is decoded from what was written, so it matches a later GetClient and
// shares no memory with what update returned.
//
// Concurrent calls are grouped into shared transactions, and bbolt may run a
// grouped transaction more than once: update must therefore be pure, a
// function of its argument without side effects, as it may be called several
// times for one UpdateClient. Each call gets its own freshly decoded copy.
func (b *Bolt) UpdateClient(ctx context.Context, id string, update func(Client) (Client, error)) (Client, error) {
	if err := ctx.Err(); err != nil {
		return Client{}, fmt.Errorf("storage: update client: %w", err)
	}
	if update == nil {
		return Client{}, errors.New("storage: update client: nil update function")
	}
	key := []byte(id)
	var written []byte
	err := b.batch(func(tx *bolt.Tx) error {
		written = nil
		clients := tx.Bucket(bucketClients)
		names := tx.Bucket(bucketClientNames)
		v := clients.Get(key)
		if v == nil {
			return ErrNotFound
		}
		old, err := UnmarshalClient(id, v)
		if err != nil {
			return err
		}
		oldName := nameKey(old.Name)
		next, err := callUpdate(update, old)
		if err != nil {
			return &callbackError{err}
		}
		if next.ID != id {
			return fmt.Errorf("the client id cannot change (to %q)", next.ID)
		}
		if err := checkIdentity(next); err != nil {
			return err
		}
		if newName := nameKey(next.Name); newName != oldName {
			if names.Get([]byte(newName)) != nil {
				return fmt.Errorf("client name %q: %w", next.Name, ErrAlreadyExists)
			}
			if err := names.Delete([]byte(oldName)); err != nil {
				return err
			}
			if err := names.Put([]byte(newName), key); err != nil {
				return err
			}
		}
		value, err := MarshalClient(next)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if err := clients.Put(key, value); err != nil {
			return err
		}
		written = value
		return nil
	})
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return Client{}, cerr.err
	}
	if err != nil {
		return Client{}, fmt.Errorf("storage: update client %q: %w", id, err)
	}
	stored, err := UnmarshalClient(id, written)
	if err != nil {
		return Client{}, fmt.Errorf("storage: update client %q: %w", id, err)
	}
	return stored, nil
}

// DeleteClient removes a client with its name index entry and usage; see
// Store.
func (b *Bolt) DeleteClient(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: delete client: %w", err)
	}
	key := []byte(id)
	err := b.batch(func(tx *bolt.Tx) error {
		clients := tx.Bucket(bucketClients)
		names := tx.Bucket(bucketClientNames)
		meta := tx.Bucket(bucketMeta)
		v := clients.Get(key)
		if v == nil {
			return ErrNotFound
		}
		storedAs, _, err := storedName(v)
		if err != nil {
			return err
		}
		count, err := readCount(meta)
		if err != nil {
			return err
		}
		if count == 0 {
			return errors.New("client count is 0 while a client exists")
		}
		// Only drop the index entry if it is this client's: never let a
		// damaged record free another client's name.
		name := []byte(nameKey(storedAs))
		if bytes.Equal(names.Get(name), key) {
			if err := names.Delete(name); err != nil {
				return err
			}
		}
		if err := clients.Delete(key); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUsage).Delete(key); err != nil {
			return err
		}
		if err := boltDeleteClientConsents(tx, id); err != nil {
			return fmt.Errorf("consents: %w", err)
		}
		if err := boltDeleteFamiliesOf(tx, func(f RefreshFamily) bool { return f.ClientID == id }); err != nil {
			return fmt.Errorf("refresh token families: %w", err)
		}
		return putCount(meta, count-1)
	})
	if err != nil {
		return fmt.Errorf("storage: delete client %q: %w", id, err)
	}
	return nil
}

// CountClients returns how many clients exist, from a stored counter.
func (b *Bolt) CountClients(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("storage: count clients: %w", err)
	}
	var n uint64
	err := b.view(func(tx *bolt.Tx) error {
		var err error
		n, err = readCount(tx.Bucket(bucketMeta))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage: count clients: %w", err)
	}
	return int(n), nil
}

// decodeJSON decodes a stored value. Decoding copies everything out of v,
// which bbolt only keeps valid until the transaction ends.
func decodeJSON(v []byte, into any) error {
	if err := json.Unmarshal(v, into); err != nil {
		return fmt.Errorf("decode stored record: %w", err)
	}
	return nil
}
