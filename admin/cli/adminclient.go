package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

// apiPrefix is where the scopegate API is mounted on the admin endpoint.
const apiPrefix = "/scopegate"

// requestTimeout bounds one request to the admin endpoint.
const requestTimeout = 30 * time.Second

// maxAnswerBytes bounds an answer from the admin endpoint: a full page of
// 1000 clients with the largest metadata is about 20 MB.
const maxAnswerBytes = 64 << 20

// adminClient sends requests to the scopegate API on Caddy's admin
// endpoint, the way caddycmd.AdminAPIRequest does (unix sockets, socket
// descriptors, the Origin header), but hands back every answer: the API's
// error JSON is what the user must see, and AdminAPIRequest folds it into
// an error string.
type adminClient struct {
	// addr is the address as given, for messages.
	addr string
	// origin is the scheme and host of request URLs, and the Origin header
	// for TCP addresses (Caddy checks it).
	origin    string
	setOrigin bool
	http      *http.Client
}

// adminClient resolves the admin address from the flags and returns a
// client for it.
func (o *options) adminClient() (*adminClient, error) {
	if o.adapter != "" && o.config == "" {
		return nil, errors.New("--adapter needs --config")
	}
	addr := o.address
	if addr == "" {
		var err error
		addr, err = caddycmd.DetermineAdminAPIAddress("", nil, o.config, o.adapter)
		if err != nil {
			return nil, fmt.Errorf("finding the admin address in %s: %w", o.config, err)
		}
	}
	return newAdminClient(addr)
}

// newAdminClient returns a client for the admin endpoint at addr, in
// Caddy's network address syntax. A leading http:// is accepted, since
// people copy the address from a URL.
func newAdminClient(addr string) (*adminClient, error) {
	given := addr
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "http://"), "/")
	if strings.Contains(addr, "://") {
		return nil, fmt.Errorf("admin address %q: use host:port or unix//path (the admin endpoint speaks plain HTTP)", given)
	}
	parsed, err := caddy.ParseNetworkAddress(addr)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", given, err)
	}
	if parsed.PortRangeSize() > 1 {
		return nil, fmt.Errorf("admin address %q: a port range is not an address", given)
	}
	c := &adminClient{addr: given}
	if parsed.IsUnixNetwork() {
		// Caddy accepts socket permissions after a bar: unix//path|0220.
		path, _, _ := strings.Cut(parsed.Host, "|")
		parsed.Host = path
	}
	if parsed.IsUnixNetwork() || parsed.IsFdNetwork() {
		// Any host would do; a loopback one keeps the request local should
		// it ever be used.
		c.origin = "http://127.0.0.1"
	} else {
		c.origin = "http://" + parsed.JoinHostPort(0)
		c.setOrigin = true
	}
	network, dialAddr := parsed.Network, parsed.JoinHostPort(0)
	var dialer net.Dialer
	c.http = &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, dialAddr)
			},
			DisableKeepAlives: true,
		},
		// The API never redirects; following one could resend a body
		// elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// answer is a successful answer of the API.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// apiError is an error answer of the API.
type apiError struct {
	Status int
	// Code is the API's error code, when the answer had one.
	Code string
	// Description is what the user reads.
	Description string
}

// Error returns "<description> (HTTP <status>)".
func (e *apiError) Error() string {
	return e.Description + " (HTTP " + strconv.Itoa(e.Status) + ")"
}

// do sends a request to path under the API's mount point. A non-nil body
// is sent with contentType. Answers of 400 and above are *apiError.
func (c *adminClient) do(ctx context.Context, method, path, contentType string, body []byte) (*answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.origin+apiPrefix+path, rd)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	if c.setOrigin {
		req.Header.Set("Origin", c.origin)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of the admin endpoint at %s: %w", c.addr, err)
	}
	if len(raw) > maxAnswerBytes {
		return nil, fmt.Errorf("the answer of the admin endpoint at %s is larger than %d bytes", c.addr, maxAnswerBytes)
	}
	if resp.StatusCode >= 400 {
		return nil, decodeAPIError(resp.StatusCode, raw)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// transportError says why the admin endpoint could not be reached, and
// what to try.
func (c *adminClient) transportError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach the admin endpoint at %s (connection refused): is Caddy running? Name its admin address with --address or --config", c.addr)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("cannot reach the admin endpoint at %s (no such socket): is Caddy running? Name its admin address with --address or --config", c.addr)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the admin endpoint at %s did not answer within %v", c.addr, requestTimeout)
	}
	return fmt.Errorf("cannot reach the admin endpoint at %s: %w; name its admin address with --address or --config", c.addr, unwrapURLError(err))
}

// unwrapURLError drops *url.Error's method and URL, which the message
// already says in other words.
func unwrapURLError(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}

// decodeAPIError builds the error of an answer: the API's
// error_description, else the error member of Caddy's own admin errors,
// else the first line of the body, else the status text.
func decodeAPIError(status int, body []byte) *apiError {
	e := &apiError{Status: status}
	var fields struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &fields) == nil {
		e.Code = fields.Error
		e.Description = fields.Description
		if e.Description == "" {
			e.Description = fields.Error
		}
	} else {
		line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		e.Description = line
	}
	e.Description = clean(e.Description, 300)
	if strings.TrimSpace(e.Description) == "" {
		e.Description = strings.ToLower(http.StatusText(status))
	}
	if e.Description == "" {
		e.Description = "the admin endpoint refused the request"
	}
	return e
}
