package admin

import (
	"errors"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/registry"
)

// Audit actions on users and their sessions.
const (
	actionUserCreate   = "user.create"
	actionUserUpdate   = "user.update"
	actionUserDelete   = "user.delete"
	actionUserPassword = "user.password"
	actionUserDisable  = "user.disable"
	actionUserEnable   = "user.enable"
	actionSessionsEnd  = "sessions.end"
	actionSessionEnd   = "session.end"
)

// userListQueryParams are the parameters GET /users takes.
var userListQueryParams = map[string]bool{"username": true, "limit": true, "cursor": true}

// sessionList is the answer of GET /users/{id}/sessions.
type sessionList struct {
	Sessions []SessionInfo `json:"sessions"`
}

// endedSessions is the answer of DELETE /users/{id}/sessions.
type endedSessions struct {
	Ended int `json:"ended"`
}

// listUsers serves GET /users?username=&limit=&cursor=, with the query
// rules of GET /clients.
func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) {
	params, limit, ok := readListQuery(w, r, userListQueryParams, "username, limit and cursor")
	if !ok {
		return
	}
	q := registry.UserQuery{Username: params.Get("username"), Cursor: params.Get("cursor"), Limit: limit}
	page, err := h.reg.ListUsers(r.Context(), q)
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, page)
}

// createUser serves POST /users: the body is the user's metadata with at
// most one of password and password_hash; 201, a Location relative to the
// request ("users/<id>") and the user, which never holds either.
func (h *handler) createUser(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readBody(w, r, mediaJSON)
	if !ok {
		return
	}
	n, err := registry.DecodeNewUser(body)
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	u, err := h.reg.CreateNewUser(r.Context(), n)
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	h.auditUser(r, actionUserCreate, u.UserID, zap.Bool("has_password", u.HasPassword))
	w.Header().Set("Location", "users/"+url.PathEscape(u.UserID))
	h.respond(w, r, http.StatusCreated, u)
}

// getUser serves GET /users/{id}.
func (h *handler) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := h.reg.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, u)
}

// patchUser serves PATCH /users/{id} with an RFC 7396 merge patch of the
// metadata; the password has its own route.
func (h *handler) patchUser(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readBody(w, r, mediaJSON, mediaMergePatch)
	if !ok {
		return
	}
	u, err := h.reg.PatchUser(r.Context(), r.PathValue("id"), body)
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	h.auditUser(r, actionUserUpdate, u.UserID)
	h.respond(w, r, http.StatusOK, u)
}

// deleteUser serves DELETE /users/{id}: 204.
func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.reg.DeleteUser(r.Context(), id); err != nil {
		h.failUser(w, r, err)
		return
	}
	h.auditUser(r, actionUserDelete, id)
	w.WriteHeader(http.StatusNoContent)
}

// setPassword serves PUT /users/{id}/password: {"password": …} or
// {"password_hash": …}; 200 with the user.
func (h *handler) setPassword(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readBody(w, r, mediaJSON)
	if !ok {
		return
	}
	change, err := registry.DecodePasswordChange(body)
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	u, err := h.reg.ChangePassword(r.Context(), r.PathValue("id"), change)
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	h.auditUser(r, actionUserPassword, u.UserID, zap.Bool("imported_hash", change.PasswordHash != nil))
	h.respond(w, r, http.StatusOK, u)
}

// setUserDisabled serves POST /users/{id}/disable and /enable: 200 with
// the user.
func (h *handler) setUserDisabled(disabled bool) http.HandlerFunc {
	action := actionUserEnable
	if disabled {
		action = actionUserDisable
	}
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := h.reg.SetUserDisabled(r.Context(), r.PathValue("id"), disabled)
		if err != nil {
			h.failUser(w, r, err)
			return
		}
		h.auditUser(r, action, u.UserID)
		h.respond(w, r, http.StatusOK, u)
	}
}

// sessionsUser returns the user ID of a sessions route after checking that
// the user exists, so that an unknown user is 404 rather than an empty
// list. When ok is false it has answered.
func (h *handler) sessionsUser(w http.ResponseWriter, r *http.Request) (id string, ok bool) {
	id = r.PathValue("id")
	if _, err := h.reg.GetUser(r.Context(), id); err != nil {
		h.failUser(w, r, err)
		return "", false
	}
	return id, true
}

// listSessions serves GET /users/{id}/sessions.
func (h *handler) listSessions(w http.ResponseWriter, r *http.Request) {
	id, ok := h.sessionsUser(w, r)
	if !ok {
		return
	}
	sessions, err := h.sessions.ListSessions(r.Context(), id)
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	if sessions == nil {
		sessions = []SessionInfo{}
	}
	h.respond(w, r, http.StatusOK, sessionList{Sessions: sessions})
}

// endSessions serves DELETE /users/{id}/sessions: 200 with how many ended.
func (h *handler) endSessions(w http.ResponseWriter, r *http.Request) {
	id, ok := h.sessionsUser(w, r)
	if !ok {
		return
	}
	n, err := h.sessions.EndSessions(r.Context(), id)
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	h.auditUser(r, actionSessionsEnd, id, zap.Int("ended", n))
	h.respond(w, r, http.StatusOK, endedSessions{Ended: n})
}

// endSession serves DELETE /users/{id}/sessions/{session_id}: 204, or 404
// when the session is not one of the user's.
func (h *handler) endSession(w http.ResponseWriter, r *http.Request) {
	id, ok := h.sessionsUser(w, r)
	if !ok {
		return
	}
	sessionID := r.PathValue("session_id")
	if err := h.sessions.EndSession(r.Context(), id, sessionID); err != nil {
		h.failUser(w, r, err)
		return
	}
	// A session ID names the record in this API only; the cookie's value
	// is another secret, never logged.
	h.auditUser(r, actionSessionEnd, id, zap.String("session_id", sessionID))
	w.WriteHeader(http.StatusNoContent)
}

// auditUser writes the audit line of a change to a user. Like audit, it
// never takes a password, a hash, a body or a header.
func (h *handler) auditUser(r *http.Request, action, userID string, fields ...zap.Field) {
	h.audit(r.Context(), action, "", append([]zap.Field{zap.String("user_id", userID)}, fields...)...)
}

// failRole answers an error of a role operation: as failUser, with its
// own not-found message.
func (h *handler) failRole(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, registry.ErrNotFound) {
		WriteError(w, http.StatusNotFound, codeNotFound, "no role of this name")
		return
	}
	h.failUser(w, r, err)
}

// failUser answers an error of a user, role or session operation: the
// codes and statuses of the clients' answers (DESIGN §3), with messages
// about users and roles. A body's validation error is invalid_request: the
// body is not client metadata, which is what invalid_client_metadata (RFC
// 7591) means.
func (h *handler) failUser(w http.ResponseWriter, r *http.Request, err error) {
	var ve *registry.ValidationError
	switch {
	case errors.As(err, &ve):
		WriteError(w, http.StatusBadRequest, codeInvalidRequest, ve.Error())
	case errors.Is(err, registry.ErrUsernameTaken):
		WriteError(w, http.StatusConflict, codeConflict, "username: is taken by another user (usernames are compared ignoring case)")
	case errors.Is(err, registry.ErrRoleTaken):
		WriteError(w, http.StatusConflict, codeConflict, "name: a role of this name exists")
	case errors.Is(err, ErrSessionNotFound):
		WriteError(w, http.StatusNotFound, codeNotFound, "the user has no live session with this ID")
	case errors.Is(err, registry.ErrNotFound):
		WriteError(w, http.StatusNotFound, codeNotFound, "no user with this ID")
	case errors.Is(err, registry.ErrLimitExceeded):
		WriteError(w, http.StatusUnprocessableEntity, codeLimitExceeded, "the registry holds the most users it may already; delete one first")
	case errors.Is(err, password.ErrBusy):
		// Every hashing slot and its queue are taken (a flood of sign-ins,
		// or of password changes): nothing was changed, and a retry soon
		// is likely to go through.
		w.Header().Set("Retry-After", "1")
		WriteError(w, http.StatusServiceUnavailable, codeUnavailable, "password hashing is busy; nothing was changed; retry in a moment")
	default:
		h.fail(w, r, err)
	}
}
