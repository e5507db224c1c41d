package integration

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// caddyRun is the outcome of one `caddy <command>` process.
type caddyRun struct {
	Output string
	Exit   int
}

// runCaddy runs `caddy <args>` in dir as its own process, as an operator
// would in another terminal: the test binary acting as Caddy.
func runCaddy(t *testing.T, dir string, args ...string) caddyRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--"}, args...)...)
	cmd.Dir = dir
	cmd.Env = caddyEnv(dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := caddyRun{Output: out.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Exit = ee.ExitCode()
	case err != nil:
		t.Fatalf("running caddy %v: %v", args, err)
	}
	if strings.Contains(r.Output, "goroutine ") || strings.Contains(r.Output, "panic:") {
		t.Fatalf("caddy %v crashed:\n%s", args, r.Output)
	}
	return r
}

// TestValidateWhileTheGatewayRuns runs `caddy validate` on the config of a
// running gateway, as an operator does before `caddy reload`. Validation
// provisions every module but starts none, so it must not open the store
// that the running process holds locked: the config is valid and validate
// must say so, quickly, without touching the store. A config that is
// really wrong must still be reported as such.
func TestValidateWhileTheGatewayRuns(t *testing.T) {
	t.Parallel()
	f := startReloadFixture(t)
	g := f.g
	caddyfile := filepath.Join(g.Dir, "Caddyfile")

	start := time.Now()
	r := runCaddy(t, g.Dir, "validate", "--config", caddyfile, "--adapter", "caddyfile")
	if r.Exit != 0 {
		t.Fatalf("caddy validate failed on the running gateway's own config (exit %d):\n%s", r.Exit, r.Output)
	}
	if !strings.Contains(r.Output, "Valid configuration") {
		t.Errorf("caddy validate does not say the config is valid:\n%s", r.Output)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("caddy validate took %s", elapsed)
	}

	t.Run("the running gateway is unaffected", func(t *testing.T) {
		if status, _, err := f.tryToken(); err != nil || status != http.StatusOK {
			t.Errorf("token after validate: %d %v", status, err)
		}
		if n := g.OpenFiles(f.storePath); n != 1 {
			t.Errorf("%d open handles on the store, want 1", n)
		}
	})

	t.Run("validate does not create a store", func(t *testing.T) {
		dir := t.TempDir()
		config := strings.ReplaceAll(g.Caddyfile(), filepath.Join(g.Dir, "scopegate.db"), filepath.Join(dir, "state", "scopegate.db"))
		path := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := runCaddy(t, dir, "validate", "--config", path, "--adapter", "caddyfile"); r.Exit != 0 {
			t.Fatalf("caddy validate failed (exit %d):\n%s", r.Exit, r.Output)
		}
		if _, err := os.Stat(filepath.Join(dir, "state")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("validate created the store's directory (stat: %v)", err)
		}
	})

	bad := []struct {
		name, replace, with, wantOutput string
	}{
		{"leeway out of bounds", "storage " + g.Dir, "leeway 10m\n\t\tstorage " + g.Dir, "leeway"},
		{"bad guard mode", "scopegate_guard orders:read", "scopegate_guard {\n\t\t\tscopes orders:read\n\t\t\tmode some\n\t\t}", "mode"},
		{"missing signing key file", "storage " + g.Dir, "signing_key_file " + filepath.Join(g.Dir, "no-such-key.pem") + "\n\t\tstorage " + g.Dir, "no-such-key.pem"},
	}
	for _, tc := range bad {
		t.Run("reports "+tc.name, func(t *testing.T) {
			config := g.Caddyfile()
			if !strings.Contains(config, tc.replace) {
				t.Fatalf("the config has no %q", tc.replace)
			}
			path := filepath.Join(t.TempDir(), "Caddyfile")
			if err := os.WriteFile(path, []byte(strings.Replace(config, tc.replace, tc.with, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runCaddy(t, g.Dir, "validate", "--config", path, "--adapter", "caddyfile")
			if r.Exit == 0 {
				t.Fatalf("caddy validate accepted a bad config:\n%s", r.Output)
			}
			if !strings.Contains(r.Output, tc.wantOutput) {
				t.Errorf("the output does not name %q:\n%s", tc.wantOutput, r.Output)
			}
			if strings.Contains(r.Output, "locked") {
				t.Errorf("the output blames the store's lock:\n%s", r.Output)
			}
		})
	}
}
