package password

import (
	"fmt"
	"math"
)

// Options are an operator's settings of password hashing and policy, as a
// gateway's configuration holds them (JSON names are the config's). Zero
// fields keep the defaults. A stored hash of other parameters still
// verifies, and is replaced at the user's next sign-in.
type Options struct {
	// MemoryKiB is argon2id's memory per hash, in KiB. Default: 19456
	// (19 MiB, OWASP's recommendation).
	MemoryKiB int `json:"memory_kib,omitempty"`
	// Iterations is argon2id's time cost. Default: 2.
	Iterations int `json:"iterations,omitempty"`
	// Parallelism is argon2id's lanes. Default: 1.
	Parallelism int `json:"parallelism,omitempty"`
	// MaxConcurrent is how many hashes may be computed at once, which
	// bounds the memory a flood of sign-ins can take (MaxConcurrent ×
	// MemoryKiB). Default: the number of CPUs.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// MinLength is the fewest characters a new password may have.
	// Default: 8.
	MinLength int `json:"min_length,omitempty"`
}

// Hasher builds the hasher o describes, refusing parameters out of bounds
// (Params.Check). A nil o gives the defaults.
func (o *Options) Hasher() (*Hasher, error) {
	if o == nil {
		return NewHasher(DefaultParams, 0)
	}
	for _, f := range []struct {
		name   string
		v, max int
	}{
		{"memory_kib", o.MemoryKiB, math.MaxUint32}, {"iterations", o.Iterations, math.MaxUint32},
		{"parallelism", o.Parallelism, math.MaxUint8}, {"max_concurrent", o.MaxConcurrent, math.MaxInt32},
		{"min_length", o.MinLength, DefaultMaxLength},
	} {
		if f.v < 0 || f.v > f.max {
			return nil, fmt.Errorf("%s: %d is out of range", f.name, f.v)
		}
	}
	p := DefaultParams
	if o.MemoryKiB != 0 {
		p.MemoryKiB = uint32(o.MemoryKiB)
	}
	if o.Iterations != 0 {
		p.Time = uint32(o.Iterations)
	}
	if o.Parallelism != 0 {
		p.Threads = uint8(o.Parallelism)
	}
	return NewHasher(p, o.MaxConcurrent)
}

// Policy is the password policy o describes.
func (o *Options) Policy() Policy {
	if o == nil {
		return Policy{}
	}
	return Policy{MinLength: o.MinLength}
}
