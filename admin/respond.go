package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/registry"
)

// Error codes of the API (DESIGN §3).
const (
	codeInvalidMetadata      = "invalid_client_metadata"
	codeInvalidRequest       = "invalid_request"
	codeNotFound             = "not_found"
	codeConflict             = "conflict"
	codeMethodNotAllowed     = "method_not_allowed"
	codeTooLarge             = "request_too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeLimitExceeded        = "limit_exceeded"
	codeServerError          = "server_error"
	codeUnavailable          = "temporarily_unavailable"
)

// serverErrorDescription is all a client learns about a server fault; the
// cause goes to the log.
const serverErrorDescription = "internal server error; the cause is in the server's log"

// Media types a JSON body may be sent as.
const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeJSON answers with v as JSON. v is encoded before the header is
// written, so that an encoding failure can still become a 500.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
	return nil
}

// WriteError answers with the API's error JSON, as every error of the
// admin API is answered, the Caddy admin endpoint's own included.
func WriteError(w http.ResponseWriter, status int, code, description string) {
	_ = writeJSON(w, status, errorBody{Error: code, Description: description})
}

// respond writes v, or a logged 500 when v cannot be encoded.
func (h *handler) respond(w http.ResponseWriter, r *http.Request, status int, v any) {
	if err := writeJSON(w, status, v); err != nil {
		h.serverError(w, r, err)
	}
}

// serverError logs a fault and answers 500 without its details; or 503
// with Retry-After when the store is only out of reach for now (a shared
// store without a leader), so that callers retry rather than give up.
func (h *handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, registry.ErrUnavailable) {
		h.log.Warn("admin API request could not reach the store",
			zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		w.Header().Set("Retry-After", "1")
		WriteError(w, http.StatusServiceUnavailable, codeUnavailable,
			"the registry's store cannot be reached or has no leader just now; the change may or may not have been made: read it back, then retry")
		return
	}
	h.log.Error("admin API request failed",
		zap.String("method", r.Method),
		zap.String("path", r.URL.Path),
		zap.Error(err))
	WriteError(w, http.StatusInternalServerError, codeServerError, serverErrorDescription)
}

// fail answers with the status and code err calls for. Only validation
// messages are passed through: they name fields, never values. Anything
// unexpected is a server fault.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *registry.ValidationError
	switch {
	case errors.As(err, &ve):
		WriteError(w, http.StatusBadRequest, codeInvalidMetadata, ve.Error())
	case errors.Is(err, registry.ErrInvalidCursor):
		WriteError(w, http.StatusBadRequest, codeInvalidRequest, "cursor: is not a cursor this server issued, or the server restarted since; list again from the first page")
	case errors.Is(err, registry.ErrInvalidLimit):
		WriteError(w, http.StatusBadRequest, codeInvalidRequest, limitDescription)
	case errors.Is(err, registry.ErrSecretNotFound):
		WriteError(w, http.StatusNotFound, codeNotFound, "the client has no live secret with this ID")
	case errors.Is(err, registry.ErrNotFound):
		WriteError(w, http.StatusNotFound, codeNotFound, "no client with this ID")
	case errors.Is(err, registry.ErrNameTaken):
		WriteError(w, http.StatusConflict, codeConflict, "client_name: is taken by another client (names are compared ignoring case)")
	case errors.Is(err, registry.ErrPublicClient):
		WriteError(w, http.StatusConflict, codeConflict, "the client is public (token_endpoint_auth_method none) and holds no secret; make it confidential first to give it one")
	case errors.Is(err, registry.ErrLastSecret):
		WriteError(w, http.StatusConflict, codeConflict, "this is the client's last live secret; rotate the secret first, or disable the client instead")
	case errors.Is(err, registry.ErrLimitExceeded):
		WriteError(w, http.StatusUnprocessableEntity, codeLimitExceeded, "the registry holds max_clients clients already; delete one or raise max_clients")
	case errors.Is(err, registry.ErrTooManySecrets):
		WriteError(w, http.StatusUnprocessableEntity, codeLimitExceeded, "a client holds at most "+strconv.Itoa(registry.MaxLiveSecrets)+" live secrets; retire one, or rotate with a shorter grace_period")
	default:
		h.serverError(w, r, err)
	}
}

// limitDescription explains the limit query parameter.
var limitDescription = "limit: must be a whole number from 1 to " + strconv.Itoa(registry.MaxListLimit)

// readBody reads a request body that must be JSON of one of the given media
// types, within the size limit. When it returns false it has answered.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request, mediaTypes ...string) ([]byte, bool) {
	if !acceptsMediaType(r.Header.Values("Content-Type"), mediaTypes) {
		WriteError(w, http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
			"Content-Type must be "+strings.Join(mediaTypes, " or ")+" (UTF-8)")
		return nil, false
	}
	tooLarge := "the request body is larger than " + strconv.FormatInt(h.maxBody, 10) + " bytes"
	if r.ContentLength > h.maxBody {
		WriteError(w, http.StatusRequestEntityTooLarge, codeTooLarge, tooLarge)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			WriteError(w, http.StatusRequestEntityTooLarge, codeTooLarge, tooLarge)
			return nil, false
		}
		WriteError(w, http.StatusBadRequest, codeInvalidRequest, "the request body could not be read")
		return nil, false
	}
	return body, true
}

// acceptsMediaType reports whether the request's one Content-Type header
// names one of the allowed media types, with no charset but UTF-8 (the only
// one JSON has, RFC 8259).
func acceptsMediaType(values []string, allowed []string) bool {
	if len(values) != 1 {
		return false
	}
	mediaType, params, err := mime.ParseMediaType(values[0])
	if err != nil {
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return false
	}
	for _, a := range allowed {
		if mediaType == a {
			return true
		}
	}
	return false
}

// audit writes the audit line of one change. It never takes a secret, a
// body or a header.
func (h *handler) audit(ctx context.Context, action, clientID string, fields ...zap.Field) {
	all := make([]zap.Field, 0, 3+len(fields))
	all = append(all, zap.String("action", action))
	if clientID != "" {
		all = append(all, zap.String("client_id", clientID))
	}
	all = append(all, zap.String("actor", ActorFrom(ctx)))
	all = append(all, fields...)
	h.log.Info("admin change", all...)
}
