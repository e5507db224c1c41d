package authserver

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

// Features that grant access to the client-management API.
const (
	adminRealm = "scopegate-admin"
)

// AdminPermits reports whether client may use method on the
// client-management API: owners anything, readers only safe methods. The
// decision never depends on the path, so no spelling of a path can change
// it.
func AdminPermits(client storage.Client, method string) bool {
	if slices.Contains(client.Features, registry.FeatureOwner) {
		return true
	}
	return slices.Contains(client.Features, registry.FeatureClientRead) && (method == http.MethodGet || method == http.MethodHead)
}

// AuthenticateAdmin identifies a remote admin caller by Basic credentials
// or by a bearer token minted for resource alone; the client must be
// enabled and connect from an address in its allowlist. On failure it
// returns the error to send (401 with challenges for missing or wrong
// credentials or a token for another audience, 403 for a client refused as
// such, 429 temporarily_unavailable when the source is throttled), with the
// client when it was identified.
func (s *Server) AuthenticateAdmin(w http.ResponseWriter, r *http.Request, resource string) (storage.Client, *oauth.Error) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return storage.Client{}, adminUnauthorized(w, "credentials are required")
	}
	scheme, _, _ := strings.Cut(values[0], " ")
	var client storage.Client
	switch {
	case strings.EqualFold(scheme, "Basic"):
		id, secret, oerr := oauth.ParseBasic(values[0])
		if oerr != nil {
			return storage.Client{}, adminUnauthorized(w, "malformed Basic credentials")
		}
		c, oerr := s.Login(w, r, id, secret)
		if oerr != nil && oerr.Code == oauth.CodeInvalidClient {
			return storage.Client{}, adminUnauthorized(w, "authentication failed")
		}
		if oerr != nil {
			return storage.Client{}, oerr
		}
		if c.Disabled {
			return c, AdminForbidden("the client is disabled")
		}
		client = c
	case strings.EqualFold(scheme, "Bearer"):
		raw, oerr := oauth.BearerToken(r.Header, s.verifier.MaxTokenLength)
		if oerr != nil {
			return storage.Client{}, adminUnauthorized(w, "malformed bearer token")
		}
		claims, c, err := s.CheckToken(r.Context(), raw)
		var refusal *TokenRefusal
		if errors.As(err, &refusal) {
			return storage.Client{}, adminUnauthorized(w, refusal.Description)
		}
		if err != nil {
			return storage.Client{}, oauth.ServerError("authentication is unavailable")
		}
		if len(claims.Audience) != 1 || claims.Audience[0] != resource {
			// A token meant for other resources as well may have been sent
			// to them, and so seen by their upstreams: only a token minted
			// for this API alone is an admin credential.
			return storage.Client{}, adminUnauthorized(w, "the token was not issued for this API alone: its aud must be exactly the API's resource identifier")
		}
		client = c
	default:
		return storage.Client{}, adminUnauthorized(w, "credentials are required")
	}
	if !addrAllowed(client, s.ClientAddr(r)) {
		return client, AdminForbidden("the client may not connect from this address")
	}
	return client, nil
}

// adminUnauthorized answers 401 with Basic and Bearer challenges.
func adminUnauthorized(w http.ResponseWriter, description string) *oauth.Error {
	h := w.Header()
	h.Add("WWW-Authenticate", oauth.BasicChallenge(adminRealm))
	h.Add("WWW-Authenticate", oauth.BearerChallenge(adminRealm, nil, "", ""))
	return &oauth.Error{Code: "unauthorized", Description: description, Status: http.StatusUnauthorized}
}

// AdminForbidden is remote admin's 403 answer.
func AdminForbidden(description string) *oauth.Error {
	return &oauth.Error{Code: "forbidden", Description: description, Status: http.StatusForbidden}
}
