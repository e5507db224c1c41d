package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// openAPISchemas reads the schemas of docs/openapi.json.
func openAPISchemas(t *testing.T) map[string]openAPIObject {
	t.Helper()
	raw, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]openAPIObject `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/openapi.json: %v", err)
	}
	return doc.Components.Schemas
}

// openAPIObject is the part of an object schema this test reads.
type openAPIObject struct {
	Properties map[string]struct {
		Enum []string `json:"enum"`
	} `json:"properties"`
	Required []string `json:"required"`
}

// checkMembers checks a JSON object from the real gateway against a schema:
// every required member present, none undocumented, enums respected.
func checkMembers(t *testing.T, what string, obj map[string]any, s openAPIObject) {
	t.Helper()
	for _, r := range s.Required {
		if _, ok := obj[r]; !ok {
			t.Errorf("%s: required member %q is missing", what, r)
		}
	}
	var names []string
	for name, v := range obj {
		names = append(names, name)
		p, ok := s.Properties[name]
		if !ok {
			t.Errorf("%s: member %q is not in docs/openapi.json", what, name)
			continue
		}
		if str, isString := v.(string); isString && len(p.Enum) > 0 && !slices.Contains(p.Enum, str) {
			t.Errorf("%s: %s = %q, documented as one of %v", what, name, str, p.Enum)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Errorf("%s: empty object", what)
	}
}

// TestOpenAPIMatchesGateway checks what the admin package's own test
// cannot: the shapes the Caddy module supplies (the key set) and the usage
// counters of a client that has been used, on a real gateway.
func TestOpenAPIMatchesGateway(t *testing.T) {
	t.Parallel()
	schemas := openAPISchemas(t)
	g := startIssuer(t)

	for _, call := range []struct{ method, path string }{
		{http.MethodGet, "/scopegate/keys"},
		{http.MethodPost, "/scopegate/keys/rotate"},
	} {
		resp := do(t, call.method, g.AdminURL(call.path), nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("%s %s: %d %s", call.method, call.path, resp.Status, resp.Body)
		}
		var set map[string]any
		resp.JSON(t, &set)
		checkMembers(t, call.path, set, schemas["KeySet"])
		keys, _ := set["keys"].([]any)
		if len(keys) < 2 {
			t.Fatalf("%s: %d keys, want the active and the next", call.path, len(keys))
		}
		for _, k := range keys {
			checkMembers(t, call.path+" key", k.(map[string]any), schemas["KeyInfo"])
		}
	}

	c := createClient(t, g, map[string]any{"client_name": "used", "scope": "a"})
	fetchToken(t, g, c, "a")
	resp := do(t, http.MethodGet, g.AdminURL("/scopegate/clients/"+c.ClientID), nil)
	var got map[string]any
	resp.JSON(t, &got)
	checkMembers(t, "client", got, schemas["ClientFields"])
	checkMembers(t, "usage", got["usage"].(map[string]any), schemas["Usage"])
	for _, s := range got["secrets"].([]any) {
		checkMembers(t, "secret", s.(map[string]any), schemas["SecretInfo"])
	}
}

// notConfiguredCaddyfile has no scopegate app: the admin routes are there
// (the module is compiled in) but have nothing to serve.
const notConfiguredCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
}

http://127.0.0.1:{{.HTTPPort}} {
	respond "plain"
}
`

// TestOpenAPINotConfigured checks the documented 503 of the admin endpoint
// without the app, and that the CLI reports it in one line.
func TestOpenAPINotConfigured(t *testing.T) {
	t.Parallel()
	schemas := openAPISchemas(t)
	g := StartGateway(t, notConfiguredCaddyfile)
	resp := do(t, http.MethodGet, g.AdminURL("/scopegate/clients"), nil)
	if resp.Status != http.StatusServiceUnavailable || resp.ErrorCode() != "not_configured" {
		t.Fatalf("without the app: %d %s", resp.Status, resp.Body)
	}
	var body map[string]any
	resp.JSON(t, &body)
	checkMembers(t, "error", body, schemas["Error"])
	stderr := cliFails(t, nil, "client", "list", "--address", strings.TrimPrefix(g.AdminURL(""), "http://"))
	if stderr != "scopegate: the scopegate app is not configured (HTTP 503)\n" {
		t.Errorf("CLI without the app: %q", stderr)
	}
}
