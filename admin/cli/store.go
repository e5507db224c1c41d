package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/caddystore"
)

// storeCommand is `caddy scopegate store`. Unlike the other commands it
// works on the stores themselves, not through a running gateway.
func storeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store <command>",
		Short: "Moves the registry from one store to another",
		RunE:  groupRun,
	}
	var m migration
	migrate := &cobra.Command{
		Use:   "migrate --from <bolt file> --config <config file>",
		Short: "Copies a bolt file's registry into the store a config names",
		Long: `Copies everything a bolt file holds (clients with their secret hashes and
timestamps, signing keys, unexpired revocations, usage counters) into the
store that the config's scopegate storage names, typically etcd, so that a
single-machine deployment moves to many gateways without re-creating its
clients: their IDs, secrets and live tokens keep working.

Stop the gateway that uses the bolt file first: the file is locked while it
runs. A client that already exists in the destination (by ID or name) is
left as it is and reported.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return m.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := migrate.Flags()
	f.StringVar(&m.from, "from", "", "the bolt file to copy from (required)")
	f.StringVarP(&m.config, "config", "c", "", "the Caddy config whose scopegate storage is the destination (required)")
	f.StringVarP(&m.adapter, "adapter", "a", "", "the config adapter for --config")
	f.DurationVar(&m.timeout, "timeout", 30*time.Second, "how long to wait for the destination store")
	cmd.AddCommand(migrate)
	return cmd
}

// migration is one run of `store migrate`.
type migration struct {
	from, config, adapter string
	timeout               time.Duration
}

// run copies the bolt file into the config's store.
func (m *migration) run(ctx context.Context, out io.Writer) error {
	if m.from == "" || m.config == "" {
		return errors.New("--from and --config are both required; see 'caddy scopegate store migrate --help'")
	}
	if _, err := os.Stat(m.from); err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	raw, err := m.destinationJSON()
	if err != nil {
		return err
	}
	caddyCtx, cancel := caddy.NewContext(caddy.Context{Context: ctx})
	defer cancel()
	backend, err := caddystore.Load(caddyCtx, raw)
	if err != nil {
		return fmt.Errorf("the storage of %s: %w", m.config, err)
	}
	if bolt, ok := backend.(*caddystore.Bolt); ok && sameFile(bolt.Path, m.from) {
		return fmt.Errorf("the config's storage is %s itself; name a config whose storage is the destination", m.from)
	}
	src, err := storage.Open(m.from, storage.BoltOptions{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("opening %s (is a gateway still running on it?): %w", m.from, err)
	}
	defer src.Close()
	dst, err := backend.Open(zap.NewNop())
	if err != nil {
		return fmt.Errorf("opening %s: %w", backend.Describe(), err)
	}
	defer dst.Close()
	if shared, ok := dst.(storage.Shared); ok {
		select {
		case <-shared.Ready():
		case <-time.After(m.timeout):
			return fmt.Errorf("%s was not reachable within %s: %s", backend.Describe(), m.timeout, shared.Health().LastError)
		}
	}
	stats, err := storage.Copy(ctx, dst, src)
	if err != nil {
		return fmt.Errorf("copying into %s: %w", backend.Describe(), err)
	}
	_, err = fmt.Fprintf(out, "Copied into %s:\n"+
		"  clients       %d (%d already there, left as they are)\n"+
		"  signing keys  %d (%d already there)\n"+
		"  revocations   %d\n"+
		"  usage         %d clients' counters\n",
		backend.Describe(), stats.Clients, stats.ClientsSkipped, stats.SigningKeys, stats.SigningKeysSkipped,
		stats.Revocations, stats.Usage)
	return err
}

// destinationJSON returns the scopegate app's storage JSON from the config.
func (m *migration) destinationJSON() (json.RawMessage, error) {
	cfg, err := loadConfig(m.config, m.adapter)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", m.config, err)
	}
	var doc struct {
		Apps struct {
			Scopegate *struct {
				Storage json.RawMessage `json:"storage"`
			} `json:"scopegate"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, fmt.Errorf("reading %s: %w", m.config, err)
	}
	if doc.Apps.Scopegate == nil {
		return nil, fmt.Errorf("%s configures no scopegate app", m.config)
	}
	return doc.Apps.Scopegate.Storage, nil
}

// loadConfig reads a config file as Caddy's own commands do (a file named
// Caddyfile*, or *.caddyfile, is a Caddyfile unless --adapter says
// otherwise; anything else is JSON), without their log lines: this
// command's output is its report, or one line of error.
func loadConfig(path, adapterName string) ([]byte, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(path)
	if adapterName == "" && (strings.HasPrefix(base, "Caddyfile") || filepath.Ext(base) == ".caddyfile") {
		adapterName = "caddyfile"
	}
	if adapterName == "" {
		return body, nil
	}
	adapter := caddyconfig.GetAdapter(adapterName)
	if adapter == nil {
		return nil, fmt.Errorf("no config adapter named %q", adapterName)
	}
	cfg, _, err := adapter.Adapt(body, map[string]any{"filename": path})
	return cfg, err
}

// sameFile reports whether two paths name one existing file.
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
