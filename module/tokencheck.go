package module

import (
	"context"
	"errors"
	"net/http"
	"net/netip"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/ipallow"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// tokenRefusal says why a presented access token is not accepted. Its
// description is fixed text, safe to send and to log: it never holds token
// bytes.
type tokenRefusal struct {
	// reason is a short label for logs and metrics.
	reason      string
	description string
}

func (r *tokenRefusal) Error() string { return r.description }

// Refusals that depend on current state rather than on the token's bytes.
var (
	refusedRevoked = &tokenRefusal{"revoked", "the token has been revoked"}
	refusedClient  = &tokenRefusal{"client_unknown", "the token's client no longer exists"}
	refusedOff     = &tokenRefusal{"client_disabled", "the token's client is disabled"}
	refusedAll     = &tokenRefusal{"client_tokens_revoked", "the token's client has revoked its tokens"}
)

// checkToken verifies raw (from the verified-token cache when seen before) and
// checks it against the current state: its key is still trusted, it is not
// revoked, and its client exists, is enabled and has not revoked its tokens
// since it was issued. Route policy (audience, scopes, addresses) is the
// caller's. Nothing here touches the disk: keys, revocations and (cached)
// clients are in memory.
func (a *App) checkToken(ctx context.Context, raw string) (*token.Claims, storage.Client, error) {
	if err := a.awaitStart(ctx); err != nil {
		return nil, storage.Client{}, err
	}
	claims, err := a.verifier.VerifyCached(a.keySet(), a.verified, raw)
	if err != nil {
		return nil, storage.Client{}, &tokenRefusal{reason: "invalid", description: err.Error()}
	}
	if a.backend.revocations.isRevoked(claims.JWTID) {
		return nil, storage.Client{}, refusedRevoked
	}
	client, err := a.registry.Lookup(ctx, claims.ClientID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, storage.Client{}, refusedClient
	case err != nil:
		return nil, storage.Client{}, err
	case client.Disabled:
		return nil, storage.Client{}, refusedOff
	case !client.TokensRevokedAt.IsZero() && claims.IssuedAt <= client.TokensRevokedAt.Unix():
		return nil, storage.Client{}, refusedAll
	}
	return claims, client, nil
}

// clientAddr is the request's client address as Caddy resolved it: the peer,
// or the address a trusted proxy vouched for (trusted_proxies). Headers are
// never read here.
func clientAddr(r *http.Request) netip.Addr {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	addr, err := ipallow.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}
	}
	return addr
}

// addrUnproven refuses to decide an allowlist on an address that is not yet
// proven. A request sent as TLS 1.3 or HTTP/3 early data (0-RTT) arrives
// before the handshake completes: its source address may be spoofed and the
// request replayed. Such a request is asked to come again after the
// handshake (425 Too Early, RFC 8470 §5.2), as Caddy's own client_ip matcher
// does. A client without an allowlist has no address decision to make: nil.
func addrUnproven(c storage.Client, r *http.Request) *oauth.Error {
	if len(c.IPAllowlist) == 0 || r.TLS == nil || r.TLS.HandshakeComplete {
		return nil
	}
	return &oauth.Error{
		Code:        oauth.CodeTemporarilyUnavailable,
		Description: "the client's address cannot be verified before the TLS handshake completes; send the request again after it",
		Status:      http.StatusTooEarly,
	}
}

// addrAllowed reports whether the client may connect from addr.
func addrAllowed(c storage.Client, addr netip.Addr) bool {
	return ipallow.List(c.IPAllowlist).Contains(addr)
}
