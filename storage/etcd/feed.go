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
	cli       *clientv3.Client
	prefix    string
	heartbeat time.Duration
}

// listPage bounds the keys of one range read while listing.
var listPage int64 = 1000

// List reads every key under the prefix at one revision: the first page is
// a linearizable read at the cluster's current revision, the next pages
// read at that same revision. A compaction in between fails the list,
// which the replica retries.
func (f *feed) List(ctx context.Context) (replica.Snapshot, error) {
	end := clientv3.GetPrefixRangeEnd(f.prefix)
	var (
		snap = replica.Snapshot{}
		from = f.prefix
	)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPage)}
		if snap.Revision != 0 {
			opts = append(opts, clientv3.WithRev(snap.Revision))
		}
		resp, err := f.cli.Get(ctx, from, opts...)
		if err != nil {
			return replica.Snapshot{}, fmt.Errorf("list %s: %w", f.prefix, err)
		}
		if snap.Revision == 0 {
			snap.Revision, snap.History = resp.Header.Revision, history(resp.Header)
		}
		for _, kv := range resp.Kvs {
			snap.KVs = append(snap.KVs, toKV(kv))
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return snap, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Watch follows the prefix from after+1. Every heartbeat it asks etcd for a
// progress report, which etcd sends once the watch has caught up: that both
// proves the link alive and moves the applied revision past writes to
// other prefixes.
func (f *feed) Watch(ctx context.Context, hist string, after int64, deliver func(replica.Batch) error) error {
	// WithRequireLeader: a member cut off from its leader closes the watch
	// instead of going quietly stale.
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ch := f.cli.Watch(ctx, f.prefix, clientv3.WithPrefix(), clientv3.WithRev(after+1),
		clientv3.WithCreatedNotify(), clientv3.WithProgressNotify())
	tick := time.NewTicker(f.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			// A failed request shows as silence, which Status reports.
			_ = f.cli.RequestProgress(ctx)
		case resp, ok := <-ch:
			if !ok {
				return errors.New("etcd closed the watch")
			}
			if resp.CompactRevision != 0 {
				return fmt.Errorf("watch from revision %d, compacted up to %d: %w", after+1, resp.CompactRevision, replica.ErrCompacted)
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
			b := replica.Batch{Events: make([]replica.Event, len(resp.Events))}
			for i, ev := range resp.Events {
				b.Events[i] = replica.Event{KV: toKV(ev.Kv), Deleted: ev.Type == mvccpb.DELETE}
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
		}
	}
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
