package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/registry"
)

// Media types the API takes.
const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// clientCommand is `caddy scopegate client`.
func clientCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client <command>",
		Short: "Creates, lists, reads, changes and deletes API clients",
		RunE:  groupRun,
	}
	addAdminFlags(cmd, o)
	cmd.AddCommand(
		clientCreateCommand(o),
		clientListCommand(o),
		clientGetCommand(o),
		clientUpdateCommand(o),
		clientDeleteCommand(o),
		clientRotateCommand(o),
		clientRetireCommand(o),
		clientActionCommand(o, "revoke", "Makes every token issued to the client so far stop working",
			"Every access token issued to the client before now stops working at once; new\ntokens can still be issued. The client's tokens_revoked_at shows the moment."),
		clientActionCommand(o, "disable", "Disables a client: it gets no tokens and its live tokens stop working",
			"A disabled client gets no tokens, and its live tokens stop working at once,\nuntil 'client enable'."),
		clientActionCommand(o, "enable", "Enables a disabled client", ""),
	)
	return cmd
}

// metadataFlags are the flags that set a client's writable fields, shared
// by create and update.
type metadataFlags struct {
	name, scope     string
	audience        []string
	redirectURIs    []string
	ips             []string
	features        []string
	grants          []string
	ttl             time.Duration
	noRequireScope  bool
	claims, metaRaw string
	// public and authMethod both set token_endpoint_auth_method: --public
	// is --auth-method none.
	public        bool
	authMethod    string
	skipConsent   bool
	noRequirePKCE bool
	// postLogoutURIs are post_logout_redirect_uris.
	postLogoutURIs []string
	refreshTTL     time.Duration
	// idTokenAlg is id_token_signed_response_alg.
	idTokenAlg string
}

// add defines the flags on cmd.
func (m *metadataFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&m.name, "name", "", "the client's name, unique ignoring case (client_name)")
	f.StringVar(&m.scope, "scope", "", `space-separated scopes the client may request, e.g. "orders:read orders:write"`)
	f.StringArrayVar(&m.audience, "audience", nil, "a resource URI the client may get tokens for (repeatable)")
	f.StringArrayVar(&m.redirectURIs, "redirect-uri", nil, "an absolute redirect URI, for grants that use one (repeatable)")
	f.StringSliceVar(&m.ips, "ip", nil, "an address or CIDR the client may connect from (repeatable or comma-separated; none means any)")
	f.StringSliceVar(&m.features, "feature", nil, featureHelp)
	f.StringSliceVar(&m.grants, "grant", nil, "a grant type the client may use (default client_credentials)")
	f.DurationVar(&m.ttl, "ttl", 0, "access token lifetime for this client, e.g. 15m (0: the server's default)")
	f.BoolVar(&m.noRequireScope, "no-require-scope", false, "give all allowed scopes to a token request that names none, instead of refusing it")
	f.StringVar(&m.claims, "claims", "", `a JSON object of extra claims for the client's tokens, e.g. '{"tenant":"acme"}'`)
	f.StringVar(&m.metaRaw, "metadata", "", `a JSON object kept for the operator, e.g. '{"team":"billing"}'`)
	f.BoolVar(&m.public, "public", false, "a public client (token_endpoint_auth_method none): a single-page or native app that holds no secret and may only use authorization_code, with PKCE")
	f.StringVar(&m.authMethod, "auth-method", "", "token_endpoint_auth_method: client_secret_basic (the default), client_secret_post or none")
	f.BoolVar(&m.skipConsent, "skip-consent", false, "let the client's authorization requests go without the consent page (first-party apps)")
	f.BoolVar(&m.noRequirePKCE, "no-require-pkce", false, "let a confidential client's authorization requests go without PKCE (never a public client's)")
	f.StringArrayVar(&m.postLogoutURIs, "post-logout-redirect-uri", nil, "where RP-initiated logout may return the browser, an absolute URI under the redirect URI rules (repeatable)")
	f.DurationVar(&m.refreshTTL, "refresh-ttl", 0, "refresh token lifetime for a client of the refresh_token grant, e.g. 168h (0: the server's default)")
	f.StringVar(&m.idTokenAlg, "id-token-alg", "", `the algorithm of the client's ID tokens (id_token_signed_response_alg): the server's signing_alg or RS256 ("": the server's signing_alg)`)
}

// featureHelp is --feature's help: every feature and what it allows. The
// areas of remote admin are as README.md's features table gives them.
const featureHelp = `a feature (repeatable or comma-separated); features add up:
  owner               remote admin: everything
  client_read         remote admin: read clients and signing keys
  direct_access       remote admin: read and write users (with their sessions, consents,
                      grants, password, disable and enable); read roles
  direct_read_access  remote admin: read users and roles
  login_client        an app that acts only on the signed-in person's own record;
                      it cannot have any other feature
  access_issuer       exchange a person's token for one for another client's audience
                      (RFC 8693 token exchange)
  metadata            with direct_access, changes to users keep their updated_at;
                      only the operator (Caddy's admin endpoint) may assign it
  introspect          call the introspection endpoint`

// errTwoAuthMethods refuses --public with --auth-method.
var errTwoAuthMethods = errors.New("--public and --auth-method both set token_endpoint_auth_method; give one")

// authMethodValue is the token_endpoint_auth_method the flags ask for; ""
// for none given.
func (m *metadataFlags) authMethodValue() (string, error) {
	switch {
	case m.public && m.authMethod != "":
		return "", errTwoAuthMethods
	case m.public:
		return "none", nil
	}
	return m.authMethod, nil
}

// jsonObjectFlag checks that a flag holds a JSON object (or null, when
// nullOK) and returns it compacted.
func jsonObjectFlag(name, value string, nullOK bool) (json.RawMessage, error) {
	value = strings.TrimSpace(value)
	if nullOK && value == "null" {
		return json.RawMessage("null"), nil
	}
	var buf bytes.Buffer
	if !strings.HasPrefix(value, "{") || json.Compact(&buf, []byte(value)) != nil {
		return nil, fmt.Errorf(`--%s: must be a JSON object, such as '{"team":"billing"}'`, name)
	}
	return buf.Bytes(), nil
}

// nonEmpty drops empty values, so that --ip "" means "none".
func nonEmpty(values []string) []string {
	var out []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// createBody builds the body of POST /clients from the flags.
func (m *metadataFlags) createBody() ([]byte, error) {
	if strings.TrimSpace(m.name) == "" {
		return nil, errors.New("--name is required")
	}
	md := registry.Metadata{
		ClientName:   m.name,
		Scope:        m.scope,
		Audience:     nonEmpty(m.audience),
		RedirectURIs: nonEmpty(m.redirectURIs),
		IPAllowlist:  nonEmpty(m.ips),
		Features:     nonEmpty(m.features),
		GrantTypes:   nonEmpty(m.grants),
		// Sent as is: the server refuses what it does not accept, with a
		// message that names the rule.
		AccessTokenTTL: registry.Duration(m.ttl),
	}
	md.RefreshTokenTTL = registry.Duration(m.refreshTTL)
	if m.noRequireScope {
		no := false
		md.RequireScopeRequest = &no
	}
	if m.noRequirePKCE {
		no := false
		md.RequirePKCE = &no
	}
	md.SkipConsent = m.skipConsent
	md.PostLogoutRedirectURIs = nonEmpty(m.postLogoutURIs)
	md.IDTokenSignedResponseAlg = m.idTokenAlg
	var err error
	if md.TokenEndpointAuthMethod, err = m.authMethodValue(); err != nil {
		return nil, err
	}
	if m.claims != "" {
		if md.Claims, err = jsonObjectFlag("claims", m.claims, false); err != nil {
			return nil, err
		}
	}
	if m.metaRaw != "" {
		if md.Metadata, err = jsonObjectFlag("metadata", m.metaRaw, false); err != nil {
			return nil, err
		}
	}
	return json.Marshal(md)
}

// patchBody builds an RFC 7396 merge patch from the flags the user gave:
// fields whose flags were not given are left out, so they keep their
// values. An empty list, an empty scope or a zero --ttl sends null, which
// returns the field to its default. --claims and --metadata are merged
// into the stored objects (a member set to null is removed); the value
// null removes the whole object.
func (m *metadataFlags) patchBody(cmd *cobra.Command) ([]byte, error) {
	changed := cmd.Flags().Changed
	patch := map[string]any{}
	if changed("name") {
		if strings.TrimSpace(m.name) == "" {
			return nil, errors.New("--name must not be empty")
		}
		patch["client_name"] = m.name
	}
	if changed("scope") {
		patch["scope"] = orNull(strings.TrimSpace(m.scope))
	}
	lists := []struct {
		flag, field string
		values      []string
	}{
		{"audience", "audience", m.audience},
		{"redirect-uri", "redirect_uris", m.redirectURIs},
		{"ip", "ip_allowlist", m.ips},
		{"feature", "features", m.features},
		{"grant", "grant_types", m.grants},
		{"post-logout-redirect-uri", "post_logout_redirect_uris", m.postLogoutURIs},
	}
	for _, l := range lists {
		if !changed(l.flag) {
			continue
		}
		if v := nonEmpty(l.values); len(v) > 0 {
			patch[l.field] = v
		} else {
			patch[l.field] = nil
		}
	}
	if changed("ttl") {
		if m.ttl == 0 {
			patch["access_token_ttl"] = nil
		} else {
			patch["access_token_ttl"] = registry.Duration(m.ttl)
		}
	}
	if changed("refresh-ttl") {
		if m.refreshTTL == 0 {
			patch["refresh_token_ttl"] = nil
		} else {
			patch["refresh_token_ttl"] = registry.Duration(m.refreshTTL)
		}
	}
	if changed("id-token-alg") {
		patch["id_token_signed_response_alg"] = orNull(m.idTokenAlg)
	}
	if changed("no-require-scope") {
		patch["require_scope_request"] = !m.noRequireScope
	}
	if changed("no-require-pkce") {
		patch["require_pkce"] = !m.noRequirePKCE
	}
	if changed("skip-consent") {
		patch["skip_consent"] = m.skipConsent
	}
	switch {
	case changed("public") && changed("auth-method"):
		return nil, errTwoAuthMethods
	case changed("public") && m.public:
		patch["token_endpoint_auth_method"] = "none"
	case changed("public"):
		// No longer public: back to the default method.
		patch["token_endpoint_auth_method"] = nil
	case changed("auth-method"):
		patch["token_endpoint_auth_method"] = orNull(strings.TrimSpace(m.authMethod))
	}
	for _, f := range []struct {
		flag, field, value string
	}{{"claims", "claims", m.claims}, {"metadata", "metadata", m.metaRaw}} {
		if !changed(f.flag) {
			continue
		}
		raw, err := jsonObjectFlag(f.flag, f.value, true)
		if err != nil {
			return nil, err
		}
		patch[f.field] = raw
	}
	if len(patch) == 0 {
		return nil, errors.New("nothing to change: give at least one flag, such as --scope; see 'caddy scopegate client update --help'")
	}
	return json.Marshal(patch)
}

// orNull returns nil (JSON null) for an empty string.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// clientPath is the API path of one client.
func clientPath(id string) string {
	return "/clients/" + url.PathEscape(id)
}

// secretAnswer is the answer to create and rotate.
type secretAnswer struct {
	registry.Client
	ClientSecret string `json:"client_secret"`
	SecretID     string `json:"secret_id"`
}

// printSecretAnswer prints the answer of create or rotate, with the
// warning that the secret will not be shown again.
func (o *options) printSecretAnswer(cmd *cobra.Command, a *answer) error {
	var s secretAnswer
	if err := json.Unmarshal(a.body, &s); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	if s.ClientSecret == "" && s.ClientType != registry.ClientTypePublic {
		return errors.New("the answer holds no client secret")
	}
	var err error
	if o.json {
		err = printJSON(cmd.OutOrStdout(), a.body)
	} else {
		err = printClient(cmd.OutOrStdout(), s.Client, s.SecretID, s.ClientSecret)
	}
	if s.ClientSecret == "" {
		fmt.Fprintln(cmd.ErrOrStderr(), publicNote)
	} else {
		fmt.Fprintln(cmd.ErrOrStderr(), secretWarning)
	}
	return err
}

// printClientAnswer prints an answer that is one client.
func (o *options) printClientAnswer(cmd *cobra.Command, a *answer) error {
	if o.json {
		return printJSON(cmd.OutOrStdout(), a.body)
	}
	var c registry.Client
	if err := json.Unmarshal(a.body, &c); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	return printClient(cmd.OutOrStdout(), c, "", "")
}

// call sends one request to the API on the admin endpoint.
func (o *options) call(cmd *cobra.Command, method, path, contentType string, body []byte) (*answer, error) {
	c, err := o.adminClient()
	if err != nil {
		return nil, err
	}
	return c.do(commandContext(cmd), method, path, contentType, body)
}

func clientCreateCommand(o *options) *cobra.Command {
	var m metadataFlags
	cmd := &cobra.Command{
		Use:   "create --name NAME [flags]",
		Short: "Creates a client and prints its secret, once",
		Long: `Creates a client and prints it with its first client secret. The secret is
shown only this once: store it at once (the server keeps only a hash). A public
client (--public) gets no secret.`,
		Example: `  caddy scopegate client create --name billing --scope "orders:read orders:write" \
      --audience https://api.example.com/orders --ip 10.0.0.0/8 --ttl 10m
  caddy scopegate client create --name web --grant authorization_code \
      --redirect-uri https://app.example.com/callback --scope "openid orders:read"
  caddy scopegate client create --name cli-app --public --redirect-uri http://127.0.0.1/callback`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := m.createBody()
			if err != nil {
				return err
			}
			a, err := o.call(cmd, http.MethodPost, "/clients", mediaJSON, body)
			if err != nil {
				return err
			}
			return o.printSecretAnswer(cmd, a)
		},
	}
	m.add(cmd)
	return cmd
}

func clientListCommand(o *options) *cobra.Command {
	var (
		name, cursor    string
		limit           int
		all, registered bool
	)
	cmd := &cobra.Command{
		Use:   "list [--name NAME] [--registered[=false]] [--limit N] [--all]",
		Short: "Lists clients, a page at a time or all of them",
		Long: `Lists clients in order of client ID, a page at a time (100 unless --limit
says otherwise, at most 1000). --all follows the pages to the end; with
--json it prints {"clients": [...]} holding every client. --registered
lists only the clients that registered themselves (dynamic registration),
--registered=false only those an administrator made.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.adminClient()
			if err != nil {
				return err
			}
			return o.listClients(cmd, c, name, limit, cursor, all, registered)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "only the client with this name (ignoring case)")
	f.BoolVar(&registered, "registered", false, "only the clients that registered themselves; =false: only those an administrator made (default: both)")
	f.IntVar(&limit, "limit", 0, "clients per page, 1 to 1000 (default 100)")
	f.StringVar(&cursor, "cursor", "", "start at this next_cursor of an earlier page")
	f.BoolVar(&all, "all", false, "follow next_cursor and list every client")
	return cmd
}

// listPage is one page of GET /clients, with the clients kept as the
// server wrote them.
type listPage struct {
	Clients    []json.RawMessage `json:"clients"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// listClients fetches one page, or every page with all, and prints them.
// registered filters only when its flag was given.
func (o *options) listClients(cmd *cobra.Command, c *adminClient, name string, limit int, cursor string, all, registered bool) error {
	var clients []json.RawMessage
	next := cursor
	for {
		q := url.Values{}
		if name != "" {
			q.Set("name", name)
		}
		if cmd.Flags().Changed("limit") {
			q.Set("limit", strconv.Itoa(limit))
		}
		if cmd.Flags().Changed("registered") {
			q.Set("registered", strconv.FormatBool(registered))
		}
		if next != "" {
			q.Set("cursor", next)
		}
		path := "/clients"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		a, err := c.do(commandContext(cmd), http.MethodGet, path, "", nil)
		if err != nil {
			return err
		}
		if !all {
			return o.printPage(cmd, a.body)
		}
		var page listPage
		if err := json.Unmarshal(a.body, &page); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		clients = append(clients, page.Clients...)
		if page.NextCursor == "" {
			break
		}
		if page.NextCursor == next {
			return errors.New("the admin endpoint returned the same page cursor twice")
		}
		next = page.NextCursor
	}
	if clients == nil {
		clients = []json.RawMessage{}
	}
	if o.json {
		return printValue(cmd.OutOrStdout(), listPage{Clients: clients})
	}
	return printRawClients(cmd, clients)
}

// printPage prints one page as the API sent it, or as a table with a hint
// on stderr when more pages follow.
func (o *options) printPage(cmd *cobra.Command, body []byte) error {
	if o.json {
		return printJSON(cmd.OutOrStdout(), body)
	}
	var page listPage
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	if err := printRawClients(cmd, page.Clients); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "scopegate: more clients follow: list them with --all, or with --cursor %s\n", clean(page.NextCursor, 0))
	}
	return nil
}

// printRawClients decodes clients and prints them as a table.
func printRawClients(cmd *cobra.Command, raw []json.RawMessage) error {
	clients := make([]registry.Client, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &clients[i]); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
	}
	return printClientList(cmd.OutOrStdout(), clients)
}

func clientGetCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Shows one client, with its live secrets and usage",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ans, err := o.call(cmd, http.MethodGet, clientPath(a[0]), "", nil)
			if err != nil {
				return err
			}
			return o.printClientAnswer(cmd, ans)
		},
	}
}

func clientUpdateCommand(o *options) *cobra.Command {
	var m metadataFlags
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Changes the fields of a client that the flags name",
		Long: `Changes only the fields whose flags are given (the request is a JSON merge
patch, RFC 7396); the others keep their values.

A list flag replaces the whole list; give it an empty value (--ip "") to
clear the list. --scope "" clears the scopes, --ttl 0 returns to the
server's default, --no-require-scope=false requires a scope request again.
--claims and --metadata are merged into the stored objects: a member set to
null is removed, and the value null removes the whole object.`,
		Example: `  caddy scopegate client update 5kx...q --scope "orders:read" --ip 10.1.0.0/16 --ip 10.2.0.0/16
  caddy scopegate client update 5kx...q --metadata '{"owner":null}'`,
		Args: args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			body, err := m.patchBody(cmd)
			if err != nil {
				return err
			}
			ans, err := o.call(cmd, http.MethodPatch, clientPath(a[0]), mediaMergePatch, body)
			if err != nil {
				return err
			}
			return o.printClientAnswer(cmd, ans)
		},
	}
	m.add(cmd)
	return cmd
}

func clientDeleteCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Deletes a client; its tokens stop working at once",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if _, err := o.call(cmd, http.MethodDelete, clientPath(a[0]), "", nil); err != nil {
				return err
			}
			if o.json {
				// The API answers 204 with no body; --json still prints
				// one JSON document, so that scripts can parse every answer.
				return printValue(cmd.OutOrStdout(), map[string]any{"client_id": a[0], "deleted": true})
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "Deleted client %s.\n", clean(a[0], 0))
			return err
		},
	}
}

func clientRotateCommand(o *options) *cobra.Command {
	var grace, expiresIn time.Duration
	cmd := &cobra.Command{
		Use:   "rotate-secret ID [--grace 1h] [--expires-in 2160h]",
		Short: "Gives a client a new secret and prints it, once",
		Long: `Gives the client a new secret and prints it; it is shown only this once.
The client's other secrets stop working at once, or after --grace, which
leaves time to deploy the new one. A client holds at most 5 live secrets.`,
		Args: args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if grace < 0 || expiresIn < 0 {
				return errors.New("--grace and --expires-in must not be negative")
			}
			var body []byte
			if grace > 0 || expiresIn > 0 {
				req := map[string]registry.Duration{}
				if grace > 0 {
					req["grace_period"] = registry.Duration(grace)
				}
				if expiresIn > 0 {
					req["expires_in"] = registry.Duration(expiresIn)
				}
				var err error
				if body, err = json.Marshal(req); err != nil {
					return err
				}
			}
			ans, err := o.call(cmd, http.MethodPost, clientPath(a[0])+"/secrets", mediaJSON, body)
			if err != nil {
				return err
			}
			return o.printSecretAnswer(cmd, ans)
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long the client's other secrets keep working, e.g. 1h (default: they stop now)")
	cmd.Flags().DurationVar(&expiresIn, "expires-in", 0, "make the new secret expire after this long (default: never)")
	return cmd
}

func clientRetireCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "retire-secret ID SECRET_ID",
		Short: "Makes one of a client's secrets stop working now",
		Long: `Makes one secret stop working now. The last live secret cannot be retired:
rotate first, or disable the client.`,
		Args: args("ID", "SECRET_ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ans, err := o.call(cmd, http.MethodDelete, clientPath(a[0])+"/secrets/"+url.PathEscape(a[1]), "", nil)
			if err != nil {
				return err
			}
			return o.printClientAnswer(cmd, ans)
		},
	}
}

// clientActionCommand is a command that posts to /clients/{id}/<name> and
// prints the client.
func clientActionCommand(o *options, name, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:   name + " ID",
		Short: short,
		Long:  long,
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ans, err := o.call(cmd, http.MethodPost, clientPath(a[0])+"/"+name, "", nil)
			if err != nil {
				return err
			}
			return o.printClientAnswer(cmd, ans)
		},
	}
}

// commandContext is the command's context; cobra sets one when the
// command runs through Execute.
func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
