package grant

import (
	"slices"
	"testing"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/storage"
)

func TestDecide(t *testing.T) {
	client := storage.Client{
		ID:                  "c1",
		GrantTypes:          []string{ClientCredentials},
		Scopes:              []string{"read", "write"},
		Audience:            []string{"https://a.example/", "https://b.example/"},
		RequireScopeRequest: true,
	}
	lax := client
	lax.RequireScopeRequest = false
	noAudience := client
	noAudience.Audience = nil
	noGrant := client
	noGrant.GrantTypes = []string{"authorization_code"}
	// A public client's record can never list client_credentials (the
	// registry refuses it); one that does is still refused.
	public := client
	public.TokenEndpointAuthMethod = storage.AuthMethodNone

	cases := []struct {
		name         string
		req          oauth.TokenRequest
		client       storage.Client
		wantCode     string
		wantScopes   []string
		wantAudience []string
	}{
		{"granted as asked", oauth.TokenRequest{GrantType: ClientCredentials, Scopes: []string{"write"}}, client,
			"", []string{"write"}, client.Audience},
		{"unsupported grant", oauth.TokenRequest{GrantType: "implicit", Scopes: []string{"read"}}, client,
			oauth.CodeUnsupportedGrantType, nil, nil},
		{"grant not allowed for the client", oauth.TokenRequest{GrantType: ClientCredentials, Scopes: []string{"read"}}, noGrant,
			oauth.CodeUnauthorizedClient, nil, nil},
		{"public client with client_credentials", oauth.TokenRequest{GrantType: ClientCredentials, Scopes: []string{"read"}}, public,
			oauth.CodeUnauthorizedClient, nil, nil},
		{"scope not allowed", oauth.TokenRequest{GrantType: ClientCredentials, Scopes: []string{"read", "admin"}}, client,
			oauth.CodeInvalidScope, nil, nil},
		{"look-alike scope", oauth.TokenRequest{GrantType: ClientCredentials, Scopes: []string{"READ"}}, client,
			oauth.CodeInvalidScope, nil, nil},
		{"no scope when one must be asked for", oauth.TokenRequest{GrantType: ClientCredentials}, client,
			oauth.CodeInvalidScope, nil, nil},
		{"no scope on a lax client gets all", oauth.TokenRequest{GrantType: ClientCredentials}, lax,
			"", []string{"read", "write"}, client.Audience},
		{"resource in the audience", oauth.TokenRequest{GrantType: ClientCredentials, Scopes: []string{"read"}, Resource: []string{"https://b.example/"}}, client,
			"", []string{"read"}, []string{"https://b.example/"}},
		{"resource outside the audience", oauth.TokenRequest{GrantType: ClientCredentials, Scopes: []string{"read"}, Resource: []string{"https://a.example/x"}}, client,
			oauth.CodeInvalidTarget, nil, nil},
		{"one of two resources outside", oauth.TokenRequest{GrantType: ClientCredentials, Scopes: []string{"read"}, Resource: []string{"https://a.example/", "https://c.example/"}}, client,
			oauth.CodeInvalidTarget, nil, nil},
		{"no audience: the gateway's", oauth.TokenRequest{GrantType: ClientCredentials, Scopes: []string{"read"}}, noAudience,
			"", []string{"read"}, []string{"https://gw.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, e := Decide(&tc.req, tc.client, "https://gw.example")
			if tc.wantCode != "" {
				if e == nil || e.Code != tc.wantCode || e.Status != 400 {
					t.Fatalf("got %+v, %v; want %s", d, e, tc.wantCode)
				}
				return
			}
			if e != nil {
				t.Fatalf("unexpected %v", e)
			}
			if !slices.Equal(d.Scopes, tc.wantScopes) || !slices.Equal(d.Audience, tc.wantAudience) {
				t.Fatalf("got %+v, want scopes %v audience %v", d, tc.wantScopes, tc.wantAudience)
			}
		})
	}
}

func TestNotAllowedScopesAreNamedWhenSafe(t *testing.T) {
	client := storage.Client{ID: "c1", GrantTypes: []string{ClientCredentials}, Scopes: []string{"read"}}
	for _, tc := range []struct {
		name, want string
		scopes     []string
	}{
		{"one scope", "not allowed for this client: write", []string{"read", "write"}},
		{"several, capped", "not allowed for this client: a b c and 2 more", []string{"a", "b", "c", "d", "e"}},
		{"markup is not repeated", "a requested scope is not allowed for this client", []string{"write", "<script>"}},
		{"a quote-like token is not repeated", "a requested scope is not allowed for this client", []string{"it's"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, e := Decide(&oauth.TokenRequest{GrantType: ClientCredentials, Scopes: tc.scopes}, client, "https://gw.example")
			if e == nil || e.Code != oauth.CodeInvalidScope || e.Description != tc.want {
				t.Fatalf("got %+v, want invalid_scope %q", e, tc.want)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	confidential := storage.Client{GrantTypes: []string{ClientCredentials, AuthorizationCode}}
	public := storage.Client{GrantTypes: []string{AuthorizationCode}, TokenEndpointAuthMethod: storage.AuthMethodNone}
	publicListingCC := storage.Client{GrantTypes: []string{ClientCredentials, AuthorizationCode}, TokenEndpointAuthMethod: storage.AuthMethodNone}
	for _, tc := range []struct {
		name   string
		client storage.Client
		grant  string
		want   string
	}{
		{"confidential, listed", confidential, ClientCredentials, ""},
		{"confidential, authorization_code", confidential, AuthorizationCode, ""},
		{"confidential, not listed", confidential, "refresh_token", oauth.CodeUnauthorizedClient},
		{"public, authorization_code", public, AuthorizationCode, ""},
		{"public, client_credentials", public, ClientCredentials, oauth.CodeUnauthorizedClient},
		{"public listing client_credentials", publicListingCC, ClientCredentials, oauth.CodeUnauthorizedClient},
		{"public, unknown grant", public, "password", oauth.CodeUnauthorizedClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Allowed(tc.client, tc.grant)
			got := ""
			if e != nil {
				got = e.Code
			}
			if got != tc.want {
				t.Errorf("Allowed = %q, want %q", got, tc.want)
			}
		})
	}
	for _, g := range PublicGrants {
		if !slices.Contains(Supported, g) || g == ClientCredentials {
			t.Errorf("public grant %q: not supported, or one a client uses for itself", g)
		}
	}
}

func TestIssuedAreSupported(t *testing.T) {
	for _, g := range Issued {
		if !slices.Contains(Supported, g) {
			t.Errorf("%q is issued but cannot be registered", g)
		}
	}
}
