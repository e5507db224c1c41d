package etcd

import (
	"context"
	"errors"
	"fmt"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxAttempts bounds the compare-and-swap retries of one write. Each lost
// race means another write committed, so this is only reached under a
// pathological storm of writes to the same keys.
const maxAttempts = 100

// item is one key as a write attempt sees it.
type item struct {
	kv      replica.KV
	decoded any
	err     error // why the value did not decode
	ok      bool  // the key exists
}

// view is what one write reads: the replica, or, for keys that a
// transaction has read since, those values, which are at least as new.
type view struct {
	s     *Store
	fresh map[string]*replica.KV // nil: absent at that read
}

func (v *view) get(key string) item {
	if kv, seen := v.fresh[key]; seen {
		if kv == nil {
			return item{}
		}
		d, err := v.s.decode(key, kv.Value)
		return item{kv: *kv, decoded: d, err: err, ok: true}
	}
	if e, ok := v.s.replica.Get(key); ok {
		return item{kv: e.KV, decoded: e.Decoded, err: e.Err, ok: true}
	}
	return item{}
}

// existing is get for a record that must exist: ErrNotFound when it does
// not, or the error its value decoded with.
func (v *view) existing(key string) (item, error) {
	cur := v.get(key)
	if !cur.ok {
		return cur, storage.ErrNotFound
	}
	return cur, cur.err
}

// personRecord returns a record of a person's flow (a session, a pending
// authorization request, a consent, a refresh token family), decoded: from the replica, or, when
// the replica has none, from etcd. A person's browser moves between
// gateways behind a load balancer faster than a watch may deliver: the
// session created by the sign-in at one gateway is read by the next at the
// redirect that follows, the consent given at one by the token endpoint of
// another when the app redeems its code. So a miss is read again from etcd
// (one read per unknown ID, which the Cached layer in front remembers),
// and ErrNotFound means etcd has none. op names the read in errors, such as
// `get session "…"`; it is called only for an error, so a read that
// succeeds formats nothing.
func personRecord[T any](s *Store, ctx context.Context, key string, op func() string) (T, error) {
	var zero T
	if err := s.usable(ctx); err != nil {
		return zero, fmt.Errorf("storage: %s: %w", op(), err)
	}
	if e, ok := s.replica.Get(key); ok {
		if e.Err != nil {
			return zero, fmt.Errorf("storage: %s: %w", op(), e.Err)
		}
		return e.Decoded.(T), nil
	}
	v := &view{s: s}
	// write bounds the read as it bounds a write, and maps what says etcd
	// cannot serve now to storage.ErrUnavailable.
	if err := s.write(ctx, func(ctx context.Context) error { return s.read(ctx, v, []string{key}) }); err != nil {
		return zero, fmt.Errorf("storage: %s: %w", op(), err)
	}
	it, err := v.existing(key)
	if err != nil {
		return zero, fmt.Errorf("storage: %s: %w", op(), err)
	}
	return it.decoded.(T), nil
}

// deleteOne deletes the record at key by compare-and-swap on the
// ModRevision it read: ErrNotFound when there is none. op names the
// operation in errors, such as `delete role "editor"`.
func (s *Store) deleteOne(ctx context.Context, op, key string) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: %s: %w", op, err)
	}
	err := s.writeCAS(ctx, func(v *view) (plan, error) {
		p := plan{keys: []string{key}}
		cur := v.get(key)
		if !cur.ok {
			return p, storage.ErrNotFound
		}
		p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", cur.kv.ModRevision)}
		p.ops = []clientv3.Op{clientv3.OpDelete(key)}
		return p, nil
	})
	if err != nil {
		return fmt.Errorf("storage: %s: %w", op, err)
	}
	return nil
}

// isFresh reports whether every key was read by a transaction of this write.
func (v *view) isFresh(keys ...string) bool {
	for _, k := range keys {
		if _, seen := v.fresh[k]; !seen {
			return false
		}
	}
	return true
}

// learn records the answers of one Get per key, in order.
func (v *view) learn(keys []string, resps []*pb.ResponseOp) {
	if v.fresh == nil {
		v.fresh = make(map[string]*replica.KV, len(keys))
	}
	for i, k := range keys {
		v.fresh[k] = nil
		if i < len(resps) {
			if r := resps[i].GetResponseRange(); r != nil && len(r.Kvs) > 0 {
				kv := toKV(r.Kvs[0])
				v.fresh[k] = &kv
			}
		}
	}
}

// plan is one attempt's transaction: if every compare holds, the ops run;
// keys lists every key the attempt read, which a failed transaction reads
// back for the next attempt.
type plan struct {
	keys []string
	cmps []clientv3.Cmp
	ops  []clientv3.Op
}

// errNeedFresh asks cas to read the plan's keys from etcd and try again:
// an attempt returns it when the replica alone cannot decide.
var errNeedFresh = errors.New("read afresh")

// callbackError carries the error of a caller's update function, which is
// returned exactly as it was.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// notAppliedError: a write committed, and this Store's replica had not
// applied it when the wait ended. Store.write decides what it means.
type notAppliedError struct {
	revision int64
	err      error
}

func (e *notAppliedError) Error() string {
	return fmt.Sprintf("committed at revision %d, not yet applied by this gateway: %v", e.revision, e.err)
}

func (e *notAppliedError) Unwrap() error { return e.err }

// errContended: a write lost every attempt to concurrent writes. Others
// committed meanwhile, so it is transient: storage.ErrUnavailable.
var errContended = fmt.Errorf("%w: gave up after %d attempts lost to concurrent writes", storage.ErrUnavailable, maxAttempts)

// writeCAS is cas as one write: bounded, and its errors mapped (Store.write).
func (s *Store) writeCAS(ctx context.Context, attempt func(v *view) (plan, error)) error {
	return s.write(ctx, func(ctx context.Context) error { return s.cas(ctx, attempt) })
}

// cas runs attempt until its transaction commits (commit), then waits until
// the replica has applied it.
func (s *Store) cas(ctx context.Context, attempt func(v *view) (plan, error)) error {
	resp, _, err := s.commit(ctx, &view{s: s}, attempt)
	if err != nil || resp == nil {
		return err
	}
	return s.waitApplied(ctx, resp)
}

// commit runs attempt until its transaction commits, and returns the
// transaction's answer and the plan that committed; a nil answer when the
// plan had nothing to write. attempt returns a plan, or an error that
// refuses the write: a refusal decided on values that the replica alone
// gave is checked against values read from etcd first, so that a replica a
// moment behind never refuses what etcd would allow.
func (s *Store) commit(ctx context.Context, v *view, attempt func(v *view) (plan, error)) (*clientv3.TxnResponse, plan, error) {
	for range maxAttempts {
		p, err := attempt(v)
		if err != nil {
			if !errors.Is(err, errNeedFresh) && v.isFresh(p.keys...) {
				return nil, p, err
			}
			if err := s.read(ctx, v, p.keys); err != nil {
				return nil, p, err
			}
			continue
		}
		if len(p.ops) == 0 {
			return nil, p, nil
		}
		gets := make([]clientv3.Op, len(p.keys))
		for i, k := range p.keys {
			gets[i] = clientv3.OpGet(k)
		}
		resp, err := s.cli.Load().Txn(ctx).If(p.cmps...).Then(p.ops...).Else(gets...).Commit()
		if err != nil {
			return nil, p, err
		}
		if !resp.Succeeded {
			v.learn(p.keys, resp.Responses)
			continue
		}
		return resp, p, nil
	}
	return nil, plan{}, errContended
}

// waitApplied waits until the replica has applied a committed transaction.
func (s *Store) waitApplied(ctx context.Context, resp *clientv3.TxnResponse) error {
	if err := s.replica.WaitFor(ctx, history(resp.Header), resp.Header.Revision); err != nil {
		return &notAppliedError{revision: resp.Header.Revision, err: err}
	}
	return nil
}

// countCAS is writeCAS for the writes that compare a count key (creates
// and deletes of clients and users). Every one of them compares that key, so
// concurrent ones would mostly lose to each other; this gateway's own run
// one at a time (countLock), and the compare still guards against other
// gateways. The lock is held while committing, not while the replica
// catches up: a watch held back must not stall every create behind it.
// The next write starts from the count this one wrote, which the replica
// may not have applied yet.
func (s *Store) countCAS(ctx context.Context, countKey string, attempt func(v *view) (plan, error)) error {
	return s.write(ctx, func(ctx context.Context) error {
		resp, err := s.commitCounted(ctx, countKey, attempt)
		if err != nil || resp == nil {
			return err
		}
		return s.waitApplied(ctx, resp)
	})
}

func (s *Store) commitCounted(ctx context.Context, countKey string, attempt func(v *view) (plan, error)) (*clientv3.TxnResponse, error) {
	select {
	case s.countLock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for this gateway's other creates and deletes: %w", ctx.Err())
	}
	defer func() { <-s.countLock }()
	v := &view{s: s}
	// A count this gateway wrote, newer than the replica's, is as good as
	// one read from etcd: a compare on it fails if another gateway wrote
	// since, and a refusal reads every key afresh anyway.
	if last := s.lastCount[countKey]; last != nil && last.ModRevision > v.get(countKey).modRevision() {
		v.fresh = map[string]*replica.KV{countKey: last}
	}
	resp, p, err := s.commit(ctx, v, attempt)
	if resp != nil {
		s.lastCount[countKey] = written(p, countKey, resp.Header.Revision)
	}
	return resp, err
}

// written is the value that a committed plan put under key, at revision;
// nil when it put none. Its CreateRevision is left unknown (0): nothing
// compares the count key's.
func written(p plan, key string, revision int64) *replica.KV {
	for _, op := range p.ops {
		if op.IsPut() && string(op.KeyBytes()) == key {
			return &replica.KV{Key: key, Value: op.ValueBytes(), ModRevision: revision}
		}
	}
	return nil
}

// read reads keys from etcd in one transaction into v.
func (s *Store) read(ctx context.Context, v *view, keys []string) error {
	gets := make([]clientv3.Op, len(keys))
	for i, k := range keys {
		gets[i] = clientv3.OpGet(k)
	}
	resp, err := s.cli.Load().Txn(ctx).Then(gets...).Commit()
	if err != nil {
		return err
	}
	v.learn(keys, resp.Responses)
	return nil
}

// modRevision is the ModRevision to compare for an item: 0 for a key that
// does not exist, which etcd's compare treats the same way.
func (it item) modRevision() int64 {
	if !it.ok {
		return 0
	}
	return it.kv.ModRevision
}

// leasedKind is what updateLeased needs of a kind of record kept under a
// lease: its name in errors, a deep copy for the caller's function, the
// store's check of a change, and its encoding.
type leasedKind[T any] struct {
	what   string
	clone  func(T) T
	check  func(old, next T) error
	encode func(T) ([]byte, error)
}

// updateLeased replaces the record at key with what update returns, by
// compare-and-swap on its ModRevision, keeping its lease: ErrNotFound when
// there is none; update's own error exactly as it was.
func updateLeased[T any](s *Store, ctx context.Context, kind leasedKind[T], id, key string, update func(T) (T, error)) (T, error) {
	var zero, stored T
	if err := s.usable(ctx); err != nil {
		return zero, fmt.Errorf("storage: update %s: %w", kind.what, err)
	}
	if update == nil {
		return zero, fmt.Errorf("storage: update %s: nil update function", kind.what)
	}
	err := s.writeCAS(ctx, func(v *view) (plan, error) {
		p := plan{keys: []string{key}}
		cur, err := v.existing(key)
		if err != nil {
			return p, err
		}
		old := cur.decoded.(T)
		next, err := update(kind.clone(old))
		if err != nil {
			return p, &callbackError{err}
		}
		if err := kind.check(old, next); err != nil {
			return p, err
		}
		value, err := kind.encode(next)
		if err != nil {
			return p, fmt.Errorf("encode: %w", err)
		}
		stored = next
		p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", cur.kv.ModRevision)}
		p.ops = []clientv3.Op{clientv3.OpPut(key, string(value), clientv3.WithIgnoreLease())}
		return p, nil
	})
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return zero, cerr.err
	}
	if err != nil {
		return zero, fmt.Errorf("storage: update %s %q: %w", kind.what, id, err)
	}
	return stored, nil
}
