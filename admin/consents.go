package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// ConsentAdmin lists and withdraws the consents people gave to apps, as a
// person can on the account page. Errors are answered by kind:
// ErrConsentNotFound is 404, anything else a server fault.
type ConsentAdmin interface {
	// ListConsents describes the user's standing consents, by client ID;
	// withdrawn ones are left out.
	ListConsents(ctx context.Context, userID string) ([]ConsentInfo, error)
	// WithdrawConsent withdraws the user's consent to the client: the
	// client's tokens for the user stop working on their next request.
	// ErrConsentNotFound when the user has no standing consent to it.
	WithdrawConsent(ctx context.Context, userID, clientID string) error
}

// ConsentInfo describes one standing consent of a person to an app.
type ConsentInfo struct {
	// ClientID is the app's client ID.
	ClientID string `json:"client_id"`
	// Scopes are the scopes the person approved for the app.
	Scopes []string `json:"scopes"`
	// GrantedAt is when the person last approved the app (gave the
	// consent, or widened it to a new scope).
	GrantedAt time.Time `json:"granted_at"`
}

// ErrConsentNotFound is a ConsentAdmin's answer for a consent the user
// has not given, or has withdrawn.
var ErrConsentNotFound = errors.New("the user has no standing consent to this client")

// actionConsentWithdraw is the audit action of a withdrawn consent.
const actionConsentWithdraw = "consent.withdraw"

// consentList is the answer of GET /users/{id}/consents.
type consentList struct {
	Consents []ConsentInfo `json:"consents"`
}

// listConsents serves GET /users/{id}/consents: the standing consents, an
// empty list for a user without any, 404 for an unknown user.
func (h *handler) listConsents(w http.ResponseWriter, r *http.Request) {
	id, ok := h.sessionsUser(w, r)
	if !ok {
		return
	}
	consents, err := h.consents.ListConsents(r.Context(), id)
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	if consents == nil {
		consents = []ConsentInfo{}
	}
	h.respond(w, r, http.StatusOK, consentList{Consents: consents})
}

// withdrawConsent serves DELETE /users/{id}/consents/{client_id}: 204, or
// 404 when the user has no standing consent to the client.
func (h *handler) withdrawConsent(w http.ResponseWriter, r *http.Request) {
	id, ok := h.sessionsUser(w, r)
	if !ok {
		return
	}
	clientID := r.PathValue("client_id")
	err := h.consents.WithdrawConsent(r.Context(), id, clientID)
	if errors.Is(err, ErrConsentNotFound) {
		WriteError(w, http.StatusNotFound, codeNotFound, "the user has no standing consent to this client")
		return
	}
	if err != nil {
		h.failUser(w, r, err)
		return
	}
	h.auditUser(r, actionConsentWithdraw, id, zap.String("client_id", clientID))
	w.WriteHeader(http.StatusNoContent)
}
