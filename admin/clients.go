package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/registry"
)

// Audit actions.
const (
	actionCreate    = "client.create"
	actionUpdate    = "client.update"
	actionDelete    = "client.delete"
	actionRotate    = "secret.rotate"
	actionRetire    = "secret.retire"
	actionRevoke    = "tokens.revoke"
	actionDisable   = "client.disable"
	actionEnable    = "client.enable"
	actionKeys      = "keys.rotate"
	actionKeyRevoke = "keys.revoke"
)

// secretResponse is the answer to create and rotate: the client, and the
// new secret in plain text, which is never shown again. A public client is
// created without one, and both fields are then absent.
type secretResponse struct {
	registry.Client
	ClientSecret string `json:"client_secret,omitempty"`
	SecretID     string `json:"secret_id,omitempty"`
}

// listQueryParams are the parameters GET /clients takes.
var listQueryParams = map[string]bool{"name": true, "registered": true, "limit": true, "cursor": true}

// listClients serves GET /clients?name=&registered=&limit=&cursor=. Empty
// parameters count as absent; unknown or repeated ones are refused, so
// that a typo never silently lists every client.
func (h *handler) listClients(w http.ResponseWriter, r *http.Request) {
	q, ok := readClientListQuery(w, r)
	if !ok {
		return
	}
	page, err := h.reg.List(r.Context(), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, page)
}

// readClientListQuery reads the query string of GET /clients into a
// registry.ListQuery; when ok is false it has answered 400.
func readClientListQuery(w http.ResponseWriter, r *http.Request) (q registry.ListQuery, ok bool) {
	params, limit, ok := readListQuery(w, r, listQueryParams, "name, registered, limit and cursor")
	if !ok {
		return q, false
	}
	registered, err := parseRegistered(params.Get("registered"))
	if err != nil {
		WriteError(w, http.StatusBadRequest, codeInvalidRequest, err.Error())
		return q, false
	}
	return registry.ListQuery{Name: params.Get("name"), Cursor: params.Get("cursor"), Limit: limit, Registered: registered}, true
}

// parseRegistered reads the registered parameter of GET /clients: empty
// selects every client, and only "true" and "false" filter. Other
// spellings ParseBool would take ("1", "TRUE", "t") are refused, so that
// the one value a script sends is the one the document names; the error
// never repeats what was sent.
func parseRegistered(s string) (*bool, error) {
	switch s {
	case "":
		return nil, nil
	case "true", "false":
		registered := s == "true"
		return &registered, nil
	}
	return nil, errors.New("registered: must be true or false")
}

// readListQuery reads the query string of a list: only the allowed
// parameters (named in the message as allowedText), each at most once, and
// a limit from 1 to registry.MaxListLimit (0 when absent). When ok is false
// it has answered.
func readListQuery(w http.ResponseWriter, r *http.Request, allowed map[string]bool, allowedText string) (params url.Values, limit int, ok bool) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		WriteError(w, http.StatusBadRequest, codeInvalidRequest, "the query string is not valid URL encoding")
		return nil, 0, false
	}
	for name, values := range params {
		if !allowed[name] {
			WriteError(w, http.StatusBadRequest, codeInvalidRequest, "the only query parameters are "+allowedText)
			return nil, 0, false
		}
		if len(values) > 1 {
			WriteError(w, http.StatusBadRequest, codeInvalidRequest, name+": must appear at most once")
			return nil, 0, false
		}
	}
	if s := params.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > registry.MaxListLimit {
			WriteError(w, http.StatusBadRequest, codeInvalidRequest, limitDescription)
			return nil, 0, false
		}
		limit = n
	}
	return params, limit, true
}

// createClient serves POST /clients: 201, a Location relative to the
// request ("clients/<id>", which resolves under any mount point), and the
// client with its first secret.
func (h *handler) createClient(w http.ResponseWriter, r *http.Request) {
	m, ok := h.readMetadata(w, r)
	if !ok {
		return
	}
	c, secret, err := h.reg.Create(r.Context(), m)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r.Context(), actionCreate, c.ClientID)
	w.Header().Set("Location", "clients/"+url.PathEscape(c.ClientID))
	answer := secretResponse{Client: c, ClientSecret: secret}
	if len(c.Secrets) > 0 {
		answer.SecretID = c.Secrets[0].ID
	}
	h.respond(w, r, http.StatusCreated, answer)
}

// readMetadata reads a JSON body of client metadata; on failure the answer
// is written and ok is false.
func (h *handler) readMetadata(w http.ResponseWriter, r *http.Request) (m registry.Metadata, ok bool) {
	body, ok := h.readBody(w, r, mediaJSON)
	if !ok {
		return m, false
	}
	m, err := registry.DecodeMetadata(body)
	if err != nil {
		h.fail(w, r, err)
		return m, false
	}
	return m, true
}

// getClient serves GET /clients/{id}.
func (h *handler) getClient(w http.ResponseWriter, r *http.Request) {
	c, err := h.reg.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, c)
}

// replaceClient serves PUT /clients/{id}: the body is the whole metadata,
// and absent fields return to their defaults.
func (h *handler) replaceClient(w http.ResponseWriter, r *http.Request) {
	m, ok := h.readMetadata(w, r)
	if !ok {
		return
	}
	c, err := h.reg.Replace(r.Context(), r.PathValue("id"), m)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r.Context(), actionUpdate, c.ClientID)
	h.respond(w, r, http.StatusOK, c)
}

// patchClient serves PATCH /clients/{id} with an RFC 7396 merge patch.
func (h *handler) patchClient(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readBody(w, r, mediaJSON, mediaMergePatch)
	if !ok {
		return
	}
	c, err := h.reg.Patch(r.Context(), r.PathValue("id"), body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r.Context(), actionUpdate, c.ClientID)
	h.respond(w, r, http.StatusOK, c)
}

// deleteClient serves DELETE /clients/{id}: 204.
func (h *handler) deleteClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.reg.Delete(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r.Context(), actionDelete, id)
	w.WriteHeader(http.StatusNoContent)
}

// rotateRequest is the optional body of POST /clients/{id}/secrets.
type rotateRequest struct {
	// GracePeriod keeps the other live secrets working this long; default 0.
	GracePeriod registry.Duration `json:"grace_period"`
	// ExpiresIn makes the new secret expire; default never.
	ExpiresIn registry.Duration `json:"expires_in"`
}

// rotateSecret serves POST /clients/{id}/secrets: 201, a Location for the
// new secret ("secrets/<secret_id>") and the client with the new secret.
func (h *handler) rotateSecret(w http.ResponseWriter, r *http.Request) {
	var req rotateRequest
	if r.ContentLength != 0 {
		body, ok := h.readBody(w, r, mediaJSON)
		if !ok {
			return
		}
		if err := decodeRotateRequest(body, &req); err != nil {
			WriteError(w, http.StatusBadRequest, codeInvalidRequest, err.Error())
			return
		}
	}
	opts := registry.RotateOptions{GracePeriod: time.Duration(req.GracePeriod), ExpiresIn: time.Duration(req.ExpiresIn)}
	c, secret, secretID, err := h.reg.RotateSecret(r.Context(), r.PathValue("id"), opts)
	var ve *registry.ValidationError
	if errors.As(err, &ve) {
		WriteError(w, http.StatusBadRequest, codeInvalidRequest, ve.Error())
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r.Context(), actionRotate, c.ClientID, zap.String("secret_id", secretID), zap.Duration("grace_period", opts.GracePeriod))
	w.Header().Set("Location", "secrets/"+url.PathEscape(secretID))
	h.respond(w, r, http.StatusCreated, secretResponse{Client: c, ClientSecret: secret, SecretID: secretID})
}

// decodeRotateRequest reads the rotate body strictly: one JSON object (or
// an empty body) with only the known fields, each of its type. Its errors
// name fields, never values.
func decodeRotateRequest(body []byte, req *rotateRequest) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		return &registry.ValidationError{Field: "body", Reason: "is not UTF-8 encoded"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return &registry.ValidationError{Field: te.Field, Reason: `must be a duration such as "1h" or a whole number of seconds`}
		case errors.As(err, &te):
			return &registry.ValidationError{Field: "body", Reason: "must be a JSON object"}
		case isUnknownField(err):
			return &registry.ValidationError{Field: "body", Reason: "may hold only grace_period and expires_in"}
		}
		return &registry.ValidationError{Field: "body", Reason: "is not valid JSON"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &registry.ValidationError{Field: "body", Reason: "must hold one JSON object and nothing after it"}
	}
	return nil
}

// isUnknownField reports whether err is the decoder's unknown-field error,
// which has no type of its own.
func isUnknownField(err error) bool {
	return strings.HasPrefix(err.Error(), "json: unknown field ")
}

// retireSecret serves DELETE /clients/{id}/secrets/{secret_id}: 200 with
// the client, so that the caller sees the secrets that remain.
func (h *handler) retireSecret(w http.ResponseWriter, r *http.Request) {
	secretID := r.PathValue("secret_id")
	c, err := h.reg.RetireSecret(r.Context(), r.PathValue("id"), secretID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r.Context(), actionRetire, c.ClientID, zap.String("secret_id", secretID))
	h.respond(w, r, http.StatusOK, c)
}

// revokeTokens serves POST /clients/{id}/revoke: 200 with the client, whose
// tokens_revoked_at shows the moment.
func (h *handler) revokeTokens(w http.ResponseWriter, r *http.Request) {
	c, err := h.reg.RevokeTokens(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r.Context(), actionRevoke, c.ClientID)
	h.respond(w, r, http.StatusOK, c)
}

// setDisabled serves POST /clients/{id}/disable and /enable: 200 with the
// client.
func (h *handler) setDisabled(disabled bool) http.HandlerFunc {
	action := actionEnable
	if disabled {
		action = actionDisable
	}
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := h.reg.SetDisabled(r.Context(), r.PathValue("id"), disabled)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.audit(r.Context(), action, c.ClientID)
		h.respond(w, r, http.StatusOK, c)
	}
}

// listKeys serves GET /keys.
func (h *handler) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := h.keys.Keys(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, keyList{Keys: keys})
}

// rotateKeys serves POST /keys/rotate: 200 with the new key set.
func (h *handler) rotateKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := h.keys.RotateKeys(r.Context())
	if err != nil {
		h.failKeys(w, r, err)
		return
	}
	h.audit(r.Context(), actionKeys, "")
	h.respond(w, r, http.StatusOK, keyList{Keys: keys})
}

// revokeKey serves POST /keys/{kid}/revoke: 200 with the new key set.
func (h *handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	kid := r.PathValue("kid")
	keys, err := h.keys.RevokeKey(r.Context(), kid)
	if err != nil {
		h.failKeys(w, r, err)
		return
	}
	// A kid is public (it is in the JWKS), and only one that was found
	// gets here.
	h.audit(r.Context(), actionKeyRevoke, "", zap.String("kid", kid))
	h.respond(w, r, http.StatusOK, keyList{Keys: keys})
}

// failKeys answers a KeyManager's error: 404 for an unknown kid, 409 with
// the manager's reason for a change the configuration does not allow, 500
// for anything else.
func (h *handler) failKeys(w http.ResponseWriter, r *http.Request, err error) {
	var conflict *KeyConflictError
	switch {
	case errors.As(err, &conflict):
		WriteError(w, http.StatusConflict, codeConflict, conflict.Reason)
	case errors.Is(err, ErrKeyNotFound):
		WriteError(w, http.StatusNotFound, codeNotFound, "no signing key with this kid")
	default:
		h.serverError(w, r, err)
	}
}
