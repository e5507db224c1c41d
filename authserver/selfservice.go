package authserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
)

// DefaultSelfServicePath is where a person's own record is served to
// login_client apps; the password is changed under it, at /password.
const DefaultSelfServicePath = "/oauth2/me"

// maxSelfServiceBody bounds a self-service request body, in bytes: six
// profile fields of at most 255 characters (four bytes each in UTF-8,
// six when escaped) fit with room to spare.
const maxSelfServiceBody = 16 << 10

// SelfServiceOptions configures the self-service endpoint, where an app
// with the login_client feature reads and changes the record of the
// person whose access token it presents, and nothing else.
type SelfServiceOptions struct {
	// Path is where the person's record is read (GET) and changed (PATCH,
	// a JSON merge patch); the password is changed at Path + "/password"
	// (PUT). Default: /oauth2/me.
	Path string `json:"path,omitempty"`
	// Fields are the fields of their record a person may change: any of
	// name, given_name, family_name, preferred_username, email and
	// username. Roles, disabled, email_verified and the password's hash
	// are never among them. Default: name, given_name, family_name,
	// preferred_username.
	Fields []string `json:"fields,omitempty"`
}

// SelfServiceEndpoint serves a person's own record to a login_client app
// (a sign-in or registration app the operator trusts with people's own
// records). The bearer token is checked as on a guarded route with no
// scope (Server.Guard: signature, revocation, the client's state and IP
// allowlist, and the person: enabled, consent standing), then it must be
// held for a person by a client with the login_client feature: any other
// token is refused with 403 insufficient_scope, since no new token of that
// client would serve.
type SelfServiceEndpoint struct {
	server *Server
	policy *Policy
	path   string
	fields []string
	// attempts counts password checks against the sign-in page's
	// throttles; nil (no sign-in page) leaves the password route out.
	attempts passwordAttempts
	audit    *zap.Logger
}

// Refusals of the self-service endpoint once the token itself was accepted.
var (
	selfServiceNotAPerson = oauth.InsufficientScope("the token is a client's own; the self-service endpoint takes a person's token")
	selfServiceNotLogin   = oauth.InsufficientScope("the token's client does not have the login_client feature")
	selfServiceBadCurrent = oauth.InvalidGrant("current_password: is not the person's password")
	selfServiceMediaType  = &oauth.Error{Code: oauth.CodeInvalidRequest, Description: "the body must be application/json or application/merge-patch+json", Status: http.StatusUnsupportedMediaType}
	selfServicePutJSON    = &oauth.Error{Code: oauth.CodeInvalidRequest, Description: "the body must be application/json", Status: http.StatusUnsupportedMediaType}
	selfServiceTooLarge   = oauth.RequestTooLarge("the body is longer than " + strconv.Itoa(maxSelfServiceBody) + " bytes")
)

// newSelfServiceEndpoint returns the endpoint opts describe (their path
// defaulted by EndpointPaths.WithDefaults, their fields here),
// or the error of a field list that names a field a person may not change.
func (s *Server) newSelfServiceEndpoint(opts SelfServiceOptions, attempts passwordAttempts) (*SelfServiceEndpoint, error) {
	fields := opts.Fields
	if len(fields) == 0 {
		fields = registry.DefaultSelfServiceFields
	}
	if err := registry.CheckSelfServiceFields(fields); err != nil {
		return nil, err
	}
	path := opts.Path
	if !strings.HasPrefix(path, "/") {
		return nil, errors.New("the self-service path must start with /")
	}
	logger := s.Logger.Named("self_service")
	return &SelfServiceEndpoint{
		server: s, path: path, fields: slices.Clone(fields), attempts: attempts, audit: logger,
		policy: &Policy{Realm: DefaultRealm, Mode: scope.All, Logger: logger},
	}, nil
}

// routes are the paths the endpoint serves.
func (e *SelfServiceEndpoint) routes() []route {
	served := []route{{e.path, e}}
	if e.attempts != nil {
		served = append(served, route{e.passwordPath(), e})
	}
	return served
}

// passwordPath is where the password is changed.
func (e *SelfServiceEndpoint) passwordPath() string {
	return strings.TrimSuffix(e.path, "/") + "/password"
}

// ServeHTTP answers GET and PATCH of the record, and PUT of the password.
func (e *SelfServiceEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == e.passwordPath() && e.attempts != nil {
		e.servePassword(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		e.get(w, r)
	case http.MethodPatch:
		e.patch(w, r)
	default:
		w.Header().Set("Allow", "GET, PATCH")
		oauth.MethodNotAllowed("the record is read with GET and changed with PATCH").Write(w)
	}
}

// servePassword answers PUT of the password.
func (e *SelfServiceEndpoint) servePassword(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", "PUT")
		oauth.MethodNotAllowed("the password is changed with PUT").Write(w)
		return
	}
	e.changePassword(w, r)
}

// caller is who a self-service request acts for: the person and the
// login_client app.
type caller struct {
	userID, clientID string
}

// person checks the request's token as the endpoint's doc says and
// returns whom it acts for; when ok is false it has answered.
func (e *SelfServiceEndpoint) person(w http.ResponseWriter, r *http.Request) (c caller, ok bool) {
	s := e.server
	d, err := s.Guard(r, e.policy)
	if err != nil {
		e.unavailable(w, err)
		return caller{}, false
	}
	if d.Refusal != nil {
		d.Refusal.Write(w)
		return caller{}, false
	}
	if !forUser(d.Claims) {
		e.policy.challenge(r, "not_a_person", selfServiceNotAPerson, "").Refusal.Write(w)
		return caller{}, false
	}
	client, err := s.Registry.Lookup(r.Context(), d.Claims.ClientID)
	switch {
	case errors.Is(err, storage.ErrNotFound): // deleted since the guard looked
		e.policy.challenge(r, refusedClient.Reason, oauth.InvalidToken(refusedClient.Description), "").Refusal.Write(w)
		return caller{}, false
	case err != nil:
		e.unavailable(w, err)
		return caller{}, false
	case !slices.Contains(client.Features, registry.FeatureLoginClient):
		e.policy.challenge(r, "not_login_client", selfServiceNotLogin, "").Refusal.Write(w)
		return caller{}, false
	}
	return caller{userID: d.Claims.Subject, clientID: client.ID}, true
}

// get answers the person's record as the admin API shows a user: never a
// password or its hash.
func (e *SelfServiceEndpoint) get(w http.ResponseWriter, r *http.Request) {
	c, ok := e.person(w, r)
	if !ok {
		return
	}
	u, err := e.server.Registry.GetUser(r.Context(), c.userID)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	e.respond(w, r, http.StatusOK, u)
}

// patch applies the person's merge patch to the fields they may change.
func (e *SelfServiceEndpoint) patch(w http.ResponseWriter, r *http.Request) {
	c, ok := e.person(w, r)
	if !ok {
		return
	}
	if !jsonBody(r, "application/json", "application/merge-patch+json") {
		selfServiceMediaType.Write(w)
		return
	}
	body, ok := readSelfServiceBody(w, r)
	if !ok {
		return
	}
	u, err := e.server.Registry.PatchOwnProfile(r.Context(), c.userID, body, e.fields)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	e.audit.Info("self-service change", zap.String("action", "user.update"),
		zap.String("client_id", c.clientID), zap.String("user_id", c.userID), zap.Strings("fields", patchedFields(body)))
	e.respond(w, r, http.StatusOK, u)
}

// changePassword changes the person's password when the current one
// verifies, under the sign-in page's throttles keyed by the source and
// the token's user: guessing the password here is guessing it on the
// page, and failures never lock the person out from elsewhere. 204 on
// success; every attempt is logged, never with a password.
func (e *SelfServiceEndpoint) changePassword(w http.ResponseWriter, r *http.Request) {
	c, ok := e.person(w, r)
	if !ok {
		return
	}
	if !jsonBody(r, "application/json") {
		selfServicePutJSON.Write(w)
		return
	}
	body, ok := readSelfServiceBody(w, r)
	if !ok {
		return
	}
	change, err := registry.DecodeOwnPasswordChange(body)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	s := e.server
	u, err := s.tokenUser(r.Context(), c.userID)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	now := s.Now()
	attempt := e.attempts.Attempt(s.ClientAddr(r), u.Username)
	audit := e.audit.With(zap.String("action", "user.password"), zap.String("client_id", c.clientID),
		zap.String("user_id", c.userID), zap.String("source", attempt.Source()))
	if wait, blocked := attempt.Blocked(now); blocked {
		audit.Info("self-service password change throttled")
		w.Header().Set("Retry-After", strconv.Itoa(max(int(wait/time.Second), 1)))
		oauth.TooManyAttempts("too many wrong passwords from this address for this person; retry later").Write(w)
		return
	}
	_, err = s.Registry.ChangeOwnPassword(r.Context(), c.userID, change)
	if errors.Is(err, registry.ErrBadCredentials) {
		attempt.Failed(now)
		audit.Info("self-service password change refused: the current password is wrong")
		selfServiceBadCurrent.Write(w)
		return
	}
	if err != nil {
		e.fail(w, r, err)
		return
	}
	attempt.Succeeded()
	audit.Info("self-service change")
	oauth.NoStore(w.Header())
	w.WriteHeader(http.StatusNoContent)
}

// jsonBody reports whether the request's one Content-Type names one of
// the media types, with no charset but UTF-8 (JSON's only, RFC 8259).
func jsonBody(r *http.Request, mediaTypes ...string) bool {
	values := r.Header.Values("Content-Type")
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
	return slices.Contains(mediaTypes, mediaType)
}

// readSelfServiceBody reads the body within maxSelfServiceBody; when ok
// is false it has answered.
func readSelfServiceBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSelfServiceBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		selfServiceTooLarge.Write(w)
		return nil, false
	case err != nil:
		oauth.InvalidRequest("the body could not be read").Write(w)
		return nil, false
	}
	return body, true
}

// patchedFields names the members of a merge patch the registry accepted,
// for the audit line: names only, never values.
func patchedFields(body []byte) []string {
	var members map[string]json.RawMessage
	_ = json.Unmarshal(body, &members) // accepted by the registry already
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// respond writes v as JSON, not to be stored by caches.
func (e *SelfServiceEndpoint) respond(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		e.fail(w, r, fmt.Errorf("encode the record: %w", err))
		return
	}
	oauth.NoStoreJSON(w.Header())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fail answers an error of the registry: a field it refused (400, naming
// the field, never a value), a username taken (409), the person gone or
// disabled since the token was checked (401), a store or hasher that
// cannot answer now (503); anything else is a logged 500.
func (e *SelfServiceEndpoint) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *registry.ValidationError
	var refusal *TokenRefusal
	switch {
	case errors.As(err, &ve):
		oauth.InvalidRequest(ve.Error()).Write(w)
	case errors.Is(err, registry.ErrUsernameTaken):
		(&oauth.Error{Code: oauth.CodeInvalidRequest, Description: "username: is taken by another person", Status: http.StatusConflict}).Write(w)
	case errors.As(err, &refusal):
		e.policy.challenge(r, refusal.Reason, oauth.InvalidToken(refusal.Description), "").Refusal.Write(w)
	case errors.Is(err, storage.ErrNotFound):
		e.policy.challenge(r, refusedUser.Reason, oauth.InvalidToken(refusedUser.Description), "").Refusal.Write(w)
	case errors.Is(err, password.ErrBusy), errors.Is(err, storage.ErrUnavailable):
		e.unavailable(w, err)
	default:
		e.audit.Error("self-service request failed", zap.String("method", r.Method), zap.Error(err))
		oauth.ServerError("the request could not be completed").Write(w)
	}
}

// unavailable answers a fault of the gateway (its store or its password
// hasher), never the caller's: 503, to be retried.
func (e *SelfServiceEndpoint) unavailable(w http.ResponseWriter, err error) {
	e.audit.Warn("self-service request unavailable", zap.Error(err))
	w.Header().Set("Retry-After", "1")
	oauth.TemporarilyUnavailable("the record cannot be read or changed just now; retry").Write(w)
}
