// Command go-client calls an API guarded by Scopegate, as a machine client
// does: it gets an access token from the gateway's token endpoint with the
// client_credentials grant and sends it with every request. The oauth2
// package fetches the token, caches it and fetches a new one before it
// expires; the program needs nothing Scopegate-specific.
//
// With the gateway of Caddyfile.example running and a client created:
//
//	export SCOPEGATE_CLIENT_ID=… SCOPEGATE_CLIENT_SECRET=…
//	go run ./examples/go-client -scope orders:read http://localhost:8080/orders/42
//
// The secret comes from the environment, not a flag, so that it stays out of
// the shell's history and the process list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "go-client:", err)
		os.Exit(1)
	}
}

// run parses the arguments, calls the API once and prints the answer.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("go-client", flag.ContinueOnError)
	tokenURL := fs.String("token-url", "http://localhost:8080/oauth2/token", "the gateway's token endpoint")
	scope := fs.String("scope", "orders:read", "space-separated scopes to request")
	resource := fs.String("resource", "", "the resource (RFC 8707) to get the token for; default: the client's audience")
	method := fs.String("method", http.MethodGet, "the HTTP method of the API call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: go-client [flags] <API URL>")
	}
	apiURL := fs.Arg(0)

	id, secret := getenv("SCOPEGATE_CLIENT_ID"), getenv("SCOPEGATE_CLIENT_SECRET")
	if id == "" || secret == "" {
		return errors.New("set SCOPEGATE_CLIENT_ID and SCOPEGATE_CLIENT_SECRET")
	}
	cfg := clientcredentials.Config{
		ClientID:     id,
		ClientSecret: secret,
		TokenURL:     *tokenURL,
		Scopes:       strings.Fields(*scope),
		// client_secret_basic, the method every OAuth server supports.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	if *resource != "" {
		cfg.EndpointParams = url.Values{"resource": {*resource}}
	}

	// The token request uses this client too: never wait forever.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second})
	client := cfg.Client(ctx) // adds "Authorization: Bearer …" to every request

	req, err := http.NewRequestWithContext(ctx, *method, apiURL, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		// A refused token request arrives here as *oauth2.RetrieveError.
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return fmt.Errorf("the token endpoint refused: %s %s", re.ErrorCode, re.ErrorDescription)
		}
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s: %s\n", *method, apiURL, resp.Status)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// The guard says why in the challenge (RFC 6750): invalid_token,
		// insufficient_scope with the scopes the route needs, …
		fmt.Fprintf(out, "WWW-Authenticate: %s\n", resp.Header.Get("WWW-Authenticate"))
	}
	fmt.Fprintf(out, "%s\n", body)
	if resp.StatusCode >= 400 {
		return fmt.Errorf("the API answered %s", resp.Status)
	}
	return nil
}
