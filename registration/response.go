package registration

import (
	"github.com/scopegate/scopegate/registry"
)

// Response is the client information response of RFC 7591 §3.2.1: the
// registered metadata, as the server may have replaced it, with the client
// ID and, for a confidential client, its secret, shown this once.
type Response struct {
	ClientID         string `json:"client_id"`
	ClientIDIssuedAt int64  `json:"client_id_issued_at"`
	ClientSecret     string `json:"client_secret,omitempty"`
	// ClientSecretExpiresAt is required with a secret: 0 when it does not
	// expire.
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope,omitempty"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	// IDTokenSignedResponseAlg is the algorithm of the client's ID tokens.
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`
}

// NewResponse describes the registered client c, with its secret when it
// has one.
func NewResponse(c registry.Client, secret string) Response {
	r := Response{
		ClientID: c.ClientID, ClientIDIssuedAt: c.CreatedAt.Unix(), ClientName: c.ClientName,
		RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes, ResponseTypes: []string{ResponseTypeCode},
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, Scope: c.Scope,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
	}
	if secret != "" {
		var expires int64
		if len(c.Secrets) > 0 && !c.Secrets[0].ExpiresAt.IsZero() {
			expires = c.Secrets[0].ExpiresAt.Unix()
		}
		r.ClientSecret, r.ClientSecretExpiresAt = secret, &expires
	}
	return r
}
