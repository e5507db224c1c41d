package storagetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

func testCreateGet(t *testing.T, s storage.Store) {
	disabled := minimalClient("client-disabled", "Disabled one")
	disabled.Disabled = true
	disabled.RequireScopeRequest = true
	clients := []storage.Client{
		fullClient("client-full", "Full"),
		minimalClient("client-minimal", "Minimal"),
		disabled,
	}
	for _, c := range clients {
		mustCreate(t, s, c)
	}
	for _, want := range clients {
		t.Run(want.ID, func(t *testing.T) {
			wantClient(t, s, want)
		})
	}
	t.Run("unknown", func(t *testing.T) {
		wantMissing(t, s, "client-unknown")
		wantMissing(t, s, "")
	})
	t.Run("empty identity refused", func(t *testing.T) {
		for _, c := range []storage.Client{minimalClient("", "No id"), minimalClient("client-no-name", "")} {
			if err := s.CreateClient(t.Context(), c, 0); err == nil {
				t.Errorf("CreateClient(id %q, name %q) succeeded, want an error", c.ID, c.Name)
			}
		}
		wantMissing(t, s, "client-no-name")
		wantCount(t, s, len(clients))
	})
}

func testDuplicateID(t *testing.T, s storage.Store) {
	first := fullClient("client-a", "First")
	mustCreate(t, s, first)
	err := s.CreateClient(t.Context(), minimalClient("client-a", "Second"), 0)
	if !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateClient with a taken id: error = %v, want ErrAlreadyExists", err)
	}
	wantClient(t, s, first)
	wantCount(t, s, 1)
	// The refused create must not have taken its name.
	mustCreate(t, s, minimalClient("client-b", "Second"))
	wantCount(t, s, 2)
}

func testDuplicateName(t *testing.T, s storage.Store) {
	// Names are compared under Unicode simple case folding (strings.EqualFold).
	tests := []struct {
		name       string
		existing   string
		candidate  string
		wantExists bool
	}{
		{"same name", "Billing", "Billing", true},
		{"lower case", "Billing", "billing", true},
		{"upper case", "Billing", "BILLING", true},
		{"mixed case", "Billing Service", "bILLING sERVICE", true},
		{"accented letters", "École Numérique", "éCOLE NUMÉRIQUE", true},
		{"greek final sigma", "ΟΔΥΣΣΕΥΣ", "οδυσσευς", true},
		{"kelvin sign", "\u212Aelvin", "kelvin", true},
		{"longer name", "acme", "acme2", false},
		{"different letters", "acme", "acne", false},
		{"sharp s is not ss", "Straße", "STRASSE", false},
		{"dotted capital i", "İzmir", "izmir", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The prefix keeps the cases apart; it has no letters to fold.
			prefix := fmt.Sprintf("%02d ", i)
			existing := minimalClient(fmt.Sprintf("client-%02d-a", i), prefix+tt.existing)
			mustCreate(t, s, existing)
			candidate := minimalClient(fmt.Sprintf("client-%02d-b", i), prefix+tt.candidate)
			err := s.CreateClient(t.Context(), candidate, 0)
			if tt.wantExists {
				if !errors.Is(err, storage.ErrAlreadyExists) {
					t.Fatalf("CreateClient(%q) after %q: error = %v, want ErrAlreadyExists", candidate.Name, existing.Name, err)
				}
				wantMissing(t, s, candidate.ID)
			} else {
				if err != nil {
					t.Fatalf("CreateClient(%q) after %q: %v", candidate.Name, existing.Name, err)
				}
				wantClient(t, s, candidate)
			}
			wantClient(t, s, existing)
		})
	}
}

func testMaxClients(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for i := range 3 {
		if err := s.CreateClient(ctx, minimalClient(fmt.Sprintf("client-%d", i), fmt.Sprintf("Client %d", i)), 3); err != nil {
			t.Fatalf("CreateClient %d of 3: %v", i, err)
		}
	}
	over := minimalClient("client-over", "Over")
	if err := s.CreateClient(ctx, over, 3); !errors.Is(err, storage.ErrLimitExceeded) {
		t.Fatalf("CreateClient past the maximum: error = %v, want ErrLimitExceeded", err)
	}
	wantMissing(t, s, over.ID)
	wantCount(t, s, 3)
	// A limit of 2 is exceeded already: still refused, nothing removed.
	if err := s.CreateClient(ctx, over, 2); !errors.Is(err, storage.ErrLimitExceeded) {
		t.Fatalf("CreateClient with maxClients below the count: error = %v, want ErrLimitExceeded", err)
	}
	wantCount(t, s, 3)
	// A taken id at the limit may be reported as either error; what matters
	// is that nothing is stored.
	if err := s.CreateClient(ctx, minimalClient("client-0", "Zero again"), 3); err == nil {
		t.Fatal("CreateClient with a taken id at the limit succeeded")
	}
	// maxClients <= 0 means no limit.
	for i, max := range []int{0, -1} {
		c := minimalClient(fmt.Sprintf("client-nolimit-%d", i), fmt.Sprintf("No limit %d", i))
		if err := s.CreateClient(ctx, c, max); err != nil {
			t.Fatalf("CreateClient with maxClients %d: %v", max, err)
		}
	}
	wantCount(t, s, 5)
	// Deleting frees a place.
	if err := s.CreateClient(ctx, over, 5); !errors.Is(err, storage.ErrLimitExceeded) {
		t.Fatalf("CreateClient at 5 of 5: error = %v, want ErrLimitExceeded", err)
	}
	if err := s.DeleteClient(ctx, "client-1"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if err := s.CreateClient(ctx, over, 5); err != nil {
		t.Fatalf("CreateClient at 4 of 5: %v", err)
	}
	wantCount(t, s, 5)
}

func testMaxClientsConcurrent(t *testing.T, s storage.Store) {
	const (
		creators   = 64
		maxClients = 10
	)
	errs := make([]error, creators)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range creators {
		wg.Go(func() {
			<-start
			c := minimalClient(fmt.Sprintf("client-%02d", i), fmt.Sprintf("Client %02d", i))
			errs[i] = s.CreateClient(t.Context(), c, maxClients)
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, storage.ErrLimitExceeded):
		default:
			t.Errorf("creator %d: error = %v, want nil or ErrLimitExceeded", i, err)
		}
	}
	if created != maxClients {
		t.Fatalf("%d creates succeeded, want exactly %d", created, maxClients)
	}
	wantCount(t, s, maxClients)
	if got := listAll(t, s, 100); len(got) != maxClients {
		t.Fatalf("ListClients found %d clients, want %d", len(got), maxClients)
	}
}

func testList(t *testing.T, s storage.Store) {
	const n = 25
	byID := make(map[string]storage.Client, n)
	// Create in a shuffled order: the listing order must not depend on it.
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		c := fullClient(fmt.Sprintf("client-%02d", i), fmt.Sprintf("Client Name %02d", i))
		c.Scopes = []string{fmt.Sprintf("scope-%d", i)}
		mustCreate(t, s, c)
		byID[c.ID] = c
	}
	idRange := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("client-%02d", i))
		}
		return out
	}
	tests := []struct {
		name     string
		opts     storage.ListOptions
		wantIDs  []string
		wantMore bool
	}{
		{"first page", storage.ListOptions{Limit: 10}, idRange(0, 10), true},
		{"second page", storage.ListOptions{After: "client-09", Limit: 10}, idRange(10, 20), true},
		{"last page", storage.ListOptions{After: "client-19", Limit: 10}, idRange(20, 25), false},
		{"page that ends exactly at the last", storage.ListOptions{After: "client-14", Limit: 10}, idRange(15, 25), false},
		{"after an id that does not exist", storage.ListOptions{After: "client-14x", Limit: 2}, idRange(15, 17), true},
		{"after an id before all", storage.ListOptions{After: "a", Limit: 1}, idRange(0, 1), true},
		{"after the last", storage.ListOptions{After: "client-24", Limit: 10}, nil, false},
		{"after an id past all", storage.ListOptions{After: "zzz", Limit: 10}, nil, false},
		{"everything", storage.ListOptions{Limit: 100}, idRange(0, 25), false},
		{"limit one", storage.ListOptions{After: "client-23", Limit: 1}, idRange(24, 25), false},
		{"name", storage.ListOptions{Name: "Client Name 07", Limit: 10}, idRange(7, 8), false},
		{"name in another case", storage.ListOptions{Name: "cLIENT nAME 07", Limit: 1}, idRange(7, 8), false},
		{"name after an earlier id", storage.ListOptions{Name: "client name 07", After: "client-06", Limit: 10}, idRange(7, 8), false},
		{"name after its own id", storage.ListOptions{Name: "client name 07", After: "client-07", Limit: 10}, nil, false},
		{"name after a later id", storage.ListOptions{Name: "client name 07", After: "client-20", Limit: 10}, nil, false},
		{"unknown name", storage.ListOptions{Name: "Client Name 99", Limit: 10}, nil, false},
		{"name prefix is no match", storage.ListOptions{Name: "Client Name 0", Limit: 10}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, more, err := s.ListClients(t.Context(), tt.opts)
			if err != nil {
				t.Fatalf("ListClients(%+v): %v", tt.opts, err)
			}
			if got := ids(page); !slices.Equal(got, tt.wantIDs) {
				t.Fatalf("ListClients(%+v) ids = %v, want %v", tt.opts, got, tt.wantIDs)
			}
			if more != tt.wantMore {
				t.Fatalf("ListClients(%+v) more = %v, want %v", tt.opts, more, tt.wantMore)
			}
			for _, c := range page {
				equalClient(t, "listed client", c, byID[c.ID])
			}
		})
	}
	t.Run("all pages", func(t *testing.T) {
		for _, limit := range []int{1, 7, 25, 26} {
			if got := ids(listAll(t, s, limit)); !slices.Equal(got, idRange(0, n)) {
				t.Fatalf("pages of %d: ids = %v, want %v", limit, got, idRange(0, n))
			}
		}
	})
	t.Run("bad limit", func(t *testing.T) {
		for _, limit := range []int{0, -1} {
			if _, _, err := s.ListClients(t.Context(), storage.ListOptions{Limit: limit}); err == nil {
				t.Errorf("ListClients with limit %d succeeded, want an error", limit)
			}
		}
	})
	t.Run("empty store page", func(t *testing.T) {
		for id := range byID {
			if err := s.DeleteClient(t.Context(), id); err != nil {
				t.Fatalf("DeleteClient(%q): %v", id, err)
			}
		}
		page, more, err := s.ListClients(t.Context(), storage.ListOptions{Limit: 10})
		if err != nil || len(page) != 0 || more {
			t.Fatalf("ListClients on an empty store = %v, %v, %v; want no clients, false, nil", ids(page), more, err)
		}
	})
}

// testListRegistered lists a mixed set by Registered: the filter is applied
// inside the listing, so pages fill up to their limit, more is true only
// when another selected client follows, and After works as a cursor.
func testListRegistered(t *testing.T, s storage.Store) {
	const n = 12
	// Every third client registered itself, so the two kinds interleave
	// and the set ends with administrators' clients after the last
	// registered one.
	var registered, made, all []string
	for _, i := range rand.New(rand.NewPCG(3, 4)).Perm(n) {
		c := minimalClient(fmt.Sprintf("client-%02d", i), fmt.Sprintf("Client Name %02d", i))
		c.Registered = i%3 == 0
		mustCreate(t, s, c)
	}
	for i := range n {
		id := fmt.Sprintf("client-%02d", i)
		all = append(all, id)
		if i%3 == 0 {
			registered = append(registered, id)
		} else {
			made = append(made, id)
		}
	}
	yes, no := true, false
	tests := []struct {
		name     string
		opts     storage.ListOptions
		wantIDs  []string
		wantMore bool
	}{
		{"registered: a full page", storage.ListOptions{Registered: &yes, Limit: 2}, []string{"client-00", "client-03"}, true},
		{"registered: the last page, followed only by others", storage.ListOptions{Registered: &yes, After: "client-03", Limit: 2}, []string{"client-06", "client-09"}, false},
		{"registered: after an unselected id", storage.ListOptions{Registered: &yes, After: "client-04", Limit: 1}, []string{"client-06"}, true},
		{"registered: after the last", storage.ListOptions{Registered: &yes, After: "client-09", Limit: 5}, nil, false},
		{"administrators': a full page", storage.ListOptions{Registered: &no, Limit: 3}, []string{"client-01", "client-02", "client-04"}, true},
		{"administrators': everything", storage.ListOptions{Registered: &no, Limit: 100}, made, false},
		{"both", storage.ListOptions{Limit: 100}, all, false},
		{"name of a registered client, registered", storage.ListOptions{Registered: &yes, Name: "client name 03", Limit: 10}, []string{"client-03"}, false},
		{"name of a registered client, administrators'", storage.ListOptions{Registered: &no, Name: "client name 03", Limit: 10}, nil, false},
		{"name of an administrators' client, registered", storage.ListOptions{Registered: &yes, Name: "client name 04", Limit: 10}, nil, false},
		{"name of an administrators' client, administrators'", storage.ListOptions{Registered: &no, Name: "client name 04", Limit: 10}, []string{"client-04"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, more, err := s.ListClients(t.Context(), tt.opts)
			if err != nil {
				t.Fatalf("ListClients(%+v): %v", tt.opts, err)
			}
			if got := ids(page); !slices.Equal(got, tt.wantIDs) {
				t.Fatalf("ListClients(%+v) ids = %v, want %v", tt.opts, got, tt.wantIDs)
			}
			if more != tt.wantMore {
				t.Fatalf("ListClients(%+v) more = %v, want %v", tt.opts, more, tt.wantMore)
			}
		})
	}
	t.Run("cursor across pages", func(t *testing.T) {
		for _, limit := range []int{1, 3, 4, 5} {
			for _, tt := range []struct {
				which      string
				registered *bool
				want       []string
			}{{"registered", &yes, registered}, {"administrators'", &no, made}, {"both", nil, all}} {
				got := ids(listPages(t, s, storage.ListOptions{Registered: tt.registered, Limit: limit}))
				if !slices.Equal(got, tt.want) {
					t.Fatalf("pages of %d, %s: ids = %v, want %v", limit, tt.which, got, tt.want)
				}
			}
		}
	})
}

func testUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alpha := fullClient("client-alpha", "Alpha")
	beta := fullClient("client-beta", "Beta")
	mustCreate(t, s, alpha)
	mustCreate(t, s, beta)

	t.Run("replaces the record", func(t *testing.T) {
		want := alpha
		want.Scopes = []string{"orders:read"}
		want.Disabled = true
		want.UpdatedAt = t0.Add(time.Hour)
		calls := 0
		got, err := s.UpdateClient(ctx, alpha.ID, func(c storage.Client) (storage.Client, error) {
			calls++
			equalClient(t, "update argument", c, alpha)
			c.Scopes = []string{"orders:read"}
			c.Disabled = true
			c.UpdatedAt = t0.Add(time.Hour)
			return c, nil
		})
		if err != nil {
			t.Fatalf("UpdateClient: %v", err)
		}
		if calls == 0 {
			t.Fatal("update function never called")
		}
		equalClient(t, "UpdateClient result", got, want)
		wantClient(t, s, want)
		alpha = want
	})

	t.Run("update error aborts", func(t *testing.T) {
		_, err := s.UpdateClient(ctx, alpha.ID, func(c storage.Client) (storage.Client, error) {
			// Changing the argument in place must not leak into the store.
			c.Scopes[0] = "changed"
			c.Secrets[0].Hash[0] ^= 0xff
			c.IPAllowlist[0] = c.IPAllowlist[1]
			c.Name = "Changed"
			return c, errAbort
		})
		if err != errAbort {
			t.Fatalf("UpdateClient error = %v, want the update function's error as it is", err)
		}
		wantClient(t, s, alpha)
		// The name it tried is free.
		mustCreate(t, s, minimalClient("client-changed", "changed"))
	})

	t.Run("unknown client", func(t *testing.T) {
		called := false
		_, err := s.UpdateClient(ctx, "client-unknown", func(c storage.Client) (storage.Client, error) {
			called = true
			return c, nil
		})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("UpdateClient of an unknown client: error = %v, want ErrNotFound", err)
		}
		if called {
			t.Fatal("update function called for an unknown client")
		}
		wantMissing(t, s, "client-unknown")
	})

	t.Run("rename", func(t *testing.T) {
		got, err := s.UpdateClient(ctx, alpha.ID, func(c storage.Client) (storage.Client, error) {
			c.Name = "Alpha Renamed"
			return c, nil
		})
		if err != nil {
			t.Fatalf("UpdateClient rename: %v", err)
		}
		alpha.Name = "Alpha Renamed"
		equalClient(t, "UpdateClient result", got, alpha)
		wantClient(t, s, alpha)
		page, _, err := s.ListClients(ctx, storage.ListOptions{Name: "alpha renamed", Limit: 1})
		if err != nil || !slices.Equal(ids(page), []string{alpha.ID}) {
			t.Fatalf("ListClients by the new name = %v, %v; want [%s]", ids(page), err, alpha.ID)
		}
		page, _, err = s.ListClients(ctx, storage.ListOptions{Name: "Alpha", Limit: 1})
		if err != nil || len(page) != 0 {
			t.Fatalf("ListClients by the old name = %v, %v; want nothing", ids(page), err)
		}
		// The old name is free again, in any case.
		mustCreate(t, s, minimalClient("client-new-alpha", "ALPHA"))
	})

	t.Run("rename to a taken name", func(t *testing.T) {
		for _, taken := range []string{"Beta", "bEtA", "ALPHA"} {
			_, err := s.UpdateClient(ctx, alpha.ID, func(c storage.Client) (storage.Client, error) {
				c.Name = taken
				c.Scopes = []string{"should-not-be-stored"}
				return c, nil
			})
			if !errors.Is(err, storage.ErrAlreadyExists) {
				t.Fatalf("UpdateClient rename to %q: error = %v, want ErrAlreadyExists", taken, err)
			}
		}
		wantClient(t, s, alpha)
		wantClient(t, s, beta)
	})

	t.Run("change of letter case of its own name", func(t *testing.T) {
		_, err := s.UpdateClient(ctx, beta.ID, func(c storage.Client) (storage.Client, error) {
			c.Name = "BETA"
			return c, nil
		})
		if err != nil {
			t.Fatalf("UpdateClient to BETA: %v", err)
		}
		beta.Name = "BETA"
		wantClient(t, s, beta)
		page, _, err := s.ListClients(ctx, storage.ListOptions{Name: "beta", Limit: 1})
		if err != nil || !slices.Equal(ids(page), []string{beta.ID}) {
			t.Fatalf("ListClients by name = %v, %v; want [%s]", ids(page), err, beta.ID)
		}
		if err := s.CreateClient(ctx, minimalClient("client-beta-2", "Beta"), 0); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("CreateClient Beta after the case change: error = %v, want ErrAlreadyExists", err)
		}
	})

	t.Run("id cannot change", func(t *testing.T) {
		for _, newID := range []string{"client-other", "", beta.ID} {
			_, err := s.UpdateClient(ctx, alpha.ID, func(c storage.Client) (storage.Client, error) {
				c.ID = newID
				return c, nil
			})
			if err == nil {
				t.Fatalf("UpdateClient changing the id to %q succeeded", newID)
			}
		}
		wantClient(t, s, alpha)
		wantClient(t, s, beta)
		wantMissing(t, s, "client-other")
	})

	t.Run("empty name refused", func(t *testing.T) {
		_, err := s.UpdateClient(ctx, alpha.ID, func(c storage.Client) (storage.Client, error) {
			c.Name = ""
			return c, nil
		})
		if err == nil {
			t.Fatal("UpdateClient to an empty name succeeded")
		}
		wantClient(t, s, alpha)
	})
}

func testUpdateConcurrent(t *testing.T, s storage.Store) {
	const writers = 16
	base := minimalClient("client-shared", "Shared")
	mustCreate(t, s, base)
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			scope := fmt.Sprintf("scope-%02d", i)
			_, errs[i] = s.UpdateClient(t.Context(), base.ID, func(c storage.Client) (storage.Client, error) {
				c.Scopes = append(c.Scopes, scope)
				return c, nil
			})
		})
	}
	wg.Wait()
	var want []string
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
		want = append(want, fmt.Sprintf("scope-%02d", i))
	}
	got := slices.Sorted(slices.Values(mustGet(t, s, base.ID).Scopes))
	if !slices.Equal(got, want) {
		t.Fatalf("after %d concurrent updates, scopes = %v, want %v (an update was lost)", writers, got, want)
	}
}

func testDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	gone := fullClient("client-gone", "Gone")
	kept := fullClient("client-kept", "Kept")
	mustCreate(t, s, gone)
	mustCreate(t, s, kept)
	delta := storage.Usage{TokensIssued: 3, LastTokenAt: t0}
	if err := s.AddUsage(ctx, map[string]storage.Usage{gone.ID: delta, kept.ID: delta}); err != nil {
		t.Fatalf("AddUsage: %v", err)
	}

	if err := s.DeleteClient(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	wantMissing(t, s, gone.ID)
	wantCount(t, s, 1)
	if err := s.DeleteClient(ctx, gone.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteClient twice: error = %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx, "client-unknown"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteClient of an unknown client: error = %v, want ErrNotFound", err)
	}
	wantCount(t, s, 1)
	if got := ids(listAll(t, s, 10)); !slices.Equal(got, []string{kept.ID}) {
		t.Fatalf("ListClients after delete = %v, want [%s]", got, kept.ID)
	}
	wantClient(t, s, kept)
	if u, err := s.Usage(ctx, kept.ID); err != nil || u != delta {
		t.Fatalf("Usage of the kept client = %+v, %v; want %+v", u, err, delta)
	}

	// The usage went with the client: a new client with the same id starts
	// from zero.
	if u, err := s.Usage(ctx, gone.ID); err != nil || u != (storage.Usage{}) {
		t.Fatalf("Usage of a deleted client = %+v, %v; want zero", u, err)
	}
	// Its name is free again, in any case, and so is its id.
	mustCreate(t, s, minimalClient("client-other", "GONE"))
	again := minimalClient(gone.ID, "Gone again")
	mustCreate(t, s, again)
	wantClient(t, s, again)
	if u, err := s.Usage(ctx, gone.ID); err != nil || u != (storage.Usage{}) {
		t.Fatalf("Usage of a re-created client = %+v, %v; want zero", u, err)
	}
	wantCount(t, s, 3)
}

func testCount(t *testing.T, s storage.Store) {
	ctx := t.Context()
	wantCount(t, s, 0)
	for i := range 5 {
		mustCreate(t, s, minimalClient(fmt.Sprintf("client-%d", i), fmt.Sprintf("Client %d", i)))
		wantCount(t, s, i+1)
	}
	// Refused writes change nothing.
	_ = s.CreateClient(ctx, minimalClient("client-0", "Duplicate id"), 0)
	_ = s.CreateClient(ctx, minimalClient("client-x", "CLIENT 0"), 0)
	_ = s.CreateClient(ctx, minimalClient("client-y", "Over the limit"), 5)
	_ = s.DeleteClient(ctx, "client-unknown")
	wantCount(t, s, 5)
	if _, err := s.UpdateClient(ctx, "client-0", func(c storage.Client) (storage.Client, error) {
		c.Name = "Renamed"
		return c, nil
	}); err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	wantCount(t, s, 5)
	if err := s.DeleteClient(ctx, "client-3"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	wantCount(t, s, 4)
}

func testRecordsAreCopied(t *testing.T, s storage.Store) {
	ctx := t.Context()
	t.Run("create", func(t *testing.T) {
		c := fullClient("client-created", "Created")
		mustCreate(t, s, c)
		scribble(&c)
		wantClient(t, s, fullClient("client-created", "Created"))
	})
	t.Run("update result", func(t *testing.T) {
		mustCreate(t, s, fullClient("client-updated", "Updated"))
		want := fullClient("client-updated", "Updated")
		want.Scopes = []string{"new:scope", "other:scope"}
		var handed storage.Client
		got, err := s.UpdateClient(ctx, want.ID, func(c storage.Client) (storage.Client, error) {
			c.Scopes = []string{"new:scope", "other:scope"}
			handed = c
			return c, nil
		})
		if err != nil {
			t.Fatalf("UpdateClient: %v", err)
		}
		scribble(&handed)
		equalClient(t, "UpdateClient result after the update's value changed", got, want)
		wantClient(t, s, want)
	})
	t.Run("update argument", func(t *testing.T) {
		want := fullClient("client-updated", "Updated")
		want.Scopes = []string{"new:scope", "other:scope"}
		_, err := s.UpdateClient(ctx, want.ID, func(c storage.Client) (storage.Client, error) {
			scribble(&c)
			return storage.Client{}, errAbort
		})
		if err != errAbort {
			t.Fatalf("UpdateClient error = %v, want errAbort", err)
		}
		wantClient(t, s, want)
	})
	t.Run("signing keys", func(t *testing.T) {
		keys := []storage.SigningKey{signingKey("kid-1", t0)}
		var handed []storage.SigningKey
		if _, err := s.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
			handed = keys
			return keys, nil
		}); err != nil {
			t.Fatalf("UpdateSigningKeys: %v", err)
		}
		handed[0].PrivateKey[0] ^= 0xff
		handed[0].ID = "changed"
		got, err := s.SigningKeys(ctx)
		if err != nil {
			t.Fatalf("SigningKeys: %v", err)
		}
		if want := []storage.SigningKey{signingKey("kid-1", t0)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("SigningKeys after the update's value changed = %+v, want %+v", got, want)
		}
	})
}

// scribble changes every slice of c in place.
func scribble(c *storage.Client) {
	c.Secrets[0].Hash[0] ^= 0xff
	c.Secrets[0].ID = "scribbled"
	c.GrantTypes[0] = "scribbled"
	c.Scopes[0] = "scribbled"
	c.Audience[0] = "scribbled"
	c.RedirectURIs[0] = "scribbled"
	c.IPAllowlist[0] = c.IPAllowlist[len(c.IPAllowlist)-1]
	c.Features[0] = "scribbled"
	c.Claims[0] = '['
	c.Metadata[0] = '['
}
