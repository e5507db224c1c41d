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
	"path"

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

// Options configures NewHandler.
type Options struct {
	// Logger receives the audit lines and server errors. Nil discards them.
	Logger *zap.Logger
	// Keys serves /keys, /keys/rotate and /keys/{kid}/revoke; nil leaves
	// those paths unrouted.
	Keys KeyManager
	// MaxBodyBytes bounds request bodies. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// handler is the API; see NewHandler.
type handler struct {
	reg     *registry.Registry
	log     *zap.Logger
	keys    KeyManager
	maxBody int64
	mux     *http.ServeMux
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
func NewHandler(reg *registry.Registry, opts Options) http.Handler {
	h := &handler{
		reg:     reg,
		log:     opts.Logger,
		keys:    opts.Keys,
		maxBody: opts.MaxBodyBytes,
		mux:     http.NewServeMux(),
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	h.mux.HandleFunc("GET /clients", h.listClients)
	h.mux.HandleFunc("POST /clients", h.createClient)
	h.mux.HandleFunc("GET /clients/{id}", h.getClient)
	h.mux.HandleFunc("PUT /clients/{id}", h.replaceClient)
	h.mux.HandleFunc("PATCH /clients/{id}", h.patchClient)
	h.mux.HandleFunc("DELETE /clients/{id}", h.deleteClient)
	h.mux.HandleFunc("POST /clients/{id}/secrets", h.rotateSecret)
	h.mux.HandleFunc("DELETE /clients/{id}/secrets/{secret_id}", h.retireSecret)
	h.mux.HandleFunc("POST /clients/{id}/revoke", h.revokeTokens)
	h.mux.HandleFunc("POST /clients/{id}/disable", h.setDisabled(true))
	h.mux.HandleFunc("POST /clients/{id}/enable", h.setDisabled(false))
	if h.keys != nil {
		h.mux.HandleFunc("GET /keys", h.listKeys)
		h.mux.HandleFunc("POST /keys/rotate", h.rotateKeys)
		h.mux.HandleFunc("POST /keys/{kid}/revoke", h.revokeKey)
	}
	return h
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

	p := r.URL.EscapedPath()
	if p == "" || p[0] != '/' || path.Clean(p) != p {
		writeError(sw, http.StatusNotFound, codeNotFound, "no such endpoint")
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
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "this method is not allowed on this path; the Allow header lists the methods that are")
		return
	}
	writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint")
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
		writeError(w, http.StatusInternalServerError, codeServerError, serverErrorDescription)
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
