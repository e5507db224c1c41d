package authserver

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

const (
	adminRealm = "scopegate-admin"
	// DefaultAdminResourcePath is appended to the issuer to make remote
	// admin's default resource identifier.
	DefaultAdminResourcePath = "/scopegate/admin"
)

// RemoteAdmin guards the client-management API served to remote callers:
// every request is authenticated (AuthenticateAdmin) and permitted
// (AdminPermits) before the API sees it.
type RemoteAdmin struct {
	server *Server
	// Resource is the API's resource identifier: a bearer token must name
	// it, and only it, in aud.
	Resource string
	logger   *zap.Logger
}

// NewRemoteAdmin checks the API's resource identifier (default: the issuer
// followed by DefaultAdminResourcePath) and publishes its RFC 9728 metadata.
func (s *Server) NewRemoteAdmin(resource string, logger *zap.Logger) (*RemoteAdmin, error) {
	if resource == "" {
		resource = strings.TrimSuffix(s.Issuer, "/") + DefaultAdminResourcePath
	}
	if !oauth.ValidResource(resource) {
		return nil, fmt.Errorf("resource %q must be an absolute URI without a fragment, of at most %d bytes",
			resource, oauth.MaxResourceLen)
	}
	if resource == s.Issuer {
		// A client without an audience gets tokens for the issuer: they
		// would all be admin tokens.
		return nil, fmt.Errorf("resource must not be the issuer %q, which is the audience of every token of a client without one", s.Issuer)
	}
	if _, _, err := s.Resources().Publish(resource, s.Issuer, nil); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &RemoteAdmin{server: s, Resource: resource, logger: logger}, nil
}

// Serve authenticates and authorises the caller, then hands the request to
// api with the caller named as the actor of any change, and as the
// registry's Caller (registry.ClientCaller): never the operator.
func (ra *RemoteAdmin) Serve(w http.ResponseWriter, r *http.Request, api *admin.Handler) {
	client, refusal := ra.server.AuthenticateAdmin(w, r, ra.Resource)
	reason := ""
	if refusal != nil {
		reason = refusal.Description
	} else if !AdminPermits(client, r.Method, api.Area(r)) {
		reason, refusal = "not permitted", AdminForbidden("the client may not make this request")
	}
	if refusal != nil {
		// Debug level: a flood of bad requests is not a flood of log lines.
		ra.logger.Debug("admin request refused", zap.String("client_id", client.ID), zap.String("reason", reason),
			zap.String("method", r.Method))
		refusal.Write(w)
		return
	}
	ctx := admin.WithActor(r.Context(), "client:"+client.ID)
	ctx = registry.WithCaller(ctx, registry.ClientCaller(client.Features))
	api.ServeHTTP(w, r.WithContext(ctx))
}

// adminRight is what a feature allows in an area of the admin API.
type adminRight int

const (
	// adminReads allows GET and HEAD.
	adminReads adminRight = iota + 1
	// adminWrites allows every method.
	adminWrites
)

// adminRights is the one table of what each feature allows on remote
// admin, by area (admin.Area); a client's features add up. FeatureOwner is
// not in it: an owner may do everything. Features absent from it
// (login_client, access_issuer, metadata, introspect) allow nothing here on
// their own.
var adminRights = map[string]map[admin.Area]adminRight{
	registry.FeatureClientRead:       {admin.AreaClients: adminReads, admin.AreaKeys: adminReads},
	registry.FeatureDirectAccess:     {admin.AreaUsers: adminWrites, admin.AreaRoles: adminReads},
	registry.FeatureDirectReadAccess: {admin.AreaUsers: adminReads, admin.AreaRoles: adminReads},
}

// AdminPermits reports whether client may use method in area, the area of
// the route the API matches for the request (admin.Handler.Area): owners
// anything, other clients what adminRights gives their features. A request
// that matches no route has no area, and only an owner may make it, so no
// spelling of a path reaches an area the client may not use.
func AdminPermits(client storage.Client, method string, area admin.Area) bool {
	if slices.Contains(client.Features, registry.FeatureOwner) {
		return true
	}
	reads := method == http.MethodGet || method == http.MethodHead
	for _, feature := range client.Features {
		switch adminRights[feature][area] {
		case adminWrites:
			return true
		case adminReads:
			if reads {
				return true
			}
		}
	}
	return false
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
		if forUser(claims) {
			// What an app holds for a person acts for that person, never as
			// the client's own admin credential.
			return storage.Client{}, adminUnauthorized(w, "the token was issued for a person: only a client's own token is an admin credential")
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
	if oerr := addrUnproven(client, r); oerr != nil {
		return client, oerr
	}
	if denied, _ := s.addressDenied(client, r); denied != "" {
		return client, AdminForbidden(denied)
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
