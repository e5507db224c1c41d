package integration

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// passwordGrantCaddyfile is a gateway with the password grant turned on
// and an orders API behind the guard.
const passwordGrantCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer {
		password_grant
	}
	handle /orders/* {
		scopegate_guard {
			scopes   orders:read
			audience https://api.example.com/orders
		}
		reverse_proxy {{.Upstream}}
	}
	respond "no such route" 404
}
`

// TestPasswordGrantThroughTheGateway: a trusted legacy app gets a token
// for a person with golang.org/x/oauth2's PasswordCredentialsToken through
// a real gateway, narrowed to the person's roles; the guard admits it for
// the person (no consent page was ever shown); a wrong password is
// invalid_grant; disabling the person ends the token at the next request.
func TestPasswordGrantThroughTheGateway(t *testing.T) {
	t.Parallel()
	upstream := echoUpstream(t)
	g := NewGateway(t, passwordGrantCaddyfile)
	g.Vars["Upstream"] = strings.TrimPrefix(upstream.URL, "http://")
	g.Start()
	const pw = "granite-meadow-4471"
	userID := signinUser(t, g, "frank", pw) // role buyer: orders:read
	app := createClient(t, g, map[string]any{
		"client_name": "legacy-desktop", "grant_types": []string{"password"},
		"scope": "orders:read orders:write", "audience": []string{"https://api.example.com/orders"},
	})
	cfg := oauth2.Config{
		ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: g.URL("/oauth2/token"), AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"orders:read", "orders:write"},
	}
	ctx := context.Background()
	tok, err := cfg.PasswordCredentialsToken(ctx, "frank", pw)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("scope") != "orders:read" || tok.RefreshToken != "" {
		t.Fatalf("scope %v, refresh token %q: want orders:read and none", tok.Extra("scope"), tok.RefreshToken)
	}
	saw := upstreamSaw(t, callWith(t, g.URL("/orders/1"), "Bearer "+tok.AccessToken))
	if saw.Get("X-User-Id") != userID || saw.Get("X-Client-Id") != app.ClientID || saw.Get("X-Scope") != "orders:read" {
		t.Fatalf("upstream saw X-User-Id %q X-Client-Id %q X-Scope %q", saw.Get("X-User-Id"), saw.Get("X-Client-Id"), saw.Get("X-Scope"))
	}

	_, err = cfg.PasswordCredentialsToken(ctx, "frank", "not the password")
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != http.StatusBadRequest {
		t.Fatalf("wrong password: %v", err)
	}
	_, err = cfg.PasswordCredentialsToken(ctx, "nobody", "not the password")
	var unknown *oauth2.RetrieveError
	if !errors.As(err, &unknown) || unknown.ErrorCode != re.ErrorCode || unknown.ErrorDescription != re.ErrorDescription {
		t.Fatalf("unknown user answered differently: %v, wrong password: %v", err, re)
	}

	if r := do(t, http.MethodPatch, g.AdminURL("/scopegate/users/"+userID), map[string]any{"disabled": true}); r.Status != http.StatusOK {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	wantChallenge(t, callWith(t, g.URL("/orders/1"), "Bearer "+tok.AccessToken), http.StatusUnauthorized, "invalid_token")
	if _, err := cfg.PasswordCredentialsToken(ctx, "frank", pw); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("a disabled person got a token: %v", err)
	}
}

// callWith sends GET url with one Authorization header.
func callWith(t *testing.T, url, authorization string) apiResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	return doRequest(t, req)
}
