package password

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkParams measures one hash for each candidate parameter set, the
// figures DefaultParams' choice rests on: ms/op is the time of one sign-in,
// B/op its memory.
func BenchmarkParams(b *testing.B) {
	for _, p := range []Params{
		DefaultParams,
		{Time: 1, MemoryKiB: 46 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16},
		{Time: 3, MemoryKiB: 64 * 1024, Threads: 4, KeyLen: 32, SaltLen: 16},
	} {
		b.Run(fmt.Sprintf("m=%dMiB,t=%d,p=%d", p.MemoryKiB/1024, p.Time, p.Threads), func(b *testing.B) {
			h, err := NewHasher(p, 1)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if _, err := h.Hash(ctx, "violet-harbour-92"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/hash")
		})
	}
}

// BenchmarkSignInFlood verifies wrong passwords from many goroutines at
// once against a Hasher with the default parameters and bound
// (GOMAXPROCS): hashes/s is the sign-in rate the machine sustains; B/op
// stays one hash's memory, and at most GOMAXPROCS hashes hold theirs at
// once however many callers wait (TestConcurrentComputationsAreBounded).
func BenchmarkSignInFlood(b *testing.B) {
	h, err := NewHasher(DefaultParams, 0)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	phc, err := h.Hash(ctx, "violet-harbour-92")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(8) // 8 × GOMAXPROCS callers, most of them waiting
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := h.Verify(ctx, phc, "wrong password"); err != nil && err != ErrBusy {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "hashes/s")
}
