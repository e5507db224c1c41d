package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// foundationCaddyfile runs the app with its store in the test's directory and
// a plain site, so the admin API and the HTTP server can both be exercised.
const foundationCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
		max_clients 50
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	respond "ok {{.Generation}}"
}
`

func startFoundation(t *testing.T) *Gateway {
	t.Helper()
	g := NewGateway(t, foundationCaddyfile)
	g.Vars["Generation"] = 0
	g.Start()
	return g
}

// createdClient is the create response.
type createdClient struct {
	ClientID     string `json:"client_id"`
	ClientName   string `json:"client_name"`
	ClientSecret string `json:"client_secret"`
	Scope        string `json:"scope"`
	Secrets      []struct {
		ID string `json:"id"`
	} `json:"secrets"`
}

func createClient(t *testing.T, g *Gateway, body map[string]any) createdClient {
	t.Helper()
	resp := do(t, http.MethodPost, g.AdminURL("/scopegate/clients"), body)
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", resp.Status, resp.Body)
	}
	var c createdClient
	resp.JSON(t, &c)
	if c.ClientID == "" || !strings.HasPrefix(c.ClientSecret, "sgs_") {
		t.Fatalf("create returned no id or secret: %s", resp.Body)
	}
	return c
}

func TestAdminClientLifecycle(t *testing.T) {
	t.Parallel()
	g := startFoundation(t)
	api := func(p string) string { return g.AdminURL("/scopegate" + p) }

	created := createClient(t, g, map[string]any{
		"client_name":  "Billing Service",
		"scope":        "orders:read orders:write",
		"ip_allowlist": []string{"10.0.0.0/8", "2001:db8::1"},
		"features":     []string{"introspect"},
	})
	secrets := []string{created.ClientSecret}

	// The Location header resolves to the new client under the mount point.
	resp := do(t, http.MethodGet, api("/clients/"+created.ClientID), nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("get: %d %s", resp.Status, resp.Body)
	}
	var got map[string]any
	resp.JSON(t, &got)
	if got["client_name"] != "Billing Service" || got["scope"] != "orders:read orders:write" {
		t.Errorf("get returned %s", resp.Body)
	}
	if fmt.Sprint(got["ip_allowlist"]) != "[10.0.0.0/8 2001:db8::1/128]" {
		t.Errorf("allowlist not normalised: %v", got["ip_allowlist"])
	}

	t.Run("name taken in another case is a conflict", func(t *testing.T) {
		resp := do(t, http.MethodPost, api("/clients"), map[string]any{"client_name": "billing SERVICE"})
		if resp.Status != http.StatusConflict || resp.ErrorCode() != "conflict" {
			t.Fatalf("got %d %s, want 409 conflict", resp.Status, resp.Body)
		}
	})

	t.Run("bad input is refused and nothing is stored", func(t *testing.T) {
		cases := []struct {
			name   string
			body   string
			status int
			code   string
		}{
			{"prefix too long", `{"client_name":"a","ip_allowlist":["10.0.0.0/33"]}`, 400, "invalid_client_metadata"},
			{"octet too large", `{"client_name":"a","ip_allowlist":["300.1.1.1/8"]}`, 400, "invalid_client_metadata"},
			{"empty allowlist entry", `{"client_name":"a","ip_allowlist":[""]}`, 400, "invalid_client_metadata"},
			{"unknown field", `{"client_name":"a","colour":"red"}`, 400, "invalid_client_metadata"},
			{"read-only field", `{"client_name":"a","client_id":"mine"}`, 400, "invalid_client_metadata"},
			{"unknown feature", `{"client_name":"a","features":["root"]}`, 400, "invalid_client_metadata"},
			{"wrong type", `{"client_name":42}`, 400, "invalid_client_metadata"},
			{"not json", `client_name=a`, 400, "invalid_client_metadata"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp := do(t, http.MethodPost, api("/clients"), tc.body)
				if resp.Status != tc.status || resp.ErrorCode() != tc.code {
					t.Fatalf("got %d %s, want %d %s", resp.Status, resp.Body, tc.status, tc.code)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q", ct)
				}
			})
		}
		list := do(t, http.MethodGet, api("/clients"), nil)
		var page struct {
			Clients []map[string]any `json:"clients"`
		}
		list.JSON(t, &page)
		if len(page.Clients) != 1 {
			t.Fatalf("refused requests stored clients: %s", list.Body)
		}
	})

	t.Run("patch is a merge patch", func(t *testing.T) {
		resp := do(t, http.MethodPatch, api("/clients/"+created.ClientID),
			`{"scope":"orders:read","metadata":{"team":"billing"},"ip_allowlist":null}`)
		if resp.Status != http.StatusOK {
			t.Fatalf("patch: %d %s", resp.Status, resp.Body)
		}
		var c map[string]any
		resp.JSON(t, &c)
		if c["scope"] != "orders:read" || c["client_name"] != "Billing Service" || c["ip_allowlist"] != nil {
			t.Errorf("after patch: %s", resp.Body)
		}
		resp = do(t, http.MethodPatch, api("/clients/"+created.ClientID), `{"client_id":"other"}`)
		if resp.Status != http.StatusBadRequest {
			t.Errorf("patching client_id: %d %s", resp.Status, resp.Body)
		}
	})

	t.Run("rotate returns a new secret once", func(t *testing.T) {
		resp := do(t, http.MethodPost, api("/clients/"+created.ClientID+"/secrets"), `{"grace_period":"1h"}`)
		if resp.Status != http.StatusCreated {
			t.Fatalf("rotate: %d %s", resp.Status, resp.Body)
		}
		var r struct {
			ClientSecret string `json:"client_secret"`
			SecretID     string `json:"secret_id"`
		}
		resp.JSON(t, &r)
		if !strings.HasPrefix(r.ClientSecret, "sgs_") || r.ClientSecret == created.ClientSecret || r.SecretID == "" {
			t.Fatalf("rotate returned %s", resp.Body)
		}
		secrets = append(secrets, r.ClientSecret)
		resp = do(t, http.MethodGet, api("/clients/"+created.ClientID), nil)
		var c struct {
			Secrets []map[string]any `json:"secrets"`
		}
		resp.JSON(t, &c)
		if len(c.Secrets) != 2 {
			t.Errorf("want both secrets live during the grace period, got %s", resp.Body)
		}
	})

	t.Run("revoke records the moment", func(t *testing.T) {
		resp := do(t, http.MethodPost, api("/clients/"+created.ClientID+"/revoke"), nil)
		if resp.Status != http.StatusOK && resp.Status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", resp.Status, resp.Body)
		}
		resp = do(t, http.MethodGet, api("/clients/"+created.ClientID), nil)
		if !strings.Contains(string(resp.Body), `"tokens_revoked_at"`) {
			t.Errorf("no tokens_revoked_at after revoke: %s", resp.Body)
		}
	})

	t.Run("disable is stored", func(t *testing.T) {
		resp := do(t, http.MethodPatch, api("/clients/"+created.ClientID), `{"disabled":true}`)
		if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"disabled":true`) {
			t.Fatalf("disable: %d %s", resp.Status, resp.Body)
		}
	})

	t.Run("secrets never leave except at create and rotate", func(t *testing.T) {
		var seen []string
		seen = append(seen, string(do(t, http.MethodGet, api("/clients/"+created.ClientID), nil).Body))
		seen = append(seen, string(do(t, http.MethodGet, api("/clients"), nil).Body))
		seen = append(seen, string(do(t, http.MethodGet, api("/clients?name=billing%20service"), nil).Body))
		seen = append(seen, g.Logs())
		db, err := os.ReadFile(filepath.Join(g.Dir, "scopegate.db"))
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, string(db))
		for _, secret := range secrets {
			for i, s := range seen {
				if strings.Contains(s, secret) || strings.Contains(s, strings.TrimPrefix(secret, "sgs_")) {
					t.Errorf("secret found in place %d", i)
				}
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		resp := do(t, http.MethodDelete, api("/clients/"+created.ClientID), nil)
		if resp.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", resp.Status, resp.Body)
		}
		resp = do(t, http.MethodGet, api("/clients/"+created.ClientID), nil)
		if resp.Status != http.StatusNotFound || resp.ErrorCode() != "not_found" {
			t.Fatalf("get after delete: %d %s", resp.Status, resp.Body)
		}
		// The name is free again.
		createClient(t, g, map[string]any{"client_name": "Billing Service"})
	})
}

func TestAdminListPaginates(t *testing.T) {
	t.Parallel()
	g := startFoundation(t)
	want := map[string]bool{}
	for i := range 7 {
		want[createClient(t, g, map[string]any{"client_name": fmt.Sprintf("client-%d", i)}).ClientID] = true
	}
	got := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 7 {
			t.Fatal("pagination does not end")
		}
		resp := do(t, http.MethodGet, g.AdminURL("/scopegate/clients?limit=3&cursor="+cursor), nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("list: %d %s", resp.Status, resp.Body)
		}
		var page struct {
			Clients []struct {
				ClientID string `json:"client_id"`
			} `json:"clients"`
			NextCursor string `json:"next_cursor"`
		}
		resp.JSON(t, &page)
		if len(page.Clients) > 3 {
			t.Fatalf("page of %d with limit 3", len(page.Clients))
		}
		for _, c := range page.Clients {
			if got[c.ClientID] {
				t.Fatalf("client %s listed twice", c.ClientID)
			}
			got[c.ClientID] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d clients, created %d", len(got), len(want))
	}
	resp := do(t, http.MethodGet, g.AdminURL("/scopegate/clients?cursor=Zm9yZ2Vk"), nil)
	if resp.Status != http.StatusBadRequest {
		t.Fatalf("forged cursor: %d %s", resp.Status, resp.Body)
	}
}

func TestRestartKeepsEveryClient(t *testing.T) {
	t.Parallel()
	g := startFoundation(t)
	var ids []string
	for i := range 10 {
		ids = append(ids, createClient(t, g, map[string]any{"client_name": fmt.Sprintf("svc-%d", i)}).ClientID)
	}
	g.Stop()
	g.Start()
	for _, id := range ids {
		if resp := do(t, http.MethodGet, g.AdminURL("/scopegate/clients/"+id), nil); resp.Status != http.StatusOK {
			t.Errorf("client %s after restart: %d %s", id, resp.Status, resp.Body)
		}
	}
}

// TestReloadsWhileRequestsFlow reloads the config 20 times while site traffic
// flows, creating a client through the admin API after each reload. Every
// response must be the right one. A reload closes the old listening socket,
// and the kernel drops connections still queued in it before any byte of the
// request is read; so a request that got no response at all is retried (up
// to three times, as back-to-back reloads can close the next socket too), as
// HTTP clients do for idempotent requests, and must then succeed. Admin requests are made
// between reloads: Caddy restarts its admin endpoint on every load.
func TestReloadsWhileRequestsFlow(t *testing.T) {
	// Not parallel: it bounds retries as a share of the requests made, and
	// on a busy machine fewer requests fit between the reloads.
	g := startFoundation(t)
	storePath := filepath.Join(g.Dir, "scopegate.db")
	created := []string{createClient(t, g, map[string]any{"client_name": "seed"}).ClientID}

	var stop atomic.Bool
	var failures, requests, retries atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				requests.Add(1)
				resp, err := httpClient.Get(g.URL("/"))
				// Back-to-back reloads can close the next socket too: up to
				// three retries, each counted.
				for try := 0; err != nil && try < 3; try++ {
					retries.Add(1)
					resp, err = httpClient.Get(g.URL("/"))
				}
				if err != nil || resp.StatusCode != http.StatusOK {
					failures.Add(1)
					t.Logf("site request failed: %v %v", err, resp)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}

	for gen := 1; gen <= 20; gen++ {
		g.Vars["Generation"] = gen
		status, msg := g.Reload(foundationCaddyfile)
		if status != http.StatusOK {
			t.Fatalf("reload %d: %d %s", gen, status, msg)
		}
		if n := g.OpenFiles(storePath); n != 1 {
			t.Fatalf("after reload %d: %d open handles on the store, want 1", gen, n)
		}
		created = append(created, createClient(t, g, map[string]any{"client_name": fmt.Sprintf("after-reload-%d", gen)}).ClientID)
	}
	stop.Store(true)
	wg.Wait()

	if failures.Load() != 0 {
		t.Fatalf("%d of %d site requests failed during reloads", failures.Load(), requests.Load())
	}
	if requests.Load() < 20 {
		t.Fatalf("only %d requests ran during the reloads", requests.Load())
	}
	if retries.Load() > requests.Load()/10 {
		t.Fatalf("%d of %d requests had to be retried: more than socket swaps explain", retries.Load(), requests.Load())
	}
	// The last reload is the one serving.
	if resp := do(t, http.MethodGet, g.URL("/"), nil); string(resp.Body) != "ok 20" {
		t.Errorf("site answers %q after 20 reloads", resp.Body)
	}
	for _, id := range created {
		if resp := do(t, http.MethodGet, g.AdminURL("/scopegate/clients/"+id), nil); resp.Status != http.StatusOK {
			t.Errorf("client %s lost: %d", id, resp.Status)
		}
	}
	t.Logf("%d site requests during 20 reloads, no failure, %d retried after a connection closed unanswered",
		requests.Load(), retries.Load())
}

func TestSecondProcessOnTheSameStoreFailsFast(t *testing.T) {
	t.Parallel()
	first := startFoundation(t)

	second := NewGateway(t, foundationCaddyfile)
	second.Vars["Generation"] = 0
	second.Dir = first.Dir // same store file
	start := time.Now()
	err := second.StartErr()
	if err == nil {
		t.Fatal("a second process opened a store that is in use")
	}
	if !second.Exited(10 * time.Second) {
		t.Fatal("second process still running")
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("took %s to fail", elapsed)
	}
	if logs := second.Logs(); !strings.Contains(logs, "locked by another process") {
		t.Errorf("no clear message in:\n%s", logs)
	}
	// The first one is unaffected.
	if resp := do(t, http.MethodGet, first.AdminURL("/scopegate/clients"), nil); resp.Status != http.StatusOK {
		t.Errorf("first process: %d", resp.Status)
	}
}

func TestCorruptStoreFailsClosed(t *testing.T) {
	t.Parallel()
	g := NewGateway(t, foundationCaddyfile)
	g.Vars["Generation"] = 0
	if err := os.WriteFile(filepath.Join(g.Dir, "scopegate.db"), []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.StartErr(); err == nil {
		t.Fatal("gateway started on a corrupt store")
	}
	if logs := g.Logs(); !strings.Contains(logs, "scopegate") || !strings.Contains(logs, "store") {
		t.Errorf("no clear message in:\n%s", logs)
	}
}

func TestStoreFileModes(t *testing.T) {
	t.Parallel()
	g := NewGateway(t, strings.Replace(foundationCaddyfile, "{{.Dir}}/scopegate.db", "{{.Dir}}/state/nested/scopegate.db", 1))
	g.Vars["Generation"] = 0
	g.Start()
	for path, want := range map[string]os.FileMode{
		filepath.Join(g.Dir, "state", "nested"):                 0o700,
		filepath.Join(g.Dir, "state", "nested", "scopegate.db"): 0o600,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", path, info.Mode().Perm(), want)
		}
	}
}
