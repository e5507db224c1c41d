package authserver

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/throttle"
)

// Login checks a client's secret, throttled by the source of the attempt
// (the request's client address; an IPv6 source by its /64) and never by the
// client ID, which is public: failures with a client's ID from elsewhere
// never refuse the right secret from the client's own address. A throttled
// source is answered before its credentials are checked. A success does not
// clear the source's count: a source holding one valid secret could
// otherwise clear it between guesses at others.
//
// On failure it returns the token endpoint's answer: 429
// temporarily_unavailable (with Retry-After set on w), invalid_client, or
// server_error for a fault of the store. Whether the client is enabled and
// where it connects from is the caller's to check: endpoints answer those
// differently.
func (s *Server) Login(w http.ResponseWriter, r *http.Request, clientID, secret string) (storage.Client, *oauth.Error) {
	return s.login(w, r, clientID, secret, false)
}

// login is Login, or with public set the login of a public client by its
// ID alone (Registry.AuthenticatePublic), under the same throttle: an
// unknown ID, or a confidential client's ID without its secret, is a
// failure counted against the source like a wrong secret.
func (s *Server) login(w http.ResponseWriter, r *http.Request, clientID, secret string, public bool) (storage.Client, *oauth.Error) {
	now := s.Now()
	source := throttle.SourceOf(s.ClientAddr(r))
	if wait, blocked := s.logins.Blocked(source, now); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		return storage.Client{}, oauth.TooManyAttempts("too many failed logins from this address; retry later")
	}
	var client storage.Client
	var err error
	if public {
		client, err = s.Registry.AuthenticatePublic(r.Context(), clientID)
	} else {
		client, err = s.Registry.Authenticate(r.Context(), clientID, secret)
	}
	switch {
	case errors.Is(err, registry.ErrInvalidCredentials):
		s.logins.Fail(source, now)
		return storage.Client{}, oauth.InvalidClient("client authentication failed")
	case err != nil:
		s.Logger.Error("client authentication failed", zap.Error(err))
		return storage.Client{}, oauth.ServerError("client authentication is unavailable")
	}
	return client, nil
}

// parseFunc reads a request a client authenticates to.
type parseFunc func(*http.Request, int64) (*oauth.TokenRequest, *oauth.Error)

// Whether an endpoint admits public clients, which present a client_id
// and no secret.
const (
	secretRequired = false
	publicAllowed  = true
)

// authenticate parses the request with parse and authenticates its client:
// throttled after repeated failures, a secret that matches in constant time,
// an enabled client, a request from an address in the client's allowlist.
// Every OAuth endpoint a client authenticates to goes through here. A
// throttled login gets its Retry-After header on w.
//
// With allowPublic (the token endpoint), a request with a client_id and no
// secret authenticates a public client (RFC 6749 §2.1, token endpoint auth
// method none), and only a public one; which grants it may then use is the
// caller's rule. A public client that presents a secret is refused like a
// wrong secret: it has none. Elsewhere a secret is required.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, parse parseFunc, allowPublic bool) (*oauth.TokenRequest, storage.Client, *oauth.Error) {
	req, oerr := parse(r, oauth.DefaultMaxBody)
	if oerr != nil {
		return req, storage.Client{}, oerr
	}
	public := req.AuthMethod == oauth.AuthMethodNone
	if public && (!allowPublic || req.ClientID == "") {
		return req, storage.Client{}, oauth.InvalidClient("client authentication is required")
	}
	client, oerr := s.login(w, r, req.ClientID, req.ClientSecret, public)
	if oerr != nil {
		return req, storage.Client{}, oerr
	}
	if client.Disabled {
		return req, storage.Client{}, oauth.InvalidClient("the client is disabled")
	}
	if oerr := addrUnproven(client, r); oerr != nil {
		return req, storage.Client{}, oerr
	}
	if denied, _ := s.addressDenied(client, r); denied != "" {
		return req, storage.Client{}, oauth.UnauthorizedClient(denied)
	}
	return req, client, nil
}

// basicRealm names the protection space in the OAuth endpoints' Basic
// challenges.
const basicRealm = "scopegate"

// refuse writes an OAuth error and logs the refusal without any secret: the
// client ID (when syntactically valid) and the error code only. The line is
// at debug level, so a flood of bad requests is not a flood of log lines;
// scopegate_token_requests_refused_total counts every refusal.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, req *oauth.TokenRequest, e *oauth.Error) {
	if e.Status == http.StatusUnauthorized && (req == nil || req.AuthMethod != oauth.AuthMethodPost) {
		// RFC 6749 §5.2: a failed Basic login (or none) is answered with a
		// Basic challenge.
		w.Header().Set("WWW-Authenticate", oauth.BasicChallenge(basicRealm))
	}
	clientID := ""
	if req != nil {
		clientID = req.ClientID
	}
	s.Metrics.tokenRefused(e.Code)
	s.Logger.Debug("token request refused",
		zap.String("endpoint", r.URL.Path),
		zap.String("client_id", clientID),
		zap.String("error", e.Code),
		zap.String("reason", e.Description))
	e.Write(w)
}
