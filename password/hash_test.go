package password

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// cheap are parameters small enough for tests under the race detector.
var cheap = Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32, SaltLen: 16}

func newTestHasher(t testing.TB, p Params, maxConcurrent int) *Hasher {
	t.Helper()
	h, err := NewHasher(p, maxConcurrent)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

func TestHashAndVerify(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, cheap, 0)
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string of the parameters", phc)
	}
	other, _ := h.Hash(ctx, "correct horse battery staple")
	if other == phc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		name   string
		pw     string
		wantOK bool
	}{
		{"right password", "correct horse battery staple", true},
		{"wrong password", "correct horse battery stapler", false},
		{"other case", "Correct horse battery staple", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, phc, tc.pw)
			if err != nil || ok != tc.wantOK || rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, false, nil", ok, rehash, err, tc.wantOK)
			}
		})
	}
}

func TestVerifyAsksForRehash(t *testing.T) {
	ctx := context.Background()
	old := newTestHasher(t, cheap, 0)
	phc, _ := old.Hash(ctx, "a long passphrase")
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("a long passphrase"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	stronger := cheap
	stronger.Time = 2
	longerSalt := cheap
	longerSalt.SaltLen = 32
	for _, tc := range []struct {
		name   string
		params Params
		stored string
	}{
		{"other time", stronger, phc},
		{"other salt length", longerSalt, phc},
		{"bcrypt $2a$", cheap, string(bcryptHash)},
		{"bcrypt $2b$", cheap, "$2b$" + string(bcryptHash[4:])},
		{"bcrypt $2y$", cheap, "$2y$" + string(bcryptHash[4:])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHasher(t, tc.params, 0)
			ok, rehash, err := h.Verify(ctx, tc.stored, "a long passphrase")
			if err != nil || !ok || !rehash {
				t.Fatalf("right password: Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(ctx, tc.stored, "a long passphrasE")
			if err != nil || ok || rehash {
				t.Fatalf("wrong password: Verify = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

// TestVerifiesCaddysHashes checks interoperability with another
// implementation: the hash Caddy's basic_auth ships as its timing decoy,
// made by `caddy hash-password --algorithm argon2id`.
func TestVerifiesCaddysHashes(t *testing.T) {
	h := newTestHasher(t, DefaultParams, 0)
	const caddyHash = "$argon2id$v=19$m=47104,t=1,p=1$P2nzckEdTZ3bxCiBCkRTyA$xQL3Z32eo5jKl7u5tcIsnEKObYiyNZQQf5/4sAau6Pg"
	ok, rehash, err := h.Verify(context.Background(), caddyHash, "antitiming")
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify = %v, %v, %v; want true, true (other parameters), nil", ok, rehash, err)
	}
}

func TestParseRefuses(t *testing.T) {
	const salt = "c2FsdHNhbHRzYWx0c2FsdA"                     // 16 bytes
	const key = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U" // 32 bytes
	ok := "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key
	if _, err := Parse(ok); err != nil {
		t.Fatalf("the well-formed base case is refused: %v", err)
	}
	bcryptOK, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"plain text", "hunter2"},
		{"argon2i", strings.Replace(ok, "argon2id", "argon2i", 1)},
		{"argon2d", strings.Replace(ok, "argon2id", "argon2d", 1)},
		{"old version", strings.Replace(ok, "v=19", "v=16", 1)},
		{"no version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key},
		{"memory above 1 GiB", strings.Replace(ok, "m=19456", "m=1048577", 1)},
		{"memory 4 TiB", strings.Replace(ok, "m=19456", "m=4294967295", 1)},
		{"memory beyond uint32", strings.Replace(ok, "m=19456", "m=4294967296", 1)},
		{"memory below the minimum", strings.Replace(ok, "m=19456", "m=7", 1)},
		{"time above 20", strings.Replace(ok, "t=2", "t=21", 1)},
		{"time zero", strings.Replace(ok, "t=2", "t=0", 1)},
		{"threads zero", strings.Replace(ok, "p=1", "p=0", 1)},
		{"threads 255", strings.Replace(ok, "p=1", "p=255", 1)},
		{"threads beyond uint8", strings.Replace(ok, "p=1", "p=257", 1)},
		{"leading zero", strings.Replace(ok, "m=19456", "m=019456", 1)},
		{"plus sign", strings.Replace(ok, "t=2", "t=+2", 1)},
		{"parameters out of order", strings.Replace(ok, "m=19456,t=2", "t=2,m=19456", 1)},
		{"extra parameter", strings.Replace(ok, "p=1", "p=1,keyid=x", 1)},
		{"short salt", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key},
		{"short hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$a2V5a2V5"},
		{"padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key},
		{"line break in the hash", strings.Replace(ok, key, key[:5]+"\r\n"+key[5:], 1)},
		{"url base64", strings.Replace(ok, key, strings.Replace(key, "a", "-", 1), 1)},
		{"extra field", ok + "$x"},
		{"missing hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt},
		{"leading text", "x" + ok},
		{"huge", ok + strings.Repeat("A", 1<<20)},
		{"bcrypt cost 15", "$2b$15$" + string(bcryptOK[7:])},
		{"bcrypt cost 31", "$2b$31$" + string(bcryptOK[7:])},
		{"bcrypt truncated", string(bcryptOK[:59])},
		{"bcrypt too long", string(bcryptOK) + "x"},
		{"bcrypt $2x$", "$2x$" + string(bcryptOK[4:])},
		{"bcrypt $2$", "$2$" + string(bcryptOK[4:])},
		{"bcrypt bad cost", "$2b$ab$" + string(bcryptOK[7:])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Parse = %v, want ErrMalformedHash", err)
			}
			if strings.Contains(err.Error(), salt) || strings.Contains(err.Error(), key[:10]) || len(err.Error()) > 200 {
				t.Fatalf("error %q repeats the input", err)
			}
		})
	}
}

func TestParseRoundTrip(t *testing.T) {
	h := newTestHasher(t, cheap, 0)
	phc, _ := h.Hash(context.Background(), "pw")
	parsed, err := Parse(phc)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.String() != phc {
		t.Fatalf("Parse(%q).String() = %q", phc, parsed.String())
	}
}

func TestNewHasherRefusesBadParams(t *testing.T) {
	for _, p := range []Params{
		{Time: 0, MemoryKiB: 64, Threads: 1, KeyLen: 32, SaltLen: 16},
		{Time: 1, MemoryKiB: MaxMemoryKiB + 1, Threads: 1, KeyLen: 32, SaltLen: 16},
		{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 8, SaltLen: 16},
		{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32, SaltLen: 4},
	} {
		if _, err := NewHasher(p, 1); !errors.Is(err, ErrBadParams) {
			t.Errorf("NewHasher(%+v) = %v, want ErrBadParams", p, err)
		}
	}
	h := newTestHasher(t, Params{}, 0)
	if h.Params() != DefaultParams {
		t.Fatalf("zero Params gave %+v, want DefaultParams", h.Params())
	}
}

// blockingHook makes every computation wait inside its slot until release
// is closed, counting computations in flight and the most seen at once.
type blockingHook struct {
	inFlight, maxSeen atomic.Int64
	entered           chan struct{}
	release           chan struct{}
}

func newBlockingHook(h *Hasher) *blockingHook {
	b := &blockingHook{entered: make(chan struct{}, 1000), release: make(chan struct{})}
	h.onCompute = func() {
		n := b.inFlight.Add(1)
		for {
			m := b.maxSeen.Load()
			if n <= m || b.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		b.entered <- struct{}{}
		<-b.release
		b.inFlight.Add(-1)
	}
	return b
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrentComputationsAreBounded(t *testing.T) {
	const maxConcurrent, callers = 2, 10
	h := newTestHasher(t, cheap, maxConcurrent)
	hook := newBlockingHook(h)
	ctx := context.Background()
	phc := argon2Hash{params: cheap, salt: make([]byte, 16), key: make([]byte, 32)}.String()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 3 {
			case 0:
				_, err = h.Hash(ctx, "pw")
			case 1:
				_, _, err = h.Verify(ctx, phc, "pw")
			default:
				err = h.VerifyMissing(ctx, "pw")
			}
			errs <- err
		}()
	}
	for range maxConcurrent {
		<-hook.entered
	}
	waitFor(t, "the other callers to queue", func() bool { return h.waiting.Load() == callers-maxConcurrent })
	if n := hook.inFlight.Load(); n != maxConcurrent {
		t.Fatalf("%d computations in flight with %d callers, want %d", n, callers, maxConcurrent)
	}
	close(hook.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a queued caller failed: %v", err)
		}
	}
	if m := hook.maxSeen.Load(); m != maxConcurrent {
		t.Fatalf("at most %d computations ran at once, want exactly %d", m, maxConcurrent)
	}
}

func TestFullQueueIsBusyAndContextEndsTheWait(t *testing.T) {
	h := newTestHasher(t, cheap, 1)
	hook := newBlockingHook(h)
	bg := context.Background()
	var wg sync.WaitGroup
	start := func(ctx context.Context, errs chan<- error) {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- h.VerifyMissing(ctx, "pw") }()
	}
	done := make(chan error, 100)
	start(bg, done) // takes the slot
	<-hook.entered
	for range queueFactor {
		start(bg, done)
	}
	waitFor(t, "a full queue", func() bool { return h.waiting.Load() == queueFactor })

	if err := h.VerifyMissing(bg, "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("with a full queue: %v, want ErrBusy", err)
	}
	if _, err := h.Hash(bg, "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with a full queue: %v, want ErrBusy", err)
	}

	close(hook.release)
	wg.Wait()
	close(done)
	for err := range done {
		if err != nil {
			t.Fatalf("a queued caller failed: %v", err)
		}
	}

	// A waiter whose context ends gives up with the context's error.
	h2 := newTestHasher(t, cheap, 1)
	hook2 := newBlockingHook(h2)
	held := make(chan error, 1)
	go func() { held <- h2.VerifyMissing(bg, "pw") }()
	<-hook2.entered
	ctx, cancel := context.WithCancel(bg)
	waited := make(chan error, 1)
	go func() { waited <- h2.VerifyMissing(ctx, "pw") }()
	waitFor(t, "the caller to queue", func() bool { return h2.waiting.Load() == 1 })
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	close(hook2.release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}

// TestVerifyMissingDoesTheSameWork checks that an unknown user's check
// computes argon2id with the hasher's own parameters, as a Verify does.
func TestVerifyMissingDoesTheSameWork(t *testing.T) {
	h := newTestHasher(t, cheap, 1)
	if h.dummy.params != h.params {
		t.Fatalf("dummy hash parameters %+v, want %+v", h.dummy.params, h.params)
	}
	var computed int
	h.onCompute = func() { computed++ }
	if err := h.VerifyMissing(context.Background(), "pw"); err != nil {
		t.Fatal(err)
	}
	if computed != 1 || h.Computations() != 1 {
		t.Fatalf("VerifyMissing ran %d computations (counted %d), want 1", computed, h.Computations())
	}
}
