package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// jwsHeader decodes the header of a compact JWS.
func jwsHeader(t *testing.T, raw string) map[string]string {
	t.Helper()
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("header of %q: %v", raw, err)
	}
	var h map[string]string
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestRS256IDTokenThroughTheGateway: on a gateway whose operator signs with
// ES256 (the default), an app set to id_token_signed_response_alg RS256
// through the admin API gets ID tokens that go-oidc, told to accept RS256
// only, verifies against the published JWKS; its access tokens stay ES256
// and pass the guard, and the ID token does not. The admin API lists the
// RS256 key with its use.
func TestRS256IDTokenThroughTheGateway(t *testing.T) {
	g := StartGateway(t, authorizeCaddyfile)
	userID := signinUser(t, g, "alice", "violet-harbour-92")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	redirectURI := site + "/callback"
	clientID := createPublicClient(t, g, "Legacy RP (RS256 only)", redirectURI)
	allowScopes(t, g, clientID, oidcScopes)
	if r := do(t, http.MethodPatch, g.AdminURL("/scopegate/clients/"+clientID), map[string]any{"id_token_signed_response_alg": "PS256"}); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "id_token_signed_response_alg") {
		t.Fatalf("PS256: %d %s, want 400 naming the field", r.Status, r.Body)
	}
	if r := do(t, http.MethodPatch, g.AdminURL("/scopegate/clients/"+clientID), map[string]any{"id_token_signed_response_alg": "RS256"}); r.Status != http.StatusOK {
		t.Fatalf("set RS256: %d %s", r.Status, r.Body)
	}
	rootCA := caddyRootCA(t, g)
	ctx := oidc.ClientContext(context.Background(), trustingClient(t, rootCA, ""))
	provider, err := oidc.NewProvider(ctx, site)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	app := &oauth2.Config{ClientID: clientID, RedirectURL: redirectURI, Endpoint: provider.Endpoint(), Scopes: strings.Fields(oidcScopes)}
	app.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()
	authURL := app.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-rs"))
	callback, _ := url.Parse(signInAndAllow(t, trustingClient(t, rootCA, redirectURI), authURL, "alice", "violet-harbour-92"))
	tok, err := app.Exchange(ctx, callback.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{oidc.RS256}}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc (RS256 only) refused the id_token: %v", err)
	}
	if id.Subject != userID || id.Nonce != "n-rs" || id.VerifyAccessToken(tok.AccessToken) != nil {
		t.Fatalf("id_token sub %q nonce %q", id.Subject, id.Nonce)
	}
	idHeader, accessHeader := jwsHeader(t, raw), jwsHeader(t, tok.AccessToken)
	if idHeader["alg"] != "RS256" || accessHeader["alg"] != "ES256" || accessHeader["typ"] != "at+jwt" {
		t.Fatalf("id_token header %v, access token header %v; want RS256 and ES256", idHeader, accessHeader)
	}

	var keys struct {
		Keys []struct {
			KeyID  string `json:"kid"`
			Alg    string `json:"alg"`
			Status string `json:"status"`
			Use    string `json:"use"`
		} `json:"keys"`
	}
	do(t, http.MethodGet, g.AdminURL("/scopegate/keys"), nil).JSON(t, &keys)
	found := false
	for _, k := range keys.Keys {
		if k.KeyID == idHeader["kid"] {
			found = k.Alg == "RS256" && k.Status == "active" && k.Use == "id_token"
		}
	}
	if !found {
		t.Fatalf("the admin API's keys %+v lack the ID token's key %s as the active id_token key", keys.Keys, idHeader["kid"])
	}

	plain := trustingClient(t, rootCA, "")
	if status, _ := userInfoStatus(t, plain, site, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("UserInfo with the ES256 access token: %d", status)
	}
	if status, challenge := userInfoStatus(t, plain, site, raw); status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Fatalf("the RS256 ID token as a bearer token: %d %q, want 401 invalid_token", status, challenge)
	}
}
