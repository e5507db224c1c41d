package authserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/storage"
)

// Well-known paths and cache lifetimes of the public documents.
const (
	// MetadataPathPrefix is RFC 8414's well-known prefix.
	MetadataPathPrefix = "/.well-known/oauth-authorization-server"
	// ResourceMetadataPrefix is RFC 9728's well-known prefix.
	ResourceMetadataPrefix = "/.well-known/oauth-protected-resource"
	// jwksMaxAge lets verifiers cache the key set briefly. Rotation publishes
	// a key a whole rotation period before it signs, so caching never makes a
	// verifier miss a new key; a retired key vanishes within this time.
	jwksMaxAge = "public, max-age=300"
	// documentMaxAge is the cache lifetime of the metadata documents, which
	// change only with the config.
	documentMaxAge = "public, max-age=3600"
)

// Document is a public JSON document, answered to GET and HEAD.
type Document struct {
	// Body is the document.
	Body []byte
	// CacheControl is its Cache-Control header.
	CacheControl string
}

// ServeHTTP answers GET and HEAD with the document, other methods with 405.
func (d Document) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	writeDocument(w, r, d.Body, d.CacheControl)
}

// writeDocument answers GET and HEAD with a public JSON document, which
// any origin may read (publicCORS).
func writeDocument(w http.ResponseWriter, r *http.Request, doc []byte, cacheControl string) {
	if publicCORS(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		oauth.MethodNotAllowed("this document is read with GET").Write(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", cacheControl)
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc)
	}
}

// JWKSEndpoint serves the public signing keys (RFC 7517), the current set at
// each request.
type JWKSEndpoint struct{ *Server }

// ServeHTTP answers with the key set.
func (e JWKSEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	writeDocument(w, r, e.KeySet().JWKS(), jwksMaxAge)
}

// EndpointPaths are where the OAuth endpoints are served, on the issuer's
// host.
// Their JSON names are the issuer's config.
type EndpointPaths struct {
	// Token is where the token endpoint is served. Default: /oauth2/token.
	Token string `json:"token_path,omitempty"`
	// Revocation is where token revocation is served. Default:
	// /oauth2/revoke.
	Revocation string `json:"revoke_path,omitempty"`
	// Introspection is where token introspection is served. Default:
	// /oauth2/introspect.
	Introspection string `json:"introspect_path,omitempty"`
	// JWKS is where the public signing keys are served. Default:
	// /.well-known/jwks.json.
	JWKS string `json:"jwks_path,omitempty"`
	// Authorize is where the authorization endpoint (RFC 6749 §3.1) is
	// served; sign-ins may return to it. Default: /oauth2/authorize.
	Authorize string `json:"authorize_path,omitempty"`
	// UserInfo is where OpenID Connect's UserInfo endpoint is served.
	// Default: /oauth2/userinfo.
	UserInfo string `json:"userinfo_path,omitempty"`
	// EndSession is where RP-initiated logout (OpenID Connect RP-Initiated
	// Logout 1.0, the metadata's end_session_endpoint) is served, beside
	// the sign-in page whose sessions it ends. Default: /oauth2/logout.
	EndSession string `json:"end_session_path,omitempty"`
	// PasswordGrant turns on the legacy password grant (RFC 6749 §4.3) at
	// the token endpoint, for confidential clients that list "password" in
	// grant_types. RFC 9700 §2.4 forbids it for new apps; it exists for
	// trusted legacy apps that cannot be changed. Its attempts count
	// against the sign-in page's throttles. Default: off.
	PasswordGrant bool `json:"password_grant,omitempty"`
	// Registration is where the registration endpoint is served, when
	// registration is on: set by NewEndpoints from the endpoint itself,
	// whose policy names the path.
	Registration string `json:"-"`
	// SelfService configures where login_client apps read and change the
	// record of the person whose token they hold, and which fields the
	// person may change (see SelfServiceOptions). Default: /oauth2/me,
	// the profile's names.
	SelfService SelfServiceOptions `json:"self_service,omitzero"`
}

// MetadataPath is where the RFC 8414 metadata of issuer is served: the
// metadata of https://host/path lives at
// /.well-known/oauth-authorization-server/path (§3).
func MetadataPath(issuer string) string {
	u, _ := url.Parse(issuer) // validated with the config
	return MetadataPathPrefix + strings.TrimSuffix(u.Path, "/")
}

// Metadata renders the RFC 8414 document: exactly what the issuer serves.
// For the authorization code grant it names the authorization endpoint,
// response type code, PKCE with S256 only (there is no plain method), the
// iss parameter on authorization responses (RFC 9207), no request objects
// (OpenID Connect Discovery's request_uri_parameter_supported defaults to
// true, so false is said), and public clients ("none") at the token
// and revocation endpoints only: introspection still needs a secret. The
// registration endpoint (RFC 7591) is named only when registration is on,
// and OpenID Connect's userinfo_endpoint when paths name one (as
// NewEndpoints' always do).
func Metadata(issuer string, paths EndpointPaths) (Document, error) {
	body, err := json.Marshal(metadataFields(issuer, paths))
	return Document{Body: body, CacheControl: documentMaxAge}, err
}

// metadataFields are the members of the RFC 8414 document, the one home
// of what both metadata documents say about the endpoints.
func metadataFields(issuer string, paths EndpointPaths) map[string]any {
	base := strings.TrimSuffix(issuer, "/")
	issuerURL, _ := url.Parse(issuer)
	if issuerURL.Path != "" && issuerURL.Path != "/" {
		// Endpoints are served on the issuer's host at their own paths.
		base = issuerURL.Scheme + "://" + issuerURL.Host
	}
	authMethods := []string{oauth.AuthMethodBasic, oauth.AuthMethodPost}
	// Public clients ("none") authenticate by client_id at these two.
	withPublic := []string{oauth.AuthMethodBasic, oauth.AuthMethodPost, storage.AuthMethodNone}
	fields := map[string]any{
		"issuer":                                         issuer,
		"authorization_endpoint":                         base + paths.Authorize,
		"response_types_supported":                       []string{"code"},
		"code_challenge_methods_supported":               []string{oauth.PKCEMethodS256},
		"authorization_response_iss_parameter_supported": true,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"token_endpoint":                                 base + paths.Token,
		"jwks_uri":                                       base + paths.JWKS,
		"revocation_endpoint":                            base + paths.Revocation,
		"introspection_endpoint":                         base + paths.Introspection,
		"grant_types_supported":                          issuedGrants(paths),
		"token_endpoint_auth_methods_supported":          withPublic,
		"revocation_endpoint_auth_methods_supported":     withPublic,
		"introspection_endpoint_auth_methods_supported":  authMethods,
	}
	if paths.Registration != "" {
		fields["registration_endpoint"] = base + paths.Registration
	}
	if paths.UserInfo != "" {
		fields["userinfo_endpoint"] = base + paths.UserInfo
	}
	if paths.EndSession != "" {
		fields["end_session_endpoint"] = base + paths.EndSession
	}
	return fields
}

// issuedGrants lists the grants the token endpoint serves: grant.Issued,
// and the password grant where it is on.
func issuedGrants(paths EndpointPaths) []string {
	if paths.PasswordGrant {
		return append(slices.Clone(grant.Issued), grant.Password)
	}
	return grant.Issued
}

// ResourceMetadata holds the RFC 9728 documents of one config's protected
// resources (guarded routes and remote admin), by path, so that the issuer
// serves them too.
type ResourceMetadata struct{ docs sync.Map }

// Publish renders the document of resource, served by authServer, and
// records it at its well-known path, which it returns. scopes may be nil.
func (m *ResourceMetadata) Publish(resource, authServer string, scopes []string) (string, Document, error) {
	u, err := url.Parse(resource)
	if err != nil {
		return "", Document{}, err
	}
	fields := map[string]any{
		"resource":                 resource,
		"authorization_servers":    []string{authServer},
		"bearer_methods_supported": []string{"header"},
	}
	if scopes != nil {
		fields["scopes_supported"] = scopes
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return "", Document{}, err
	}
	// RFC 9728 §3.1: the well-known segment goes between host and path.
	path := ResourceMetadataPrefix + strings.TrimSuffix(u.Path, "/")
	doc := Document{Body: body, CacheControl: documentMaxAge}
	m.docs.Store(path, doc)
	return path, doc, nil
}

// Lookup returns the document published at path.
func (m *ResourceMetadata) Lookup(path string) (Document, bool) {
	if !strings.HasPrefix(path, ResourceMetadataPrefix) {
		return Document{}, false
	}
	doc, ok := m.docs.Load(path)
	if !ok {
		return Document{}, false
	}
	return doc.(Document), true
}
