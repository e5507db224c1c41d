package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// quickStart returns the shell block of README.md's "Quick start", as a new
// user copies it.
func quickStart(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Quick start\n")
	if !ok {
		t.Fatal("README.md has no Quick start section")
	}
	_, block, ok := strings.Cut(section, "```sh\n")
	if !ok {
		t.Fatal("the Quick start has no sh block")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatal("the Quick start's sh block does not end")
	}
	return block
}

// TestReadmeQuickStart pastes README.md's quick start into bash, literally,
// against a gateway running Caddyfile.example (moved to free ports), on a
// PATH with only what a fresh machine has: bash, curl, sed and coreutils, no
// jq. Every step must do what the README says, with no value to fill in by
// hand; run a second time, its first step fails (the name is taken) and the
// script says so rather than going on with empty credentials.
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	for _, tool := range []string{"bash", "curl", "sed", "cut", "cat"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("the quick start needs %s", tool)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	g := startExampleGateway(t)

	block := quickStart(t)
	for _, s := range []string{"localhost:2019", "http://localhost:8080"} {
		if !strings.Contains(block, s) {
			t.Fatalf("the quick start has no %q: align this test with it", s)
		}
	}
	if strings.Contains(block, "jq") || strings.Contains(block, "…;") {
		t.Fatalf("the quick start needs jq or a value filled in by hand:\n%s", block)
	}
	script := strings.NewReplacer(
		"localhost:2019", g.AdminURL("")[len("http://"):],
		"http://localhost:8080", g.URL(""),
	).Replace(block)
	run := func() string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "bash"))
		cmd.Stdin = strings.NewReader(script)
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"PATH=" + bin, "HOME=" + cmd.Dir}
		out, _ := cmd.CombinedOutput()
		return string(out)
	}

	out := run()
	id := regexp.MustCompile(`(?m)^client ([a-z2-7]{26})$`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("step 1 printed no client id:\n%s", out)
	}
	for _, want := range []string{
		`{"path": "/orders/42", "client_id": "` + id[1] + `", "scope": "orders:read"}`,
		"HTTP/1.1 403 Forbidden",
		`error="insufficient_scope"`,
		`scope="orders:write"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the quick start's output has no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "curl: (") || strings.Contains(out, "command not found") {
		t.Errorf("a step failed:\n%s", out)
	}

	again := run()
	if !strings.Contains(again, "returned error: 409") || !strings.Contains(again, "the client was not created") {
		t.Errorf("run again, the quick start does not say that step 1 failed:\n%s", again)
	}
	if strings.Contains(again, "HTTP/1.1 403") {
		t.Errorf("run again, the quick start went on after step 1 failed:\n%s", again)
	}
}

// startExampleGateway runs Caddyfile.example as it is, but on ports of the
// test's own: the gateway, the demo upstream and the admin endpoint. It
// fails when the file no longer has what it rewrites, naming it: the README
// and the examples that use the file must follow it. want are further texts
// the caller relies on.
func startExampleGateway(t *testing.T, want ...string) *Gateway {
	t.Helper()
	raw, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	example := string(raw)
	for _, s := range append([]string{"localhost:8080", "localhost:9000", "\n{\n"}, want...) {
		if !strings.Contains(example, s) {
			t.Fatalf("Caddyfile.example has no %q: align the README, the examples and this test with it", s)
		}
	}
	example = strings.NewReplacer(
		"localhost:8080", "127.0.0.1:{{.HTTPPort}}",
		"localhost:9000", "127.0.0.1:{{.UpstreamPort}}",
		"\n{\n", "\n{\n\tadmin 127.0.0.1:{{.AdminPort}}\n",
	).Replace(example)
	g := NewGateway(t, example)
	g.Vars["UpstreamPort"] = freePort(t)
	g.Start()
	return g
}
