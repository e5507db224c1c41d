package storage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

func BenchmarkGetClient(b *testing.B) {
	ctx := context.Background()
	store := openTestBolt(b)
	clients := manyClients(1000)
	if err := storage.BulkLoad(store, clients, 1000); err != nil {
		b.Fatal(err)
	}
	b.Run("bolt", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := store.GetClient(ctx, clients[i%len(clients)].ID); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("cached hit", func(b *testing.B) {
		cache, err := storage.NewCached(store, len(clients))
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range clients {
			if _, err := cache.GetClient(ctx, c.ID); err != nil {
				b.Fatal(err)
			}
		}
		i := 0
		for b.Loop() {
			if _, err := cache.GetClient(ctx, clients[i%len(clients)].ID); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("cached unknown", func(b *testing.B) {
		// The same unknown IDs again and again, as a client with a stale or
		// made-up ID would send them: after the first miss each one should
		// cost what a cached hit costs, not a read of the store.
		cache, err := storage.NewCached(store, len(clients))
		if err != nil {
			b.Fatal(err)
		}
		unknown := make([]string, len(clients))
		for i := range unknown {
			unknown[i] = fmt.Sprintf("unknown-client-%06d", i)
			if _, err := cache.GetClient(ctx, unknown[i]); !errors.Is(err, storage.ErrNotFound) {
				b.Fatal(err)
			}
		}
		i := 0
		for b.Loop() {
			if _, err := cache.GetClient(ctx, unknown[i%len(unknown)]); !errors.Is(err, storage.ErrNotFound) {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("cached hit parallel", func(b *testing.B) {
		cache, err := storage.NewCached(store, len(clients))
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range clients {
			if _, err := cache.GetClient(ctx, c.ID); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1))
			for pb.Next() {
				if _, err := cache.GetClient(ctx, clients[i%len(clients)].ID); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkCreateClientParallel creates clients from 64 goroutines at once,
// as a burst of admin requests would, and reports the rate.
func BenchmarkCreateClientParallel(b *testing.B) {
	const writers = 64
	ctx := context.Background()
	store := openTestBolt(b)
	b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			c := sampleClient(fmt.Sprintf("client-%09d", i), fmt.Sprintf("Client %09d", i))
			if err := store.CreateClient(ctx, c, 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkLargeStore loads 100,000 clients, then measures what must not
// grow with the store: opening it, counting, and reading one client.
func BenchmarkLargeStore(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "large.db")
	store, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	clients := manyClients(n)
	if err := storage.BulkLoad(store, clients, 5000); err != nil {
		b.Fatal(err)
	}
	if err := store.Close(); err != nil {
		b.Fatal(err)
	}

	b.Run("open", func(b *testing.B) {
		var slowest time.Duration
		for b.Loop() {
			start := time.Now()
			s, err := storage.Open(path, storage.BoltOptions{})
			if err != nil {
				b.Fatal(err)
			}
			slowest = max(slowest, time.Since(start))
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(slowest.Microseconds())/1000, "slowest-ms")
		if slowest >= time.Second {
			b.Errorf("opening a store of %d clients took %v, want under 1s", n, slowest)
		}
	})

	s, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("count", func(b *testing.B) {
		for b.Loop() {
			got, err := s.CountClients(ctx)
			if err != nil || got != n {
				b.Fatalf("CountClients = %d, %v; want %d", got, err, n)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.GetClient(ctx, clients[(i*7919)%n].ID); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("list page of 100", func(b *testing.B) {
		for b.Loop() {
			page, more, err := s.ListClients(ctx, storage.ListOptions{After: clients[n/2].ID, Limit: 100})
			if err != nil || len(page) != 100 || !more {
				b.Fatalf("ListClients = %d clients, %v, %v", len(page), more, err)
			}
		}
	})
}
