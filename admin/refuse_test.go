package admin

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/registry"
)

// TestRefused sends bad requests of every kind: each gets its exact status,
// error code and description, and nothing is stored.
func TestRefused(t *testing.T) {
	const (
		meta     = "invalid_client_metadata"
		badReq   = "invalid_request"
		mustJSON = "Content-Type must be application/json (UTF-8)"
		limit    = "limit: must be a whole number from 1 to 1000"
		// registered names the only values it takes, never the one sent.
		registered = "registered: must be true or false"
		// badClaims is the token package's rule for claims, in its words.
		badClaims = "claims: must be valid JSON: strings in UTF-8 without lone surrogates, numbers in JSON syntax, nested at most 32 levels deep"
	)
	huge := `{"client_name":"a","metadata":{"k":"` + strings.Repeat("x", 64<<10) + `"}}`
	cases := []struct {
		name    string
		method  string
		path    string // {id} is the existing client, {sid} its secret
		body    string
		header  []string
		status  int
		code    string
		desc    string
		allow   string
		noAudit bool
	}{
		// SECURITY.md "Admin API": bad CIDRs.
		{name: "prefix too long", method: "POST", path: "/clients", body: `{"client_name":"a","ip_allowlist":["10.0.0.0/33"]}`,
			status: 400, code: meta, desc: "ip_allowlist: entry 0: prefix length out of range"},
		{name: "octet too large", method: "POST", path: "/clients", body: `{"client_name":"a","ip_allowlist":["300.1.1.1/8"]}`,
			status: 400, code: meta, desc: "ip_allowlist: entry 0: not an IP address or CIDR prefix"},
		{name: "empty allowlist entry", method: "POST", path: "/clients", body: `{"client_name":"a","ip_allowlist":["10.0.0.1",""]}`,
			status: 400, code: meta, desc: "ip_allowlist: entry 1: empty"},
		{name: "bad CIDR by patch", method: "PATCH", path: "/clients/{id}", body: `{"ip_allowlist":["10.0.0.0/33"]}`,
			status: 400, code: meta, desc: "ip_allowlist: entry 0: prefix length out of range"},
		{name: "bad CIDR by put", method: "PUT", path: "/clients/{id}", body: `{"client_name":"existing","ip_allowlist":["300.1.1.1/8"]}`,
			status: 400, code: meta, desc: "ip_allowlist: entry 0: not an IP address or CIDR prefix"},
		// Unknown and read-only fields.
		{name: "unknown field", method: "POST", path: "/clients", body: `{"client_name":"a","colour":"red"}`,
			status: 400, code: meta, desc: "colour: is not a known field"},
		{name: "unknown field with markup", method: "POST", path: "/clients", body: `{"client_name":"a","<script>alert(1)</script>":1}`,
			status: 400, code: meta, desc: "body: is not a known field"},
		{name: "client_id", method: "POST", path: "/clients", body: `{"client_name":"a","client_id":"mine"}`,
			status: 400, code: meta, desc: "client_id: is read-only"},
		{name: "client_secret", method: "POST", path: "/clients", body: `{"client_name":"a","client_secret":"sgs_chosen"}`,
			status: 400, code: meta, desc: "client_secret: is read-only"},
		{name: "created_at", method: "POST", path: "/clients", body: `{"client_name":"a","created_at":"2000-01-01T00:00:00Z"}`,
			status: 400, code: meta, desc: "created_at: is read-only"},
		{name: "secret hash", method: "POST", path: "/clients", body: `{"client_name":"a","secrets":[{"id":"x","hash":"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="}]}`,
			status: 400, code: meta, desc: "secrets: is read-only"},
		{name: "bare hash", method: "POST", path: "/clients", body: `{"client_name":"a","client_secret_hash":"AAAA"}`,
			status: 400, code: meta, desc: "client_secret_hash: is read-only"},
		{name: "client_id by patch", method: "PATCH", path: "/clients/{id}", body: `{"client_id":"other"}`,
			status: 400, code: meta, desc: "client_id: is read-only"},
		{name: "client_id null by patch", method: "PATCH", path: "/clients/{id}", body: `{"client_id":null}`,
			status: 400, code: meta, desc: "client_id: is read-only"},
		{name: "secrets by patch", method: "PATCH", path: "/clients/{id}", body: `{"secrets":null}`,
			status: 400, code: meta, desc: "secrets: is read-only"},
		{name: "updated_at by put", method: "PUT", path: "/clients/{id}", body: `{"client_name":"existing","updated_at":"2000-01-01T00:00:00Z"}`,
			status: 400, code: meta, desc: "updated_at: is read-only"},
		{name: "usage by put", method: "PUT", path: "/clients/{id}", body: `{"client_name":"existing","usage":{}}`,
			status: 400, code: meta, desc: "usage: is read-only"},
		{name: "tokens_revoked_at by patch", method: "PATCH", path: "/clients/{id}", body: `{"tokens_revoked_at":"2000-01-01T00:00:00Z"}`,
			status: 400, code: meta, desc: "tokens_revoked_at: is read-only"},
		// Wrong types.
		{name: "name a number", method: "POST", path: "/clients", body: `{"client_name":42}`,
			status: 400, code: meta, desc: "client_name: must be a string"},
		{name: "allowlist a string", method: "POST", path: "/clients", body: `{"client_name":"a","ip_allowlist":"10.0.0.0/8"}`,
			status: 400, code: meta, desc: "ip_allowlist: must be an array of strings"},
		{name: "disabled a string", method: "PATCH", path: "/clients/{id}", body: `{"disabled":"yes"}`,
			status: 400, code: meta, desc: "disabled: must be a boolean"},
		{name: "ttl not a duration", method: "POST", path: "/clients", body: `{"client_name":"a","access_token_ttl":"soon"}`,
			status: 400, code: meta, desc: `access_token_ttl: must be a duration such as "15m" or a whole number of seconds`},
		{name: "claims a list", method: "POST", path: "/clients", body: `{"client_name":"a","claims":["x"]}`,
			status: 400, code: meta, desc: "claims: must be a JSON object"},
		// Other rules.
		{name: "name missing", method: "POST", path: "/clients", body: `{"scope":"a"}`,
			status: 400, code: meta, desc: "client_name: is required"},
		{name: "unknown feature", method: "POST", path: "/clients", body: `{"client_name":"a","features":["root"]}`,
			status: 400, code: meta, desc: `features: entry 0 ("root") is not a known feature (owner, client_read, introspect, direct_access, direct_read_access, login_client, access_issuer, metadata)`},
		{name: "unsupported grant type", method: "POST", path: "/clients", body: `{"client_name":"a","grant_types":["implicit"]}`,
			status: 400, code: meta, desc: `grant_types: entry 0 ("implicit") is not a supported grant type (client_credentials, authorization_code, refresh_token, password, urn:ietf:params:oauth:grant-type:token-exchange)`},
		// The authorization code grant's client rules.
		{name: "public client with client_credentials", method: "POST", path: "/clients",
			body:   `{"client_name":"a","token_endpoint_auth_method":"none","grant_types":["client_credentials"]}`,
			status: 400, code: meta, desc: "grant_types: entry 0 is not a grant a public client (token_endpoint_auth_method none) may use (authorization_code, refresh_token)"},
		{name: "authorization_code without a redirect URI", method: "POST", path: "/clients", body: `{"client_name":"a","grant_types":["authorization_code"]}`,
			status: 400, code: meta, desc: "redirect_uris: must hold at least one entry for the authorization_code grant"},
		{name: "public client without PKCE", method: "PATCH", path: "/clients/{pub}", body: `{"require_pkce":false}`,
			status: 400, code: meta, desc: "require_pkce: cannot be false for a public client (token_endpoint_auth_method none)"},
		{name: "client_type is read-only", method: "PATCH", path: "/clients/{id}", body: `{"client_type":"public"}`,
			status: 400, code: meta, desc: "client_type: is read-only"},
		{name: "unknown auth method", method: "POST", path: "/clients", body: `{"client_name":"a","token_endpoint_auth_method":"private_key_jwt"}`,
			status: 400, code: meta, desc: "token_endpoint_auth_method: must be one of client_secret_basic, client_secret_post, none"},
		{name: "rotate a public client's secret", method: "POST", path: "/clients/{pub}/secrets",
			status: 409, code: "conflict", desc: "the client is public (token_endpoint_auth_method none) and holds no secret; make it confidential first to give it one"},
		{name: "reserved claim", method: "POST", path: "/clients", body: `{"client_name":"a","claims":{"iss":"https://evil"}}`,
			status: 400, code: meta, desc: `claims: must not set the registered claim "iss"`},
		// A lone surrogate passes encoding/json, but no token can carry it.
		{name: "lone surrogate claim", method: "POST", path: "/clients", body: `{"client_name":"a","claims":{"note":"\ud800"}}`,
			status: 400, code: meta, desc: badClaims},
		{name: "lone surrogate claim by patch", method: "PATCH", path: "/clients/{id}", body: `{"claims":{"note":"\udc00"}}`,
			status: 400, code: meta, desc: badClaims},
		{name: "lone surrogate claim by put", method: "PUT", path: "/clients/{id}", body: `{"client_name":"existing","claims":{"a":["\ud800"]}}`,
			status: 400, code: meta, desc: badClaims},
		{name: "bad scope", method: "POST", path: "/clients", body: `{"client_name":"a","scope":"a\\b"}`,
			status: 400, code: meta, desc: "scope: scope token 1, byte 2: character not allowed in a scope token"},
		// Bodies that are not one JSON object.
		{name: "not JSON", method: "POST", path: "/clients", body: `client_name=a`,
			status: 400, code: meta, desc: "body: is not valid JSON (syntax error at byte 1)"},
		{name: "truncated JSON", method: "POST", path: "/clients", body: `{"client_name":"a"`,
			status: 400, code: meta, desc: "body: is not valid JSON"},
		{name: "trailing data", method: "POST", path: "/clients", body: `{"client_name":"a"}{"client_name":"b"}`,
			status: 400, code: meta, desc: "body: must hold one JSON object and nothing after it"},
		{name: "array body", method: "POST", path: "/clients", body: `[{"client_name":"a"}]`,
			status: 400, code: meta, desc: "body: must be a JSON object"},
		{name: "empty body", method: "POST", path: "/clients", header: []string{"Content-Type", "application/json"},
			status: 400, code: meta, desc: "body: is empty; send a JSON object"},
		{name: "patch not an object", method: "PATCH", path: "/clients/{id}", body: `"x"`,
			status: 400, code: meta, desc: "body: must be a JSON object"},
		{name: "duplicate member", method: "POST", path: "/clients", body: `{"client_name":"a","client_name":"b"}`,
			status: 400, code: meta, desc: "client_name: appears more than once"},
		{name: "invalid UTF-8", method: "POST", path: "/clients", body: "{\"client_name\":\"\xc3\x28\"}",
			status: 400, code: meta, desc: "body: is not UTF-8 encoded"},
		// Size and media type.
		{name: "huge body", method: "POST", path: "/clients", body: huge,
			status: 413, code: "request_too_large", desc: "the request body is larger than 65536 bytes"},
		{name: "huge patch", method: "PATCH", path: "/clients/{id}", body: huge,
			status: 413, code: "request_too_large", desc: "the request body is larger than 65536 bytes"},
		{name: "text/plain", method: "POST", path: "/clients", body: `{"client_name":"a"}`, header: []string{"Content-Type", "text/plain"},
			status: 415, code: "unsupported_media_type", desc: mustJSON},
		{name: "no Content-Type", method: "POST", path: "/clients", body: `{"client_name":"a"}`, header: []string{"Content-Type", ""},
			status: 415, code: "unsupported_media_type", desc: mustJSON},
		{name: "form", method: "POST", path: "/clients", body: `client_name=a`, header: []string{"Content-Type", "application/x-www-form-urlencoded"},
			status: 415, code: "unsupported_media_type", desc: mustJSON},
		{name: "another charset", method: "POST", path: "/clients", body: `{"client_name":"a"}`, header: []string{"Content-Type", "application/json; charset=iso-8859-1"},
			status: 415, code: "unsupported_media_type", desc: mustJSON},
		{name: "two Content-Types", method: "POST", path: "/clients", body: `{"client_name":"a"}`, header: []string{"Content-Type", "application/json", "Content-Type", "text/plain"},
			status: 415, code: "unsupported_media_type", desc: mustJSON},
		{name: "merge patch type on put", method: "PUT", path: "/clients/{id}", body: `{"client_name":"x"}`, header: []string{"Content-Type", "application/merge-patch+json"},
			status: 415, code: "unsupported_media_type", desc: mustJSON},
		{name: "text on patch", method: "PATCH", path: "/clients/{id}", body: `{"scope":"x"}`, header: []string{"Content-Type", "text/plain"},
			status: 415, code: "unsupported_media_type", desc: "Content-Type must be application/json or application/merge-patch+json (UTF-8)"},
		// Query parameters.
		{name: "forged cursor", method: "GET", path: "/clients?cursor=Zm9yZ2Vk",
			status: 400, code: badReq, desc: "cursor: is not a cursor this server issued, or the server restarted since; list again from the first page"},
		{name: "cursor with markup", method: "GET", path: "/clients?cursor=%3Cscript%3E",
			status: 400, code: badReq, desc: "cursor: is not a cursor this server issued, or the server restarted since; list again from the first page"},
		{name: "limit zero", method: "GET", path: "/clients?limit=0", status: 400, code: badReq, desc: limit},
		{name: "limit negative", method: "GET", path: "/clients?limit=-1", status: 400, code: badReq, desc: limit},
		{name: "limit too large", method: "GET", path: "/clients?limit=1001", status: 400, code: badReq, desc: limit},
		{name: "limit a word", method: "GET", path: "/clients?limit=ten", status: 400, code: badReq, desc: limit},
		{name: "limit a fraction", method: "GET", path: "/clients?limit=1.5", status: 400, code: badReq, desc: limit},
		{name: "limit twice", method: "GET", path: "/clients?limit=1&limit=2", status: 400, code: badReq, desc: "limit: must appear at most once"},
		{name: "unknown parameter", method: "GET", path: "/clients?nmae=existing", status: 400, code: badReq, desc: "the only query parameters are name, registered, limit and cursor"},
		{name: "registered a word", method: "GET", path: "/clients?registered=yes", status: 400, code: badReq, desc: registered},
		{name: "registered a number", method: "GET", path: "/clients?registered=1", status: 400, code: badReq, desc: registered},
		{name: "registered in capitals", method: "GET", path: "/clients?registered=TRUE", status: 400, code: badReq, desc: registered},
		{name: "registered with markup", method: "GET", path: "/clients?registered=%3Cscript%3E", status: 400, code: badReq, desc: registered},
		{name: "registered twice", method: "GET", path: "/clients?registered=true&registered=false", status: 400, code: badReq, desc: "registered: must appear at most once"},
		{name: "bad query encoding", method: "GET", path: "/clients?name=%zz", status: 400, code: badReq, desc: "the query string is not valid URL encoding"},
		// Conflicts and missing things.
		{name: "name taken in another case", method: "POST", path: "/clients", body: `{"client_name":"EXISTING"}`,
			status: 409, code: "conflict", desc: "client_name: is taken by another client (names are compared ignoring case)"},
		{name: "rename onto a taken name", method: "PATCH", path: "/clients/{id}", body: `{"client_name":"Other"}`,
			status: 409, code: "conflict", desc: "client_name: is taken by another client (names are compared ignoring case)"},
		{name: "last secret", method: "DELETE", path: "/clients/{id}/secrets/{sid}",
			status: 409, code: "conflict", desc: "this is the client's last live secret; rotate the secret first, or disable the client instead"},
		{name: "unknown client", method: "GET", path: "/clients/aaaaaaaaaaaaaaaaaaaaaaaaaa",
			status: 404, code: "not_found", desc: "no client with this ID"},
		{name: "patch unknown client", method: "PATCH", path: "/clients/aaaaaaaaaaaaaaaaaaaaaaaaaa", body: `{"scope":"x"}`,
			status: 404, code: "not_found", desc: "no client with this ID"},
		{name: "rotate unknown client", method: "POST", path: "/clients/aaaaaaaaaaaaaaaaaaaaaaaaaa/secrets",
			status: 404, code: "not_found", desc: "no client with this ID"},
		{name: "unknown secret", method: "DELETE", path: "/clients/{id}/secrets/nope",
			status: 404, code: "not_found", desc: "the client has no live secret with this ID"},
		{name: "dot-dot id", method: "GET", path: "/clients/%2e%2e",
			status: 404, code: "not_found", desc: "no client with this ID"},
		// Rotate bodies.
		{name: "grace not a duration", method: "POST", path: "/clients/{id}/secrets", body: `{"grace_period":"soon"}`,
			status: 400, code: badReq, desc: `grace_period: must be a duration such as "1h" or a whole number of seconds`},
		{name: "negative grace", method: "POST", path: "/clients/{id}/secrets", body: `{"grace_period":"-1h"}`,
			status: 400, code: badReq, desc: "grace_period: must not be negative"},
		{name: "negative expiry", method: "POST", path: "/clients/{id}/secrets", body: `{"expires_in":-60}`,
			status: 400, code: badReq, desc: "expires_in: must not be negative"},
		{name: "unknown rotate field", method: "POST", path: "/clients/{id}/secrets", body: `{"grace":"1h"}`,
			status: 400, code: badReq, desc: "body: may hold only grace_period and expires_in"},
		{name: "rotate body an array", method: "POST", path: "/clients/{id}/secrets", body: `[]`,
			status: 400, code: badReq, desc: "body: must be a JSON object"},
		{name: "rotate trailing data", method: "POST", path: "/clients/{id}/secrets", body: `{} {}`,
			status: 400, code: badReq, desc: "body: must hold one JSON object and nothing after it"},
		{name: "rotate not JSON", method: "POST", path: "/clients/{id}/secrets", body: `grace=1h`,
			status: 400, code: badReq, desc: "body: is not valid JSON"},
		{name: "rotate as text", method: "POST", path: "/clients/{id}/secrets", body: `{}`, header: []string{"Content-Type", "text/plain"},
			status: 415, code: "unsupported_media_type", desc: mustJSON},
		// Methods and paths.
		{name: "put on the collection", method: "PUT", path: "/clients", body: `{"client_name":"a"}`,
			status: 405, code: "method_not_allowed", desc: "this method is not allowed on this path; the Allow header lists the methods that are", allow: "GET, HEAD, POST"},
		{name: "post on a client", method: "POST", path: "/clients/{id}", body: `{"client_name":"a"}`,
			status: 405, code: "method_not_allowed", desc: "this method is not allowed on this path; the Allow header lists the methods that are", allow: "DELETE, GET, HEAD, PATCH, PUT"},
		{name: "get on revoke", method: "GET", path: "/clients/{id}/revoke",
			status: 405, code: "method_not_allowed", desc: "this method is not allowed on this path; the Allow header lists the methods that are", allow: "POST"},
		{name: "unknown path", method: "GET", path: "/groups", status: 404, code: "not_found", desc: "no such endpoint"},
		{name: "trailing slash", method: "GET", path: "/clients/", status: 404, code: "not_found", desc: "no such endpoint"},
		{name: "double slash", method: "GET", path: "//clients", status: 404, code: "not_found", desc: "no such endpoint"},
		{name: "dot-dot path", method: "GET", path: "/clients/../clients", status: 404, code: "not_found", desc: "no such endpoint"},
		{name: "dot path", method: "POST", path: "/./clients", body: `{"client_name":"a"}`, status: 404, code: "not_found", desc: "no such endpoint"},
		{name: "other case", method: "GET", path: "/Clients", status: 404, code: "not_found", desc: "no such endpoint"},
		{name: "mount point itself", method: "GET", path: "", status: 404, code: "not_found", desc: "no such endpoint"},
		{name: "keys without a key manager", method: "GET", path: "/keys", status: 404, code: "not_found", desc: "no such endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t)
			existing := a.create(`{"client_name":"existing","metadata":{"k":1}}`)
			a.create(`{"client_name":"other"}`)
			public := a.create(`{"client_name":"spa","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/cb"]}`)
			a.logs.TakeAll()
			before := a.snapshot()

			path := strings.NewReplacer("{id}", existing.ClientID, "{sid}", existing.SecretID, "{pub}", public.ClientID).Replace(tc.path)
			res := a.do(tc.method, path, tc.body, tc.header...)
			code, desc := res.errorCode(t)
			if res.Status != tc.status || code != tc.code || desc != tc.desc {
				t.Fatalf("got %d %s %q\nwant %d %s %q", res.Status, code, desc, tc.status, tc.code, tc.desc)
			}
			if got := res.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if a.snapshot() != before {
				t.Error("a refused request changed the store")
			}
			if n := a.logs.FilterMessage("admin change").Len(); n != 0 {
				t.Errorf("a refused request wrote %d audit lines", n)
			}
		})
	}
}

// TestHugeBodyWithoutLength sends a body larger than the limit without a
// Content-Length, so that only the reader's limit can stop it.
func TestHugeBodyWithoutLength(t *testing.T) {
	a := newTestAPI(t, func(_ *registry.Limits, o *Options) { o.MaxBodyBytes = 1024 })
	req := newRequest(http.MethodPost, "http://admin.test/scopegate/clients",
		`{"client_name":"a","metadata":{"k":"`+strings.Repeat("x", 2000)+`"}}`)
	req.ContentLength = -1
	res := a.serve(req)
	code, desc := res.errorCode(t)
	if res.Status != http.StatusRequestEntityTooLarge || code != "request_too_large" || desc != "the request body is larger than 1024 bytes" {
		t.Fatalf("got %d %s", res.Status, res.Body)
	}
	if n, _ := a.store.CountClients(t.Context()); n != 0 {
		t.Fatalf("%d clients stored", n)
	}
}

// TestClientsOverTokenLengthRefused: scope, audience and claims, each within
// its own bounds, that together would make tokens longer than the guard
// reads are refused on create, replace and patch, with the limit named;
// nothing is stored.
func TestClientsOverTokenLengthRefused(t *testing.T) {
	api := newTestAPI(t)
	existing := api.create(`{"client_name":"existing","scope":"a"}`)
	list := make([]string, 60)
	for i := range list {
		list[i] = `"https://api.example.com/` + strings.Repeat("r", 90) + strconv.Itoa(i) + `"`
	}
	audience := "[" + strings.Join(list, ",") + "]"
	before := api.snapshot()
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/clients", `{"client_name":"wide","audience":` + audience + `}`},
		{"PUT", "/clients/" + existing.ClientID, `{"client_name":"existing","audience":` + audience + `}`},
		{"PATCH", "/clients/" + existing.ClientID, `{"audience":` + audience + `}`},
	} {
		t.Run(req.method, func(t *testing.T) {
			res := api.do(req.method, req.path, req.body)
			code, desc := res.errorCode(t)
			if res.Status != http.StatusBadRequest || code != "invalid_client_metadata" {
				t.Fatalf("%d %s %s", res.Status, code, desc)
			}
			if !strings.HasPrefix(desc, "scope, audience and claims: would make access tokens of up to ") ||
				!strings.Contains(desc, "over the 8192-byte limit on access tokens") {
				t.Errorf("description %q does not say why and what the limit is", desc)
			}
		})
	}
	if api.snapshot() != before {
		t.Error("a refused change was stored")
	}
}
