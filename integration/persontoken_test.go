package integration

import (
	"net/http"
	"testing"
)

// TestGuardIdentifiesAPersonsToken sends tokens an app holds for a person
// through a real gateway: with no consent the token is refused; for an app
// with skip_consent it reaches the upstream with X-User-Id naming the
// person, whatever X-User-Id the caller forged.
func TestGuardIdentifiesAPersonsToken(t *testing.T) {
	t.Parallel()
	f := startGuard(t)
	userID := signinUser(t, f.g, "erin", "tin-lantern-8812")
	firstParty := createClient(t, f.g, map[string]any{
		"client_name": "first-party", "scope": "orders:read", "skip_consent": true,
		"audience": []string{"https://api.example.com/orders"},
	})
	personToken := func(clientID string) string {
		claims := f.claims()
		claims["sub"], claims["client_id"] = userID, clientID
		return f.key.es256(t, f.header(), claims)
	}
	forged := http.Header{"X-User-Id": {"admin"}, "X_user_id": {"admin"}}

	t.Run("an app without the person's consent", func(t *testing.T) {
		wantChallenge(t, f.callVia(t, f.g.URL("/orders/1"), http.MethodGet, forged, "Bearer "+personToken(f.app.ClientID)),
			http.StatusUnauthorized, "invalid_token")
	})
	t.Run("an app that skips consent", func(t *testing.T) {
		saw := upstreamSaw(t, f.callVia(t, f.g.URL("/orders/1"), http.MethodGet, forged, "Bearer "+personToken(firstParty.ClientID)))
		if got := saw.Values("X-User-Id"); len(got) != 1 || got[0] != userID {
			t.Fatalf("X-User-Id %v, want [%s]", got, userID)
		}
		if saw.Get("X-Client-Id") != firstParty.ClientID || saw.Get("X-Scope") != "orders:read" {
			t.Fatalf("X-Client-Id %q X-Scope %q", saw.Get("X-Client-Id"), saw.Get("X-Scope"))
		}
		for name := range saw {
			if name == "X_user_id" {
				t.Errorf("underscore header %q reached the upstream", name)
			}
		}
	})
}
