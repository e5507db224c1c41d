package authserver

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/token"
)

// Policy is one guarded route's rules, checked by Server.Guard.
type Policy struct {
	// Scopes the token must hold, all or any of them by Mode.
	Scopes []string
	Mode   scope.Mode
	// Methods add scopes for some HTTP methods.
	Methods []MethodRule
	// Audience, when set, must be in the token's aud.
	Audience string
	// Clients, when set, are the only client IDs admitted.
	Clients []string
	// Realm names the protection space in WWW-Authenticate.
	Realm string
	// MetadataPath is where the route's RFC 9728 metadata is served; "" for
	// none. The challenge names it.
	MetadataPath string
	// Logger receives the route's refusals, at debug level.
	Logger *zap.Logger
}

// Decision is the guard's outcome for one request.
type Decision struct {
	// Claims are the token's; nil when the token itself was refused.
	Claims *token.Claims
	// Scope is what the upstream is told the token grants: its scopes that
	// its client still holds.
	Scope string
	// Refusal is why the request is refused and what to answer; nil admits.
	Refusal *Refusal
}

// Refusal is a refused guarded request: the RFC 6750 answer, not yet
// written, so that the host can write it or hand it to its error handling.
type Refusal struct {
	// Reason is a short label for logs and metrics, such as "scope".
	Reason string
	// Err is the OAuth error: status, code and description. Its Code is
	// empty when no token was sent (RFC 6750 §3.1: no error attribute).
	Err *oauth.Error
	// Challenge is the WWW-Authenticate value; "" for refusals that a new
	// token would not mend (address, route allowlist, early data).
	Challenge string
}

// Error returns the description, safe to show and log: never token bytes.
func (r *Refusal) Error() string { return r.Err.Description }

// Status is the HTTP status to answer with.
func (r *Refusal) Status() int { return r.Err.Status }

// SetChallenge sets the WWW-Authenticate header of the refusal on h.
func (r *Refusal) SetChallenge(h http.Header) {
	if r.Challenge != "" {
		h.Set("WWW-Authenticate", r.Challenge)
	}
}

// Write answers the refusal: its challenge and its RFC 6750 JSON body.
func (r *Refusal) Write(w http.ResponseWriter) {
	r.SetChallenge(w.Header())
	r.Err.Write(w)
}

// Guard decides whether the request may pass policy p: a valid bearer token
// from a client that is enabled, connects from an address in its allowlist,
// is allowed on the route and holds the route's scopes. It counts the
// decision (usage, metrics) and logs a refusal at debug level. err is a
// fault of the gateway, not of the request.
func (s *Server) Guard(r *http.Request, p *Policy) (Decision, error) {
	start := time.Now()
	d, detail, err := s.decide(r, p)
	if err != nil {
		return d, err
	}
	clientID := ""
	if d.Claims != nil {
		clientID = d.Claims.ClientID
		s.Usage.request(clientID, d.Refusal == nil, start)
	}
	if d.Refusal == nil {
		s.Metrics.guardDecided("allowed", clientID, start)
		return d, nil
	}
	s.Metrics.guardDecided(d.Refusal.Reason, clientID, start)
	// A flood of refused requests must not become a flood of log lines:
	// debug level, and scopegate_guard_decisions_total keeps the counts.
	if ce := p.Logger.Check(zap.DebugLevel, "request refused"); ce != nil {
		fields := []zap.Field{
			zap.String("reason", d.Refusal.Reason),
			zap.String("client_id", clientID),
			zap.String("method", r.Method),
			zap.String("path", r.URL.Path),
		}
		if detail.Key != "" {
			fields = append(fields, detail)
		}
		ce.Write(fields...)
	}
	return d, nil
}

// decide applies the policy; detail names what did not match, for the log.
func (s *Server) decide(r *http.Request, p *Policy) (Decision, zap.Field, error) {
	raw, oerr := oauth.BearerToken(r.Header, s.verifier.MaxTokenLength)
	if oerr == oauth.ErrNoBearer || (oerr == nil && raw == "") {
		// RFC 6750 §3.1: no credentials, no error attribute.
		return p.challenge(r, "no_token", nil, ""), zap.Field{}, nil
	}
	if oerr != nil {
		return p.challenge(r, "malformed_header", oerr, ""), zap.Field{}, nil
	}
	claims, client, err := s.CheckToken(r.Context(), raw)
	if err != nil {
		// refusal is declared here rather than before the check: errors.As
		// takes its address, which moves it to the heap, and an admitted
		// request should not pay that allocation.
		var refusal *TokenRefusal
		if errors.As(err, &refusal) {
			return p.challenge(r, refusal.Reason, oauth.InvalidToken(refusal.Description), ""), zap.Field{}, nil
		}
		return Decision{}, zap.Field{}, err
	}
	refused := func(d Decision) Decision { d.Claims = claims; return d }
	if p.Audience != "" && !claims.HasAudience(p.Audience) {
		d := p.challenge(r, "audience", oauth.InvalidToken("the token is not meant for this resource: its aud does not name "+p.Audience), "")
		return refused(d), zap.String("audience_expected", p.Audience), nil
	}
	if e := addrUnproven(client, r); e != nil {
		return refused(Decision{Refusal: &Refusal{Reason: "early_data", Err: e}}), zap.Field{}, nil
	}
	if denied, seen := s.addressDenied(client, r); denied != "" {
		return refused(denial("address", denied)), zap.String("client_ip", seen), nil
	}
	if len(p.Clients) > 0 && !slices.Contains(p.Clients, claims.ClientID) {
		return refused(denial("route_client", "the client may not use this route")), zap.Field{}, nil
	}
	held, err := s.HeldScopes(r.Context(), claims, client)
	if err != nil {
		var refusal *TokenRefusal
		if errors.As(err, &refusal) { // the person was deleted or disabled just now
			return refused(p.challenge(r, refusal.Reason, oauth.InvalidToken(refusal.Description), "")), zap.Field{}, nil
		}
		return Decision{}, zap.Field{}, err
	}
	if required, missing := p.checkScopes(s.ScopeRules, r.Method, held); required != nil {
		needed := scope.Join(required)
		d := p.challenge(r, "scope", oauth.InsufficientScope(missing), needed)
		return refused(d), zap.String("scope_needed", needed), nil
	}
	text := claims.Scope
	if held.Len() != claims.Scopes.Len() {
		text = held.String()
	}
	return Decision{Claims: claims, Scope: text}, zap.Field{}, nil
}

// checkScopes applies the route's scope policy to the granted scopes, with
// the implication rules. On failure it returns the scopes of the rule that
// failed (for the challenge's scope attribute) and a description that names
// the missing ones; nil when every rule is satisfied.
func (p *Policy) checkScopes(rules *scope.Rules, method string, granted scope.Set) (required []string, description string) {
	if !rules.Satisfies(granted, p.Scopes, p.Mode) {
		if p.Mode == scope.Any {
			return p.Scopes, "the token holds none of the scopes this route accepts: " + scope.Join(p.Scopes)
		}
		return p.Scopes, "the token lacks the scope this request needs: " + scope.Join(rules.Missing(granted, p.Scopes))
	}
	for _, mr := range p.Methods {
		if mr.covers(method) && !rules.Satisfies(granted, mr.scopes, scope.All) {
			return mr.scopes, "the token lacks the scope this request needs: " + scope.Join(rules.Missing(granted, mr.scopes))
		}
	}
	return nil, ""
}

// challenge refuses with 401 or 403 and an RFC 6750 challenge naming the
// route's metadata.
func (p *Policy) challenge(r *http.Request, reason string, e *oauth.Error, scopes string) Decision {
	ch := oauth.BearerChallenge(p.Realm, e, scopes, p.metadataURL(r))
	if e == nil {
		e = &oauth.Error{Status: http.StatusUnauthorized}
	}
	return Decision{Refusal: &Refusal{Reason: reason, Err: e, Challenge: ch}}
}

// denial refuses with 403 access_denied a client the route or its
// allowlist refuses: a new token would not help, so there is no challenge.
func denial(reason, description string) Decision {
	return Decision{Refusal: &Refusal{Reason: reason, Err: &oauth.Error{Code: "access_denied", Description: description, Status: http.StatusForbidden}}}
}

// metadataURL is where the route's RFC 9728 metadata is, on the request's
// own origin, or "" when the route publishes none.
func (p *Policy) metadataURL(r *http.Request) string {
	if p.MetadataPath == "" {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + p.MetadataPath
}
