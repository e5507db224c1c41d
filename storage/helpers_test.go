package storage_test

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// sampleTime is a canonical UTC time, so records compare with DeepEqual
// after a round trip through the store.
var sampleTime = time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)

// sampleClient returns a client with every field set, about the size of a
// real record.
func sampleClient(id, name string) storage.Client {
	return storage.Client{
		ID:   id,
		Name: name,
		Secrets: []storage.Secret{
			{ID: "sec-1", Hash: []byte("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"), CreatedAt: sampleTime, ExpiresAt: sampleTime.Add(time.Hour)},
		},
		GrantTypes:          []string{"client_credentials"},
		Scopes:              []string{"orders:read", "orders:write", "invoices:read"},
		Audience:            []string{"https://api.example.com"},
		RedirectURIs:        []string{"https://app.example.com/callback"},
		IPAllowlist:         []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8::/48")},
		Features:            []string{"introspect"},
		RequireScopeRequest: true,
		AccessTokenTTL:      15 * time.Minute,
		Claims:              json.RawMessage(`{"tenant":"acme"}`),
		Disabled:            true,
		Metadata:            json.RawMessage(`{"owner":"team-billing"}`),
		CreatedAt:           sampleTime,
		UpdatedAt:           sampleTime.Add(time.Minute),
		TokensRevokedAt:     sampleTime.Add(time.Hour),
		// Every field set, the authorization code grant's too.
		TokenEndpointAuthMethod:  storage.AuthMethodSecretPost,
		SkipConsent:              true,
		PKCEOptional:             true,
		Registered:               true,
		PostLogoutRedirectURIs:   []string{"https://app.example.com/signed-out"},
		RefreshTokenTTL:          7 * 24 * time.Hour,
		IDTokenSignedResponseAlg: "RS256",
	}
}
