package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRemoteAdminByFeature runs a real Caddy with remote admin and checks, over
// HTTP, what each client feature may do there: the areas (clients, keys,
// users, roles) and methods of the rule table in README.md, whatever the
// spelling of the path; that only the operator may assign the metadata
// feature; and that a metadata client's changes leave a user's updated_at as
// it was.
func TestRemoteAdminByFeature(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, remoteAdminCaddyfile)
	client := func(name string, features ...string) createdClient {
		t.Helper()
		return createClient(t, g, map[string]any{"client_name": name, "features": features})
	}
	owner := client("owner", "owner")
	reader := client("reader", "client_read")
	direct := client("direct", "direct_access")
	directRead := client("direct-read", "direct_read_access")
	login := client("login", "login_client")
	issuer := client("issuer", "access_issuer")
	introspect := client("introspector", "introspect")
	metaOnly := client("meta-only", "metadata")
	metaDirect := client("meta-direct", "metadata", "direct_access")
	if r := do(t, http.MethodPost, g.AdminURL("/scopegate/roles"), map[string]any{"name": "viewer", "scopes": []string{"read"}}); r.Status != http.StatusCreated {
		t.Fatalf("create role: %d %s", r.Status, r.Body)
	}
	userID := createUser(t, g, "ada")

	remote := func(c createdClient, method, path string, body any) apiResponse {
		t.Helper()
		return do(t, method, g.URL("/manage"+path), body, "Authorization", "Basic "+b64(c.ClientID+":"+c.ClientSecret))
	}
	forbidden := func(r apiResponse) bool {
		return r.Status == http.StatusForbidden && r.ErrorCode() == "forbidden"
	}

	t.Run("areas and methods by feature", func(t *testing.T) {
		const noUser = "/users/no-such-user"
		cases := []struct {
			who          createdClient
			method, path string
			body         any
			want         int // the API's answer, or 403 for a refusal
		}{
			{owner, "GET", "/users", nil, 200},
			{owner, "DELETE", noUser, nil, 404},
			{owner, "GET", "/no-such-area", nil, 404},
			{reader, "GET", "/clients", nil, 200},
			{reader, "HEAD", "/clients", nil, 200},
			{reader, "GET", "/keys", nil, 200},
			{reader, "POST", "/keys/rotate", nil, 403},
			{reader, "GET", "/users", nil, 403},
			{reader, "GET", "/users/" + userID + "/consents", nil, 403},
			{reader, "GET", "/roles", nil, 403},
			{direct, "GET", "/users", nil, 200},
			{direct, "POST", "/users", map[string]any{"username": "grace"}, 201},
			{direct, "PATCH", "/users/" + userID, map[string]any{"name": "Ada"}, 200},
			{direct, "DELETE", noUser, nil, 404},
			{direct, "GET", "/users/" + userID + "/sessions", nil, 200},
			{direct, "DELETE", "/users/" + userID + "/sessions", nil, 200},
			{direct, "GET", "/users/" + userID + "/grants", nil, 200},
			{direct, "POST", "/users/" + userID + "/enable", nil, 200},
			{direct, "GET", "/roles", nil, 200},
			{direct, "GET", "/roles/viewer", nil, 200},
			{direct, "POST", "/roles", map[string]any{"name": "planted"}, 403},
			{direct, "PATCH", "/roles/viewer", map[string]any{"scopes": []string{"full"}}, 403},
			{direct, "GET", "/clients", nil, 403},
			{direct, "GET", "/keys", nil, 403},
			{direct, "GET", "/no-such-area", nil, 403},
			{directRead, "GET", "/users", nil, 200},
			{directRead, "GET", "/users/" + userID, nil, 200},
			{directRead, "GET", "/users/" + userID + "/consents", nil, 200},
			{directRead, "GET", "/roles", nil, 200},
			{directRead, "PATCH", "/users/" + userID, map[string]any{"name": "Eve"}, 403},
			{directRead, "DELETE", "/users/" + userID + "/sessions", nil, 403},
			{directRead, "POST", "/users", map[string]any{"username": "eve"}, 403},
			{directRead, "GET", "/clients", nil, 403},
			{login, "GET", "/users", nil, 403},
			{login, "GET", "/users/" + userID, nil, 403},
			{issuer, "GET", "/users", nil, 403},
			{introspect, "GET", "/clients", nil, 403},
			{metaOnly, "GET", "/users", nil, 403},
			{metaOnly, "GET", "/clients", nil, 403},
			{metaDirect, "GET", "/users", nil, 200},
			{metaDirect, "GET", "/clients", nil, 403},
		}
		for _, tc := range cases {
			r := remote(tc.who, tc.method, tc.path, tc.body)
			if tc.want == http.StatusForbidden && !forbidden(r) || tc.want != http.StatusForbidden && r.Status != tc.want {
				t.Errorf("%s: %s %s: %d %s, want %d", tc.who.ClientName, tc.method, tc.path, r.Status, r.Body, tc.want)
			}
		}
	})
	t.Run("no spelling of a path reaches another area", func(t *testing.T) {
		outside := func(r apiResponse) bool { return r.Status == http.StatusOK && string(r.Body) == "site" }
		spellings := []string{"//clients", "/clients/", "/users/../clients", "/users/%2e%2e/clients", "/CLIENTS", "/%63lients",
			"/users%2f..%2fclients", "/users/x/..%2f..%2fclients", "//keys", "/keys/", "/Keys", "/users/../keys", "/roles/../keys/rotate"}
		for _, path := range spellings {
			for _, c := range []createdClient{direct, directRead, metaDirect} {
				for _, method := range []string{http.MethodGet, http.MethodPost} {
					if r := remote(c, method, path, `{}`); !forbidden(r) && !outside(r) {
						t.Errorf("%s: %s %s: %d %s, want 403", c.ClientName, method, path, r.Status, r.Body)
					}
				}
			}
		}
		for _, path := range []string{"//users", "/users/", "/clients/../users", "/USERS", "/users%2f" + userID, "/roles/../users"} {
			if r := remote(reader, http.MethodGet, path, nil); !forbidden(r) && !outside(r) {
				t.Errorf("reader: GET %s: %d %s, want 403", path, r.Status, r.Body)
			}
		}
		// A spelling the API itself routes to users is the users area, as
		// the API's own router decides: a users client reaches it, a
		// clients reader does not.
		if r := remote(directRead, http.MethodGet, "/%75sers", nil); r.Status != http.StatusOK {
			t.Errorf("direct-read: GET /%%75sers: %d %s", r.Status, r.Body)
		}
		if r := remote(reader, http.MethodGet, "/%75sers", nil); !forbidden(r) {
			t.Errorf("reader: GET /%%75sers: %d %s", r.Status, r.Body)
		}
	})
	t.Run("only the operator assigns the metadata feature", func(t *testing.T) {
		const refused = "features: only the operator (Caddy's admin endpoint) may assign the metadata feature"
		wantRefused := func(r apiResponse) {
			t.Helper()
			if r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid_client_metadata" || !strings.Contains(string(r.Body), refused) {
				t.Errorf("got %d %s, want 400 %q", r.Status, r.Body, refused)
			}
		}
		wantRefused(remote(owner, http.MethodPost, "/clients", map[string]any{"client_name": "planted-meta", "features": []string{"metadata"}}))
		wantRefused(remote(owner, http.MethodPatch, "/clients/"+direct.ClientID, map[string]any{"features": []string{"direct_access", "metadata"}}))
		wantRefused(remote(owner, http.MethodPut, "/clients/"+direct.ClientID, map[string]any{"client_name": "direct", "features": []string{"metadata"}}))
		// Keeping it, on a client that has it, is a change of other fields.
		if r := remote(owner, http.MethodPatch, "/clients/"+metaOnly.ClientID, map[string]any{"client_name": "meta-only-renamed"}); r.Status != http.StatusOK {
			t.Errorf("patch of another field: %d %s", r.Status, r.Body)
		}
		if r := remote(owner, http.MethodPut, "/clients/"+metaOnly.ClientID, map[string]any{"client_name": "meta-only", "features": []string{"metadata"}}); r.Status != http.StatusOK {
			t.Errorf("replace keeping it: %d %s", r.Status, r.Body)
		}
		// The operator may, on Caddy's admin endpoint.
		if r := do(t, http.MethodPatch, g.AdminURL("/scopegate/clients/"+direct.ClientID), map[string]any{"features": []string{"direct_access", "metadata"}}); r.Status != http.StatusOK {
			t.Errorf("the operator adds it: %d %s", r.Status, r.Body)
		}
		do(t, http.MethodPatch, g.AdminURL("/scopegate/clients/"+direct.ClientID), map[string]any{"features": []string{"direct_access"}})
	})
	t.Run("login_client stands alone", func(t *testing.T) {
		r := do(t, http.MethodPost, g.AdminURL("/scopegate/clients"), map[string]any{"client_name": "login-plus", "features": []string{"login_client", "direct_read_access"}})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "features: clients with the login_client feature cannot have any other features") {
			t.Errorf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("a metadata client leaves updated_at as it was", func(t *testing.T) {
		before := getUser(t, g, userID)
		steps := []struct {
			method, path string
			body         any
		}{
			{http.MethodPatch, "/users/" + userID, map[string]any{"name": "Ada Lovelace", "roles": []string{"viewer"}}},
			{http.MethodPut, "/users/" + userID + "/password", map[string]any{"password": "analytical engine 1843"}},
			{http.MethodPost, "/users/" + userID + "/disable", nil},
			{http.MethodPost, "/users/" + userID + "/enable", nil},
		}
		for _, s := range steps {
			if r := remote(metaDirect, s.method, s.path, s.body); r.Status != http.StatusOK {
				t.Fatalf("%s %s: %d %s", s.method, s.path, r.Status, r.Body)
			}
		}
		after := getUser(t, g, userID)
		if after.Name != "Ada Lovelace" || !after.HasPassword || len(after.Roles) != 1 || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("after the metadata client's changes: %+v, want the changes made and updated_at %v", after, before.UpdatedAt)
		}
		if r := remote(direct, http.MethodPatch, "/users/"+userID, map[string]any{"name": "Ada King"}); r.Status != http.StatusOK {
			t.Fatalf("patch by direct_access: %d %s", r.Status, r.Body)
		}
		if moved := getUser(t, g, userID); moved.Name != "Ada King" || !moved.UpdatedAt.After(before.UpdatedAt) {
			t.Fatalf("after a direct_access client's patch: %+v, want updated_at after %v", moved, before.UpdatedAt)
		}
	})
	t.Run("the audit line names the client", func(t *testing.T) {
		if !strings.Contains(g.Logs(), `"actor":"client:`+metaDirect.ClientID+`"`) {
			t.Error("no audit line names the metadata client")
		}
	})
}

// featureUser is the part of a user record the feature tests read.
type featureUser struct {
	Name        string    `json:"name"`
	Roles       []string  `json:"roles"`
	HasPassword bool      `json:"has_password"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// createUser creates a user through Caddy's admin endpoint and returns its ID.
func createUser(t *testing.T, g *Gateway, username string) string {
	t.Helper()
	r := do(t, http.MethodPost, g.AdminURL("/scopegate/users"), map[string]any{"username": username})
	var u struct {
		ID string `json:"user_id"`
	}
	r.JSON(t, &u)
	if r.Status != http.StatusCreated || u.ID == "" {
		t.Fatalf("create user: %d %s", r.Status, r.Body)
	}
	return u.ID
}

// getUser reads a user through Caddy's admin endpoint.
func getUser(t *testing.T, g *Gateway, id string) featureUser {
	t.Helper()
	r := do(t, http.MethodGet, g.AdminURL("/scopegate/users/"+id), nil)
	var u featureUser
	r.JSON(t, &u)
	if r.Status != http.StatusOK {
		t.Fatalf("get user: %d %s", r.Status, r.Body)
	}
	return u
}
