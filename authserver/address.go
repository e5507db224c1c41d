package authserver

import (
	"net/http"

	"github.com/scopegate/scopegate/ipallow"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/storage"
)

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

// addressDenied checks c's allowlist against r's client address, as the host
// server resolved it. It returns "" when c may connect from there, else the
// refusal's description naming the address seen: the caller's own, which
// tells its operator what the allowlist lacks. Every endpoint answers an
// address refusal in its own shape with this description.
func (s *Server) addressDenied(c storage.Client, r *http.Request) (description, seen string) {
	if len(c.IPAllowlist) == 0 {
		// No allowlist admits every address, so the address is not read
		// (a context lookup and a parse, on every request of most clients).
		return "", ""
	}
	addr := s.ClientAddr(r)
	if ipallow.List(c.IPAllowlist).Contains(addr) {
		return "", ""
	}
	seen = "an address it could not read"
	if addr.IsValid() {
		seen = addr.String()
	}
	return "the client may not connect from " + seen, seen
}
