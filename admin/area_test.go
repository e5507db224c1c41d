package admin

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandlerArea: every route the API serves is in the area its path
// starts with, and a request the API does not route is in none.
func TestHandlerArea(t *testing.T) {
	api := newTestAPI(t)
	h := NewHandler(api.reg, Options{Keys: &openAPIKeys{}, Sessions: &memSessions{}, Consents: &memConsents{}, Grants: &memGrants{}})
	for _, p := range servedPatterns(t) {
		method, target, _ := strings.Cut(p, " ")
		target = strings.NewReplacer("{id}", "x", "{secret_id}", "s", "{kid}", "k", "{session_id}", "s", "{client_id}", "c", "{name}", "n").Replace(target)
		want := Area(strings.Split(target, "/")[1])
		if got := h.Area(httptest.NewRequest(method, target, nil)); got != want {
			t.Errorf("%s %s: area %q, want %q", method, target, got, want)
		}
	}
	for _, target := range []string{"/", "/clients/", "//clients", "/clients/../keys", "/CLIENTS", "/users%2fx", "/nothing"} {
		if got := h.Area(httptest.NewRequest("GET", target, nil)); got != "" {
			t.Errorf("GET %s: area %q, want none", target, got)
		}
	}
	if got := h.Area(httptest.NewRequest("PUT", "/users/x", nil)); got != "" {
		t.Errorf("PUT /users/x, a method the path does not have: area %q, want none", got)
	}
}
