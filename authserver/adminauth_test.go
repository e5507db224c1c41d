package authserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

// TestAdminPermits checks every feature against every area of the admin
// API and every method, against the rule table README.md documents:
//
//	owner               everything
//	client_read         GET/HEAD of clients and keys
//	direct_access       every method on users; GET/HEAD of roles
//	direct_read_access  GET/HEAD of users and roles
//	the others          nothing on their own
//
// and that features add up. A request in no area (one the API does not
// route) is an owner's alone.
func TestAdminPermits(t *testing.T) {
	areas := []admin.Area{admin.AreaClients, admin.AreaKeys, admin.AreaUsers, admin.AreaRoles, ""}
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"}
	// allowed lists, per feature set, "area method" pairs it may use; "area
	// *" is every method, "area read" GET and HEAD.
	cases := []struct {
		features []string
		allowed  []string
	}{
		{[]string{"owner"}, []string{"clients *", "keys *", "users *", "roles *", " *"}},
		{[]string{"client_read"}, []string{"clients read", "keys read"}},
		{[]string{"direct_access"}, []string{"users *", "roles read"}},
		{[]string{"direct_read_access"}, []string{"users read", "roles read"}},
		{[]string{"login_client"}, nil},
		{[]string{"access_issuer"}, nil},
		{[]string{"metadata"}, nil},
		{[]string{"introspect"}, nil},
		{nil, nil},
		{[]string{"metadata", "direct_access"}, []string{"users *", "roles read"}},
		{[]string{"client_read", "direct_read_access"}, []string{"clients read", "keys read", "users read", "roles read"}},
		{[]string{"direct_read_access", "direct_access"}, []string{"users *", "roles read"}},
		{[]string{"introspect", "access_issuer", "client_read"}, []string{"clients read", "keys read"}},
		{[]string{"direct_access", "owner"}, []string{"clients *", "keys *", "users *", "roles *", " *"}},
	}
	for _, tc := range cases {
		client := storage.Client{ID: "c", Features: tc.features}
		for _, area := range areas {
			for _, method := range methods {
				want := false
				for _, a := range tc.allowed {
					allowedArea, kind, _ := strings.Cut(a, " ")
					if admin.Area(allowedArea) == area && (kind == "*" || kind == "read" && (method == "GET" || method == "HEAD")) {
						want = true
					}
				}
				if got := AdminPermits(client, method, area); got != want {
					t.Errorf("features %v, %s in area %q: %v, want %v", tc.features, method, area, got, want)
				}
			}
		}
	}
}

// TestRemoteAdminDecidesByRoute: remote admin in front of the real admin
// API decides by the route the API's own router matches. Every spelling of
// a path that the API does not route is refused (403) to anyone but an
// owner, whatever the client's features; a spelling the router does route
// is the area it routes to.
func TestRemoteAdminDecidesByRoute(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	ra, err := s.NewRemoteAdmin("", nil)
	if err != nil {
		t.Fatal(err)
	}
	api := admin.NewHandler(s.Registry, s.AdminOptions(nil, nil))
	user, err := s.Registry.CreateUser(ctx, registry.UserMetadata{Username: "ada"}, "")
	if err != nil {
		t.Fatal(err)
	}
	type caller struct{ id, secret string }
	newCaller := func(name string, features ...string) caller {
		t.Helper()
		c, secret, err := s.Registry.Create(ctx, registry.Metadata{ClientName: name, Features: features})
		if err != nil {
			t.Fatal(err)
		}
		return caller{c.ClientID, secret}
	}
	owner := newCaller("owner", "owner")
	reader := newCaller("reader", "client_read")
	direct := newCaller("direct", "direct_access")
	directRead := newCaller("direct-read", "direct_read_access")
	serve := func(c caller, method, target string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, target, strings.NewReader(`{}`))
		r.RemoteAddr = "192.0.2.1:4000"
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.id+":"+c.secret)))
		w := httptest.NewRecorder()
		ra.Serve(w, r, api)
		return w
	}
	forbidden := func(w *httptest.ResponseRecorder) bool {
		var body struct {
			Error string `json:"error"`
		}
		return w.Code == http.StatusForbidden && json.Unmarshal(w.Body.Bytes(), &body) == nil && body.Error == "forbidden"
	}

	unrouted := []string{"//clients", "/clients/", "/./clients", "/users/../clients", "/users/%2e%2e/clients", "/CLIENTS",
		"/users%2f..%2fclients", "/users/x/..%2f..%2fclients", "//users", "/users/", "/clients/../users", "/USERS", "/Users",
		"/users%2f" + user.UserID, "/users/" + user.UserID + "/", "//keys", "/keys/", "/KEYS", "/roles/", "/roles/../keys/rotate",
		"/no-such-area", "/", "/%2e"}
	for _, target := range unrouted {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			for _, c := range []caller{reader, direct, directRead} {
				if w := serve(c, method, target); !forbidden(w) {
					t.Errorf("%s %s: %d %s, want 403 forbidden", method, target, w.Code, w.Body)
				}
			}
			// An owner reaches the API, which answers 404 (or 405).
			if w := serve(owner, method, target); w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed {
				t.Errorf("owner: %s %s: %d %s, want the API's 404 or 405", method, target, w.Code, w.Body)
			}
		}
	}
	// Methods a path does not have are in no area either.
	if w := serve(direct, http.MethodPut, "/users/"+user.UserID); !forbidden(w) {
		t.Errorf("PUT of a user: %d %s, want 403", w.Code, w.Body)
	}
	routed := []struct {
		who    caller
		target string
		want   int
	}{
		{directRead, "/%75sers", http.StatusOK},
		{reader, "/%75sers", http.StatusForbidden},
		{reader, "/%63lients", http.StatusOK},
		{direct, "/%63lients", http.StatusForbidden},
		{directRead, "/users/" + user.UserID, http.StatusOK},
		{directRead, "/users/%2e%2e", http.StatusNotFound},
		{reader, "/users/" + user.UserID, http.StatusForbidden},
	}
	for _, tc := range routed {
		if w := serve(tc.who, http.MethodGet, tc.target); w.Code != tc.want {
			t.Errorf("GET %s: %d %s, want %d", tc.target, w.Code, w.Body, tc.want)
		}
	}
}
