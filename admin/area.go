package admin

import (
	"net/http"
	"path"
)

// Area is the part of the API a route belongs to. Remote admin decides
// what a client may do by the area of the route the request matches, as
// the API's own router matches it, never by the path's spelling.
type Area string

// The API's areas.
const (
	// AreaClients: /clients and everything under /clients/{id}/.
	AreaClients Area = "clients"
	// AreaKeys: /keys, the signing keys.
	AreaKeys Area = "keys"
	// AreaUsers: /users and everything under /users/{id}/ (sessions,
	// consents, grants, password, disable and enable).
	AreaUsers Area = "users"
	// AreaRoles: /roles.
	AreaRoles Area = "roles"
)

// Handler is the API; see NewHandler.
type Handler struct {
	*handler
}

// Area returns the area of the route that ServeHTTP would serve r with, or
// "" when it would serve none: a path not in canonical form, a path no
// route has, or a method the path does not allow.
func (h *Handler) Area(r *http.Request) Area {
	if !canonicalPath(r) {
		return ""
	}
	// For a request no pattern matches, the pattern is "", in no area.
	_, pattern := h.mux.Handler(r)
	return h.areas[pattern]
}

// handle routes pattern to fn and records its area: the one table of both.
func (h *handler) handle(area Area, pattern string, fn http.HandlerFunc) {
	h.mux.HandleFunc(pattern, fn)
	h.areas[pattern] = area
}

// canonicalPath reports whether r's path is in canonical form: absolute,
// without empty, "." or ".." segments or a trailing slash. The API answers
// any other spelling 404, where http.ServeMux would redirect it, so each
// route has one spelling.
func canonicalPath(r *http.Request) bool {
	p := r.URL.EscapedPath()
	return p != "" && p[0] == '/' && path.Clean(p) == p
}
