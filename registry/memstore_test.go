package registry

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// memStore is a small in-memory storage.Store for the registry's tests. It
// keeps the contract that matters here: copies in and out, unique IDs and
// names ignoring case, the client limit, atomic updates, ID order in lists.
type memStore struct {
	mu      sync.Mutex
	clients map[string]storage.Client
	usage   map[string]storage.Usage
	keys    []storage.SigningKey
	revs    map[string]storage.Revocation
	// fail, when set, is returned by every call: a broken disk.
	fail error
	// gets counts GetClient calls.
	gets int
}

func newMemStore() *memStore {
	return &memStore{
		clients: map[string]storage.Client{},
		usage:   map[string]storage.Usage{},
		revs:    map[string]storage.Revocation{},
	}
}

var _ storage.Store = (*memStore)(nil)

func cloneClient(c storage.Client) storage.Client {
	c.Secrets = slices.Clone(c.Secrets)
	for i := range c.Secrets {
		c.Secrets[i].Hash = slices.Clone(c.Secrets[i].Hash)
	}
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.Scopes = slices.Clone(c.Scopes)
	c.Audience = slices.Clone(c.Audience)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.IPAllowlist = slices.Clone(c.IPAllowlist)
	c.Features = slices.Clone(c.Features)
	c.Claims = slices.Clone(c.Claims)
	c.Metadata = slices.Clone(c.Metadata)
	return c
}

func (s *memStore) nameTaken(name, exceptID string) bool {
	for id, c := range s.clients {
		if id != exceptID && strings.EqualFold(c.Name, name) {
			return true
		}
	}
	return false
}

func (s *memStore) CreateClient(_ context.Context, c storage.Client, maxClients int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.clients[c.ID]; ok || s.nameTaken(c.Name, "") {
		return storage.ErrAlreadyExists
	}
	if maxClients > 0 && len(s.clients) >= maxClients {
		return storage.ErrLimitExceeded
	}
	s.clients[c.ID] = cloneClient(c)
	return nil
}

func (s *memStore) GetClient(_ context.Context, id string) (storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.fail != nil {
		return storage.Client{}, s.fail
	}
	c, ok := s.clients[id]
	if !ok {
		return storage.Client{}, storage.ErrNotFound
	}
	return cloneClient(c), nil
}

func (s *memStore) ListClients(_ context.Context, opts storage.ListOptions) ([]storage.Client, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, false, s.fail
	}
	ids := make([]string, 0, len(s.clients))
	for id, c := range s.clients {
		if id > opts.After && (opts.Name == "" || strings.EqualFold(c.Name, opts.Name)) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	more := len(ids) > opts.Limit
	if more {
		ids = ids[:opts.Limit]
	}
	page := make([]storage.Client, 0, len(ids))
	for _, id := range ids {
		page = append(page, cloneClient(s.clients[id]))
	}
	return page, more, nil
}

func (s *memStore) UpdateClient(_ context.Context, id string, update func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return storage.Client{}, s.fail
	}
	old, ok := s.clients[id]
	if !ok {
		return storage.Client{}, storage.ErrNotFound
	}
	c, err := update(cloneClient(old))
	if err != nil {
		return storage.Client{}, err
	}
	c.ID = id
	if s.nameTaken(c.Name, id) {
		return storage.Client{}, storage.ErrAlreadyExists
	}
	s.clients[id] = cloneClient(c)
	return cloneClient(c), nil
}

func (s *memStore) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.clients[id]; !ok {
		return storage.ErrNotFound
	}
	delete(s.clients, id)
	delete(s.usage, id)
	return nil
}

func (s *memStore) CountClients(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	return len(s.clients), nil
}

func (s *memStore) SigningKeys(context.Context) ([]storage.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.keys), nil
}

func (s *memStore) UpdateSigningKeys(_ context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := update(slices.Clone(s.keys))
	if err != nil {
		return nil, err
	}
	s.keys = slices.Clone(keys)
	return keys, nil
}

func (s *memStore) Revoke(_ context.Context, r storage.Revocation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revs[r.JTI] = r
	return nil
}

func (s *memStore) Revocations(_ context.Context, now time.Time) ([]storage.Revocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Revocation
	for _, r := range s.revs {
		if r.ExpiresAt.After(now) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *memStore) PruneRevocations(_ context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for jti, r := range s.revs {
		if !r.ExpiresAt.After(now) {
			delete(s.revs, jti)
		}
	}
	return nil
}

func (s *memStore) AddUsage(_ context.Context, deltas map[string]storage.Usage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, d := range deltas {
		if _, ok := s.clients[id]; ok {
			s.usage[id] = s.usage[id].Add(d)
		}
	}
	return nil
}

func (s *memStore) Usage(_ context.Context, id string) (storage.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return storage.Usage{}, s.fail
	}
	return s.usage[id], nil
}

func (s *memStore) Close() error { return nil }

// record returns the stored client as JSON, for byte-level checks.
func (s *memStore) record(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(s.clients[id])
	if err != nil {
		panic(err)
	}
	return b
}

// snapshot returns every stored client as JSON, to prove that a refused
// request changed nothing.
func (s *memStore) snapshot() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(s.clients)
	if err != nil {
		panic(err)
	}
	return string(b)
}
