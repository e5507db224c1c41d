package integration

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// refreshCaddyfile is consentsCaddyfile with access tokens that live 10
// seconds, which golang.org/x/oauth2 (refreshing 10 seconds before expiry)
// treats as due at once, and no grace period, so that any second use of a
// refresh token is a replay.
var refreshCaddyfile = strings.Replace(consentsCaddyfile, "storage {{.Dir}}/scopegate.db", `storage {{.Dir}}/scopegate.db
		access_token_ttl 10s
		refresh_tokens {
			grace 0s
		}`, 1)

// An app with golang.org/x/oauth2 keeps calling a guarded route for a
// person through a real gateway: its TokenSource refreshes by itself with
// the rotated refresh token each time, and the admin API lists the grant.
// Then a copy of a rotated refresh token is replayed: the gateway refuses
// it, the app's current access token is refused by the guard on its next
// request, its current refresh token is refused too, and the grant is gone
// from the admin API.
func TestTokenSourceRefreshesAndAReplayRevokesTheGrant(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, refreshCaddyfile)
	userID := signinUser(t, g, "erin", "amber-lantern-2291")
	web := createClient(t, g, map[string]any{
		"client_name": "Order Desk", "scope": "orders:read", "grant_types": []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{g.URL("/callback")},
	})
	app := &oauth2.Config{
		ClientID: web.ClientID, ClientSecret: web.ClientSecret, RedirectURL: g.URL("/callback"), Scopes: []string{"orders:read"},
		Endpoint: oauth2.Endpoint{AuthURL: g.URL("/oauth2/authorize"), TokenURL: g.URL("/oauth2/token"), AuthStyle: oauth2.AuthStyleInHeader},
	}
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	code := newPersonBrowser(t).authorize(g, app.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "erin", "amber-lantern-2291")
	first, err := app.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil || first.RefreshToken == "" {
		t.Fatalf("exchanging the code: %v (refresh token %q)", err, first.RefreshToken)
	}
	call := func(access string) apiResponse {
		return do(t, http.MethodGet, g.URL("/orders/1"), nil, "Authorization", "Bearer "+access)
	}

	source := app.TokenSource(ctx, first)
	seen := map[string]bool{first.RefreshToken: true}
	var current *oauth2.Token
	for i := range 3 {
		current, err = source.Token()
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if seen[current.RefreshToken] {
			t.Fatalf("refresh %d kept a refresh token it had before", i)
		}
		seen[current.RefreshToken] = true
		if r := call(current.AccessToken); r.Status != http.StatusOK || string(r.Body) != "user="+userID+" client="+web.ClientID {
			t.Fatalf("the app's call after refresh %d: %d %s", i, r.Status, r.Body)
		}
	}
	grants := func() []map[string]any {
		r := do(t, http.MethodGet, g.AdminURL("/scopegate/users/"+userID+"/grants"), nil)
		var list struct{ Grants []map[string]any }
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &list) != nil {
			t.Fatalf("GET grants: %d %s", r.Status, r.Body)
		}
		return list.Grants
	}
	if list := grants(); len(list) != 1 || list[0]["client_id"] != web.ClientID || list[0]["last_used_at"] == nil {
		t.Fatalf("the user's grants: %v", list)
	}

	_, err = app.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	var rerr *oauth2.RetrieveError
	if !errors.As(err, &rerr) || rerr.ErrorCode != "invalid_grant" {
		t.Fatalf("replaying the first refresh token: %v; want invalid_grant", err)
	}
	if r := call(current.AccessToken); r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("the app's current token after the replay: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	_, err = app.TokenSource(ctx, &oauth2.Token{RefreshToken: current.RefreshToken}).Token()
	if !errors.As(err, &rerr) || rerr.ErrorCode != "invalid_grant" {
		t.Fatalf("the app's current refresh token after the replay: %v; want invalid_grant", err)
	}
	if list := grants(); len(list) != 0 {
		t.Fatalf("the user's grants after the replay: %v", list)
	}
}
