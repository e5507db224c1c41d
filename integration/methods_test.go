package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestTokenEndpointRefusesEveryMethodButPOST sends a complete, correctly
// authenticated token request with every other method: each gets 405 with
// Allow: POST and the no-store headers, and no token.
func TestTokenEndpointRefusesEveryMethodButPOST(t *testing.T) {
	t.Parallel()
	g := startIssuer(t)
	c := createClient(t, g, map[string]any{"client_name": "app", "scope": "read"})
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, "PROPFIND"} {
		t.Run(method, func(t *testing.T) {
			req, err := http.NewRequest(method, g.URL("/oauth2/token"), strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(c.ClientID, c.ClientSecret)
			if method == http.MethodHead {
				resp := doRequest(t, req)
				if resp.Status != http.StatusMethodNotAllowed || len(resp.Body) != 0 {
					t.Fatalf("HEAD: %d %q", resp.Status, resp.Body)
				}
				if resp.Header.Get("Allow") != "POST" || resp.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("HEAD: Allow %q, Cache-Control %q", resp.Header.Get("Allow"), resp.Header.Get("Cache-Control"))
				}
				return
			}
			ans := sendToken(t, req)
			ans.wantError(t, http.StatusMethodNotAllowed, "invalid_request")
			if ans.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", ans.Header.Get("Allow"))
			}
		})
	}
	// The same request with POST gets its token: the refusals above were
	// the method's doing.
	req, _ := http.NewRequest(http.MethodPost, g.URL("/oauth2/token"), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ClientID, c.ClientSecret)
	if ans := sendToken(t, req); ans.Status != http.StatusOK || ans.Body["access_token"] == nil {
		t.Fatalf("POST: %d %s", ans.Status, ans.Raw)
	}
}
