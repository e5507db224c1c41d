package authserver

import (
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// idTokenRequest asks issue for an OpenID Connect ID token beside the
// access token: a grant sets it when the person granted openid. The
// authorization_code grant sets Nonce from its code; a refresh grant sets
// one without a nonce (Core §12.2), which is all it needs to do to issue
// ID tokens too.
type idTokenRequest struct {
	// Nonce is the authorization request's nonce, returned unchanged; ""
	// when it sent none (Core §3.1.2.1 makes it optional for the code flow).
	Nonce string
}

// idToken signs the ID token of an issuance for client, which issue
// answers beside the access token signed with accessClaims: for the same
// person, issued and expiring with it, with at_hash binding the two. It
// returns "" when the grant asked for none. It is signed with the
// client's id_token_signed_response_alg (the operator's algorithm when the
// client names none).
func (s *Server) idToken(client storage.Client, is issuance, accessClaims *token.Claims, signed string) (string, error) {
	if is.IDToken == nil {
		return "", nil
	}
	return s.KeySet().SignIDTokenWith(client.IDTokenSignedResponseAlg, &token.IDClaims{
		Issuer:    s.Issuer,
		Subject:   is.Subject,
		Audience:  client.ID,
		ExpiresAt: accessClaims.ExpiresAt,
		IssuedAt:  accessClaims.IssuedAt,
		AuthTime:  is.AuthTime,
		Nonce:     is.IDToken.Nonce,
	}, signed)
}
