package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/scopegate/scopegate/oauth"
)

// secretEnv holds the client secret when --client-secret is not given, so
// that it need not appear in the shell's history or the process list.
const secretEnv = "SCOPEGATE_CLIENT_SECRET"

// metadataWellKnown is the RFC 8414 metadata path.
const metadataWellKnown = "/.well-known/oauth-authorization-server"

// maxMetadataBytes bounds the authorization server metadata document.
const maxMetadataBytes = 1 << 20

// tokenFlags are the flags of `caddy scopegate token`.
type tokenFlags struct {
	clientID, clientSecret string
	scope                  string
	resources              []string
	tokenURL, issuer       string
}

// tokenCommand is `caddy scopegate token`.
func tokenCommand(o *options) *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "token --client-id ID (--token-url URL | --issuer URL) [--scope \"a b\"] [--resource URI]...",
		Short: "Fetches an access token with the client_credentials grant",
		Long: `Fetches an access token from the token endpoint with the client_credentials
grant (client_secret_basic) and prints it; with --json, prints the token
response with the token's header and claims decoded (not verified).

The token endpoint is --token-url, or found from --issuer through the
issuer's metadata (RFC 8414, /.well-known/oauth-authorization-server).

The client secret may be given in the environment variable
` + secretEnv + ` instead of --client-secret, so that it does not
appear in the shell's history or the process list.`,
		Example: `  read -rs SCOPEGATE_CLIENT_SECRET; export SCOPEGATE_CLIENT_SECRET
  caddy scopegate token --client-id 5kx...q --issuer http://localhost:8080 --scope orders:read`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.fetchToken(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.clientID, "client-id", "", "the client's ID")
	fl.StringVar(&f.clientSecret, "client-secret", "", "the client's secret (better: set "+secretEnv+")")
	fl.StringVar(&f.scope, "scope", "", `space-separated scopes to request, e.g. "orders:read orders:write"`)
	fl.StringArrayVar(&f.resources, "resource", nil, "a resource (RFC 8707) the token is for; its audience (repeatable)")
	fl.StringVar(&f.tokenURL, "token-url", "", "the token endpoint, e.g. http://localhost:8080/oauth2/token")
	fl.StringVar(&f.issuer, "issuer", "", "the issuer; its metadata names the token endpoint")
	return cmd
}

// tokenOutput is what --json prints.
type tokenOutput struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in,omitempty"`
	Scope       string `json:"scope,omitempty"`
	// Header and Claims are the JWT's, decoded but not verified.
	Header json.RawMessage `json:"header,omitempty"`
	Claims json.RawMessage `json:"claims,omitempty"`
}

// fetchToken runs `caddy scopegate token`.
func (o *options) fetchToken(cmd *cobra.Command, f tokenFlags) error {
	secret := f.clientSecret
	if secret == "" {
		secret = o.getenv(secretEnv)
	}
	switch {
	case f.clientID == "":
		return errors.New("--client-id is required")
	case secret == "":
		return errors.New("no client secret: set " + secretEnv + " (or give --client-secret)")
	case f.tokenURL == "" && f.issuer == "":
		return errors.New("give --token-url, or --issuer to find the token endpoint from the issuer's metadata")
	case f.tokenURL != "" && f.issuer != "":
		return errors.New("give --token-url or --issuer, not both")
	}
	// The oauth2 package flattens transport errors into text; the recorder
	// keeps the original, to say what went wrong.
	rec := &transportRecorder{base: http.DefaultTransport}
	hc := &http.Client{Timeout: requestTimeout, Transport: rec}
	ctx := context.WithValue(commandContext(cmd), oauth2.HTTPClient, hc)
	tokenURL := f.tokenURL
	if f.issuer != "" {
		var err error
		if tokenURL, err = discoverTokenURL(ctx, hc, f.issuer); err != nil {
			return err
		}
	}
	if err := checkHTTPURL(tokenURL); err != nil {
		return fmt.Errorf("--token-url: %w", err)
	}
	cfg := clientcredentials.Config{
		ClientID:     f.clientID,
		ClientSecret: secret,
		TokenURL:     tokenURL,
		Scopes:       strings.Fields(f.scope),
		// One method, and no retry with the other: a failed Basic login
		// followed by a form login would count two failures against the
		// caller's address in the login throttle.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	if rs := nonEmpty(f.resources); len(rs) > 0 {
		cfg.EndpointParams = url.Values{"resource": rs}
	}
	tok, err := cfg.Token(ctx)
	if err != nil {
		if rec.err != nil {
			err = rec.err
		}
		return tokenError(tokenURL, err)
	}
	if !o.json {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), tok.AccessToken)
		return err
	}
	out := tokenOutput{AccessToken: tok.AccessToken, TokenType: tok.Type(), ExpiresIn: tok.ExpiresIn}
	if s, ok := tok.Extra("scope").(string); ok {
		out.Scope = s
	}
	if out.ExpiresIn == 0 {
		if n, ok := tok.Extra("expires_in").(float64); ok {
			out.ExpiresIn = int64(n)
		}
	}
	out.Header, out.Claims = decodeJWT(tok.AccessToken)
	if out.Claims == nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "scopegate: the access token is not a JWT; no claims to show")
	}
	return printValue(cmd.OutOrStdout(), out)
}

// decodeJWT returns the header and claims of a compact JWS, without
// verifying anything; nil for anything else.
func decodeJWT(tok string) (header, claims json.RawMessage) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil
	}
	decode := func(s string) json.RawMessage {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || !json.Valid(raw) || !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
			return nil
		}
		return raw
	}
	header, claims = decode(parts[0]), decode(parts[1])
	if header == nil || claims == nil {
		return nil, nil
	}
	return header, claims
}

// tokenError describes a failed token request without the secret: the
// server's error code and description, or why it could not be reached.
func tokenError(tokenURL string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := clean(re.ErrorCode, 100)
		if d := clean(re.ErrorDescription, 300); d != "" {
			if msg != "" {
				msg += ": "
			}
			msg += d
		}
		if msg == "" {
			msg = "the token endpoint refused the request"
		}
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("token request refused: %s (HTTP %d)", msg, status)
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach the token endpoint %s (connection refused)", tokenURL)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the token endpoint %s did not answer within %v", tokenURL, requestTimeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("fetching a token from %s: %w", tokenURL, ue.Err)
	}
	return fmt.Errorf("fetching a token from %s: %w", tokenURL, err)
}

// transportRecorder remembers the last transport error of its requests.
type transportRecorder struct {
	base http.RoundTripper
	err  error
}

// RoundTrip sends req through the base transport.
func (t *transportRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.err = err
	}
	return resp, err
}

// checkHTTPURL checks that s is an absolute http or https URL.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", s)
	}
	return nil
}

// discoverTokenURL reads the issuer's authorization server metadata (RFC
// 8414) and returns its token endpoint. The metadata must name the same
// issuer (RFC 8414 §3.3): otherwise another server could send the secret
// to an endpoint of its choosing.
func discoverTokenURL(ctx context.Context, hc *http.Client, issuer string) (string, error) {
	if err := checkHTTPURL(issuer); err != nil {
		return "", fmt.Errorf("--issuer: %w", err)
	}
	if !oauth.ValidIssuer(issuer) {
		return "", fmt.Errorf("--issuer: an issuer has no user info, query or fragment")
	}
	u, _ := url.Parse(issuer)
	// RFC 8414 §3.1: the well-known path goes between the host and the
	// issuer's path.
	metaURL := u.Scheme + "://" + u.Host + metadataWellKnown + strings.TrimSuffix(u.EscapedPath(), "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metaURL, nil)
	if err != nil {
		return "", fmt.Errorf("--issuer: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return "", fmt.Errorf("cannot reach the issuer's metadata at %s (connection refused)", metaURL)
		}
		return "", fmt.Errorf("reading the issuer's metadata at %s: %w", metaURL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes))
	if err != nil {
		return "", fmt.Errorf("reading the issuer's metadata at %s: %w", metaURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the issuer's metadata at %s: HTTP %s", metaURL, strconv.Itoa(resp.StatusCode))
	}
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return "", fmt.Errorf("the issuer's metadata at %s is not a JSON object: %w", metaURL, err)
	}
	if meta.Issuer != issuer {
		return "", fmt.Errorf("the metadata at %s names the issuer %q, not %q: refusing to use it (RFC 8414 §3.3)", metaURL, clean(meta.Issuer, 200), issuer)
	}
	if err := checkHTTPURL(meta.TokenEndpoint); err != nil {
		return "", fmt.Errorf("the issuer's metadata at %s: token_endpoint: %w", metaURL, err)
	}
	return meta.TokenEndpoint, nil
}
