package authserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// grantFunc issues what one grant type gives an authenticated client. Each
// lives in its own file.
type grantFunc func(s *Server, w http.ResponseWriter, r *http.Request, req *oauth.TokenRequest, client storage.Client)

// grants maps each grant_type the token endpoint issues (grant.Issued) to
// its file's grantFunc. A grant clients may be registered for but that is
// not here is answered unsupported_grant_type.
var grants = map[string]grantFunc{
	grant.ClientCredentials: (*Server).clientCredentials,
	grant.AuthorizationCode: (*Server).authorizationCode,
	grant.RefreshToken:      (*Server).refreshToken,
	grant.TokenExchange:     (*Server).tokenExchange,
}

// TokenEndpoint is the token endpoint (RFC 6749 §3.2): it authenticates the
// client and hands the request to the grant it names.
type TokenEndpoint struct {
	*Server
	// passwords counts the password grant's attempts; nil while the
	// operator has not turned the grant on (EndpointPaths.PasswordGrant).
	passwords passwordAttempts
}

// ServeHTTP answers a token request. Checks run in the documented order:
// request syntax, client authentication, client enabled, client address
// (authenticate), a browser's origin (admitOrigin), then the grant's own.
func (e TokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := e.Server
	start := time.Now()
	defer func() { s.Metrics.tokenLatency.Observe(time.Since(start).Seconds()) }()
	if err := s.awaitFresh(r.Context()); err != nil {
		w.Header().Set("Retry-After", "1")
		oauth.TemporarilyUnavailable("the gateway cannot reach its shared store just now; retry").Write(w)
		return
	}
	req, client, oerr := s.authenticate(w, r, oauth.ParseTokenRequest, publicAllowed)
	if oerr == nil {
		oerr = admitOrigin(w, r, client)
	}
	if oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	if client.Public() {
		// Before the grant is looked up: a public client is refused every
		// grant but its own, whether or not this server issues it.
		if oerr := grant.Allowed(client, req.GrantType); oerr != nil {
			s.refuse(w, r, req, oerr)
			return
		}
	}
	if req.GrantType == grant.Password {
		s.passwordGrant(e.passwords, w, r, req, client)
		return
	}
	issue, ok := grants[req.GrantType]
	if !ok {
		s.refuse(w, r, req, oauth.UnsupportedGrantType("the grant type is not supported"))
		return
	}
	issue(s, w, r, req, client)
}

// tooLargeDescription answers a token request whose token would be longer
// than the guard reads.
var tooLargeDescription = "the access token would be longer than the " + strconv.Itoa(token.MaxLength) +
	"-byte limit on access tokens; request fewer scopes or resources, or ask the operator to shorten the client's scope, audience or claims"

// tokenResponse is the successful token response (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
	IDToken     string `json:"id_token,omitempty"`
	// RefreshToken is set by the authorization_code and refresh_token
	// grants for a client that gets refresh tokens.
	RefreshToken string `json:"refresh_token,omitempty"`
	// IssuedType is set by token exchange (RFC 8693 §2.2.1).
	IssuedType string `json:"issued_token_type,omitempty"`
}

// accessTokenTTL is the lifetime of client's tokens: its own, bounded by
// the maximum, or the default.
func (s *Server) accessTokenTTL(client storage.Client) time.Duration {
	if client.AccessTokenTTL > 0 {
		return min(client.AccessTokenTTL, s.MaxAccessTokenTTL)
	}
	return s.AccessTokenTTL
}

// writeToken answers a token request with its response, counting the
// issued token.
func (s *Server) writeToken(w http.ResponseWriter, client storage.Client, resp tokenResponse, now time.Time) {
	body := resp.appendJSON(make([]byte, 0, len(resp.AccessToken)+len(resp.Scope)+len(resp.IDToken)+len(resp.RefreshToken)+len(resp.IssuedType)+128))
	s.Usage.tokenIssued(client.ID, now)
	s.Metrics.tokenIssued(client.ID)
	oauth.NoStoreJSON(w.Header())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// appendJSON writes the response as encoding/json writes tokenResponse,
// byte for byte, without reflection.
func (resp *tokenResponse) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"access_token":`...)
	dst = appendJSONString(dst, resp.AccessToken)
	dst = append(dst, `,"token_type":`...)
	dst = appendJSONString(dst, resp.TokenType)
	dst = append(dst, `,"expires_in":`...)
	dst = strconv.AppendInt(dst, resp.ExpiresIn, 10)
	if resp.Scope != "" {
		dst = append(dst, `,"scope":`...)
		dst = appendJSONString(dst, resp.Scope)
	}
	if resp.IDToken != "" {
		dst = append(dst, `,"id_token":`...)
		dst = appendJSONString(dst, resp.IDToken)
	}
	if resp.RefreshToken != "" {
		dst = append(dst, `,"refresh_token":`...)
		dst = appendJSONString(dst, resp.RefreshToken)
	}
	if resp.IssuedType != "" {
		dst = append(dst, `,"issued_token_type":`...)
		dst = appendJSONString(dst, resp.IssuedType)
	}
	return append(dst, '}')
}

// appendJSONString writes s as encoding/json does. A token and a scope are
// printable ASCII without quotes or backslashes, written as they are; any
// other string is left to encoding/json, so that its escaping (of <, > and &
// too) stays the one rule.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
