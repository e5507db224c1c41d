package integration

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden JSON files of the adapt tests")

// TestAdaptCaddyfile adapts every testdata/adapt/*.caddyfile and compares the
// JSON with the golden *.json beside it (go test -run TestAdapt -update
// rewrites them).
func TestAdaptCaddyfile(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob("testdata/adapt/*.caddyfile")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no adapt inputs: %v", err)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, input := range inputs {
		name := strings.TrimSuffix(filepath.Base(input), ".caddyfile")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(input)
			if err != nil {
				t.Fatal(err)
			}
			out, warnings, err := adapter.Adapt(body, map[string]any{"filename": input})
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %v", warnings)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := strings.TrimSuffix(input, ".caddyfile") + ".json"
			if *updateGolden {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("adapted JSON differs from %s:\n%s", golden, pretty.String())
			}
		})
	}
}
