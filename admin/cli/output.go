package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/token"
)

// secretWarning goes to stderr whenever a secret is printed.
const secretWarning = "scopegate: store the client secret now: it is shown only this once and cannot be shown again"

// publicNote follows the creation of a public client, which has no secret.
const publicNote = "scopegate: a public client has no secret: its app sends its client_id alone, and must use PKCE"

// printJSON writes an answer's JSON body indented. It is the same JSON the
// API sent, member for member.
func printJSON(w io.Writer, body []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(body), "", "  "); err != nil {
		return fmt.Errorf("the admin endpoint answered with something other than JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// printValue writes v as indented JSON.
func printValue(w io.Writer, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the output: %w", err)
	}
	_, err = w.Write(append(raw, '\n'))
	return err
}

// table writes aligned columns. Every cell is cleaned of control
// characters, so text from the server cannot move the cursor, rewrite the
// terminal's title or break the alignment.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

// row adds one line; empty cells show as "-".
func (t *table) row(cells ...string) {
	for i, c := range cells {
		c = clean(c, 0)
		if c == "" {
			c = "-"
		}
		cells[i] = c
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// flush writes the table out.
func (t *table) flush() error { return t.tw.Flush() }

// clean replaces control and bidirectional-override characters with '?'
// and, when max > 0, shortens s to max runes.
func clean(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if max > 0 && n == max {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), isBidiControl(r):
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isBidiControl reports whether r changes the direction of the text that
// follows it, which can make a terminal show something else than it holds.
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// timeCell formats a time in UTC, RFC 3339; zero is empty.
func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// jsonCell compacts a JSON value onto one line.
func jsonCell(raw json.RawMessage) string {
	var buf bytes.Buffer
	if len(raw) == 0 || json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// ttlCell shows a client's token lifetime, or that the server decides.
func ttlCell(d registry.Duration) string {
	if d == 0 {
		return "server default"
	}
	return time.Duration(d).String()
}

// printClient writes one client as field/value lines and then its live
// secrets. A non-empty secret is the plain secret from create or rotate.
func printClient(w io.Writer, c registry.Client, secretID, secret string) error {
	t := newTable(w)
	t.row("client_id", c.ClientID)
	t.row("client_name", c.ClientName)
	if secret != "" {
		t.row("client_secret", secret)
		t.row("secret_id", secretID)
	}
	t.row("scope", c.Scope)
	t.row("grant_types", strings.Join(c.GrantTypes, ", "))
	t.row("audience", strings.Join(c.Audience, ", "))
	if len(c.RedirectURIs) > 0 {
		t.row("redirect_uris", strings.Join(c.RedirectURIs, ", "))
	}
	if len(c.PostLogoutRedirectURIs) > 0 {
		t.row("post_logout_redirect_uris", strings.Join(c.PostLogoutRedirectURIs, ", "))
	}
	if c.IDTokenSignedResponseAlg != "" {
		t.row("id_token_signed_response_alg", c.IDTokenSignedResponseAlg)
	}
	t.row("ip_allowlist", strings.Join(c.IPAllowlist, ", "))
	t.row("features", strings.Join(c.Features, ", "))
	t.row("client_type", c.ClientType)
	t.row("token_endpoint_auth_method", c.TokenEndpointAuthMethod)
	t.row("require_scope_request", strconv.FormatBool(c.RequireScopeRequest))
	t.row("require_pkce", strconv.FormatBool(c.RequirePKCE))
	t.row("skip_consent", strconv.FormatBool(c.SkipConsent))
	t.row("registered", strconv.FormatBool(c.Registered))
	t.row("access_token_ttl", ttlCell(c.AccessTokenTTL))
	t.row("refresh_token_ttl", ttlCell(c.RefreshTokenTTL))
	t.row("disabled", strconv.FormatBool(c.Disabled))
	t.row("claims", jsonCell(c.Claims))
	t.row("metadata", jsonCell(c.Metadata))
	t.row("created_at", timeCell(c.CreatedAt))
	t.row("updated_at", timeCell(c.UpdatedAt))
	t.row("tokens_revoked_at", timeCell(c.TokensRevokedAt))
	t.row("tokens_issued", strconv.FormatUint(c.Usage.TokensIssued, 10))
	t.row("last_token_at", timeCell(c.Usage.LastTokenAt))
	t.row("requests_allowed", strconv.FormatUint(c.Usage.RequestsAllowed, 10))
	t.row("requests_denied", strconv.FormatUint(c.Usage.RequestsDenied, 10))
	t.row("last_seen_at", timeCell(c.Usage.LastSeenAt))
	t.row("people", strconv.Itoa(c.Usage.People))
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return printSecrets(w, c.Secrets)
}

// printSecrets writes a client's live secrets (never their values, which
// the server does not keep).
func printSecrets(w io.Writer, secrets []registry.SecretInfo) error {
	t := newTable(w)
	t.row("SECRET ID", "CREATED", "EXPIRES")
	for _, s := range secrets {
		expires := timeCell(s.ExpiresAt)
		if expires == "" {
			expires = "never"
		}
		t.row(s.ID, timeCell(s.CreatedAt), expires)
	}
	return t.flush()
}

// printClientList writes one line per client.
func printClientList(w io.Writer, clients []registry.Client) error {
	if len(clients) == 0 {
		_, err := fmt.Fprintln(w, "No clients.")
		return err
	}
	t := newTable(w)
	t.row("CLIENT ID", "NAME", "SCOPE", "FEATURES", "STATUS", "SECRETS", "PEOPLE", "CREATED")
	for _, c := range clients {
		status := "enabled"
		if c.Disabled {
			status = "disabled"
		}
		t.row(c.ClientID, c.ClientName, c.Scope, strings.Join(c.Features, ","), status,
			strconv.Itoa(len(c.Secrets)), strconv.Itoa(c.Usage.People), timeCell(c.CreatedAt))
	}
	return t.flush()
}

// printKeys writes one line per signing key.
func printKeys(w io.Writer, keys []token.KeyInfo) error {
	t := newTable(w)
	t.row("KID", "ALG", "STATUS", "USE", "CREATED", "ACTIVE", "RETIRED")
	for _, k := range keys {
		t.row(k.KeyID, k.Algorithm, k.Status, k.Use, timeCell(k.CreatedAt), timeCell(k.ActiveAt), timeCell(k.RetiredAt))
	}
	return t.flush()
}

// printUser writes one user as field/value lines.
func printUser(w io.Writer, u registry.User) error {
	t := newTable(w)
	t.row("user_id", u.UserID)
	t.row("username", u.Username)
	t.row("email", u.Email)
	t.row("email_verified", strconv.FormatBool(u.EmailVerified))
	t.row("name", u.Name)
	t.row("given_name", u.GivenName)
	t.row("family_name", u.FamilyName)
	t.row("preferred_username", u.PreferredUsername)
	t.row("roles", strings.Join(u.Roles, ", "))
	t.row("disabled", strconv.FormatBool(u.Disabled))
	t.row("has_password", strconv.FormatBool(u.HasPassword))
	t.row("created_at", timeCell(u.CreatedAt))
	t.row("updated_at", timeCell(u.UpdatedAt))
	t.row("last_login_at", timeCell(u.LastLoginAt))
	return t.flush()
}

// printUserList writes one line per user.
func printUserList(w io.Writer, users []registry.User) error {
	if len(users) == 0 {
		_, err := fmt.Fprintln(w, "No users.")
		return err
	}
	t := newTable(w)
	t.row("USER ID", "USERNAME", "EMAIL", "ROLES", "STATUS", "PASSWORD", "LAST LOGIN")
	for _, u := range users {
		status := "enabled"
		if u.Disabled {
			status = "disabled"
		}
		pw := "none"
		if u.HasPassword {
			pw = "set"
		}
		t.row(u.UserID, u.Username, u.Email, strings.Join(u.Roles, ","), status, pw, timeCell(u.LastLoginAt))
	}
	return t.flush()
}

// printRole writes one role as field/value lines.
func printRole(w io.Writer, r registry.Role) error {
	t := newTable(w)
	t.row("name", r.Name)
	t.row("description", r.Description)
	t.row("scopes", strings.Join(r.Scopes, " "))
	t.row("created_at", timeCell(r.CreatedAt))
	t.row("updated_at", timeCell(r.UpdatedAt))
	return t.flush()
}

// printRoleList writes one line per role.
func printRoleList(w io.Writer, roles []registry.Role) error {
	if len(roles) == 0 {
		_, err := fmt.Fprintln(w, "No roles.")
		return err
	}
	t := newTable(w)
	t.row("NAME", "SCOPES", "DESCRIPTION")
	for _, r := range roles {
		t.row(r.Name, strings.Join(r.Scopes, " "), clean(r.Description, 60))
	}
	return t.flush()
}

// printSessions writes one line per session.
func printSessions(w io.Writer, sessions []admin.SessionInfo) error {
	if len(sessions) == 0 {
		_, err := fmt.Fprintln(w, "No live sessions.")
		return err
	}
	t := newTable(w)
	t.row("SESSION ID", "CREATED", "LAST SEEN", "EXPIRES", "PERSISTENT", "ADDRESS", "USER AGENT")
	for _, s := range sessions {
		t.row(s.ID, timeCell(s.CreatedAt), timeCell(s.LastSeenAt), timeCell(s.ExpiresAt),
			strconv.FormatBool(s.Persistent), s.Address, clean(s.UserAgent, 60))
	}
	return t.flush()
}

// printConsents writes one line per standing consent.
func printConsents(w io.Writer, consents []admin.ConsentInfo) error {
	if len(consents) == 0 {
		_, err := fmt.Fprintln(w, "No apps allowed.")
		return err
	}
	t := newTable(w)
	t.row("CLIENT ID", "GRANTED", "SCOPES")
	for _, c := range consents {
		t.row(c.ClientID, timeCell(c.GrantedAt), strings.Join(c.Scopes, " "))
	}
	return t.flush()
}

// printGrants writes one line per refresh token grant.
func printGrants(w io.Writer, grants []admin.GrantInfo) error {
	if len(grants) == 0 {
		_, err := fmt.Fprintln(w, "No refresh token grants.")
		return err
	}
	t := newTable(w)
	t.row("CLIENT ID", "CREATED", "LAST USED", "EXPIRES", "SCOPES")
	for _, g := range grants {
		t.row(g.ClientID, timeCell(g.CreatedAt), timeCell(g.LastUsedAt), timeCell(g.ExpiresAt), strings.Join(g.Scopes, " "))
	}
	return t.flush()
}
