package authserver

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registration"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/throttle"
)

// RegistrationEndpoint is the dynamic client registration endpoint (RFC
// 7591 §3): an app registers itself, under the operator's policy, and is
// stored as a registered client (registry.Registry.Register). It is one of
// the issuer's Pages, served only when the operator turns registration on,
// and the RFC 8414 metadata then names it.
type RegistrationEndpoint struct {
	server *Server
	policy *registration.Policy
	// perSource counts each source's registrations in the policy's window.
	perSource *throttle.Throttle
}

// NewRegistrationEndpoint returns the endpoint opts describe, or nil (and
// no error) when opts is nil: registration is off.
func (s *Server) NewRegistrationEndpoint(opts *registration.Options) (Pages, error) {
	if opts == nil {
		return nil, nil
	}
	policy, err := registration.NewPolicy(*opts)
	if err != nil {
		return nil, err
	}
	policy.IDTokenAlgs = s.Keys.IDTokenAlgorithms()
	return &RegistrationEndpoint{
		server: s, policy: policy,
		perSource: throttle.New(policy.PerSource, time.Duration(policy.Window), 0),
	}, nil
}

// Paths returns the one path the endpoint serves.
func (e *RegistrationEndpoint) Paths() []string { return []string{e.policy.Path} }

// ServeHTTP answers a registration request: POST of a JSON object (415
// otherwise), within the source's limit (429 with Retry-After), of at most
// registration.MaxBodyBytes (413), that the policy and the registry accept
// (400 with an RFC 7591 §3.2.2 error); then 201 with the registered
// metadata.
func (e *RegistrationEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauth.MethodNotAllowed("register a client with POST").Write(w)
		return
	}
	if mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mediaType != "application/json" {
		unsupportedMediaType().Write(w)
		return
	}
	s := e.server
	source := throttle.SourceOf(s.ClientAddr(r))
	if wait, blocked := e.perSource.Blocked(source, s.Now()); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		oauth.TooManyAttempts("this address has registered " + strconv.Itoa(e.policy.PerSource) +
			" clients in the last " + time.Duration(e.policy.Window).String() + "; retry later").Write(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, registration.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		oauth.RequestTooLarge("the body is longer than " + strconv.Itoa(registration.MaxBodyBytes) + " bytes").Write(w)
		return
	case err != nil:
		oauth.InvalidRequest("the body could not be read").Write(w)
		return
	}
	req, oerr := registration.ParseRequest(body)
	if oerr != nil {
		oerr.Write(w)
		return
	}
	m, oerr := e.policy.Decide(req)
	if oerr != nil {
		oerr.Write(w)
		return
	}
	client, secret, err := s.Registry.Register(r.Context(), m)
	if err != nil {
		e.refuse(w, err)
		return
	}
	// What fills the store is counted: a registration, not a refused try.
	e.perSource.Fail(source, s.Now())
	s.Logger.Info("client registered itself", zap.String("client_id", client.ClientID),
		zap.String("auth_method", client.TokenEndpointAuthMethod))
	body, err = json.Marshal(registration.NewResponse(client, secret))
	if err != nil {
		e.refuse(w, err)
		return
	}
	oauth.NoStoreJSON(w.Header())
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
}

// refuse answers a registration the registry did not store: its
// validation error as invalid_redirect_uri or invalid_client_metadata
// (400); a full registry (max_clients) as 503, since no change to the
// request would help and the operator must make room; an unavailable
// store as 503 with Retry-After; anything else as a logged 500.
func (e *RegistrationEndpoint) refuse(w http.ResponseWriter, err error) {
	var ve *registry.ValidationError
	switch {
	case errors.As(err, &ve) && ve.Field == "redirect_uris":
		registration.InvalidRedirectURI(ve.Error()).Write(w)
	case errors.As(err, &ve):
		registration.InvalidClientMetadata(ve.Error()).Write(w)
	case errors.Is(err, registry.ErrLimitExceeded):
		oauth.TemporarilyUnavailable("the gateway registers no more clients: its registry is full").Write(w)
	case errors.Is(err, registry.ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		oauth.TemporarilyUnavailable("the gateway cannot register clients now; retry").Write(w)
	default:
		e.server.Logger.Error("registering a client failed", zap.Error(err))
		oauth.ServerError("the client could not be registered").Write(w)
	}
}

// unsupportedMediaType is the 415 of a registration request that is not
// JSON (RFC 7591 §3.1 sends application/json).
func unsupportedMediaType() *oauth.Error {
	return &oauth.Error{Code: oauth.CodeInvalidRequest, Description: "the body must be application/json", Status: http.StatusUnsupportedMediaType}
}
