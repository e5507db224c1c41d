// Package admin serves Scopegate's client-management API: create, list,
// read, update and delete API clients, rotate and retire their secrets,
// revoke their tokens, and (when a KeyManager is given) list and rotate the
// signing keys. One http.Handler serves it wherever it is mounted: on Caddy's
// admin endpoint under /scopegate/, or as a site handler for remote admin.
// Authentication of the caller is the mounting code's job.
//
// Every answer is JSON with Cache-Control: no-store (secrets travel in
// some); errors are {"error": code, "error_description": text}. Every change
// is written to the log as one audit line that never holds a secret, a
// request body or a header.
package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/token"
)

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes
// is zero: 64 KiB, four times the largest valid client metadata.
const DefaultMaxBodyBytes = 64 << 10

// KeyManager lists, rotates and revokes the token signing keys, describing
// them by their public facts only (token.KeyInfo). Errors are answered by
// kind: ErrKeyNotFound is 404, a *KeyConflictError is 409 with its reason,
// anything else a server fault.
type KeyManager interface {
	// Keys describes the signing keys.
	Keys(ctx context.Context) ([]token.KeyInfo, error)
	// RotateKeys rotates the signing keys and describes the new set.
	RotateKeys(ctx context.Context) ([]token.KeyInfo, error)
	// RevokeKey retires the key kid at once, for a key that may be
	// compromised: tokens it signed stop verifying. It describes the new
	// set.
	RevokeKey(ctx context.Context, kid string) ([]token.KeyInfo, error)
}

// keyList is the answer of every keys endpoint.
type keyList struct {
	Keys []token.KeyInfo `json:"keys"`
}

// ErrKeyNotFound is a KeyManager's answer for a kid it does not hold.
var ErrKeyNotFound = errors.New("no signing key with this kid")

// KeyConflictError refuses a key change that the server's configuration does
// not allow, such as rotating a key the operator supplies as a file. Reason
// is shown to the caller: it says what to do instead, and never holds key
// material.
type KeyConflictError struct {
	// Reason says why, and what to do instead.
	Reason string
}

// Error returns the reason.
func (e *KeyConflictError) Error() string { return e.Reason }

// SessionAdmin lists and ends users' sign-in sessions. Errors are answered
// by kind: ErrSessionNotFound is 404, anything else a server fault.
type SessionAdmin interface {
	// ListSessions describes the user's live sessions.
	ListSessions(ctx context.Context, userID string) ([]SessionInfo, error)
	// EndSessions ends every session of the user and says how many ended.
	EndSessions(ctx context.Context, userID string) (int, error)
	// EndSession ends one session of the user: ErrSessionNotFound when the
	// user has no live session of that ID.
	EndSession(ctx context.Context, userID, sessionID string) error
}

// SessionInfo describes one live session by its public facts; it never
// holds the cookie's value.
type SessionInfo struct {
	// ID names the session in the admin API; it is not the cookie's value.
	ID         string    `json:"session_id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// Persistent says the user chose "keep me signed in".
	Persistent bool `json:"persistent"`
	// Address is the client address the session was last seen from.
	Address string `json:"address,omitempty"`
	// UserAgent is the browser's User-Agent when the session began.
	UserAgent string `json:"user_agent,omitempty"`
}

// ErrSessionNotFound is a SessionAdmin's answer for a session the user
// does not have.
var ErrSessionNotFound = errors.New("the user has no live session with this ID")

// Options configures NewHandler.
type Options struct {
	// Logger receives the audit lines and server errors. Nil discards them.
	Logger *zap.Logger
	// Keys serves /keys, /keys/rotate and /keys/{kid}/revoke; nil leaves
	// those paths unrouted.
	Keys KeyManager
	// Sessions serves /users/{id}/sessions; nil leaves those paths
	// unrouted.
	Sessions SessionAdmin
	// Consents serves /users/{id}/consents; nil leaves those paths
	// unrouted.
	Consents ConsentAdmin
	// Grants serves /users/{id}/grants; nil leaves those paths unrouted.
	Grants GrantAdmin
	// MaxBodyBytes bounds request bodies. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// handler is the API; see NewHandler.
type handler struct {
	reg      *registry.Registry
	log      *zap.Logger
	keys     KeyManager
	sessions SessionAdmin
	consents ConsentAdmin
	grants   GrantAdmin
	maxBody  int64
	mux      *http.ServeMux
	// areas maps each pattern of mux to its area (see Handler.Area).
	areas map[string]Area
}

// NewHandler returns the API over reg. It serves paths relative to its
// mount point, so r.URL.Path must start at the API's root: wrap it in
// http.StripPrefix("/scopegate", …) to mount it under /scopegate/.
//
//	GET    /clients?name=&limit=&cursor=        list
//	POST   /clients                             create (201, Location, client_secret)
//	GET    /clients/{id}                        read
//	PUT    /clients/{id}                        replace
//	PATCH  /clients/{id}                        merge patch (RFC 7396)
//	DELETE /clients/{id}                        delete (204)
//	POST   /clients/{id}/secrets                rotate (201, client_secret)
//	DELETE /clients/{id}/secrets/{secret_id}    retire one secret
//	POST   /clients/{id}/revoke                 revoke every token issued so far
//	POST   /clients/{id}/disable, /enable       disable or enable
//	GET    /keys, POST /keys/rotate             signing keys (with Options.Keys)
//	POST   /keys/{kid}/revoke                   retire a signing key at once
//	GET    /users?username=&limit=&cursor=      list users
//	POST   /users                               create (201, Location)
//	GET, PATCH, DELETE /users/{id}              read, merge patch, delete
//	PUT    /users/{id}/password                 set or import the password
//	POST   /users/{id}/disable, /enable         disable or enable
//	GET, DELETE /users/{id}/sessions            list or end (Options.Sessions)
//	DELETE /users/{id}/sessions/{session_id}    end one session
//	GET    /users/{id}/consents                 standing consents (Options.Consents)
//	DELETE /users/{id}/consents/{client_id}     withdraw one
//	GET    /users/{id}/grants                   refresh token grants (Options.Grants)
//	DELETE /users/{id}/grants/{client_id}       revoke the user's grants to one app
//	GET, POST /roles; GET, PATCH, DELETE /roles/{name}
func NewHandler(reg *registry.Registry, opts Options) *Handler {
	h := &handler{
		reg:      reg,
		log:      opts.Logger,
		keys:     opts.Keys,
		sessions: opts.Sessions,
		consents: opts.Consents,
		grants:   opts.Grants,
		maxBody:  opts.MaxBodyBytes,
		mux:      http.NewServeMux(),
		areas:    make(map[string]Area),
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	h.handle(AreaClients, "GET /clients", h.listClients)
	h.handle(AreaClients, "POST /clients", h.createClient)
	h.handle(AreaClients, "GET /clients/{id}", h.getClient)
	h.handle(AreaClients, "PUT /clients/{id}", h.replaceClient)
	h.handle(AreaClients, "PATCH /clients/{id}", h.patchClient)
	h.handle(AreaClients, "DELETE /clients/{id}", h.deleteClient)
	h.handle(AreaClients, "POST /clients/{id}/secrets", h.rotateSecret)
	h.handle(AreaClients, "DELETE /clients/{id}/secrets/{secret_id}", h.retireSecret)
	h.handle(AreaClients, "POST /clients/{id}/revoke", h.revokeTokens)
	h.handle(AreaClients, "POST /clients/{id}/disable", h.setDisabled(true))
	h.handle(AreaClients, "POST /clients/{id}/enable", h.setDisabled(false))
	if h.keys != nil {
		h.handle(AreaKeys, "GET /keys", h.listKeys)
		h.handle(AreaKeys, "POST /keys/rotate", h.rotateKeys)
		h.handle(AreaKeys, "POST /keys/{kid}/revoke", h.revokeKey)
	}
	h.handle(AreaUsers, "GET /users", h.listUsers)
	h.handle(AreaUsers, "POST /users", h.createUser)
	h.handle(AreaUsers, "GET /users/{id}", h.getUser)
	h.handle(AreaUsers, "PATCH /users/{id}", h.patchUser)
	h.handle(AreaUsers, "DELETE /users/{id}", h.deleteUser)
	h.handle(AreaUsers, "PUT /users/{id}/password", h.setPassword)
	h.handle(AreaUsers, "POST /users/{id}/disable", h.setUserDisabled(true))
	h.handle(AreaUsers, "POST /users/{id}/enable", h.setUserDisabled(false))
	if h.sessions != nil {
		h.handle(AreaUsers, "GET /users/{id}/sessions", h.listSessions)
		h.handle(AreaUsers, "DELETE /users/{id}/sessions", h.endSessions)
		h.handle(AreaUsers, "DELETE /users/{id}/sessions/{session_id}", h.endSession)
	}
	if h.consents != nil {
		h.handle(AreaUsers, "GET /users/{id}/consents", h.listConsents)
		h.handle(AreaUsers, "DELETE /users/{id}/consents/{client_id}", h.withdrawConsent)
	}
	if h.grants != nil {
		h.handle(AreaUsers, "GET /users/{id}/grants", h.listGrants)
		h.handle(AreaUsers, "DELETE /users/{id}/grants/{client_id}", h.revokeGrants)
	}
	h.handle(AreaRoles, "GET /roles", h.listRoles)
	h.handle(AreaRoles, "POST /roles", h.createRole)
	h.handle(AreaRoles, "GET /roles/{name}", h.getRole)
	h.handle(AreaRoles, "PATCH /roles/{name}", h.patchRole)
	h.handle(AreaRoles, "DELETE /roles/{name}", h.deleteRole)
	return &Handler{h}
}

// ServeHTTP routes the request. Paths that are not in canonical form
// ("//clients", "/clients/../clients", "/clients/") are not found, where
// http.ServeMux would redirect them: each resource has one spelling, which
// leaves path tricks nothing to play with, and an API client learns to fix
// its URL instead of following a redirect it may not resend a body to.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	sw := &statusWriter{ResponseWriter: w}
	defer h.recoverPanic(sw, r)

	if !canonicalPath(r) {
		WriteError(sw, http.StatusNotFound, codeNotFound, "no such endpoint")
		return
	}
	if route, pattern := h.mux.Handler(r); pattern == "" {
		h.unrouted(sw, r, route)
		return
	}
	h.mux.ServeHTTP(sw, r)
}

// unrouted answers a request no pattern matched, in the API's JSON shape:
// 405 with the mux's Allow header when the path exists, else 404.
func (h *handler) unrouted(w http.ResponseWriter, r *http.Request, fallback http.Handler) {
	probe := &probeWriter{header: http.Header{}}
	fallback.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		WriteError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "this method is not allowed on this path; the Allow header lists the methods that are")
		return
	}
	WriteError(w, http.StatusNotFound, codeNotFound, "no such endpoint")
}

// recoverPanic turns a panic into a logged 500, so that no input can take
// the process down. http.ErrAbortHandler keeps its meaning.
func (h *handler) recoverPanic(w *statusWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	h.log.Error("admin API handler panicked",
		zap.String("method", r.Method),
		zap.String("path", r.URL.Path),
		zap.String("panic", fmt.Sprint(v)),
		zap.Stack("stack"))
	if !w.wroteHeader {
		WriteError(w, http.StatusInternalServerError, codeServerError, serverErrorDescription)
	}
}

// statusWriter remembers whether the header was written, so that a panic
// after a partial answer does not write a second one.
type statusWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

// WriteHeader records the write and passes it on.
func (w *statusWriter) WriteHeader(status int) {
	w.wroteHeader = true
	w.ResponseWriter.WriteHeader(status)
}

// Write records the implicit header write and passes it on.
func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// probeWriter captures the status and headers of the mux's own 404 and 405
// answers, which are plain text, so that they can be rewritten as JSON.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }

func (p *probeWriter) WriteHeader(status int) {
	if p.status == 0 {
		p.status = status
	}
}

func (p *probeWriter) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}
