package module

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

func init() {
	caddy.RegisterModule(RemoteAdmin{})
}

// Features that grant access to the client-management API.
const (
	featureOwner      = registry.FeatureOwner
	featureClientRead = registry.FeatureClientRead
	adminRealm        = "scopegate-admin"
	// defaultAdminResourcePath is appended to the issuer to make remote
	// admin's default resource identifier.
	defaultAdminResourcePath = "/scopegate/admin"
)

// RemoteAdmin serves the client-management API on a site route, for remote
// management and automation. Every request is authenticated, before any
// routing, as a client with the `owner` feature (full access) or
// `client_read` (GET and HEAD only): by HTTP Basic with the client's ID and
// secret, or by a bearer token issued to it for this API (its aud names
// Resource). The client must be enabled and connect from an address in its
// allowlist. Mount it with handle_path, which strips the route's prefix: the
// API's paths are relative (/clients, …).
type RemoteAdmin struct {
	// Resource is this API's resource identifier (RFC 8707): a bearer token
	// is accepted only if its aud contains it exactly, so a token minted for
	// another API, which that API's upstream has seen, cannot be replayed
	// here. A client gets such a token by sending resource=<Resource> to the
	// token endpoint, which requires Resource in the client's audience. An
	// absolute URI without a fragment. Default: the issuer followed by
	// /scopegate/admin, such as https://api.example.com/scopegate/admin.
	// Its RFC 9728 metadata is served by the issuer.
	Resource string `json:"resource,omitempty"`

	app     *App
	handler http.Handler
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (RemoteAdmin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_admin",
		New: func() caddy.Module { return new(RemoteAdmin) },
	}
}

// Provision builds the API over the app's registry: the same handler as on
// Caddy's admin endpoint.
func (ra *RemoteAdmin) Provision(ctx caddy.Context) error {
	app, err := scopegateApp(ctx)
	if err != nil {
		return err
	}
	return ra.setup(app, ctx.Logger())
}

// setup applies the default resource, checks it and publishes its metadata.
func (ra *RemoteAdmin) setup(app *App, logger *zap.Logger) error {
	ra.app, ra.logger = app, logger
	ra.Resource = cmpOr(ra.Resource, strings.TrimSuffix(app.Issuer, "/")+defaultAdminResourcePath)
	if !oauth.ValidResource(ra.Resource) {
		return fmt.Errorf("scopegate_admin: resource %q must be an absolute URI without a fragment, of at most %d bytes",
			ra.Resource, oauth.MaxResourceLen)
	}
	if ra.Resource == app.Issuer {
		// A client without an audience gets tokens for the issuer: they
		// would all be admin tokens.
		return fmt.Errorf("scopegate_admin: resource must not be the issuer %q, which is the audience of every token of a client without one", app.Issuer)
	}
	u, _ := url.Parse(ra.Resource) // checked just above
	// RFC 9728 §3.1: the well-known segment goes between host and path.
	doc, err := json.Marshal(map[string]any{
		"resource":                 ra.Resource,
		"authorization_servers":    []string{app.Issuer},
		"bearer_methods_supported": []string{"header"},
	})
	if err != nil {
		return err
	}
	app.publishResourceMetadata(protectedResourcePath+strings.TrimSuffix(u.Path, "/"), doc)
	ra.handler = app.adminHandler()
	return nil
}

// ServeHTTP authenticates and authorises the caller, then serves the API.
func (ra *RemoteAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	client, refusal := ra.authenticate(w, r)
	// Refusals are logged at debug level: a flood of bad requests is not a
	// flood of log lines.
	if refusal != nil {
		ra.logger.Debug("admin request refused", zap.String("client_id", client.ID), zap.String("reason", refusal.Description),
			zap.String("method", r.Method))
		refusal.Write(w)
		return nil
	}
	if !ra.allowed(client, r.Method) {
		ra.logger.Debug("admin request refused", zap.String("client_id", client.ID), zap.String("reason", "not permitted"),
			zap.String("method", r.Method))
		(&oauth.Error{Code: "forbidden", Description: "the client may not make this request", Status: http.StatusForbidden}).Write(w)
		return nil
	}
	ra.handler.ServeHTTP(w, r.WithContext(admin.WithActor(r.Context(), "client:"+client.ID)))
	return nil
}

// allowed reports whether client may use method: owners anything, readers
// only safe methods. The decision never depends on the path, so no spelling
// of a path can change it.
func (ra *RemoteAdmin) allowed(client storage.Client, method string) bool {
	if slices.Contains(client.Features, featureOwner) {
		return true
	}
	return slices.Contains(client.Features, featureClientRead) && (method == http.MethodGet || method == http.MethodHead)
}

// authenticate identifies the caller by Basic credentials or a bearer token
// minted for this API. On failure it returns the error to send (401 with
// challenges for missing or wrong credentials or a token for another
// audience, 403 for a client refused as such, 429 temporarily_unavailable
// when the source is throttled).
func (ra *RemoteAdmin) authenticate(w http.ResponseWriter, r *http.Request) (storage.Client, *oauth.Error) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return storage.Client{}, ra.unauthorized(w, "credentials are required")
	}
	scheme, _, _ := strings.Cut(values[0], " ")
	var client storage.Client
	switch {
	case strings.EqualFold(scheme, "Basic"):
		id, secret, oerr := oauth.ParseBasic(values[0])
		if oerr != nil {
			return storage.Client{}, ra.unauthorized(w, "malformed Basic credentials")
		}
		c, oerr := ra.app.login(w, r, id, secret)
		if oerr != nil && oerr.Code == oauth.CodeInvalidClient {
			return storage.Client{}, ra.unauthorized(w, "authentication failed")
		}
		if oerr != nil {
			return storage.Client{}, oerr
		}
		if c.Disabled {
			return c, forbidden("the client is disabled")
		}
		client = c
	case strings.EqualFold(scheme, "Bearer"):
		raw, oerr := oauth.BearerToken(r.Header, ra.app.verifier.MaxTokenLength)
		if oerr != nil {
			return storage.Client{}, ra.unauthorized(w, "malformed bearer token")
		}
		claims, c, err := ra.app.checkToken(r.Context(), raw)
		var refusal *tokenRefusal
		if errors.As(err, &refusal) {
			return storage.Client{}, ra.unauthorized(w, refusal.description)
		}
		if err != nil {
			return storage.Client{}, oauth.ServerError("authentication is unavailable")
		}
		if len(claims.Audience) != 1 || claims.Audience[0] != ra.Resource {
			// A token meant for other resources as well may have been sent
			// to them, and so seen by their upstreams: only a token minted
			// for this API alone is an admin credential.
			return storage.Client{}, ra.unauthorized(w, "the token was not issued for this API alone: its aud must be exactly the API's resource identifier")
		}
		client = c
	default:
		return storage.Client{}, ra.unauthorized(w, "credentials are required")
	}
	if !addrAllowed(client, clientAddr(r)) {
		return client, forbidden("the client may not connect from this address")
	}
	return client, nil
}

// unauthorized answers 401 with Basic and Bearer challenges.
func (ra *RemoteAdmin) unauthorized(w http.ResponseWriter, description string) *oauth.Error {
	h := w.Header()
	h.Add("WWW-Authenticate", oauth.BasicChallenge(adminRealm))
	h.Add("WWW-Authenticate", oauth.BearerChallenge(adminRealm, nil, "", ""))
	return &oauth.Error{Code: "unauthorized", Description: description, Status: http.StatusUnauthorized}
}

func forbidden(description string) *oauth.Error {
	return &oauth.Error{Code: "forbidden", Description: description, Status: http.StatusForbidden}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*RemoteAdmin)(nil)
	_ caddyhttp.MiddlewareHandler = (*RemoteAdmin)(nil)
)
