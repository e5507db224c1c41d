package authserver

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
)

// OpenIDConfigurationSuffix is OpenID Connect Discovery's well-known path
// (§4), appended to the issuer.
const OpenIDConfigurationSuffix = "/.well-known/openid-configuration"

// idTokenClaims are the claims this server's ID tokens and UserInfo may
// hold, as discovery's claims_supported lists them.
var idTokenClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
	"name", "given_name", "family_name", "preferred_username", "updated_at", "email", "email_verified",
}

// OpenIDConfigurationPaths returns where the discovery document of issuer
// is served: the issuer's path followed by the well-known suffix (Discovery
// §4.1, what go-oidc and openid-client fetch) and, when the issuer has a
// path, also the suffix followed by that path, as RFC 8414 §5 places it.
func OpenIDConfigurationPaths(issuer string) []string {
	u, _ := url.Parse(issuer) // validated with the config
	path := strings.TrimSuffix(u.Path, "/")
	if path == "" {
		return []string{OpenIDConfigurationSuffix}
	}
	return []string{path + OpenIDConfigurationSuffix, OpenIDConfigurationSuffix + path}
}

// openIDConfiguration serves OpenID Connect Discovery 1.0's document: the
// RFC 8414 document's members (metadataFields, so the two always agree on
// the endpoints) and Discovery's own. id_token_signing_alg_values_supported
// names the algorithms of the current keys, which the operator chooses
// (signing_alg), so the document is rendered again when they change.
type openIDConfiguration struct {
	server *Server
	fields map[string]any
	doc    atomic.Pointer[algDocument]
}

// algDocument is the document rendered for a list of algorithms.
type algDocument struct {
	algs []string
	body []byte
}

// newOpenIDConfiguration returns the discovery document of the server's
// endpoints at paths.
func (s *Server) newOpenIDConfiguration(paths EndpointPaths) *openIDConfiguration {
	fields := metadataFields(s.Issuer, paths)
	fields["subject_types_supported"] = []string{"public"}
	fields["response_modes_supported"] = []string{"query"}
	fields["scopes_supported"] = scope.IdentityScopes
	fields["claims_supported"] = idTokenClaims
	fields["claims_parameter_supported"] = false
	return &openIDConfiguration{server: s, fields: fields}
}

// ServeHTTP answers GET and HEAD with the document.
func (c *openIDConfiguration) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	algs := c.server.KeySet().Algorithms()
	d := c.doc.Load()
	if d == nil || !slices.Equal(d.algs, algs) {
		fields := maps.Clone(c.fields)
		fields["id_token_signing_alg_values_supported"] = algs
		body, err := json.Marshal(fields)
		if err != nil {
			c.server.Logger.Error("rendering the OpenID configuration failed", zap.Error(err))
			oauth.ServerError("the document could not be rendered").Write(w)
			return
		}
		d = &algDocument{algs: algs, body: body}
		c.doc.Store(d)
	}
	writeDocument(w, r, d.body, documentMaxAge)
}
