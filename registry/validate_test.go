package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

func TestDecodeMetadataRefuses(t *testing.T) {
	deep := `{"client_name":"a","metadata":` + strings.Repeat(`{"x":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`
	cases := []struct {
		name string
		body string
		want string
	}{
		{"empty body", ``, "body: is empty; send a JSON object"},
		{"white space only", " \n\t", "body: is empty; send a JSON object"},
		{"form encoding", `client_name=a`, "body: is not valid JSON (syntax error at byte 1)"},
		{"truncated", `{"client_name":"a"`, "body: is not valid JSON"},
		{"second object", `{"client_name":"a"} {}`, "body: must hold one JSON object and nothing after it"},
		{"trailing garbage", `{"client_name":"a"}x`, "body: must hold one JSON object and nothing after it"},
		{"array", `[{"client_name":"a"}]`, "body: must be a JSON object"},
		{"null", `null`, "body: must be a JSON object"},
		{"string", `"client_name"`, "body: must be a JSON object"},
		{"invalid UTF-8", "{\"client_name\":\"\xff\"}", "body: is not UTF-8 encoded"},
		{"duplicate field", `{"client_name":"a","client_name":"b"}`, "client_name: appears more than once"},
		{"duplicate escaped field", `{"client_name":"a","client_nam\u0065":"b"}`, "client_name: appears more than once"},
		{"duplicate nested member", `{"client_name":"a","metadata":{"x":1,"x":2}}`, "metadata: has a member name that appears more than once"},
		{"claims duplicate through an escape", `{"client_name":"a","claims":{"t":1,"\u0074":2}}`, "claims: has a member name that appears more than once"},
		{"too deep", deep, "metadata: is nested more than 32 levels deep"},
		{"unknown field", `{"client_name":"a","colour":"red"}`, "colour: is not a known field"},
		{"unknown field in another case", `{"Client_Name":"a"}`, "Client_Name: is not a known field"},
		{"unknown field with markup", `{"client_name":"a","<script>":1}`, "body: is not a known field"},
		{"unknown field with control character", "{\"client_name\":\"a\",\"x\\u0000\\n\":1}", "body: is not a known field"},
		{"client_id", `{"client_name":"a","client_id":"mine"}`, "client_id: is read-only"},
		{"client_secret", `{"client_name":"a","client_secret":"sgs_x"}`, "client_secret: is read-only"},
		{"created_at", `{"client_name":"a","created_at":"2020-01-01T00:00:00Z"}`, "created_at: is read-only"},
		{"updated_at", `{"client_name":"a","updated_at":"2020-01-01T00:00:00Z"}`, "updated_at: is read-only"},
		{"secrets", `{"client_name":"a","secrets":[{"id":"x","hash":"AAAA"}]}`, "secrets: is read-only"},
		{"usage", `{"client_name":"a","usage":{}}`, "usage: is read-only"},
		{"tokens_revoked_at", `{"client_name":"a","tokens_revoked_at":null}`, "tokens_revoked_at: is read-only"},
		{"hash", `{"client_name":"a","hash":"AAAA"}`, "hash: is read-only"},
		{"secret_hash", `{"client_name":"a","Secret_Hash":"AAAA"}`, "Secret_Hash: is read-only"},
		{"name not a string", `{"client_name":42}`, "client_name: must be a string"},
		{"grant_types not an array", `{"client_name":"a","grant_types":"client_credentials"}`, "grant_types: must be an array of strings"},
		{"grant_types of numbers", `{"client_name":"a","grant_types":[1]}`, "grant_types: must be an array of strings"},
		{"scope as array", `{"client_name":"a","scope":["a"]}`, "scope: must be a string of space-separated scope tokens"},
		{"audience as string", `{"client_name":"a","audience":"https://api"}`, "audience: must be an array of strings"},
		{"redirect_uris as object", `{"client_name":"a","redirect_uris":{}}`, "redirect_uris: must be an array of strings"},
		{"ip_allowlist as string", `{"client_name":"a","ip_allowlist":"10.0.0.0/8"}`, "ip_allowlist: must be an array of strings"},
		{"features as number", `{"client_name":"a","features":1}`, "features: must be an array of strings"},
		{"require_scope_request as string", `{"client_name":"a","require_scope_request":"yes"}`, "require_scope_request: must be a boolean"},
		{"disabled as number", `{"client_name":"a","disabled":1}`, "disabled: must be a boolean"},
		{"ttl as boolean", `{"client_name":"a","access_token_ttl":true}`, `access_token_ttl: must be a duration such as "15m" or a whole number of seconds`},
		{"ttl not a duration", `{"client_name":"a","access_token_ttl":"soon"}`, `access_token_ttl: must be a duration such as "15m" or a whole number of seconds`},
		{"refresh ttl not a duration", `{"client_name":"a","refresh_token_ttl":"a month"}`, `refresh_token_ttl: must be a duration such as "720h" or a whole number of seconds`},
		{"ttl fractional seconds", `{"client_name":"a","access_token_ttl":1.5}`, `access_token_ttl: must be a duration such as "15m" or a whole number of seconds`},
		{"ttl exponent", `{"client_name":"a","access_token_ttl":1e3}`, `access_token_ttl: must be a duration such as "15m" or a whole number of seconds`},
		{"ttl overflow", `{"client_name":"a","access_token_ttl":9223372037}`, `access_token_ttl: must be a duration such as "15m" or a whole number of seconds`},
		{"client_type", `{"client_name":"a","client_type":"public"}`, "client_type: is read-only"},
		{"skip_consent as string", `{"client_name":"a","skip_consent":"yes"}`, "skip_consent: must be a boolean"},
		{"require_pkce as number", `{"client_name":"a","require_pkce":0}`, "require_pkce: must be a boolean"},
		{"token_endpoint_auth_method as array", `{"client_name":"a","token_endpoint_auth_method":["none"]}`, "token_endpoint_auth_method: must be a string: client_secret_basic, client_secret_post, none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeMetadata([]byte(tc.body))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a *ValidationError", err)
			}
			if err.Error() != tc.want {
				t.Fatalf("got %q, want %q", err.Error(), tc.want)
			}
		})
	}
}

func TestDecodeMetadataAccepts(t *testing.T) {
	f := false
	cases := []struct {
		name string
		body string
		want Metadata
	}{
		{"name only", `{"client_name":"a"}`, Metadata{ClientName: "a"}},
		{"white space around", " \n{\"client_name\":\"a\"}\n ", Metadata{ClientName: "a"}},
		{"nulls are absent", `{"client_name":"a","grant_types":null,"access_token_ttl":null,"require_scope_request":null}`, Metadata{ClientName: "a"}},
		{"ttl string", `{"client_name":"a","access_token_ttl":"15m"}`, Metadata{ClientName: "a", AccessTokenTTL: Duration(15 * time.Minute)}},
		{"ttl seconds", `{"client_name":"a","access_token_ttl":900}`, Metadata{ClientName: "a", AccessTokenTTL: Duration(15 * time.Minute)}},
		{"require false", `{"client_name":"a","require_scope_request":false}`, Metadata{ClientName: "a", RequireScopeRequest: &f}},
		{"every field", `{"client_name":"a","grant_types":["client_credentials"],"scope":"x y","audience":["https://api"],
			"redirect_uris":["https://app/cb"],"ip_allowlist":["10.0.0.0/8"],"features":["introspect"],
			"require_scope_request":false,"access_token_ttl":"1h","claims":{"tenant":"t1"},"disabled":true,"metadata":{"team":"x"}}`,
			Metadata{
				ClientName: "a", GrantTypes: []string{"client_credentials"}, Scope: "x y", Audience: []string{"https://api"},
				RedirectURIs: []string{"https://app/cb"}, IPAllowlist: []string{"10.0.0.0/8"}, Features: []string{"introspect"},
				RequireScopeRequest: &f, AccessTokenTTL: Duration(time.Hour), Claims: json.RawMessage(`{"tenant":"t1"}`),
				Disabled: true, Metadata: json.RawMessage(`{"team":"x"}`),
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeMetadata([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tc.want)
			if string(gotJSON) != string(wantJSON) {
				t.Fatalf("got %s, want %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{15 * time.Minute, `"15m0s"`}, {90 * time.Second, `"1m30s"`}, {0, `"0s"`}} {
		b, err := json.Marshal(Duration(tc.d))
		if err != nil || string(b) != tc.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tc.d, b, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{`"1h30m"`, 90 * time.Minute}, {`60`, time.Minute}, {`0`, 0}, {`-5`, -5 * time.Second}, {`"-1m"`, -time.Minute}} {
		var d Duration
		if err := json.Unmarshal([]byte(tc.in), &d); err != nil || time.Duration(d) != tc.want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", tc.in, time.Duration(d), err, tc.want)
		}
	}
}

// TestValidationRules creates a client from each body: refused ones must
// give the exact message and store nothing.
func TestValidationRules(t *testing.T) {
	uris := func(n int) string {
		list := make([]string, n)
		for i := range list {
			list[i] = fmt.Sprintf(`"https://api.example.com/%d"`, i)
		}
		return "[" + strings.Join(list, ",") + "]"
	}
	addrs := make([]string, 257)
	for i := range addrs {
		addrs[i] = fmt.Sprintf(`"10.0.%d.%d"`, i/256, i%256)
	}
	bigClaims := `{"k":"` + strings.Repeat("x", 4096) + `"}`
	bigMetadata := `{"k":"` + strings.Repeat("x", 16384) + `"}`
	cases := []struct {
		name string
		body string
		want string
	}{
		{"name missing", `{}`, "client_name: is required"},
		{"name empty", `{"client_name":""}`, "client_name: is required"},
		{"name too long", `{"client_name":"` + strings.Repeat("é", 256) + `"}`, "client_name: must be 1 to 255 printable characters"},
		{"name with newline", `{"client_name":"a\nb"}`, "client_name: must be 1 to 255 printable characters"},
		{"name with NUL", `{"client_name":"a\u0000"}`, "client_name: must be 1 to 255 printable characters"},
		{"name with bidi override", `{"client_name":"a\u202eb"}`, "client_name: must be 1 to 255 printable characters"},
		{"name with zero-width joiner", `{"client_name":"a\u200db"}`, "client_name: must be 1 to 255 printable characters"},
		{"name with tab", `{"client_name":"a\tb"}`, "client_name: must be 1 to 255 printable characters"},
		{"name with leading space", `{"client_name":" a"}`, "client_name: must not start or end with a space"},
		{"name with trailing space", `{"client_name":"a "}`, "client_name: must not start or end with a space"},
		{"unsupported grant", `{"client_name":"a","grant_types":["client_credentials","implicit"]}`, `grant_types: entry 1 ("implicit") is not a supported grant type (client_credentials, authorization_code, refresh_token, password, urn:ietf:params:oauth:grant-type:token-exchange)`},
		{"refresh_token without authorization_code", `{"client_name":"a","grant_types":["client_credentials","refresh_token"]}`, "grant_types: refresh_token needs authorization_code, the grant that issues refresh tokens"},
		{"refresh_token_ttl without the grant", `{"client_name":"a","refresh_token_ttl":"720h"}`, "refresh_token_ttl: needs the refresh_token grant in grant_types"},
		{"refresh_token_ttl beyond 90 days", `{"client_name":"a","grant_types":["authorization_code","refresh_token"],"redirect_uris":["https://app.example/cb"],"refresh_token_ttl":"2161h"}`, "refresh_token_ttl: must be at most 2160h (90 days)"},
		{"refresh_token_ttl too short", `{"client_name":"a","grant_types":["authorization_code","refresh_token"],"redirect_uris":["https://app.example/cb"],"refresh_token_ttl":"30s"}`, "refresh_token_ttl: must be at least 1m0s"},
		{"refresh_token_ttl negative", `{"client_name":"a","grant_types":["authorization_code","refresh_token"],"redirect_uris":["https://app.example/cb"],"refresh_token_ttl":"-1h"}`, "refresh_token_ttl: must not be negative"},
		{"refresh_token_ttl fraction of a second", `{"client_name":"a","grant_types":["authorization_code","refresh_token"],"redirect_uris":["https://app.example/cb"],"refresh_token_ttl":"1h0.5s"}`, "refresh_token_ttl: must be a whole number of seconds"},
		{"repeated grant", `{"client_name":"a","grant_types":["client_credentials","client_credentials"]}`, "grant_types: entry 1 repeats an earlier entry"},
		{"scope with double space", `{"client_name":"a","scope":"a  b"}`, "scope: scope token 2: empty scope token (leading, trailing or repeated space)"},
		{"scope with quote", `{"client_name":"a","scope":"a\"b"}`, "scope: scope token 1, byte 2: character not allowed in a scope token"},
		{"scope with backslash", `{"client_name":"a","scope":"x a\\b"}`, "scope: scope token 2, byte 2: character not allowed in a scope token"},
		{"scope with newline", `{"client_name":"a","scope":"a\nb"}`, "scope: scope token 1, byte 2: character not allowed in a scope token"},
		{"too many scopes", `{"client_name":"a","scope":"a b c d"}`, "scope: holds more than 3 scopes (max_scopes)"},
		{"audience not a URI", `{"client_name":"a","audience":["orders api"]}`, "audience: entry 0 must be an absolute URI (with a scheme, without a fragment or white space)"},
		{"audience relative", `{"client_name":"a","audience":["/orders"]}`, "audience: entry 0 must be an absolute URI (with a scheme, without a fragment or white space)"},
		{"audience with fragment", `{"client_name":"a","audience":["https://api/#x"]}`, "audience: entry 0 must be an absolute URI (with a scheme, without a fragment or white space)"},
		{"audience http without host", `{"client_name":"a","audience":["https:///x"]}`, "audience: entry 0 must be an absolute URI (with a scheme, without a fragment or white space)"},
		{"audience empty", `{"client_name":"a","audience":["https://a",""]}`, "audience: entry 1 must be an absolute URI (with a scheme, without a fragment or white space)"},
		{"audience non-ASCII", `{"client_name":"a","audience":["https://api/é"]}`, "audience: entry 0 must be an absolute URI (with a scheme, without a fragment or white space)"},
		{"audience repeated", `{"client_name":"a","audience":["https://a","https://a"]}`, "audience: entry 1 repeats an earlier entry"},
		{"audience too many", `{"client_name":"a","audience":` + uris(101) + `}`, "audience: holds more than 100 entries"},
		{"redirect URI relative", `{"client_name":"a","redirect_uris":["cb"]}`, "redirect_uris: entry 0 must be an https URI, an http URI on a loopback IP address or a private-use scheme URI (RFC 8252), without a fragment, user info or white space"},
		{"redirect URI with fragment", `{"client_name":"a","redirect_uris":["https://app/cb#x"]}`, "redirect_uris: entry 0 must be an https URI, an http URI on a loopback IP address or a private-use scheme URI (RFC 8252), without a fragment, user info or white space"},
		{"redirect URI plain http", `{"client_name":"a","redirect_uris":["http://app.example.com/cb"]}`, "redirect_uris: entry 0 must be an https URI, an http URI on a loopback IP address or a private-use scheme URI (RFC 8252), without a fragment, user info or white space"},
		{"redirect URI http localhost", `{"client_name":"a","redirect_uris":["http://localhost:8080/cb"]}`, "redirect_uris: entry 0 must be an https URI, an http URI on a loopback IP address or a private-use scheme URI (RFC 8252), without a fragment, user info or white space"},
		{"redirect URI javascript", `{"client_name":"a","redirect_uris":["javascript:alert(1)"]}`, "redirect_uris: entry 0 must be an https URI, an http URI on a loopback IP address or a private-use scheme URI (RFC 8252), without a fragment, user info or white space"},
		{"redirect URI user info", `{"client_name":"a","redirect_uris":["https://u:p@app/cb"]}`, "redirect_uris: entry 0 must be an https URI, an http URI on a loopback IP address or a private-use scheme URI (RFC 8252), without a fragment, user info or white space"},
		{"prefix too long", `{"client_name":"a","ip_allowlist":["10.0.0.0/33"]}`, "ip_allowlist: entry 0: prefix length out of range"},
		{"octet too large", `{"client_name":"a","ip_allowlist":["10.0.0.0/8","300.1.1.1/8"]}`, "ip_allowlist: entry 1: not an IP address or CIDR prefix"},
		{"empty allowlist entry", `{"client_name":"a","ip_allowlist":[""]}`, "ip_allowlist: entry 0: empty"},
		{"host name in allowlist", `{"client_name":"a","ip_allowlist":["example.com"]}`, "ip_allowlist: entry 0: not an IP address or CIDR prefix"},
		{"allowlist too long", `{"client_name":"a","ip_allowlist":[` + strings.Join(addrs, ",") + `]}`, "ip_allowlist: holds more than 256 entries"},
		{"unknown feature", `{"client_name":"a","features":["root"]}`, `features: entry 0 ("root") is not a known feature (owner, client_read, introspect, direct_access, direct_read_access, login_client, access_issuer, metadata)`},
		{"repeated feature", `{"client_name":"a","features":["owner","owner"]}`, "features: entry 1 repeats an earlier entry"},
		{"negative ttl", `{"client_name":"a","access_token_ttl":"-1m"}`, "access_token_ttl: must not be negative"},
		{"ttl too long", `{"client_name":"a","access_token_ttl":"90m1s"}`, "access_token_ttl: must be at most 1h30m0s (the server's maximum)"},
		{"ttl too short", `{"client_name":"a","access_token_ttl":30}`, "access_token_ttl: must be at least 1m0s"},
		{"ttl not whole seconds", `{"client_name":"a","access_token_ttl":"1m0.5s"}`, "access_token_ttl: must be a whole number of seconds"},
		{"claims a string", `{"client_name":"a","claims":"x"}`, "claims: must be a JSON object"},
		{"claims an array", `{"client_name":"a","claims":[1]}`, "claims: must be a JSON object"},
		{"claims iss", `{"client_name":"a","claims":{"tenant":"t","iss":"https://evil"}}`, `claims: must not set the registered claim "iss"`},
		{"claims sub", `{"client_name":"a","claims":{"sub":"admin"}}`, `claims: must not set the registered claim "sub"`},
		{"claims scope", `{"client_name":"a","claims":{"scope":"*"}}`, `claims: must not set the registered claim "scope"`},
		{"claims may_act", `{"client_name":"a","claims":{"may_act":{}}}`, `claims: must not set the registered claim "may_act"`},
		{"claims escaped iss", `{"client_name":"a","claims":{"i\u0073s":"https://evil"}}`, `claims: must not set the registered claim "iss"`},
		{"claims empty name", `{"client_name":"a","claims":{"":1}}`, "claims: must not hold an empty claim name"},
		{"claims too big", `{"client_name":"a","claims":` + bigClaims + `}`, "claims: must be at most 4096 bytes of JSON"},
		{"metadata a number", `{"client_name":"a","metadata":5}`, "metadata: must be a JSON object"},
		{"unknown auth method", `{"client_name":"a","token_endpoint_auth_method":"private_key_jwt"}`, "token_endpoint_auth_method: must be one of client_secret_basic, client_secret_post, none"},
		{"auth method in another case", `{"client_name":"a","token_endpoint_auth_method":"None"}`, "token_endpoint_auth_method: must be one of client_secret_basic, client_secret_post, none"},
		{"public client with client_credentials", `{"client_name":"a","token_endpoint_auth_method":"none","grant_types":["authorization_code","client_credentials"],"redirect_uris":["https://app/cb"]}`,
			"grant_types: entry 1 is not a grant a public client (token_endpoint_auth_method none) may use (authorization_code, refresh_token)"},
		{"authorization_code without a redirect URI", `{"client_name":"a","grant_types":["authorization_code"]}`, "redirect_uris: must hold at least one entry for the authorization_code grant"},
		{"public client without a redirect URI", `{"client_name":"a","token_endpoint_auth_method":"none"}`, "redirect_uris: must hold at least one entry for the authorization_code grant"},
		{"public client without PKCE", `{"client_name":"a","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/cb"],"require_pkce":false}`,
			"require_pkce: cannot be false for a public client (token_endpoint_auth_method none)"},
		{"public client with a feature", `{"client_name":"a","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/cb"],"features":["introspect"]}`,
			"features: must be empty for a public client (token_endpoint_auth_method none), which cannot authenticate to use them"},
		{"metadata too big", `{"client_name":"a","metadata":` + bigMetadata + `}`, "metadata: must be at most 16384 bytes of JSON"},
		{"token exchange without access_issuer", `{"client_name":"a","grant_types":["urn:ietf:params:oauth:grant-type:token-exchange"],"features":["introspect"]}`,
			"grant_types: urn:ietf:params:oauth:grant-type:token-exchange needs the access_issuer feature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, store, _ := newTestRegistry(t, Limits{MaxScopes: 3})
			mustCreate(t, r, `{"client_name":"existing"}`)
			before := store.snapshot(t)
			m, err := DecodeMetadata([]byte(tc.body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			_, secret, err := r.Create(context.Background(), m)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a *ValidationError", err)
			}
			if err.Error() != tc.want {
				t.Fatalf("got %q\nwant %q", err.Error(), tc.want)
			}
			if secret != "" {
				t.Error("a refused create returned a secret")
			}
			if after := store.snapshot(t); after != before {
				t.Error("a refused create changed the store")
			}
		})
	}
}

func TestValidationNormalises(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		check func(t *testing.T, c storage.Client)
	}{
		{"defaults", `{"client_name":"a"}`, func(t *testing.T, c storage.Client) {
			if !slices.Equal(c.GrantTypes, []string{"client_credentials"}) || !c.RequireScopeRequest ||
				c.Scopes != nil || c.IPAllowlist != nil || c.AccessTokenTTL != 0 || c.Claims != nil || c.Metadata != nil || c.Disabled {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{"token exchange with access_issuer", `{"client_name":"a","grant_types":["client_credentials","urn:ietf:params:oauth:grant-type:token-exchange"],"features":["access_issuer"]}`, func(t *testing.T, c storage.Client) {
			if !slices.Equal(c.GrantTypes, []string{"client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"}) || !slices.Equal(c.Features, []string{"access_issuer"}) {
				t.Errorf("grant types %v, features %v", c.GrantTypes, c.Features)
			}
		}},
		{"empty grant list takes the default", `{"client_name":"a","grant_types":[]}`, func(t *testing.T, c storage.Client) {
			if !slices.Equal(c.GrantTypes, []string{"client_credentials"}) {
				t.Errorf("grant types %v", c.GrantTypes)
			}
		}},
		{"255 characters", `{"client_name":"` + strings.Repeat("é", 255) + `"}`, func(t *testing.T, c storage.Client) {
			if c.Name != strings.Repeat("é", 255) {
				t.Errorf("name %q", c.Name)
			}
		}},
		{"unicode name", `{"client_name":"Zahlungsdienst – Ölbörse 決済"}`, func(t *testing.T, c storage.Client) {
			if c.Name != "Zahlungsdienst – Ölbörse 決済" {
				t.Errorf("name %q", c.Name)
			}
		}},
		{"scope repeats dropped", `{"client_name":"a","scope":"b a b"}`, func(t *testing.T, c storage.Client) {
			if !slices.Equal(c.Scopes, []string{"b", "a"}) {
				t.Errorf("scopes %v", c.Scopes)
			}
		}},
		{"allowlist normalised", `{"client_name":"a","ip_allowlist":["10.1.2.3/8","2001:db8::1","::ffff:192.0.2.1"]}`, func(t *testing.T, c storage.Client) {
			want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128"), netip.MustParsePrefix("192.0.2.1/32")}
			if !slices.Equal(c.IPAllowlist, want) {
				t.Errorf("allowlist %v", c.IPAllowlist)
			}
		}},
		{"audience URN and URL", `{"client_name":"a","audience":["urn:example:orders","https://api.example.com/orders?v=1"]}`, func(t *testing.T, c storage.Client) {
			if !slices.Equal(c.Audience, []string{"urn:example:orders", "https://api.example.com/orders?v=1"}) {
				t.Errorf("audience %v", c.Audience)
			}
		}},
		{"ttl bounds", `{"client_name":"a","access_token_ttl":"90m"}`, func(t *testing.T, c storage.Client) {
			if c.AccessTokenTTL != 90*time.Minute {
				t.Errorf("ttl %v", c.AccessTokenTTL)
			}
		}},
		{"claims compacted", `{"client_name":"a","claims":{ "tenant" : "t1", "n": 1.50 }}`, func(t *testing.T, c storage.Client) {
			if string(c.Claims) != `{"tenant":"t1","n":1.50}` {
				t.Errorf("claims %s", c.Claims)
			}
		}},
		{"empty objects dropped", `{"client_name":"a","claims":{},"metadata":{ }}`, func(t *testing.T, c storage.Client) {
			if c.Claims != nil || c.Metadata != nil {
				t.Errorf("claims %s metadata %s", c.Claims, c.Metadata)
			}
		}},
		{"every feature", `{"client_name":"a","features":["owner","client_read","introspect"],"require_scope_request":false}`, func(t *testing.T, c storage.Client) {
			if !slices.Equal(c.Features, []string{"owner", "client_read", "introspect"}) || c.RequireScopeRequest {
				t.Errorf("features %v require %v", c.Features, c.RequireScopeRequest)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := newTestRegistry(t, Limits{})
			c, _ := mustCreate(t, r, tc.body)
			rec, err := r.Lookup(context.Background(), c.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, rec)
		})
	}
}

func TestLimitsDefaults(t *testing.T) {
	r := New(newTestStore(t), Limits{})
	l := r.Limits()
	if l.MaxClients != 2000 || l.MaxScopes != 1000 || l.MaxTokenTTL != 90*time.Minute ||
		!slices.Equal(l.GrantTypes, []string{"client_credentials", "authorization_code", "refresh_token", "password", "urn:ietf:params:oauth:grant-type:token-exchange"}) ||
		!slices.Equal(l.Features, []string{"owner", "client_read", "introspect", "direct_access", "direct_read_access", "login_client", "access_issuer", "metadata"}) {
		t.Fatalf("defaults: %+v", l)
	}
	r = New(newTestStore(t), Limits{MaxClients: -1, MaxScopes: 5, MaxTokenTTL: time.Hour, Features: []string{"introspect"}})
	l = r.Limits()
	if r.storeMaxClients() != 0 || l.MaxScopes != 5 || l.MaxTokenTTL != time.Hour || !slices.Equal(l.Features, []string{"introspect"}) {
		t.Fatalf("explicit limits: %+v", l)
	}
}

// post_logout_redirect_uris follow the redirect_uris rules, and are kept,
// shown and patched like them.
func TestPostLogoutRedirectURIs(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{})
	for _, bad := range []string{"/relative", "https://app.example/#frag", "https://user@app.example/", "javascript:alert(1)", "http://app.example/out"} {
		_, _, err := r.Create(ctx, Metadata{ClientName: "bad", PostLogoutRedirectURIs: []string{bad}})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "post_logout_redirect_uris" {
			t.Errorf("%q: %v, want a post_logout_redirect_uris error", bad, err)
		}
	}
	c, _ := mustCreate(t, r, `{"client_name":"web","post_logout_redirect_uris":["https://app.example/signed-out"]}`)
	if !slices.Equal(c.PostLogoutRedirectURIs, []string{"https://app.example/signed-out"}) {
		t.Fatalf("view %v", c.PostLogoutRedirectURIs)
	}
	got, err := r.Patch(ctx, c.ClientID, []byte(`{"post_logout_redirect_uris":["https://app.example/bye","http://127.0.0.1/bye"]}`))
	if err != nil || len(got.PostLogoutRedirectURIs) != 2 {
		t.Fatalf("patch: %v %v", got.PostLogoutRedirectURIs, err)
	}
	stored, err := r.Lookup(ctx, c.ClientID)
	if err != nil || !slices.Equal(stored.PostLogoutRedirectURIs, got.PostLogoutRedirectURIs) {
		t.Fatalf("stored %v %v", stored.PostLogoutRedirectURIs, err)
	}
}

func TestIDTokenSignedResponseAlg(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{IDTokenAlgs: []string{"EdDSA", "RS256"}})
	for _, bad := range []string{"ES256", "HS256", "none", "rs256", "RS256 "} {
		_, _, err := r.Create(ctx, Metadata{ClientName: "bad", IDTokenSignedResponseAlg: bad})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "id_token_signed_response_alg" || ve.Reason != "must be one of EdDSA, RS256" || strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v, want an id_token_signed_response_alg error naming the two", bad, err)
		}
	}
	c, _ := mustCreate(t, r, `{"client_name":"web"}`)
	if c.IDTokenSignedResponseAlg != "" {
		t.Errorf("unset: %q, want none (the operator's algorithm)", c.IDTokenSignedResponseAlg)
	}
	got, err := r.Patch(ctx, c.ClientID, []byte(`{"id_token_signed_response_alg":"RS256"}`))
	if err != nil || got.IDTokenSignedResponseAlg != "RS256" {
		t.Fatalf("patch: %q %v", got.IDTokenSignedResponseAlg, err)
	}
	stored, err := r.Lookup(ctx, c.ClientID)
	if err != nil || stored.IDTokenSignedResponseAlg != "RS256" {
		t.Fatalf("stored %q %v", stored.IDTokenSignedResponseAlg, err)
	}
	if _, err := r.Patch(ctx, c.ClientID, []byte(`{"id_token_signed_response_alg":"PS256"}`)); err == nil {
		t.Error("patch to PS256 accepted")
	}
}
