package storage

import (
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// Open checks a file's structure, but a page deep in the tree can still be
// damaged. bbolt panics, or faults through its memory map, when it reads
// one; these wrappers turn that into an error naming the file, so a damaged
// page fails one call instead of the whole process.

// view runs fn in a read transaction.
func (b *Bolt) view(fn func(*bolt.Tx) error) (err error) {
	defer b.recoverDamage(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return b.db.View(fn)
}

// update runs fn in a write transaction of its own.
func (b *Bolt) update(fn func(*bolt.Tx) error) (err error) {
	defer b.recoverDamage(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return b.db.Update(fn)
}

// batch runs fn in a write transaction that bbolt may share with concurrent
// calls, and may run more than once.
func (b *Bolt) batch(fn func(*bolt.Tx) error) (err error) {
	defer b.recoverDamage(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return b.db.Batch(func(tx *bolt.Tx) error {
		// A shared transaction runs on a goroutine bbolt starts for it and
		// ends afterwards; a panic there comes back to this goroutine, which
		// then runs fn again alone.
		debug.SetPanicOnFault(true)
		return fn(tx)
	})
}

// recoverDamage turns a panic from reading the file into an error. A panic
// raised by a caller's update function is not the file's fault: it goes on.
func (b *Bolt) recoverDamage(err *error) {
	p := recover()
	if p == nil {
		return
	}
	if cp, ok := p.(callerPanic); ok {
		panic(cp.value)
	}
	// No "storage:" prefix: the caller wraps this with its own.
	*err = fmt.Errorf("%s is corrupt or unreadable: %w", b.path, panicCause(p))
}

// callerPanic marks a panic raised by a caller's function.
type callerPanic struct{ value any }

// callUpdate calls a caller's update function, marking its panics as its own.
func callUpdate[T any](update func(T) (T, error), current T) (next T, err error) {
	defer func() {
		if p := recover(); p != nil {
			panic(callerPanic{p})
		}
	}()
	return update(current)
}
