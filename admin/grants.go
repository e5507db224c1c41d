package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// GrantAdmin lists and revokes the refresh token grants people gave apps:
// what lets an app act for a person while they are away. Errors are
// answered by kind: ErrGrantNotFound is 404, anything else a server fault.
type GrantAdmin interface {
	// ListGrants describes the user's live refresh token grants, by client
	// ID and then age.
	ListGrants(ctx context.Context, userID string) ([]GrantInfo, error)
	// RevokeGrants ends every refresh token grant of the user to the
	// client, and the access tokens they gave. ErrGrantNotFound when
	// there is none.
	RevokeGrants(ctx context.Context, userID, clientID string) error
}

// GrantInfo describes one refresh token grant (one family of rotating
// refresh tokens, one per sign-in of the app).
type GrantInfo struct {
	// ClientID is the app's client ID.
	ClientID string `json:"client_id"`
	// Scopes are the most the grant's refreshes may ask for.
	Scopes []string `json:"scopes"`
	// CreatedAt is when the person approved the app and it redeemed the
	// code.
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is when the app last refreshed; absent until then.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// ExpiresAt is the grant's absolute end, which refreshes never move.
	ExpiresAt time.Time `json:"expires_at"`
}

// ErrGrantNotFound is a GrantAdmin's answer when the user holds no live
// refresh token grant to the client.
var ErrGrantNotFound = errors.New("the user has no refresh token grant to this client")

// actionGrantRevoke is the audit action of revoked grants.
const actionGrantRevoke = "grant.revoke"

// grantList is the answer of GET /users/{id}/grants.
type grantList struct {
	Grants []GrantInfo `json:"grants"`
}

// listGrants serves GET /users/{id}/grants: the live grants, an empty list
// for a user without any, 404 for an unknown user.
func (h *handler) listGrants(w http.ResponseWriter, r *http.Request) {
	id, ok := h.sessionsUser(w, r)
	if !ok {
		return
	}
	grants, err := h.grants.ListGrants(r.Context(), id)
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	if grants == nil {
		grants = []GrantInfo{}
	}
	h.respond(w, r, http.StatusOK, grantList{Grants: grants})
}

// revokeGrants serves DELETE /users/{id}/grants/{client_id}: 204, or 404
// when the user holds no grant to the client.
func (h *handler) revokeGrants(w http.ResponseWriter, r *http.Request) {
	id, ok := h.sessionsUser(w, r)
	if !ok {
		return
	}
	clientID := r.PathValue("client_id")
	err := h.grants.RevokeGrants(r.Context(), id, clientID)
	if errors.Is(err, ErrGrantNotFound) {
		WriteError(w, http.StatusNotFound, codeNotFound, ErrGrantNotFound.Error())
		return
	}
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	h.auditUser(r, actionGrantRevoke, id, zap.String("client_id", clientID))
	w.WriteHeader(http.StatusNoContent)
}
