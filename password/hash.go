// Package password hashes and checks end users' passwords: argon2id in PHC
// strings, bcrypt hashes imported from other systems, a bound on how many
// hash computations run at once, and the policy a new password must meet.
// It does not import Caddy.
//
// Why not Caddy's own argon2id hasher (caddyauth.Argon2idHash, used by
// basic_auth)? Read in Caddy v2.11: its parameters are fixed constants
// (m=46 MiB, t=1, p=1) with no way to set others or to ask whether a stored
// hash was made with older ones, so it cannot tell a sign-in to re-hash;
// its decoder takes any m, t and p a string names (m up to 4 TiB, t up to
// 2³²), so one imported or tampered hash could make a single sign-in
// allocate gigabytes or spin for hours; it has no bound on concurrent
// computations, so a flood of wrong passwords multiplies that memory by the
// number of requests; and it is a Caddy module, which this package must not
// import. golang.org/x/crypto/argon2, which Caddy's hasher wraps too, is
// used directly.
package password

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are argon2id's cost parameters.
type Params struct {
	// Time is the number of passes over the memory (argon2's t).
	Time uint32
	// MemoryKiB is the memory one computation fills, in KiB (argon2's m).
	MemoryKiB uint32
	// Threads is the number of lanes (argon2's p).
	Threads uint8
	// KeyLen is the length of the derived hash, in bytes.
	KeyLen uint32
	// SaltLen is the length of a new random salt, in bytes.
	SaltLen uint32
}

// DefaultParams are the parameters new hashes get: m=19 MiB, t=2, p=1, the
// OWASP Password Storage Cheat Sheet's first argon2id configuration, with a
// 32-byte hash and a 16-byte salt (RFC 9106 §3.1).
//
// Measured on the 2-core build machine, shared with two compilers
// (BenchmarkParams: go test -run '^$' -bench Params -benchmem
// -benchtime 20x ./password):
//
//	m=19 MiB t=2 p=1    25 ms, 19.0 MiB allocated a hash
//	m=46 MiB t=1 p=1    37 ms, 46.0 MiB (OWASP's other choice, Caddy's)
//	m=64 MiB t=3 p=4   153 ms, 64.0 MiB (RFC 9106's second recommendation)
//
// The first two cost about the same time; the first needs less than half
// the memory for each concurrent sign-in, which on a gateway whose memory is
// shared with request proxying matters more than the difference in
// resistance. RFC 9106's 64 MiB option spends nearly four times the time,
// capping sign-ins at a handful a second a core. Operators who want more
// set their own Params; stored hashes are re-hashed at the next sign-in.
var DefaultParams = Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}

// Bounds on parameters, for new hashes and for parsed ones alike, so that a
// stored or imported hash cannot make one computation a denial of service.
const (
	MaxTimeCost  = 20
	MaxMemoryKiB = 1 << 20 // 1 GiB
	MaxThreads   = 16
	MinKeyLen    = 16
	MaxKeyLen    = 64
	MinSaltLen   = 8
	MaxSaltLen   = 64
	// minMemoryKiBPerLane is argon2's own minimum memory, 8 KiB a lane.
	minMemoryKiBPerLane = 8
	// MaxBcryptCost bounds imported bcrypt hashes: cost 14 takes about a
	// second, and each step doubles it, up to bcrypt's 31 (days).
	MaxBcryptCost = 14
)

// Errors, checked with errors.Is.
var (
	// ErrBusy: every computation slot is taken and the wait queue is full.
	ErrBusy = errors.New("password hashing is busy; try again")
	// ErrMalformedHash: a hash that is neither a well-formed argon2id PHC
	// string within the bounds nor a bcrypt hash within MaxBcryptCost.
	ErrMalformedHash = errors.New("malformed password hash")
	// ErrBadParams: parameters outside the bounds.
	ErrBadParams = errors.New("argon2id parameters out of bounds")
)

// Check reports whether p is within the bounds.
func (p Params) Check() error {
	switch {
	case p.Time < 1 || p.Time > MaxTimeCost:
		return fmt.Errorf("%w: time must be 1 to %d", ErrBadParams, MaxTimeCost)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("%w: threads must be 1 to %d", ErrBadParams, MaxThreads)
	case p.MemoryKiB < minMemoryKiBPerLane*uint32(p.Threads) || p.MemoryKiB > MaxMemoryKiB:
		return fmt.Errorf("%w: memory must be %d KiB per thread to %d KiB", ErrBadParams, minMemoryKiBPerLane, MaxMemoryKiB)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("%w: key length must be %d to %d bytes", ErrBadParams, MinKeyLen, MaxKeyLen)
	case p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("%w: salt length must be %d to %d bytes", ErrBadParams, MinSaltLen, MaxSaltLen)
	}
	return nil
}

// queueFactor times maxConcurrent is how many callers may wait for a slot;
// beyond that Hash and Verify answer ErrBusy at once, so that a flood is
// shed instead of holding requests open until their deadlines.
const queueFactor = 16

// Hasher hashes and verifies passwords with fixed parameters, running at
// most maxConcurrent computations at once. It is safe for concurrent use.
type Hasher struct {
	params   Params
	slots    chan struct{}
	waiting  atomic.Int64
	maxQueue int64
	// computations counts the computations run, for Computations.
	computations atomic.Uint64
	// dummy is a hash of the current parameters that VerifyMissing checks
	// against, so that an unknown user costs what a known one does.
	dummy argon2Hash
	// onCompute, when set by a test, runs inside a slot before each
	// computation.
	onCompute func()
}

// NewHasher returns a Hasher for p (zero Params: DefaultParams) running at
// most maxConcurrent computations at once (<= 0: runtime.GOMAXPROCS(0)).
func NewHasher(p Params, maxConcurrent int) (*Hasher, error) {
	if p == (Params{}) {
		p = DefaultParams
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{
		params:   p,
		slots:    make(chan struct{}, maxConcurrent),
		maxQueue: int64(queueFactor * maxConcurrent),
	}
	h.dummy = argon2Hash{params: p, salt: make([]byte, p.SaltLen), key: make([]byte, p.KeyLen)}
	return h, nil
}

// Params returns the parameters of new hashes.
func (h *Hasher) Params() Params { return h.params }

// Computations returns how many hash computations h has run (Hash, Verify
// and VerifyMissing each run one), for metrics and for checking that every
// outcome of a sign-in costs the same.
func (h *Hasher) Computations() uint64 { return h.computations.Load() }

// Hash returns the argon2id PHC string of pw with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	randomBytes(salt)
	var key []byte
	err := h.compute(ctx, func() { key = argon2Key(pw, salt, h.params) })
	if err != nil {
		return "", err
	}
	return argon2Hash{params: h.params, salt: salt, key: key}.String(), nil
}

// Verify reports whether pw matches the stored hash phc (argon2id or
// bcrypt), and whether the hash should be replaced by Hash(pw) because it
// is bcrypt or has other parameters than h's. rehash is only ever true with
// ok. A malformed hash is ErrMalformedHash.
func (h *Hasher) Verify(ctx context.Context, phc string, pw string) (ok, rehash bool, err error) {
	parsed, err := Parse(phc)
	if err != nil {
		return false, false, err
	}
	err = h.compute(ctx, func() { ok = parsed.matches(pw) })
	if err != nil || !ok {
		return false, false, err
	}
	return true, parsed.needsRehash(h.params), nil
}

// VerifyMissing spends the time and memory of a Verify against a hash of
// h's parameters and matches nothing: for an unknown username or a user
// without a password, so that the answer takes as long as a wrong password.
func (h *Hasher) VerifyMissing(ctx context.Context, pw string) error {
	return h.compute(ctx, func() { h.dummy.matches(pw) })
}

// compute runs f in a computation slot, waiting for one until ctx ends
// (ctx.Err()) or answering ErrBusy when the queue is full.
func (h *Hasher) compute(ctx context.Context, f func()) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer func() { <-h.slots }()
	if h.onCompute != nil {
		h.onCompute()
	}
	f()
	h.computations.Add(1)
	return nil
}

// acquire takes a slot.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxQueue {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Hash is a parsed stored password hash: argon2id or bcrypt.
type Hash interface {
	// String returns the stored form.
	String() string
	matches(pw string) bool
	needsRehash(current Params) bool
}

// Parse reads a stored hash strictly: an argon2id PHC string
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", unpadded standard
// base64, parameters within the bounds, numbers without leading zeros) or a
// bcrypt hash ($2a$, $2b$ or $2y$, cost 4 to MaxBcryptCost). Anything else
// is ErrMalformedHash; the error never repeats the input.
func Parse(s string) (Hash, error) {
	if isBcrypt(s) {
		return parseBcrypt(s)
	}
	return parseArgon2(s)
}

// bcryptHash is an imported bcrypt hash.
type bcryptHash string

func isBcrypt(s string) bool {
	return len(s) > 4 && s[0] == '$' && s[1] == '2' && (s[2] == 'a' || s[2] == 'b' || s[2] == 'y') && s[3] == '$'
}

func parseBcrypt(s string) (Hash, error) {
	// A bcrypt hash is exactly 60 bytes: "$2b$" cost(2) "$" 22 salt 31 hash.
	if len(s) != 60 {
		return nil, fmt.Errorf("%w: a bcrypt hash is 60 characters", ErrMalformedHash)
	}
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: not a bcrypt hash", ErrMalformedHash)
	}
	if cost > MaxBcryptCost {
		return nil, fmt.Errorf("%w: bcrypt cost above %d", ErrMalformedHash, MaxBcryptCost)
	}
	return bcryptHash(s), nil
}

func (b bcryptHash) String() string { return string(b) }

func (b bcryptHash) matches(pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(b), []byte(pw)) == nil
}

// needsRehash is always true: bcrypt hashes are imported to be replaced.
func (bcryptHash) needsRehash(Params) bool { return true }

// argon2Hash is a parsed argon2id PHC string.
type argon2Hash struct {
	params Params
	salt   []byte
	key    []byte
}

func (a argon2Hash) matches(pw string) bool {
	got := argon2Key(pw, a.salt, a.params)
	return subtle.ConstantTimeCompare(got, a.key) == 1
}

func (a argon2Hash) needsRehash(current Params) bool {
	return a.params != current
}

// argon2Key derives the key of pw under p.
func argon2Key(pw string, salt []byte, p Params) []byte {
	return argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
}
