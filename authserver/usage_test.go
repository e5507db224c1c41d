package authserver

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// failingUsage is a store whose usage writes fail.
type failingUsage struct{ storage.Store }

func (failingUsage) AddUsage(context.Context, map[string]storage.Usage) error {
	return errors.New("disk full")
}

func TestUsageCountersFlushExactly(t *testing.T) {
	s := newTestServer(t)
	id, _ := newTestClient(t, s, "read")
	ctx := context.Background()
	u := s.Usage
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				u.request(id, i%5 != 0, t0.Add(time.Duration(w*1000+i)*time.Millisecond))
				if i%10 == 0 {
					u.tokenIssued(id, t0)
				}
				if i%100 == 0 {
					if err := u.Flush(ctx, s.Store); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()

	// Pending counts show through the registry before any flush …
	c, err := s.Registry.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := storage.Usage{TokensIssued: 200, RequestsAllowed: 1600, RequestsDenied: 400,
		LastTokenAt: t0, LastSeenAt: t0.Add(7249 * time.Millisecond)}
	if c.Usage.Usage != want {
		t.Fatalf("usage %+v, want %+v", c.Usage, want)
	}
	// … a failed flush keeps them …
	if err := u.Flush(ctx, failingUsage{s.Store}); err == nil {
		t.Fatal("flush into a failing store reported no error")
	}
	if got := u.pending(id); got.RequestsAllowed+got.TokensIssued == 0 {
		t.Fatal("a failed flush lost the counts")
	}
	// … and the final flush stores the exact totals.
	if err := u.Flush(ctx, s.Store); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Store.Usage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if stored != want {
		t.Fatalf("stored %+v, want %+v", stored, want)
	}
	if p := u.pending(id); p.TokensIssued+p.RequestsAllowed+p.RequestsDenied != 0 {
		t.Fatalf("pending after flush: %+v", p)
	}
}
