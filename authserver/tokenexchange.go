package authserver

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// accessTokenType is the RFC 8693 §3 token type identifier of an access
// token: the one kind of token the exchange accepts and issues.
const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

// Refusals of a token exchange. RFC 8693 §2.2.2 answers a subject token
// the server will not process with invalid_request, and a target it will
// not issue for with invalid_target; RFC 6749 §5.2 the rest. None names
// the token or echoes a parameter.
var (
	exchangeNotIssuer     = oauth.UnauthorizedClient("the client needs the " + registry.FeatureAccessIssuer + " feature to exchange tokens")
	exchangeNoSubject     = oauth.InvalidRequest("missing subject_token")
	exchangeSubjectType   = oauth.InvalidRequest("subject_token_type must be " + accessTokenType)
	exchangeRequestedType = oauth.InvalidRequest("requested_token_type may only be " + accessTokenType)
	exchangeActorToken    = oauth.InvalidRequest("actor_token is not supported: the authenticated client is the actor")
	exchangeClientToken   = oauth.InvalidRequest("subject_token is a client's own token, not one held for a person")
	exchangeExchanged     = oauth.InvalidRequest("subject_token was issued by a token exchange and cannot be exchanged again")
	exchangeOtherApp      = oauth.InvalidRequest("subject_token was neither issued to this client nor meant for its audience")
	exchangeExpired       = oauth.InvalidRequest("subject_token is not acceptable: it has expired")
	exchangeNoConsent     = oauth.InvalidRequest("the person has not consented to this client, or withdrew the consent")
	exchangeNoAudience    = oauth.InvalidRequest("audience is required: the client_id of the client the token is for")
	exchangeUnknownTarget = oauth.InvalidTarget("audience names no enabled client")
	exchangeScopeBeyond   = oauth.InvalidScope("a requested scope is beyond what the subject token, the person's roles, this client or the target client allow")
	exchangeNoScopeLeft   = oauth.InvalidScope("no scope of the subject token may be held for the target client")
	exchangeUnavailable   = oauth.TemporarilyUnavailable("the exchange cannot be decided now; retry")
)

// exchangeSubjectRefused starts the description of a subject token the
// guard's checks refuse; the refusal's own fixed text follows.
const exchangeSubjectRefused = "subject_token is not acceptable: "

// exchangeParties names who an exchange is between, for its audit line:
// the authenticated client, the target client as named (or found), and
// the person once the subject token is known to be theirs.
type exchangeParties struct {
	caller, target, user string
}

func (p exchangeParties) fields() []zap.Field {
	return []zap.Field{zap.String("grant_type", grant.TokenExchange), zap.String("client_id", p.caller),
		zap.String("target_client_id", p.target), zap.String("user_id", p.user)}
}

// tokenExchange is RFC 8693 token exchange for a client with the
// access_issuer feature (client A): it presents a person's access token
// issued to it, or meant for its own audience, and gets one for the same
// person meant for another client's (B's) audience, with at most the
// scopes the subject token still holds, the person's roles grant, and both
// A and B may have. The new token is A's (client_id A, so A's allowlist,
// disabled state and revoke-all apply, as A holds and presents it), names
// A as its actor (act, RFC 8693 §4.1), lives no longer than the subject
// token, and is checked on every guarded request as any token held for a
// person is. Every exchange after the client authenticated is audited with
// both client IDs and the person; the tokens never are.
func (s *Server) tokenExchange(w http.ResponseWriter, r *http.Request, req *oauth.TokenRequest, client storage.Client) {
	subject := req.Form.Get("subject_token")
	req.Form.Del("subject_token") // never logged with the form
	is, parties, oerr := s.exchange(r.Context(), req, subject, client)
	if oerr != nil {
		s.Logger.Info("token exchange refused", append(parties.fields(), zap.String("error", oerr.Code), zap.String("reason", oerr.Description))...)
		s.refuse(w, r, req, oerr)
		return
	}
	s.Logger.Info("token exchange issued", append(parties.fields(), zap.String("scope", is.Scope), zap.String("jti", is.JWTID))...)
	s.issue(w, r, req, client, is)
}

// exchange decides the token an exchange issues: the client's right to
// exchange, the request's token types, the subject token, the target and
// the scopes, in that order.
func (s *Server) exchange(ctx context.Context, req *oauth.TokenRequest, subject string, client storage.Client) (issuance, exchangeParties, *oauth.Error) {
	parties := exchangeParties{caller: client.ID, target: loggableClientID(req.Form.Get("audience"))}
	if oerr := exchangeAllowed(client); oerr != nil {
		return issuance{}, parties, oerr
	}
	if oerr := exchangeTypes(req, subject); oerr != nil {
		return issuance{}, parties, oerr
	}
	claims, held, oerr := s.exchangeSubject(ctx, subject, client)
	if claims != nil {
		parties.user = claims.Subject
	}
	if oerr != nil {
		return issuance{}, parties, oerr
	}
	target, audience, oerr := s.exchangeTarget(ctx, req)
	if oerr != nil {
		return issuance{}, parties, oerr
	}
	scopes, oerr := s.exchangeScopes(ctx, req, claims.Subject, client, target, held)
	if oerr != nil {
		return issuance{}, parties, oerr
	}
	return issuance{
		Subject: claims.Subject, Audience: audience, Scope: scopes, JWTID: token.NewJTI(),
		AuthTime: claims.AuthTime, Actor: client.ID, ExpiresBy: claims.ExpiresAt, TokenType: accessTokenType,
	}, parties, nil
}

// exchangeAllowed requires the access_issuer feature and the grant listed
// (which the registry allows only with the feature); both refusals are
// unauthorized_client, as for any grant the client may not use.
func exchangeAllowed(client storage.Client) *oauth.Error {
	if !slices.Contains(client.Features, registry.FeatureAccessIssuer) {
		return exchangeNotIssuer
	}
	return grant.Allowed(client, grant.TokenExchange)
}

// exchangeTypes checks the token types of the request: an access token in
// and out, and no actor token (the authenticated client is the actor).
func exchangeTypes(req *oauth.TokenRequest, subject string) *oauth.Error {
	switch {
	case subject == "":
		return exchangeNoSubject
	case req.Form.Get("subject_token_type") != accessTokenType:
		return exchangeSubjectType
	case req.Form.Has("actor_token"), req.Form.Has("actor_token_type"):
		return exchangeActorToken
	case req.Form.Has("requested_token_type") && req.Form.Get("requested_token_type") != accessTokenType:
		return exchangeRequestedType
	}
	return nil
}

// exchangeSubject checks the subject token as the guard does (CheckToken,
// then HeldScopes: signature, expiry, revocation, its client, the person,
// their roles and consent) and that it is a person's token that client
// may exchange: issued to it, or naming one of its own audiences (a token
// sent to its API). It returns the claims, when they were verified, and
// the scopes the token holds now.
func (s *Server) exchangeSubject(ctx context.Context, subject string, client storage.Client) (*token.Claims, scope.Set, *oauth.Error) {
	claims, subjectClient, err := s.CheckToken(ctx, subject)
	if err != nil {
		return nil, scope.Set{}, s.subjectRefusal(err)
	}
	switch {
	case !forUser(claims):
		return nil, scope.Set{}, exchangeClientToken
	case claims.HasActor():
		return claims, scope.Set{}, exchangeExchanged
	case claims.ClientID != client.ID && !slices.ContainsFunc(client.Audience, claims.HasAudience):
		return claims, scope.Set{}, exchangeOtherApp
	case claims.ExpiresAt <= s.Now().Unix():
		// Within the verifier's leeway: valid, but nothing is left to give.
		return claims, scope.Set{}, exchangeExpired
	}
	held, err := s.HeldScopes(ctx, claims, subjectClient)
	if err != nil {
		return claims, scope.Set{}, s.subjectRefusal(err)
	}
	return claims, held, nil
}

// subjectRefusal answers err from checking a subject token: invalid_request
// with the refusal's fixed description, or a retryable error for a fault of
// the gateway.
func (s *Server) subjectRefusal(err error) *oauth.Error {
	var tr *TokenRefusal
	if errors.As(err, &tr) {
		return oauth.InvalidRequest(exchangeSubjectRefused + tr.Description)
	}
	s.Logger.Error("checking a subject token failed", zap.Error(err))
	return exchangeUnavailable
}

// exchangeTarget finds the client named by audience, which must exist and
// be enabled, and the new token's aud: the target's, as its own tokens
// carry it (grant.Audience), narrowed to the resource parameters when the
// request names some (RFC 8707), each of which must be in the target's
// audience.
func (s *Server) exchangeTarget(ctx context.Context, req *oauth.TokenRequest) (storage.Client, []string, *oauth.Error) {
	id := req.Form.Get("audience")
	if id == "" {
		return storage.Client{}, nil, exchangeNoAudience
	}
	if len(id) > oauth.MaxClientIDLen {
		return storage.Client{}, nil, exchangeUnknownTarget
	}
	target, err := s.Registry.Lookup(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound), err == nil && target.Disabled:
		return storage.Client{}, nil, exchangeUnknownTarget
	case err != nil:
		s.Logger.Error("looking up a token exchange's target failed", zap.Error(err))
		return storage.Client{}, nil, exchangeUnavailable
	}
	audience, oerr := grant.Audience(req.Resource, target, s.Issuer)
	return target, audience, oerr
}

// exchangeScopes returns the new token's scope: those requested, each of
// which must be within the bound, or else the whole bound. The bound is
// what the subject token holds now, within what both clients may have
// (the guard narrows a token to its client's scopes, and the target's are
// what it may be given), narrowed by personHolds for the caller as the
// guard will narrow the new token: the person's roles and, unless the
// caller skips consent, their consent to it. Nothing is widened: a scope
// asked beyond the bound is invalid_scope.
func (s *Server) exchangeScopes(ctx context.Context, req *oauth.TokenRequest, userID string, client, target storage.Client, held scope.Set) (string, *oauth.Error) {
	bound := held.Intersect(s.ClientScopes.of(client)).Intersect(s.ClientScopes.of(target))
	allowed, err := s.personHolds(ctx, userID, client, bound, s.Now().Unix())
	switch {
	case err == refusedNoConsent || err == refusedConsentCut:
		return "", exchangeNoConsent
	case err != nil:
		return "", s.subjectRefusal(err)
	}
	if len(req.Scopes) == 0 {
		if allowed.Len() == 0 {
			return "", exchangeNoScopeLeft
		}
		return allowed.String(), nil
	}
	if !slices.ContainsFunc(req.Scopes, func(sc string) bool { return !allowed.Has(sc) }) {
		return scope.Join(req.Scopes), nil
	}
	return "", exchangeScopeBeyond
}

// loggableClientID returns id for an audit line when it could be a client
// ID (short, of safe characters: oauth.Echoable), else a placeholder: the
// parameter is the caller's input.
func loggableClientID(id string) string {
	if id != "" && !oauth.Echoable(id) {
		return "(not a client id)"
	}
	return id
}
