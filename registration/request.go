package registration

import (
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/scopegate/scopegate/internal/strictjson"
	"github.com/scopegate/scopegate/oauth"
)

// Error codes of RFC 7591 §3.2.2.
const (
	CodeInvalidRedirectURI    = "invalid_redirect_uri"
	CodeInvalidClientMetadata = "invalid_client_metadata"
)

// InvalidClientMetadata returns a 400 invalid_client_metadata error.
func InvalidClientMetadata(description string) *oauth.Error {
	return &oauth.Error{Code: CodeInvalidClientMetadata, Description: description, Status: http.StatusBadRequest}
}

// InvalidRedirectURI returns a 400 invalid_redirect_uri error.
func InvalidRedirectURI(description string) *oauth.Error {
	return &oauth.Error{Code: CodeInvalidRedirectURI, Description: description, Status: http.StatusBadRequest}
}

// Request is the client metadata of a registration request (RFC 7591 §2)
// that the server reads; other members are ignored, as §2 says.
type Request struct {
	RedirectURIs            []string
	TokenEndpointAuthMethod string
	GrantTypes              []string
	ResponseTypes           []string
	ClientName              string
	Scope                   string
	// PostLogoutRedirectURIs (OpenID Connect RP-Initiated Logout 1.0 §3.1)
	// are checked as redirect_uris are.
	PostLogoutRedirectURIs []string
	// IDTokenSignedResponseAlg (OpenID Connect Registration §2) is checked
	// by the registry against the algorithms the server signs with.
	IDTokenSignedResponseAlg string
}

// requestField is one member ParseRequest reads: its name, what it takes
// (for messages) and where its value goes.
type requestField struct {
	name, takes string
	into        any
}

// fields lists the members of r that ParseRequest reads.
func (r *Request) fields() []requestField {
	return []requestField{
		{"redirect_uris", "an array of strings", &r.RedirectURIs},
		{"token_endpoint_auth_method", "a string", &r.TokenEndpointAuthMethod},
		{"grant_types", "an array of strings", &r.GrantTypes},
		{"response_types", "an array of strings", &r.ResponseTypes},
		{"client_name", "a string", &r.ClientName},
		{"scope", "a string of space-separated scopes", &r.Scope},
		{"post_logout_redirect_uris", "an array of strings", &r.PostLogoutRedirectURIs},
		{"id_token_signed_response_alg", "a string", &r.IDTokenSignedResponseAlg},
	}
}

// ParseRequest reads a registration request's body: one JSON object in
// UTF-8 with no member name repeated at any depth (parsers disagree on
// which one wins). Members are matched by their exact names, so that
// "Scope" is an unknown member, ignored, and not a second scope; a member
// set to null is absent. Errors are invalid_client_metadata and never
// repeat the input.
func ParseRequest(body []byte) (Request, *oauth.Error) {
	if !utf8.Valid(body) {
		return Request{}, InvalidClientMetadata("the body must be UTF-8 encoded JSON")
	}
	if _, err := strictjson.Members(body); err != nil {
		return Request{}, InvalidClientMetadata("the body must be one JSON object, without a repeated member name, nested at most " +
			strconv.Itoa(strictjson.MaxDepth) + " levels deep")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return Request{}, InvalidClientMetadata("the body must be one JSON object")
	}
	var r Request
	for _, f := range r.fields() {
		raw, ok := members[f.name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, f.into); err != nil {
			return Request{}, InvalidClientMetadata(f.name + " must be " + f.takes)
		}
	}
	return r, nil
}
