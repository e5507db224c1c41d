package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// CreateClient stores a new client; see storage.Store. One transaction
// checks that the ID and the name key are free and that the count is the
// one read, and writes the client, its name and the count plus one.
func (s *Store) CreateClient(ctx context.Context, c storage.Client, maxClients int) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: create client: %w", err)
	}
	if err := storage.CheckIdentity(c); err != nil {
		return fmt.Errorf("storage: create client: %w", err)
	}
	value, err := storage.MarshalClient(c)
	if err != nil {
		return fmt.Errorf("storage: create client %q: encode: %w", c.ID, err)
	}
	err = s.createNamed(ctx, named{noun: "client", nameNoun: "client name", countKey: s.countKey()},
		s.clientKey(c.ID), s.nameKey(c.Name), c.ID, c.Name, value, maxClients)
	if err != nil {
		return fmt.Errorf("storage: create client %q: %w", c.ID, err)
	}
	return nil
}

// countOf reads the client count item; a missing count is zero.
func countOf(it item) (int64, error) {
	if !it.ok {
		return 0, nil
	}
	if it.err != nil {
		return 0, it.err
	}
	return it.decoded.(int64), nil
}

// GetClient returns the client with that ID from the replica. The record is
// shared read-only, as the storage package says.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	if err := s.usable(ctx); err != nil {
		return storage.Client{}, fmt.Errorf("storage: get client: %w", err)
	}
	c, err := s.replicaClient(s.clientKey(id))
	if err != nil {
		return storage.Client{}, fmt.Errorf("storage: get client %q: %w", id, err)
	}
	return c, nil
}

// replicaClient returns the decoded client under key.
func (s *Store) replicaClient(key string) (storage.Client, error) {
	e, ok := s.replica.Get(key)
	if !ok {
		return storage.Client{}, storage.ErrNotFound
	}
	return entryClient(e)
}

func entryClient(e *replica.Entry) (storage.Client, error) {
	if e.Err != nil {
		return storage.Client{}, e.Err
	}
	return e.Decoded.(storage.Client), nil
}

// ListClients returns a page of clients in ascending order of ID, from the
// replica; see storage.Store.
func (s *Store) ListClients(ctx context.Context, opts storage.ListOptions) ([]storage.Client, bool, error) {
	if err := s.usable(ctx); err != nil {
		return nil, false, fmt.Errorf("storage: list clients: %w", err)
	}
	if opts.Limit < 1 {
		return nil, false, fmt.Errorf("storage: list clients: limit is %d, want at least 1", opts.Limit)
	}
	if opts.Name != "" {
		// Names are unique, so the filter leaves at most one client.
		e, ok := s.replica.Get(s.nameKey(opts.Name))
		if !ok {
			return nil, false, nil
		}
		id := string(e.Value)
		if opts.After != "" && id <= opts.After {
			return nil, false, nil
		}
		c, err := s.replicaClient(s.clientKey(id))
		if err != nil {
			return nil, false, fmt.Errorf("storage: list clients: name index entry points at client %q: %w", id, err)
		}
		if !opts.SelectsClient(c) {
			return nil, false, nil
		}
		return []storage.Client{c}, false, nil
	}
	start := s.clientKey(opts.After)
	var (
		page = make([]storage.Client, 0, min(opts.Limit, 100))
		more bool
		err  error
	)
	s.replica.Range(start, replica.PrefixEnd(s.clientKey("")), func(e *replica.Entry) bool {
		if opts.After != "" && e.Key == start {
			return true
		}
		var c storage.Client
		if c, err = entryClient(e); err != nil {
			err = fmt.Errorf("client key %q: %w", e.Key, err)
			return false
		}
		if !opts.SelectsClient(c) {
			return true
		}
		// A full page has more only when a client the filter keeps
		// follows, so a cursor never leads to an empty page.
		if len(page) == opts.Limit {
			more = true
			return false
		}
		page = append(page, c)
		return true
	})
	if err != nil {
		return nil, false, fmt.Errorf("storage: list clients: %w", err)
	}
	return page, more, nil
}

// named is a kind of record kept by ID with a unique name index and a
// count: clients and users.
type named struct {
	noun, nameNoun string // "client", "client name", in errors
	countKey       string
}

// createNamed stores a new record at idKey with its name index at nameKey
// and the kind's count raised, in one transaction comparing that neither
// key exists and the count is the one read: ErrAlreadyExists when the ID or
// the name is taken, ErrLimitExceeded when max records exist already (max
// <= 0: no limit). Counted writes of one kind are serialised (countCAS).
func (s *Store) createNamed(ctx context.Context, k named, idKey, nameKey, id, name string, value []byte, max int) error {
	return s.countCAS(ctx, k.countKey, func(v *view) (plan, error) {
		p := plan{keys: []string{idKey, nameKey, k.countKey}}
		if v.get(idKey).ok {
			return p, fmt.Errorf("%s id: %w", k.noun, storage.ErrAlreadyExists)
		}
		if v.get(nameKey).ok {
			return p, fmt.Errorf("%s %q: %w", k.nameNoun, name, storage.ErrAlreadyExists)
		}
		count := v.get(k.countKey)
		n, err := countOf(count)
		if err != nil {
			return p, err
		}
		if max > 0 && n >= int64(max) {
			return p, fmt.Errorf("%d %ss exist, the maximum is %d: %w", n, k.noun, max, storage.ErrLimitExceeded)
		}
		p.cmps = []clientv3.Cmp{
			clientv3.Compare(clientv3.CreateRevision(idKey), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(nameKey), "=", 0),
			clientv3.Compare(clientv3.ModRevision(k.countKey), "=", count.modRevision()),
		}
		p.ops = []clientv3.Op{
			clientv3.OpPut(idKey, string(value)),
			clientv3.OpPut(nameKey, id),
			clientv3.OpPut(k.countKey, strconv.FormatInt(n+1, 10)),
		}
		return p, nil
	})
}

// UpdateClient replaces a client; see storage.Store. Each attempt decodes
// a private copy for update and compares the client's ModRevision; a
// rename also compares that the new name key is free, and moves the index
// entry. update runs again after a lost race, so it must be pure.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	if err := s.usable(ctx); err != nil {
		return storage.Client{}, fmt.Errorf("storage: update client: %w", err)
	}
	if update == nil {
		return storage.Client{}, errors.New("storage: update client: nil update function")
	}
	idKey := s.clientKey(id)
	var written []byte
	err := s.writeCAS(ctx, func(v *view) (plan, error) {
		written = nil
		p := plan{keys: []string{idKey}}
		cur := v.get(idKey)
		if !cur.ok {
			return p, storage.ErrNotFound
		}
		old, err := storage.UnmarshalClient(id, cur.kv.Value)
		if err != nil {
			return p, err
		}
		oldName := s.nameKey(old.Name)
		next, err := update(old)
		if err != nil {
			return p, &callbackError{err}
		}
		if next.ID != id {
			return p, fmt.Errorf("the client id cannot change (to %q)", next.ID)
		}
		if err := storage.CheckIdentity(next); err != nil {
			return p, err
		}
		value, err := storage.MarshalClient(next)
		if err != nil {
			return p, fmt.Errorf("encode: %w", err)
		}
		p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(idKey), "=", cur.kv.ModRevision)}
		p.ops = []clientv3.Op{clientv3.OpPut(idKey, string(value))}
		if err := rename(v, &p, id, oldName, s.nameKey(next.Name)); err != nil {
			return p, fmt.Errorf("client name %q: %w", next.Name, err)
		}
		written = value
		return p, nil
	})
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return storage.Client{}, cerr.err
	}
	if err != nil {
		return storage.Client{}, fmt.Errorf("storage: update client %q: %w", id, err)
	}
	stored, err := storage.UnmarshalClient(id, written)
	if err != nil {
		return storage.Client{}, fmt.Errorf("storage: update client %q: %w", id, err)
	}
	return stored, nil
}

// DeleteClient removes a client, its name index entry and every gateway's
// usage of it, and counts one client less, in one transaction.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: delete client: %w", err)
	}
	idKey, countKey := s.clientKey(id), s.countKey()
	// The consents given to it, found by a walk of the replica's, go in
	// the client's transaction while they fit, and before it otherwise.
	if err := s.deleteFamiliesOf(ctx, func(f storage.RefreshFamily) bool { return f.ClientID == id }); err != nil {
		return fmt.Errorf("storage: delete client %q: refresh token families: %w", id, err)
	}
	consents := s.clientConsentKeys(id)
	if len(consents) > sessionChunk {
		if err := s.deleteKeys(ctx, consents); err != nil {
			return fmt.Errorf("storage: delete client %q: consents: %w", id, err)
		}
		consents = s.clientConsentKeys(id)
	}
	err := s.countCAS(ctx, s.countKey(), func(v *view) (plan, error) {
		p := plan{keys: []string{idKey, countKey}}
		cur, err := v.existing(idKey)
		if err != nil {
			return p, err
		}
		count := v.get(countKey)
		n, err := countOf(count)
		if err != nil {
			return p, err
		}
		if n <= 0 {
			return p, fmt.Errorf("client count is %d while a client exists", n)
		}
		nameKey := s.nameKey(cur.decoded.(storage.Client).Name)
		p.keys = append(p.keys, nameKey)
		p.cmps = []clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(idKey), "=", cur.kv.ModRevision),
			clientv3.Compare(clientv3.ModRevision(countKey), "=", count.modRevision()),
		}
		p.ops = []clientv3.Op{
			clientv3.OpDelete(idKey),
			clientv3.OpPut(countKey, strconv.FormatInt(n-1, 10)),
			clientv3.OpDelete(s.usagePrefix(id), clientv3.WithPrefix()),
		}
		for _, k := range consents {
			p.ops = append(p.ops, clientv3.OpDelete(k))
		}
		if name := v.get(nameKey); name.ok && string(name.kv.Value) == id {
			p.cmps = append(p.cmps, clientv3.Compare(clientv3.ModRevision(nameKey), "=", name.kv.ModRevision))
			p.ops = append(p.ops, clientv3.OpDelete(nameKey))
		}
		return p, nil
	})
	if err != nil {
		return fmt.Errorf("storage: delete client %q: %w", id, err)
	}
	return nil
}

// CountClients returns how many clients the replica holds.
func (s *Store) CountClients(ctx context.Context) (int, error) {
	if err := s.usable(ctx); err != nil {
		return 0, fmt.Errorf("storage: count clients: %w", err)
	}
	from := s.clientKey("")
	return s.replica.Count(from, replica.PrefixEnd(from)), nil
}

// rename moves id's entry in a name index from oldName to newName (keys of
// the index; nothing when they are the same) as part of plan p: the new
// name must be free (ErrAlreadyExists), and the old entry is dropped only if
// it is id's, so that a damaged record never frees another record's name.
// Clients and users share it.
func rename(v *view, p *plan, id, oldName, newName string) error {
	if newName == oldName {
		return nil
	}
	p.keys = append(p.keys, newName, oldName)
	if v.get(newName).ok {
		return storage.ErrAlreadyExists
	}
	p.cmps = append(p.cmps, clientv3.Compare(clientv3.CreateRevision(newName), "=", 0))
	p.ops = append(p.ops, clientv3.OpPut(newName, id))
	if old := v.get(oldName); old.ok && string(old.kv.Value) == id {
		p.cmps = append(p.cmps, clientv3.Compare(clientv3.ModRevision(oldName), "=", old.kv.ModRevision))
		p.ops = append(p.ops, clientv3.OpDelete(oldName))
	}
	return nil
}
