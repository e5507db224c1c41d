package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/scopegate/scopegate/storage/replica"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// feed is etcd's change feed for the replica: a range read of the prefix at
// one revision, then a watch of the prefix from the next revision.
type feed struct {
	s         *Store
	heartbeat time.Duration
}

// silentHeartbeats is how many heartbeats a watch may go unanswered
// before it is ended. A few more than the replica waits before it reports
// itself degraded: ending the watch costs a full list and a Reset of every
// follower's cache, which a busy moment must not cause.
const silentHeartbeats = 5

// listPage bounds the keys of one range read while listing.
var listPage int64 = 1000

// List reads every key under the prefix at one revision: the first page is
// a linearizable read at the cluster's current revision, the next pages
// read at that same revision. A compaction in between fails the list,
// which the replica retries. Each request may take DialTimeout: etcd's
// client waits for a connection, and a list that waits without end would
// never say why. The first list makes the client, and every list checks,
// or lays out, the schema version.
func (f *feed) List(ctx context.Context) (replica.Snapshot, error) {
	cli, err := f.s.client()
	if err != nil {
		return replica.Snapshot{}, err
	}
	prefix := f.s.prefix
	end := clientv3.GetPrefixRangeEnd(prefix)
	var (
		snap = replica.Snapshot{}
		from = prefix
	)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPage)}
		if snap.Revision != 0 {
			opts = append(opts, clientv3.WithRev(snap.Revision))
		}
		reqCtx, cancel := context.WithTimeout(ctx, f.s.dialTimeout)
		resp, err := cli.Get(reqCtx, from, opts...)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return replica.Snapshot{}, fmt.Errorf("list %s: etcd at %v did not answer within %v", prefix, f.s.endpoints, f.s.dialTimeout)
		}
		if err != nil {
			return replica.Snapshot{}, fmt.Errorf("list %s: %w", prefix, err)
		}
		if snap.Revision == 0 {
			snap.Revision, snap.History = resp.Header.Revision, history(resp.Header)
		}
		for _, kv := range resp.Kvs {
			snap.KVs = append(snap.KVs, toKV(kv))
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return snap, f.checkSchema(ctx, cli, snap)
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Watch follows the prefix from after+1. Every heartbeat it asks etcd for a
// progress report, which etcd sends once the watch has caught up: that both
// proves the link alive and moves the applied revision past writes to
// other prefixes.
func (f *feed) Watch(ctx context.Context, hist string, after int64, deliver func(replica.Batch) error) error {
	cli, err := f.s.client()
	if err != nil {
		return err
	}
	// WithRequireLeader: a member cut off from its leader closes the watch
	// instead of going quietly stale.
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	// The watch starts at after, not after+1, though the replica has
	// everything up to after: etcd answers a progress request only once
	// every watch on the stream has reached its start revision
	// (watchableStore.progressIfSync), and a watch from after+1 on a
	// registry where nothing was written since the list (a quiet one after
	// an etcd restart) would never hear one, go silent, and be ended every
	// silentHeartbeats. Events at after, which the list holds, are dropped.
	ch := cli.Watch(ctx, f.s.prefix, clientv3.WithPrefix(), clientv3.WithRev(max(after, 1)),
		clientv3.WithCreatedNotify(), clientv3.WithProgressNotify())
	tick := time.NewTicker(f.heartbeat)
	defer tick.Stop()
	silent := 0   // heartbeats since etcd last sent anything
	seen := after // the latest revision delivered
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			// etcd's client retries a broken watch stream quietly and for
			// ever, and without keepalives a link cut without a reset is
			// never noticed: a watch that stays silent this long is ended,
			// so the replica lists again, and its failures say why.
			if silent++; silent > silentHeartbeats {
				return fmt.Errorf("watch: nothing from etcd at %v for %d heartbeats of %v", f.s.endpoints, silentHeartbeats, f.heartbeat)
			}
			// A failed request shows as silence. It blocks while the
			// client reconnects the stream: bound it, or the loop stops
			// counting. (The stream is found by ctx's metadata, which a
			// deadline keeps.)
			reqCtx, cancel := context.WithTimeout(ctx, f.heartbeat)
			_ = cli.RequestProgress(reqCtx)
			rev, err := sameHistory(reqCtx, cli, f.s.prefix+"meta/schema", hist, seen)
			cancel()
			if err != nil {
				return err
			}
			// etcd's client resumes a broken watch by itself, from the
			// revision after its last progress report: on a registry where
			// nothing was written since (after an etcd restart), etcd does
			// not answer that watch's progress requests until something
			// is. Meanwhile a linearizable read at the very revision the
			// replica holds proves it complete, whatever the watch's
			// state: that is progress. Once anything is written the
			// revision moves past seen, and only the watch can answer.
			if rev == seen {
				silent = 0
				if err := deliver(replica.Batch{Revision: rev}); err != nil {
					return err
				}
			}
		case resp, ok := <-ch:
			if !ok {
				return errors.New("etcd closed the watch")
			}
			silent = 0
			if resp.CompactRevision != 0 {
				return fmt.Errorf("watch from revision %d, compacted up to %d: %w", max(after, 1), resp.CompactRevision, replica.ErrCompacted)
			}
			if err := resp.Err(); err != nil {
				if errors.Is(err, rpctypes.ErrCompacted) {
					return fmt.Errorf("watch: %w: %w", err, replica.ErrCompacted)
				}
				return fmt.Errorf("watch: %w", err)
			}
			if got := history(resp.Header); got != hist {
				return fmt.Errorf("watch answered by cluster %s, the replica was listed from cluster %s: %w", got, hist, replica.ErrReset)
			}
			b := replica.Batch{Events: make([]replica.Event, 0, len(resp.Events))}
			for _, ev := range resp.Events {
				if ev.Kv.ModRevision <= after {
					continue // in the list already
				}
				b.Events = append(b.Events, replica.Event{KV: toKV(ev.Kv), Deleted: ev.Type == mvccpb.DELETE})
			}
			// A progress report says every change up to its revision was
			// sent. The revision of a response with events need not (a
			// watch catching up gets its events in several responses, each
			// carrying the current revision), so there the events say.
			if resp.IsProgressNotify() {
				b.Revision = resp.Header.Revision
			}
			if err := deliver(b); err != nil {
				return err
			}
			seen = max(seen, b.Revision)
			if n := len(b.Events); n > 0 {
				seen = max(seen, b.Events[n-1].ModRevision)
			}
		}
	}
}

// checkSchema checks the schema version of a listed registry, or lays it
// out in an empty one; the watch then brings the key in. A newer version
// is refused for good (the Store's refusal, which Open returns at once);
// the replica keeps listing, so a gateway left running reports it.
func (f *feed) checkSchema(ctx context.Context, cli *clientv3.Client, snap replica.Snapshot) error {
	key := f.s.prefix + "meta/schema"
	for _, kv := range snap.KVs {
		if kv.Key != key {
			continue
		}
		v, err := strconv.Atoi(string(kv.Value))
		if err != nil || v < 1 {
			return fmt.Errorf("unreadable schema version %q", clip(kv.Value))
		}
		if v > schemaVersion {
			err := fmt.Errorf("the registry has schema version %d, and this build reads up to version %d: upgrade Scopegate", v, schemaVersion)
			f.s.refuse(err)
			return err
		}
		return nil
	}
	reqCtx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), f.s.dialTimeout)
	defer cancel()
	// Another gateway may lay it out first; either way it is there.
	_, err := cli.Txn(reqCtx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, strconv.Itoa(schemaVersion))).
		Commit()
	if err != nil {
		return fmt.Errorf("lay out the schema version: %w", err)
	}
	return nil
}

// history names the cluster that answered.
func history(h interface{ GetClusterId() uint64 }) string {
	return strconv.FormatUint(h.GetClusterId(), 16)
}

// toKV copies an etcd key-value.
func toKV(kv *mvccpb.KeyValue) replica.KV {
	return replica.KV{
		Key:            string(kv.Key),
		Value:          kv.Value,
		CreateRevision: kv.CreateRevision,
		ModRevision:    kv.ModRevision,
	}
}

// sameHistory asks etcd, with a linearizable read of one small key, which
// cluster it is and where its history stands, and returns that revision. It
// fails with replica.ErrReset when it is another cluster than the replica
// was listed from, or when its revision is below one already delivered (the
// cluster was restored from an older backup, or wiped and rebuilt). The
// watch alone does not tell: the client resumes it quietly on the new
// cluster at a revision that cluster has not reached, and nothing ever
// arrives. A failed read proves nothing (revision 0); the watch's silence
// covers that.
func sameHistory(ctx context.Context, cli *clientv3.Client, key, hist string, seen int64) (int64, error) {
	resp, err := cli.Get(ctx, key, clientv3.WithCountOnly())
	if err != nil {
		return 0, nil
	}
	if got := history(resp.Header); got != hist {
		return 0, fmt.Errorf("etcd answers as cluster %s, the replica was listed from cluster %s: %w", got, hist, replica.ErrReset)
	}
	if resp.Header.Revision < seen {
		return 0, fmt.Errorf("etcd's revision is %d, below revision %d already applied: %w", resp.Header.Revision, seen, replica.ErrReset)
	}
	return resp.Header.Revision, nil
}
