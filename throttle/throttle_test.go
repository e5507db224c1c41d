package throttle

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestThrottle(t *testing.T) {
	cases := []struct {
		name        string
		failures    int
		at          time.Duration // after the first failure
		wantBlocked bool
		wantRetry   time.Duration
	}{
		{"under the limit", 2, time.Second, false, 0},
		{"at the limit", 3, time.Second, true, 59 * time.Second},
		{"retry rounds up to a whole second", 3, 1500 * time.Millisecond, true, 59 * time.Second},
		{"window over", 3, time.Minute, false, 0},
		{"long after", 3, time.Hour, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th := New(3, time.Minute, 10)
			for range tc.failures {
				th.Fail("client", t0)
			}
			retry, blocked := th.Blocked("client", t0.Add(tc.at))
			if blocked != tc.wantBlocked || retry != tc.wantRetry {
				t.Fatalf("Blocked = %v, %v; want %v, %v", retry, blocked, tc.wantRetry, tc.wantBlocked)
			}
			if _, other := th.Blocked("other", t0.Add(tc.at)); other {
				t.Fatal("another key is blocked")
			}
		})
	}
}

func TestThrottleNewWindowStartsAfterTheOldEnds(t *testing.T) {
	th := New(2, time.Minute, 10)
	th.Fail("c", t0)
	th.Fail("c", t0.Add(time.Second))
	if _, blocked := th.Blocked("c", t0.Add(2*time.Second)); !blocked {
		t.Fatal("not blocked at the limit")
	}
	// One failure after the window: a fresh window with one failure.
	th.Fail("c", t0.Add(61*time.Second))
	if _, blocked := th.Blocked("c", t0.Add(62*time.Second)); blocked {
		t.Fatal("blocked after one failure in a new window")
	}
}

func TestThrottleSucceedClears(t *testing.T) {
	th := New(2, time.Minute, 10)
	th.Fail("c", t0)
	th.Succeed("c")
	th.Fail("c", t0)
	if _, blocked := th.Blocked("c", t0); blocked {
		t.Fatal("blocked after a success reset the count")
	}
}

func TestThrottleIsBounded(t *testing.T) {
	th := New(1, time.Minute, 100)
	for i := range 1000 {
		th.Fail(fmt.Sprint(i), t0)
	}
	if n := th.windows.Len(); n != 100 {
		t.Fatalf("tracking %d keys, want at most 100", n)
	}
}

func TestThrottleConcurrent(t *testing.T) {
	th := New(1000, time.Minute, 10)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				th.Fail("c", t0)
				th.Blocked("c", t0)
			}
		}()
	}
	wg.Wait()
	if _, blocked := th.Blocked("c", t0); blocked {
		t.Fatal("800 failures blocked a limit of 1000")
	}
	th.Fail("c", t0)
	for range 199 {
		th.Fail("c", t0)
	}
	if _, blocked := th.Blocked("c", t0); !blocked {
		t.Fatal("1000 failures did not block")
	}
}
