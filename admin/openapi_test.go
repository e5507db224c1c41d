package admin

// The OpenAPI document, docs/openapi.json, is checked against the handler
// in both directions: every documented operation is served and answers as
// documented (statuses, schemas, headers), and every route the handler
// serves is documented. The document is JSON rather than YAML so that the
// standard library reads all of it: the tests resolve every $ref and
// validate real answers against the schemas, which a line-based reading of
// YAML could not do.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/token"
)

// openAPIPath is the document, relative to this package.
const openAPIPath = "../docs/openapi.json"

// httpMethods are the methods an OpenAPI path item may hold, lower case as
// the document writes them. HEAD is left out: every GET route answers it
// (http.ServeMux), which the document says once.
var httpMethods = []string{"get", "put", "post", "delete", "options", "patch", "trace"}

// openAPI is the parsed document, kept generic so that $ref pointers can be
// followed anywhere in it.
type openAPI struct {
	root map[string]any
}

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatalf("reading the OpenAPI document: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("%s is not JSON: %v", openAPIPath, err)
	}
	return &openAPI{root: root}
}

// resolve follows a local JSON pointer ("#/components/schemas/Client").
func (d *openAPI) resolve(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not a local pointer", ref)
	}
	var node any = d.root
	for _, part := range strings.Split(rest, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, part)
		}
		if node, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	return node, nil
}

// deref follows $ref until it reaches an object without one.
func (d *openAPI) deref(t *testing.T, node any) map[string]any {
	t.Helper()
	for range 10 {
		m, ok := node.(map[string]any)
		if !ok {
			t.Fatalf("expected an object, got %T", node)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var err error
		if node, err = d.resolve(ref); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("$ref chain too long")
	return nil
}

// operation is one documented path and method.
type operation struct {
	Method   string // upper case
	Path     string // as documented, "/clients/{id}"
	ID       string
	Op       map[string]any
	PathItem map[string]any
}

// Key is the operation as a ServeMux pattern writes it.
func (o operation) Key() string { return o.Method + " " + o.Path }

func (d *openAPI) operations(t *testing.T) []operation {
	t.Helper()
	paths, ok := d.root["paths"].(map[string]any)
	if !ok {
		t.Fatalf("the document has no paths")
	}
	var ops []operation
	for p, item := range paths {
		pi := item.(map[string]any)
		for _, m := range httpMethods {
			if op, ok := pi[m].(map[string]any); ok {
				id, _ := op["operationId"].(string)
				ops = append(ops, operation{Method: strings.ToUpper(m), Path: p, ID: id, Op: op, PathItem: pi})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Key() < ops[j].Key() })
	return ops
}

// response returns the documented response for a status, dereferenced, or
// nil.
func (d *openAPI) response(t *testing.T, op operation, status int) map[string]any {
	t.Helper()
	responses := op.Op["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(status)]
	if !ok {
		return nil
	}
	return d.deref(t, r)
}

// servedPatterns reads the routes out of admin.go: every
// h.handle(Area…, "METHOD /path", …) call. A call written any other way,
// or a route registered on the mux directly, fails the test, so that no
// route escapes the comparison (or the areas remote admin decides by).
func servedPatterns(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("admin.go")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(src), "h.mux.HandleFunc(") || strings.Contains(string(src), "h.mux.Handle(") {
		t.Fatal("admin.go registers a route on the mux directly; use h.handle, which records its area")
	}
	calls := strings.Count(string(src), "h.handle(")
	matches := regexp.MustCompile(`h\.handle\(Area[A-Za-z]+, "([A-Z]+ /[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(matches) == 0 || len(matches) != calls {
		t.Fatalf("admin.go has %d h.handle calls and %d with an area and a literal \"METHOD /path\" pattern; keep every route a literal so this test can read it", calls, len(matches))
	}
	var patterns []string
	for _, m := range matches {
		patterns = append(patterns, m[1])
	}
	sort.Strings(patterns)
	return patterns
}

// openAPIKeys describes keys as the gateway's key manager does. fromFile makes it refuse changes as a
// signing_key_file configuration does.
type openAPIKeys struct{ fromFile bool }

func (openAPIKeys) Keys(context.Context) ([]token.KeyInfo, error) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return []token.KeyInfo{
		{KeyID: "k0", Algorithm: "ES256", CreatedAt: at.Add(-time.Hour), ActiveAt: at.Add(-time.Hour), RetiredAt: at, Status: "retired", Use: token.UseAll},
		{KeyID: "k1", Algorithm: "ES256", CreatedAt: at, ActiveAt: at, Status: "active", Use: token.UseAll},
		{KeyID: "k2", Algorithm: "ES256", CreatedAt: at, Status: "next", Use: token.UseAll},
		{KeyID: "k3", Algorithm: "RS256", CreatedAt: at, ActiveAt: at, Status: "active", Use: token.UseIDToken},
	}, nil
}

func (k *openAPIKeys) RotateKeys(ctx context.Context) ([]token.KeyInfo, error) {
	if k.fromFile {
		return nil, &KeyConflictError{Reason: "the signing key comes from signing_key_file; replace the file and reload to rotate"}
	}
	return k.Keys(ctx)
}

func (k *openAPIKeys) RevokeKey(ctx context.Context, kid string) ([]token.KeyInfo, error) {
	switch {
	case kid != "k1":
		return nil, ErrKeyNotFound
	case k.fromFile:
		return nil, &KeyConflictError{Reason: "the key comes from signing_key_file; replace the file and reload"}
	}
	return k.Keys(ctx)
}

// keyFile makes the fixture's keys refuse changes as a key file does.
func keyFile(f *fixture) { f.keys.fromFile = true }

// fixture is an API with one client that holds two live secrets, one role,
// one user holding it, and a session of that user.
type fixture struct {
	api      *testAPI
	keys     *openAPIKeys
	clientID string
	secrets  []string
	userID   string
	role     string
}

// fixtureSession is the ID of the fixture user's session.
const fixtureSession = "fixture-session"

// newFixture builds the API with the keys routes and creates the client
// from the document's own create example (renamed, so the example can be
// sent again).
func newFixture(t *testing.T, d *openAPI, limits ...func(*registry.Limits)) *fixture {
	t.Helper()
	keys := &openAPIKeys{}
	sessions := &memSessions{}
	consents := &memConsents{}
	grants := &memGrants{}
	api := newTestAPI(t, cheapHasher, withSessions(sessions), withConsents(consents), withGrants(grants), func(l *registry.Limits, o *Options) {
		o.Keys = keys
		for _, f := range limits {
			f(l)
		}
	})
	var example map[string]any
	if err := json.Unmarshal([]byte(d.example(t, "POST", "/clients", "application/json")), &example); err != nil {
		t.Fatal(err)
	}
	example["client_name"] = "fixture"
	body, _ := json.Marshal(example)
	resp := api.do(http.MethodPost, "/clients", string(body))
	if resp.Status != http.StatusCreated {
		t.Fatalf("creating the fixture from the documented example: %d %s", resp.Status, resp.Body)
	}
	var c registry.Client
	if err := json.Unmarshal(resp.Body, &c); err != nil {
		t.Fatal(err)
	}
	resp = api.do(http.MethodPost, "/clients/"+c.ClientID+"/secrets", `{"grace_period":"1h"}`)
	if resp.Status != http.StatusCreated {
		t.Fatalf("rotating the fixture's secret: %d %s", resp.Status, resp.Body)
	}
	if err := json.Unmarshal(resp.Body, &c); err != nil {
		t.Fatal(err)
	}
	f := &fixture{api: api, keys: keys, clientID: c.ClientID}
	for _, s := range c.Secrets {
		f.secrets = append(f.secrets, s.ID)
	}
	var role registry.Role
	f.createFromExample(t, d, "/roles", "name", "staff", &role)
	f.role = role.Name
	var user registry.User
	f.createFromExample(t, d, "/users", "username", "fixture-user", &user, "roles", []string{role.Name})
	f.userID = user.UserID
	sessions.add(f.userID, fixtureSession)
	consents.add(f.userID, f.clientID, "orders:read")
	grants.add(f.userID, f.clientID, "orders:read")
	return f
}

// createFromExample creates a record from the document's create example
// for path, with the name field renamed (so the example can be sent
// again) and the other fields in set replaced, and decodes the answer into
// v.
func (f *fixture) createFromExample(t *testing.T, d *openAPI, path, nameField, name string, v any, set ...any) {
	t.Helper()
	var example map[string]any
	if err := json.Unmarshal([]byte(d.example(t, "POST", path, "application/json")), &example); err != nil {
		t.Fatal(err)
	}
	example[nameField] = name
	for i := 0; i+1 < len(set); i += 2 {
		example[set[i].(string)] = set[i+1]
	}
	body, _ := json.Marshal(example)
	resp := f.api.do(http.MethodPost, path, string(body))
	if resp.Status != http.StatusCreated {
		t.Fatalf("creating the fixture from the documented example of POST %s: %d %s", path, resp.Status, resp.Body)
	}
	resp.decode(t, v)
}

// fill puts the fixture's IDs into a documented path: {id} is the user's
// under /users and the client's elsewhere.
func (f *fixture) fill(path string) string {
	id := f.clientID
	if strings.HasPrefix(path, "/users/") {
		id = f.userID
	}
	return strings.NewReplacer("{id}", id, "{secret_id}", f.secrets[0], "{kid}", "k1",
		"{name}", f.role, "{session_id}", fixtureSession, "{client_id}", f.clientID).Replace(path)
}

// example returns the documented request example of an operation for a
// media type, as JSON; "" when there is none.
func (d *openAPI) example(t *testing.T, method, path, mediaType string) string {
	t.Helper()
	for _, op := range d.operations(t) {
		if op.Method != method || op.Path != path {
			continue
		}
		rb, ok := op.Op["requestBody"]
		if !ok {
			return ""
		}
		content := d.deref(t, rb)["content"].(map[string]any)
		mt, ok := content[mediaType].(map[string]any)
		if !ok {
			return ""
		}
		ex, ok := mt["example"]
		if !ok {
			return ""
		}
		raw, err := json.Marshal(ex)
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	t.Fatalf("no documented operation %s %s", method, path)
	return ""
}

// isUnrouted reports whether an answer is the handler's own "no route":
// 404 for an unknown path, 405 for a known path with another method.
func isUnrouted(r response) bool {
	var e errorBody
	_ = json.Unmarshal(r.Body, &e)
	return r.Status == http.StatusNotFound && e.Error == codeNotFound && e.Description == "no such endpoint" ||
		r.Status == http.StatusMethodNotAllowed && e.Error == codeMethodNotAllowed
}

func TestOpenAPIDocumentIsWellFormed(t *testing.T) {
	d := loadOpenAPI(t)
	if d.root["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", d.root["openapi"])
	}
	// Every $ref resolves, wherever it is.
	var walk func(node any, at string)
	walk = func(node any, at string) {
		switch n := node.(type) {
		case map[string]any:
			if ref, ok := n["$ref"].(string); ok {
				if _, err := d.resolve(ref); err != nil {
					t.Errorf("at %s: %v", at, err)
				}
			}
			for k, v := range n {
				walk(v, at+"/"+k)
			}
		case []any:
			for i, v := range n {
				walk(v, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(d.root, "#")

	// Every schema uses only the keywords the validator below checks, so
	// that no rule in the document goes untested.
	schemas := d.root["components"].(map[string]any)["schemas"].(map[string]any)
	for name, s := range schemas {
		checkKeywords(t, s, "#/components/schemas/"+name)
	}

	seenIDs := map[string]bool{}
	for _, op := range d.operations(t) {
		t.Run(op.Key(), func(t *testing.T) {
			if op.ID == "" || seenIDs[op.ID] {
				t.Errorf("operationId %q is missing or not unique", op.ID)
			}
			seenIDs[op.ID] = true
			responses, ok := op.Op["responses"].(map[string]any)
			if !ok || len(responses) == 0 {
				t.Fatalf("no responses")
			}
			for code, r := range responses {
				if _, err := strconv.Atoi(code); err != nil {
					t.Errorf("response %q is not a status code", code)
				}
				if desc, _ := d.deref(t, r)["description"].(string); desc == "" {
					t.Errorf("response %s has no description", code)
				}
			}
			// The path's template parameters and the declared ones agree.
			var declared []string
			for _, params := range []any{op.PathItem["parameters"], op.Op["parameters"]} {
				list, _ := params.([]any)
				for _, p := range list {
					pm := d.deref(t, p)
					if pm["in"] == "path" {
						declared = append(declared, pm["name"].(string))
						if pm["required"] != true {
							t.Errorf("path parameter %v is not required", pm["name"])
						}
					}
				}
			}
			var inPath []string
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(op.Path, -1) {
				inPath = append(inPath, m[1])
			}
			// Compared as sets: /users/{id}/consents/{client_id} names them
			// out of alphabetical order.
			sort.Strings(declared)
			sort.Strings(inPath)
			if !slices.Equal(declared, inPath) {
				t.Errorf("path parameters declared %v, in the path %v", declared, inPath)
			}
			// Request examples match their schemas.
			if rb, ok := op.Op["requestBody"]; ok {
				for mediaType, mt := range d.deref(t, rb)["content"].(map[string]any) {
					mtm := mt.(map[string]any)
					if ex, ok := mtm["example"]; ok {
						for _, problem := range d.validate(mtm["schema"], ex, "example") {
							t.Errorf("%s example: %s", mediaType, problem)
						}
					}
				}
			}
		})
	}
}

// TestOpenAPIRoutesMatchHandler proves that the documented routes and the
// served ones are the same set: the patterns in admin.go equal the
// document's, and probing every documented path with every method finds
// exactly the documented operations routed.
func TestOpenAPIRoutesMatchHandler(t *testing.T) {
	d := loadOpenAPI(t)
	var documented []string
	paths := map[string]bool{}
	for _, op := range d.operations(t) {
		documented = append(documented, op.Key())
		paths[op.Path] = true
	}
	source := servedPatterns(t)
	for _, p := range source {
		if !slices.Contains(documented, p) {
			t.Errorf("admin.go serves %s, which docs/openapi.json does not document", p)
		}
		_, path, _ := strings.Cut(p, " ")
		paths[path] = true
	}
	for _, p := range documented {
		if !slices.Contains(source, p) {
			t.Errorf("docs/openapi.json documents %s, which admin.go does not serve", p)
		}
	}

	// Probe: every path either list names, with every method.
	var served []string
	for path := range paths {
		for _, m := range httpMethods {
			method := strings.ToUpper(m)
			f := newFixture(t, d)
			resp := f.api.do(method, f.fill(path), "")
			if !isUnrouted(resp) {
				served = append(served, method+" "+path)
			}
		}
	}
	sort.Strings(served)
	if !slices.Equal(served, documented) {
		t.Errorf("routes the handler answers:\n  %s\nroutes the document lists:\n  %s",
			strings.Join(served, "\n  "), strings.Join(documented, "\n  "))
	}
}

// TestOpenAPIQueryParametersMatchHandler proves that each list's documented
// query parameters are the ones its handler accepts, both ways: the handler
// refuses any other, so an undocumented one would be a hidden feature and a
// documented one it refuses a broken promise.
func TestOpenAPIQueryParametersMatchHandler(t *testing.T) {
	d := loadOpenAPI(t)
	accepted := map[string]map[string]bool{
		"listClients": listQueryParams,
		"listUsers":   userListQueryParams,
		"listRoles":   roleListQueryParams,
	}
	for _, op := range d.operations(t) {
		documented := map[string]bool{}
		params, _ := op.Op["parameters"].([]any)
		for _, p := range params {
			if pm := d.deref(t, p); pm["in"] == "query" {
				documented[pm["name"].(string)] = true
			}
		}
		if want := accepted[op.ID]; !maps.Equal(documented, want) {
			t.Errorf("%s: documented query parameters %v, the handler accepts %v", op.ID, slices.Sorted(maps.Keys(documented)), slices.Sorted(maps.Keys(want)))
		}
	}
}

// TestOpenAPIAnswersMatchSchemas sends each documented operation its
// documented example (or no body) and checks the answer against the
// document: a documented 2xx status, a body valid against its schema, the
// documented headers.
func TestOpenAPIAnswersMatchSchemas(t *testing.T) {
	d := loadOpenAPI(t)
	for _, op := range d.operations(t) {
		t.Run(op.Key(), func(t *testing.T) {
			f := newFixture(t, d)
			var body, mediaType string
			if rb, ok := op.Op["requestBody"]; ok {
				for mt := range d.deref(t, rb)["content"].(map[string]any) {
					if ex := d.example(t, op.Method, op.Path, mt); ex != "" {
						body, mediaType = ex, mt
					}
				}
				if d.deref(t, rb)["required"] == true && body == "" {
					t.Fatalf("a required request body has no example to send")
				}
			}
			var header []string
			if mediaType != "" {
				header = []string{"Content-Type", mediaType}
			}
			resp := f.api.do(op.Method, f.fill(op.Path), body, header...)
			if resp.Status < 200 || resp.Status > 299 {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			checkAnswer(t, d, op, resp)
		})
	}
}

// TestOpenAPIErrorAnswers provokes the documented errors and checks that
// each status is documented for its operation and each body is an Error.
func TestOpenAPIErrorAnswers(t *testing.T) {
	d := loadOpenAPI(t)
	ops := map[string]operation{}
	for _, op := range d.operations(t) {
		ops[op.ID] = op
	}
	huge := `{"client_name":"x","metadata":{"pad":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}}`
	hugeUser := `{"name":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	type probe struct {
		name, op, path, body, contentType string
		limits                            func(*registry.Limits)
		before                            func(f *fixture)
		status                            int
	}
	probes := []probe{
		{name: "bad limit", op: "listClients", path: "/clients?limit=0", status: 400},
		{name: "unknown parameter", op: "listClients", path: "/clients?nme=x", status: 400},
		{name: "forged cursor", op: "listClients", path: "/clients?cursor=abc", status: 400},
		{name: "unknown field", op: "createClient", path: "/clients", body: `{"client_name":"y","colour":"red"}`, status: 400},
		{name: "read-only field", op: "createClient", path: "/clients", body: `{"client_name":"y","client_id":"x"}`, status: 400},
		{name: "name taken", op: "createClient", path: "/clients", body: `{"client_name":"FIXTURE"}`, status: 409},
		{name: "too large", op: "createClient", path: "/clients", body: huge, status: 413},
		{name: "not JSON", op: "createClient", path: "/clients", body: `client_name=y`, contentType: "application/x-www-form-urlencoded", status: 415},
		{name: "max clients", op: "createClient", path: "/clients", body: `{"client_name":"y"}`, limits: func(l *registry.Limits) { l.MaxClients = 1 }, status: 422},
		{name: "unknown client", op: "getClient", path: "/clients/nosuch", status: 404},
		{name: "bad CIDR", op: "replaceClient", path: "/clients/{id}", body: `{"client_name":"fixture","ip_allowlist":["10.0.0.0/33"]}`, status: 400},
		{name: "unknown client", op: "replaceClient", path: "/clients/nosuch", body: `{"client_name":"y"}`, status: 404},
		{name: "name taken", op: "replaceClient", path: "/clients/{id}", body: `{"client_name":"other"}`, before: createOther, status: 409},
		{name: "not JSON", op: "replaceClient", path: "/clients/{id}", body: `x`, contentType: "text/plain", status: 415},
		{name: "too large", op: "replaceClient", path: "/clients/{id}", body: huge, status: 413},
		{name: "read-only field", op: "patchClient", path: "/clients/{id}", body: `{"secrets":null}`, status: 400},
		{name: "unknown client", op: "patchClient", path: "/clients/nosuch", body: `{"scope":"a"}`, status: 404},
		{name: "name taken", op: "patchClient", path: "/clients/{id}", body: `{"client_name":"Other"}`, before: createOther, status: 409},
		{name: "not JSON", op: "patchClient", path: "/clients/{id}", body: `x`, contentType: "text/plain", status: 415},
		{name: "too large", op: "patchClient", path: "/clients/{id}", body: huge, status: 413},
		{name: "unknown client", op: "deleteClient", path: "/clients/nosuch", status: 404},
		{name: "bad body", op: "rotateSecret", path: "/clients/{id}/secrets", body: `{"grace_period":"soon"}`, status: 400},
		{name: "negative grace", op: "rotateSecret", path: "/clients/{id}/secrets", body: `{"grace_period":"-1h"}`, status: 400},
		{name: "unknown client", op: "rotateSecret", path: "/clients/nosuch/secrets", status: 404},
		{name: "not JSON", op: "rotateSecret", path: "/clients/{id}/secrets", body: `x`, contentType: "text/plain", status: 415},
		{name: "too large", op: "rotateSecret", path: "/clients/{id}/secrets", body: huge, status: 413},
		{name: "public client", op: "rotateSecret", path: "/clients/{id}/secrets", before: makePublic, status: 409},
		{name: "too many secrets", op: "rotateSecret", path: "/clients/{id}/secrets", body: `{"grace_period":"1h"}`, before: rotateUpToLimit, status: 422},
		{name: "unknown secret", op: "retireSecret", path: "/clients/{id}/secrets/nosuch", status: 404},
		{name: "unknown client", op: "retireSecret", path: "/clients/nosuch/secrets/{secret_id}", status: 404},
		{name: "last secret", op: "retireSecret", path: "/clients/{id}/secrets/{secret_id}", before: retireAllButFirst, status: 409},
		{name: "unknown client", op: "revokeTokens", path: "/clients/nosuch/revoke", status: 404},
		{name: "unknown client", op: "disableClient", path: "/clients/nosuch/disable", status: 404},
		{name: "unknown client", op: "enableClient", path: "/clients/nosuch/enable", status: 404},
		{name: "key file", op: "rotateKeys", path: "/keys/rotate", before: keyFile, status: 409},
		{name: "unknown kid", op: "revokeKey", path: "/keys/nosuch/revoke", status: 404},
		{name: "key file", op: "revokeKey", path: "/keys/{kid}/revoke", before: keyFile, status: 409},
		{name: "unknown parameter", op: "listUsers", path: "/users?name=x", status: 400},
		{name: "weak password", op: "createUser", path: "/users", body: `{"username":"y","password":"password"}`, status: 400},
		{name: "username taken", op: "createUser", path: "/users", body: `{"username":"FIXTURE-USER"}`, status: 409},
		{name: "too large", op: "createUser", path: "/users", body: hugeUser, status: 413},
		{name: "not JSON", op: "createUser", path: "/users", body: `username=y`, contentType: "application/x-www-form-urlencoded", status: 415},
		{name: "max users", op: "createUser", path: "/users", body: `{"username":"yan"}`, limits: func(l *registry.Limits) { l.MaxUsers = 1 }, status: 422},
		{name: "unknown user", op: "getUser", path: "/users/nosuch", status: 404},
		{name: "password by patch", op: "patchUser", path: "/users/{id}", body: `{"password":"violet-lantern-harbor"}`, status: 400},
		{name: "unknown user", op: "patchUser", path: "/users/nosuch", body: `{"name":"y"}`, status: 404},
		{name: "username taken", op: "patchUser", path: "/users/{id}", body: `{"username":"other"}`, before: createOtherUser, status: 409},
		{name: "too large", op: "patchUser", path: "/users/{id}", body: hugeUser, status: 413},
		{name: "not JSON", op: "patchUser", path: "/users/{id}", body: `x`, contentType: "text/plain", status: 415},
		{name: "unknown user", op: "deleteUser", path: "/users/nosuch", status: 404},
		{name: "both credentials", op: "setUserPassword", path: "/users/{id}/password", body: `{"password":"violet-lantern-harbor","password_hash":"x"}`, status: 400},
		{name: "unknown user", op: "setUserPassword", path: "/users/nosuch/password", body: `{"password":"violet-lantern-harbor"}`, status: 404},
		{name: "too large", op: "setUserPassword", path: "/users/{id}/password", body: hugeUser, status: 413},
		{name: "not JSON", op: "setUserPassword", path: "/users/{id}/password", body: `x`, contentType: "text/plain", status: 415},
		{name: "unknown user", op: "disableUser", path: "/users/nosuch/disable", status: 404},
		{name: "unknown user", op: "enableUser", path: "/users/nosuch/enable", status: 404},
		{name: "unknown user", op: "listUserSessions", path: "/users/nosuch/sessions", status: 404},
		{name: "unknown user", op: "endUserSessions", path: "/users/nosuch/sessions", status: 404},
		{name: "unknown session", op: "endUserSession", path: "/users/{id}/sessions/nosuch", status: 404},
		{name: "unknown user", op: "listUserConsents", path: "/users/nosuch/consents", status: 404},
		{name: "unknown user", op: "withdrawUserConsent", path: "/users/nosuch/consents/{client_id}", status: 404},
		{name: "no consent to this client", op: "withdrawUserConsent", path: "/users/{id}/consents/nosuch", status: 404},
		{name: "unknown user", op: "listUserGrants", path: "/users/nosuch/grants", status: 404},
		{name: "no grant to this client", op: "revokeUserGrants", path: "/users/{id}/grants/nosuch", status: 404},
		{name: "bad limit", op: "listRoles", path: "/roles?limit=0", status: 400},
		{name: "bad name", op: "createRole", path: "/roles", body: `{"name":"a b"}`, status: 400},
		{name: "name taken", op: "createRole", path: "/roles", body: `{"name":"staff"}`, status: 409},
		{name: "too large", op: "createRole", path: "/roles", body: hugeUser, status: 413},
		{name: "not JSON", op: "createRole", path: "/roles", body: `x`, contentType: "text/plain", status: 415},
		{name: "unknown role", op: "getRole", path: "/roles/nosuch", status: 404},
		{name: "rename", op: "patchRole", path: "/roles/{name}", body: `{"name":"other"}`, status: 400},
		{name: "unknown role", op: "patchRole", path: "/roles/nosuch", body: `{"scopes":null}`, status: 404},
		{name: "too large", op: "patchRole", path: "/roles/{name}", body: hugeUser, status: 413},
		{name: "not JSON", op: "patchRole", path: "/roles/{name}", body: `x`, contentType: "text/plain", status: 415},
		{name: "unknown role", op: "deleteRole", path: "/roles/nosuch", status: 404},
	}
	covered := map[string]bool{}
	for _, p := range probes {
		t.Run(p.op+"/"+p.name, func(t *testing.T) {
			op, ok := ops[p.op]
			if !ok {
				t.Fatalf("no documented operation %s", p.op)
			}
			var limits []func(*registry.Limits)
			if p.limits != nil {
				limits = append(limits, p.limits)
			}
			f := newFixture(t, d, limits...)
			if p.before != nil {
				p.before(f)
			}
			var header []string
			if p.contentType != "" {
				header = []string{"Content-Type", p.contentType}
			}
			resp := f.api.do(op.Method, f.fill(p.path), p.body, header...)
			if resp.Status != p.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, p.status, resp.Body)
			}
			checkAnswer(t, d, op, resp)
			covered[p.op+" "+strconv.Itoa(p.status)] = true
		})
	}
	// Every 4xx a client operation documents (apart from the remote-admin
	// ones) is provoked above.
	for _, op := range d.operations(t) {
		for code := range op.Op["responses"].(map[string]any) {
			n, _ := strconv.Atoi(code)
			remoteOnly := n == 401 || n == 403 || n == 429
			if n >= 400 && n < 500 && !remoteOnly && !covered[op.ID+" "+code] {
				t.Errorf("%s documents %s, which no probe provokes", op.ID, code)
			}
		}
	}
}

// createOther adds a client named "other".
func createOther(f *fixture) {
	if r := f.api.do(http.MethodPost, "/clients", `{"client_name":"other"}`); r.Status != http.StatusCreated {
		f.api.t.Fatalf("creating another client: %d %s", r.Status, r.Body)
	}
}

// createOtherUser adds a user named "other".
func createOtherUser(f *fixture) {
	if r := f.api.do(http.MethodPost, "/users", `{"username":"other"}`); r.Status != http.StatusCreated {
		f.api.t.Fatalf("creating another user: %d %s", r.Status, r.Body)
	}
}

// makePublic makes the fixture a public client, which holds no secret.
func makePublic(f *fixture) {
	body := `{"token_endpoint_auth_method":"none","grant_types":["authorization_code"],"redirect_uris":["http://127.0.0.1/cb"],"features":null}`
	if r := f.api.do(http.MethodPatch, "/clients/"+f.clientID, body); r.Status != http.StatusOK {
		f.api.t.Fatalf("making the client public: %d %s", r.Status, r.Body)
	}
}

// rotateUpToLimit gives the fixture the most live secrets it may hold.
func rotateUpToLimit(f *fixture) {
	for range registry.MaxLiveSecrets - len(f.secrets) {
		if r := f.api.do(http.MethodPost, "/clients/"+f.clientID+"/secrets", `{"grace_period":"1h"}`); r.Status != http.StatusCreated {
			f.api.t.Fatalf("rotating: %d %s", r.Status, r.Body)
		}
	}
}

// retireAllButFirst leaves the fixture with only its first secret.
func retireAllButFirst(f *fixture) {
	for _, id := range f.secrets[1:] {
		if r := f.api.do(http.MethodDelete, "/clients/"+f.clientID+"/secrets/"+id, ""); r.Status != http.StatusOK {
			f.api.t.Fatalf("retiring: %d %s", r.Status, r.Body)
		}
	}
}

// checkAnswer checks one answer against its operation's documented
// response: status documented, headers present, body valid.
func checkAnswer(t *testing.T, d *openAPI, op operation, resp response) {
	t.Helper()
	doc := d.response(t, op, resp.Status)
	if doc == nil {
		t.Fatalf("status %d is not documented for %s: %s", resp.Status, op.Key(), resp.Body)
	}
	if headers, ok := doc["headers"].(map[string]any); ok {
		for name := range headers {
			if name != "WWW-Authenticate" && name != "Retry-After" && resp.Header.Get(name) == "" {
				t.Errorf("documented header %s is missing", name)
			}
		}
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, documented as no-store", resp.Header.Get("Cache-Control"))
	}
	content, ok := doc["content"].(map[string]any)
	if !ok {
		if len(resp.Body) != 0 {
			t.Errorf("status %d is documented without a body, got %s", resp.Status, resp.Body)
		}
		return
	}
	mt, ok := content["application/json"].(map[string]any)
	if !ok || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("answer Content-Type %q; documented %v", resp.Header.Get("Content-Type"), content)
	}
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.UseNumber()
	var body any
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("the answer is not JSON: %v", err)
	}
	for _, problem := range d.validate(mt["schema"], body, "body") {
		t.Errorf("status %d: %s\n%s", resp.Status, problem, resp.Body)
	}
}

// schemaKeywords are the JSON Schema keywords the document may use: the
// validator checks every one that is not an annotation.
var schemaKeywords = map[string]bool{
	"$ref": true, "type": true, "properties": true, "required": true, "additionalProperties": true,
	"unevaluatedProperties": true, "allOf": true, "items": true, "enum": true, "format": true,
	"minimum": true, "maximum": true, "minLength": true, "maxLength": true,
	// Annotations.
	"description": true, "examples": true, "default": true, "title": true,
}

// checkKeywords refuses a schema keyword the validator does not know.
func checkKeywords(t *testing.T, s any, at string) {
	t.Helper()
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	for k, v := range m {
		if !schemaKeywords[k] {
			t.Errorf("%s uses %q, which the schema test does not check", at, k)
			continue
		}
		switch k {
		case "properties":
			for name, p := range v.(map[string]any) {
				checkKeywords(t, p, at+"/properties/"+name)
			}
		case "items", "additionalProperties":
			checkKeywords(t, v, at+"/"+k)
		case "allOf":
			for i, sub := range v.([]any) {
				checkKeywords(t, sub, at+"/allOf/"+strconv.Itoa(i))
			}
		case "format":
			if v != "date-time" && v != "uri" {
				t.Errorf("%s: format %v is not checked", at, v)
			}
		}
	}
}

// validate checks an instance (decoded with UseNumber) against a schema and
// returns what is wrong with it. It covers the keywords in schemaKeywords,
// with JSON Schema 2020-12 meanings.
func (d *openAPI) validate(schema, inst any, at string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		if schema == false {
			return []string{at + ": no value is allowed here"}
		}
		return nil
	}
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, at+": "+fmt.Sprintf(format, args...))
	}
	if ref, ok := s["$ref"].(string); ok {
		target, err := d.resolve(ref)
		if err != nil {
			fail("%v", err)
			return problems
		}
		problems = append(problems, d.validate(target, inst, at)...)
	}
	if ty, ok := s["type"]; ok {
		var types []string
		switch tv := ty.(type) {
		case string:
			types = []string{tv}
		case []any:
			for _, x := range tv {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(ty string) bool { return hasType(inst, ty) }) {
			fail("%s is not of type %v", describe(inst), types)
			return problems
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		if !slices.ContainsFunc(enum, func(e any) bool { return jsonEqual(e, inst) }) {
			fail("%s is not one of %v", describe(inst), enum)
		}
	}
	if str, ok := inst.(string); ok {
		n := utf8.RuneCountInString(str)
		if min, ok := s["minLength"].(json.Number); ok && int64(n) < mustInt(min) {
			fail("shorter than %s characters", min)
		}
		if max, ok := s["maxLength"].(json.Number); ok && int64(n) > mustInt(max) {
			fail("longer than %s characters", max)
		}
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				fail("%q is not an RFC 3339 date-time", str)
			}
		case "uri":
			if u, err := url.Parse(str); err != nil || !u.IsAbs() {
				fail("%q is not an absolute URI", str)
			}
		}
	}
	if num, ok := inst.(json.Number); ok {
		v, _ := new(big.Float).SetString(num.String())
		if min, ok := s["minimum"].(json.Number); ok {
			if m, _ := new(big.Float).SetString(min.String()); v.Cmp(m) < 0 {
				fail("%s is below the minimum %s", num, min)
			}
		}
		if max, ok := s["maximum"].(json.Number); ok {
			if m, _ := new(big.Float).SetString(max.String()); v.Cmp(m) > 0 {
				fail("%s is above the maximum %s", num, max)
			}
		}
	}
	if arr, ok := inst.([]any); ok {
		if items, ok := s["items"]; ok {
			for i, v := range arr {
				problems = append(problems, d.validate(items, v, at+"/"+strconv.Itoa(i))...)
			}
		}
	}
	for _, sub := range asSlice(s["allOf"]) {
		problems = append(problems, d.validate(sub, inst, at)...)
	}
	obj, ok := inst.(map[string]any)
	if !ok {
		return problems
	}
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		if v, ok := obj[name]; ok {
			problems = append(problems, d.validate(p, v, at+"/"+name)...)
		}
	}
	for _, r := range asSlice(s["required"]) {
		if _, ok := obj[r.(string)]; !ok {
			fail("required member %q is missing", r)
		}
	}
	if ap, ok := s["additionalProperties"]; ok {
		for name, v := range obj {
			if _, known := props[name]; !known {
				problems = append(problems, d.validate(ap, v, at+"/"+name)...)
			}
		}
	}
	if s["unevaluatedProperties"] == false {
		evaluated := d.evaluatedProperties(s)
		for name := range obj {
			if !evaluated[name] {
				fail("member %q is not documented", name)
			}
		}
	}
	return problems
}

// evaluatedProperties collects the property names a schema and its allOf
// and $ref subschemas declare: the members unevaluatedProperties does not
// see.
func (d *openAPI) evaluatedProperties(s map[string]any) map[string]bool {
	names := map[string]bool{}
	var collect func(node any, depth int)
	collect = func(node any, depth int) {
		m, ok := node.(map[string]any)
		if !ok || depth > 10 {
			return
		}
		if ref, ok := m["$ref"].(string); ok {
			if target, err := d.resolve(ref); err == nil {
				collect(target, depth+1)
			}
		}
		props, _ := m["properties"].(map[string]any)
		for name := range props {
			names[name] = true
		}
		for _, sub := range asSlice(m["allOf"]) {
			collect(sub, depth+1)
		}
	}
	collect(s, 0)
	return names
}

// hasType reports whether a decoded JSON value is of a JSON Schema type.
func hasType(v any, ty string) bool {
	switch ty {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := strconv.ParseInt(n.String(), 10, 64)
		return err == nil
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func describe(v any) string {
	raw, _ := json.Marshal(v)
	if len(raw) > 80 {
		return string(raw[:80]) + "…"
	}
	return string(raw)
}

func jsonEqual(a, b any) bool {
	ra, _ := json.Marshal(a)
	rb, _ := json.Marshal(b)
	return bytes.Equal(ra, rb)
}

func mustInt(n json.Number) int64 {
	v, _ := n.Int64()
	return v
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestOpenAPIValidator checks the validator itself: a schema test whose
// validator accepts everything would prove nothing.
func TestOpenAPIValidator(t *testing.T) {
	d := loadOpenAPI(t)
	good := `{"client_id":"c","client_name":"n","grant_types":["client_credentials"],"require_scope_request":true,"disabled":false,` +
		`"token_endpoint_auth_method":"client_secret_basic","client_type":"confidential","skip_consent":false,"require_pkce":true,"registered":false,` +
		`"created_at":"2026-03-01T12:00:00Z","updated_at":"2026-03-01T12:00:00Z","secrets":[{"id":"s","created_at":"2026-03-01T12:00:00Z"}],` +
		`"usage":{"tokens_issued":0,"requests_allowed":0,"requests_denied":0,"people":0}}`
	tests := []struct {
		name   string
		schema string
		edit   func(m map[string]any)
		want   string // a fragment of the first problem; "" for none
	}{
		{"valid client", "Client", nil, ""},
		{"undocumented member", "Client", func(m map[string]any) { m["secret_hash"] = "x" }, `member "secret_hash" is not documented`},
		{"secret in a client", "Client", func(m map[string]any) { m["client_secret"] = "sgs_x" }, `member "client_secret" is not documented`},
		{"secret where one belongs", "ClientWithSecret", func(m map[string]any) { m["client_secret"] = "sgs_x"; m["secret_id"] = "s" }, ""},
		{"empty secret", "ClientWithSecret", func(m map[string]any) { m["client_secret"] = ""; m["secret_id"] = "s" }, "shorter than 1 characters"},
		{"public client created", "ClientWithSecret", func(m map[string]any) {
			m["token_endpoint_auth_method"], m["client_type"], m["secrets"] = "none", "public", []any{}
		}, ""},
		{"unknown client type", "Client", func(m map[string]any) { m["client_type"] = "trusted" }, `body/client_type: "trusted" is not one of`},
		{"client type missing", "Client", func(m map[string]any) { delete(m, "client_type") }, `required member "client_type" is missing`},
		{"missing member", "Client", func(m map[string]any) { delete(m, "usage") }, `required member "usage" is missing`},
		{"wrong type", "Client", func(m map[string]any) { m["disabled"] = "no" }, `body/disabled: "no" is not of type [boolean]`},
		{"bad date", "Client", func(m map[string]any) { m["created_at"] = "yesterday" }, `"yesterday" is not an RFC 3339 date-time`},
		{"bad enum", "Client", func(m map[string]any) { m["features"] = []any{"root"} }, `body/features/0: "root" is not one of`},
		{"negative count", "Client", func(m map[string]any) {
			m["usage"].(map[string]any)["tokens_issued"] = json.Number("-1")
		}, "below the minimum"},
		{"not an integer", "Client", func(m map[string]any) {
			m["usage"].(map[string]any)["tokens_issued"] = json.Number("1.5")
		}, "is not of type [integer]"},
		{"nested undocumented", "Client", func(m map[string]any) {
			m["secrets"].([]any)[0].(map[string]any)["hash"] = "x"
		}, `body/secrets/0/hash: no value is allowed here`},
		{"empty name", "Client", func(m map[string]any) { m["client_name"] = "" }, "shorter than 1 characters"},
		{"relative audience", "Client", func(m map[string]any) { m["audience"] = []any{"/orders"} }, `"/orders" is not an absolute URI`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := json.NewDecoder(strings.NewReader(good))
			dec.UseNumber()
			var inst map[string]any
			if err := dec.Decode(&inst); err != nil {
				t.Fatal(err)
			}
			if tt.edit != nil {
				tt.edit(inst)
			}
			problems := d.validate(map[string]any{"$ref": "#/components/schemas/" + tt.schema}, inst, "body")
			switch {
			case tt.want == "" && len(problems) > 0:
				t.Errorf("valid instance refused: %v", problems)
			case tt.want != "" && (len(problems) == 0 || !strings.Contains(problems[0], tt.want)):
				t.Errorf("problems %v, want one containing %q", problems, tt.want)
			}
		})
	}
}

// TestOpenAPIErrorCodesDocumented checks that every error code the handler
// can send is named in the document's Error schema.
func TestOpenAPIErrorCodesDocumented(t *testing.T) {
	d := loadOpenAPI(t)
	src, err := os.ReadFile("respond.go")
	if err != nil {
		t.Fatal(err)
	}
	codes := regexp.MustCompile(`(?m)^\s*code\w+\s*=\s*"(\w+)"`).FindAllStringSubmatch(string(src), -1)
	if len(codes) < 5 {
		t.Fatalf("found only %d error codes in respond.go", len(codes))
	}
	desc := d.deref(t, map[string]any{"$ref": "#/components/schemas/Error"})["description"].(string)
	for _, c := range codes {
		if !strings.Contains(desc, "`"+c[1]+"`") {
			t.Errorf("error code %s is not in the Error schema's description", c[1])
		}
	}
}
