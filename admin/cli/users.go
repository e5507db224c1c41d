package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/registry"
)

// passwordHelp is said wherever a password is read: it never comes from a
// flag, where ps, /proc and the shell's history would show it.
const passwordHelp = `Passwords are never taken as flag values, which other users of the machine
can read in the process list and which shell history keeps. They are read
from standard input: typed at a prompt that does not echo them when
standard input is a terminal, or the first line of a pipe or file
(printf '%s\n' "$PW" | ...).`

// maxPasswordLine bounds the line read from standard input: the server
// refuses passwords over 1024 bytes, and a hash is far shorter than this.
const maxPasswordLine = 4096

// userCommand is `caddy scopegate user`.
func userCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user <command>",
		Short: "Creates, lists, reads, changes and deletes users, their passwords, sessions and consents",
		Long: `Manages the people who sign in to apps through the gateway: their profile,
roles, password, whether they are disabled, their sign-in sessions, and the
apps they allowed to act for them.

` + passwordHelp,
		RunE: groupRun,
	}
	addAdminFlags(cmd, o)
	cmd.AddCommand(
		userCreateCommand(o),
		userListCommand(o),
		userGetCommand(o),
		userUpdateCommand(o),
		userDeleteCommand(o),
		userPasswdCommand(o),
		userActionCommand(o, "disable", "Disables a user: they can no longer sign in"),
		userActionCommand(o, "enable", "Enables a disabled user"),
		userSessionsCommand(o),
		userEndSessionsCommand(o),
		userConsentsCommand(o),
		userWithdrawConsentCommand(o),
		userGrantsCommand(o),
		userRevokeGrantsCommand(o),
	)
	return cmd
}

// userFlags are the flags that set a user's writable fields, shared by
// create and update.
type userFlags struct {
	username, email, name, givenName, familyName, preferredUsername string
	emailVerified, disabled                                         bool
	roles                                                           []string
}

// add defines the flags on cmd.
func (u *userFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&u.username, "username", "", "the username: 3 to 64 ASCII letters, digits and . _ - @, unique ignoring case")
	f.StringVar(&u.email, "email", "", "the email address, without a display name")
	f.BoolVar(&u.emailVerified, "email-verified", false, "the email address is known to be the user's")
	f.StringVar(&u.name, "name", "", "the full name")
	f.StringVar(&u.givenName, "given-name", "", "the given name")
	f.StringVar(&u.familyName, "family-name", "", "the family name")
	f.StringVar(&u.preferredUsername, "preferred-username", "", "a display name")
	f.StringSliceVar(&u.roles, "role", nil, "a role the user holds (repeatable or comma-separated)")
	f.BoolVar(&u.disabled, "disabled", false, "the user cannot sign in")
}

// metadata returns the fields as the API takes them.
func (u *userFlags) metadata() registry.UserMetadata {
	return registry.UserMetadata{
		Username:          u.username,
		Email:             u.email,
		EmailVerified:     u.emailVerified,
		Name:              u.name,
		GivenName:         u.givenName,
		FamilyName:        u.familyName,
		PreferredUsername: u.preferredUsername,
		Roles:             nonEmpty(u.roles),
		Disabled:          u.disabled,
	}
}

// patchBody builds a merge patch from the flags the user gave; an empty
// value (or an empty --role "") sends null, which clears the field.
func (u *userFlags) patchBody(cmd *cobra.Command) ([]byte, error) {
	changed := cmd.Flags().Changed
	patch := map[string]any{}
	if changed("username") {
		if strings.TrimSpace(u.username) == "" {
			return nil, errors.New("--username must not be empty")
		}
		patch["username"] = u.username
	}
	for _, f := range []struct{ flag, field, value string }{
		{"email", "email", u.email},
		{"name", "name", u.name},
		{"given-name", "given_name", u.givenName},
		{"family-name", "family_name", u.familyName},
		{"preferred-username", "preferred_username", u.preferredUsername},
	} {
		if changed(f.flag) {
			patch[f.field] = orNull(f.value)
		}
	}
	if changed("email-verified") {
		patch["email_verified"] = u.emailVerified
	}
	if changed("disabled") {
		patch["disabled"] = u.disabled
	}
	if changed("role") {
		if roles := nonEmpty(u.roles); len(roles) > 0 {
			patch["roles"] = roles
		} else {
			patch["roles"] = nil
		}
	}
	if len(patch) == 0 {
		return nil, errors.New("nothing to change: give at least one flag, such as --email; see 'caddy scopegate user update --help'")
	}
	return json.Marshal(patch)
}

// userPath is the API path of one user.
func userPath(id string) string {
	return "/users/" + url.PathEscape(id)
}

// readSecretLine reads a password or hash from standard input: at a prompt
// without echo (asked twice, to catch a typo) when it is a terminal, else
// its first line.
func readSecretLine(cmd *cobra.Command, what string) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptTwice(cmd, int(f.Fd()), what)
	}
	line, err := readLine(in)
	if err != nil {
		return "", fmt.Errorf("reading the %s from standard input: %w", what, err)
	}
	if line == "" {
		return "", fmt.Errorf("standard input holds no %s: give it on the first line", what)
	}
	return line, nil
}

// promptTwice reads a value twice at the terminal without echo.
func promptTwice(cmd *cobra.Command, fd int, what string) (string, error) {
	read := func(prompt string) (string, error) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("reading the %s: %w", what, err)
		}
		return string(b), nil
	}
	first, err := read("New " + what + ": ")
	if err != nil {
		return "", err
	}
	again, err := read("Repeat the " + what + ": ")
	if err != nil {
		return "", err
	}
	if first != again {
		return "", fmt.Errorf("the two %ss differ; nothing was changed", what)
	}
	if first == "" {
		return "", fmt.Errorf("no %s given; nothing was changed", what)
	}
	return first, nil
}

// readLine returns the first line of r without its line ending, refusing
// one longer than maxPasswordLine.
func readLine(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxPasswordLine+2), maxPasswordLine+2)
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if len(line) > maxPasswordLine && !strings.HasSuffix(line, "\n") {
		return "", fmt.Errorf("the first line is longer than %d bytes", maxPasswordLine)
	}
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

func userCreateCommand(o *options) *cobra.Command {
	var (
		u             userFlags
		passwordStdin bool
	)
	cmd := &cobra.Command{
		Use:   "create --username NAME [flags]",
		Short: "Creates a user, with a password read from standard input if asked",
		Long: `Creates a user. Without --password-stdin the user has no password and cannot
sign in until 'user passwd' sets one.

` + passwordHelp,
		Example: `  caddy scopegate user create --username ada --email ada@example.com --role support --password-stdin`,
		Args:    args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(u.username) == "" {
				return errors.New("--username is required")
			}
			n := registry.NewUser{UserMetadata: u.metadata()}
			if passwordStdin {
				pw, err := readSecretLine(cmd, "password")
				if err != nil {
					return err
				}
				n.Password = &pw
			}
			body, err := json.Marshal(n)
			if err != nil {
				return err
			}
			a, err := o.call(cmd, http.MethodPost, "/users", mediaJSON, body)
			if err != nil {
				return err
			}
			return o.printUserAnswer(cmd, a)
		},
	}
	u.add(cmd)
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input (a prompt without echo on a terminal); never give it as a flag")
	return cmd
}

func userListCommand(o *options) *cobra.Command {
	var (
		username, cursor string
		limit            int
		all              bool
	)
	cmd := &cobra.Command{
		Use:   "list [--username NAME] [--limit N] [--all]",
		Short: "Lists users, a page at a time or all of them",
		Long: `Lists users in order of user ID, a page at a time (100 unless --limit says
otherwise, at most 1000). --all follows the pages to the end.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if username != "" {
				q.Set("username", username)
			}
			return o.listPages(cmd, "/users", "users", q, limit, cursor, all, printRawUsers)
		},
	}
	f := cmd.Flags()
	f.StringVar(&username, "username", "", "only the user with this username (ignoring case)")
	f.IntVar(&limit, "limit", 0, "users per page, 1 to 1000 (default 100)")
	f.StringVar(&cursor, "cursor", "", "start at this next_cursor of an earlier page")
	f.BoolVar(&all, "all", false, "follow next_cursor and list every user")
	return cmd
}

// listPages fetches one page of a list (path, whose items are under
// field), or every page with all, and prints them with printItems or as
// JSON.
func (o *options) listPages(cmd *cobra.Command, path, field string, q url.Values, limit int, cursor string, all bool,
	printItems func(cmd *cobra.Command, items []json.RawMessage) error) error {
	c, err := o.adminClient()
	if err != nil {
		return err
	}
	if cmd.Flags().Changed("limit") {
		q.Set("limit", strconv.Itoa(limit))
	}
	var items []json.RawMessage
	next := cursor
	for {
		if next != "" {
			q.Set("cursor", next)
		}
		target := path
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
		a, err := c.do(commandContext(cmd), http.MethodGet, target, "", nil)
		if err != nil {
			return err
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(a.body, &page); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		var pageItems []json.RawMessage
		if err := json.Unmarshal(page[field], &pageItems); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		var nextCursor string
		if raw, ok := page["next_cursor"]; ok {
			if err := json.Unmarshal(raw, &nextCursor); err != nil {
				return fmt.Errorf("decoding the answer: %w", err)
			}
		}
		if !all {
			if o.json {
				return printJSON(cmd.OutOrStdout(), a.body)
			}
			if err := printItems(cmd, pageItems); err != nil {
				return err
			}
			if nextCursor != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "scopegate: more %s follow: list them with --all, or with --cursor %s\n", field, clean(nextCursor, 0))
			}
			return nil
		}
		items = append(items, pageItems...)
		if nextCursor == "" {
			break
		}
		if nextCursor == next {
			return errors.New("the admin endpoint returned the same page cursor twice")
		}
		next = nextCursor
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	if o.json {
		return printValue(cmd.OutOrStdout(), map[string][]json.RawMessage{field: items})
	}
	return printItems(cmd, items)
}

// printRawUsers decodes users and prints them as a table.
func printRawUsers(cmd *cobra.Command, raw []json.RawMessage) error {
	users := make([]registry.User, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &users[i]); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
	}
	return printUserList(cmd.OutOrStdout(), users)
}

// printUserAnswer prints an answer that is one user.
func (o *options) printUserAnswer(cmd *cobra.Command, a *answer) error {
	if o.json {
		return printJSON(cmd.OutOrStdout(), a.body)
	}
	var u registry.User
	if err := json.Unmarshal(a.body, &u); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	return printUser(cmd.OutOrStdout(), u)
}

func userGetCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Shows one user",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ans, err := o.call(cmd, http.MethodGet, userPath(a[0]), "", nil)
			if err != nil {
				return err
			}
			return o.printUserAnswer(cmd, ans)
		},
	}
}

func userUpdateCommand(o *options) *cobra.Command {
	var u userFlags
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Changes the fields of a user that the flags name",
		Long: `Changes only the fields whose flags are given (the request is a JSON merge
patch, RFC 7396); the others keep their values. --role replaces the whole
list of roles; --role "" clears it. An empty value clears a text field.
The password is changed with 'user passwd'.`,
		Example: `  caddy scopegate user update 5kx...q --role support --role billing --email-verified`,
		Args:    args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			body, err := u.patchBody(cmd)
			if err != nil {
				return err
			}
			ans, err := o.call(cmd, http.MethodPatch, userPath(a[0]), mediaMergePatch, body)
			if err != nil {
				return err
			}
			return o.printUserAnswer(cmd, ans)
		},
	}
	u.add(cmd)
	return cmd
}

func userDeleteCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Deletes a user",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if _, err := o.call(cmd, http.MethodDelete, userPath(a[0]), "", nil); err != nil {
				return err
			}
			if o.json {
				return printValue(cmd.OutOrStdout(), map[string]any{"user_id": a[0], "deleted": true})
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "Deleted user %s.\n", clean(a[0], 0))
			return err
		},
	}
}

func userPasswdCommand(o *options) *cobra.Command {
	var hash bool
	cmd := &cobra.Command{
		Use:   "passwd ID [--hash]",
		Short: "Sets a user's password, read from standard input",
		Long: `Sets the user's password, checked by the server's password policy (at least
8 characters, not a common password, not the username or email). With
--hash, standard input holds an argon2id PHC string or a bcrypt hash from
another system instead, which is imported as is.

` + passwordHelp,
		Example: `  caddy scopegate user passwd 5kx...q
  printf '%s\n' "$HASH" | caddy scopegate user passwd 5kx...q --hash`,
		Args: args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			var change registry.PasswordChange
			what := "password"
			if hash {
				what = "password hash"
			}
			value, err := readSecretLine(cmd, what)
			if err != nil {
				return err
			}
			if hash {
				change.PasswordHash = &value
			} else {
				change.Password = &value
			}
			body, err := json.Marshal(change)
			if err != nil {
				return err
			}
			ans, err := o.call(cmd, http.MethodPut, userPath(a[0])+"/password", mediaJSON, body)
			if err != nil {
				return err
			}
			return o.printUserAnswer(cmd, ans)
		},
	}
	cmd.Flags().BoolVar(&hash, "hash", false, "standard input holds a hash to import (argon2id PHC or bcrypt), not a password")
	return cmd
}

// userActionCommand is a command that posts to /users/{id}/<name> and
// prints the user.
func userActionCommand(o *options, name, short string) *cobra.Command {
	return &cobra.Command{
		Use:   name + " ID",
		Short: short,
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ans, err := o.call(cmd, http.MethodPost, userPath(a[0])+"/"+name, "", nil)
			if err != nil {
				return err
			}
			return o.printUserAnswer(cmd, ans)
		},
	}
}

func userSessionsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "sessions ID",
		Short: "Lists a user's live sign-in sessions",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ans, err := o.call(cmd, http.MethodGet, userPath(a[0])+"/sessions", "", nil)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), ans.body)
			}
			var list struct {
				Sessions []admin.SessionInfo `json:"sessions"`
			}
			if err := json.Unmarshal(ans.body, &list); err != nil {
				return fmt.Errorf("decoding the answer: %w", err)
			}
			return printSessions(cmd.OutOrStdout(), list.Sessions)
		},
	}
}

func userEndSessionsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "end-sessions ID [SESSION_ID]",
		Short: "Signs a user out: ends all their sessions, or one",
		Long: `Ends every live session of the user, or only SESSION_ID (as 'user sessions'
lists them). The browsers are signed out at their next request.`,
		Args: func(cmd *cobra.Command, got []string) error {
			if len(got) >= 2 {
				return args("ID", "SESSION_ID")(cmd, got)
			}
			return args("ID")(cmd, got)
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			if len(a) == 2 {
				return o.endOneSession(cmd, a[0], a[1])
			}
			ans, err := o.call(cmd, http.MethodDelete, userPath(a[0])+"/sessions", "", nil)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), ans.body)
			}
			var ended struct {
				Ended int `json:"ended"`
			}
			if err := json.Unmarshal(ans.body, &ended); err != nil {
				return fmt.Errorf("decoding the answer: %w", err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Ended %d session(s) of user %s.\n", ended.Ended, clean(a[0], 0))
			return err
		},
	}
}

// endOneSession ends one session of the user.
func (o *options) endOneSession(cmd *cobra.Command, userID, sessionID string) error {
	if _, err := o.call(cmd, http.MethodDelete, userPath(userID)+"/sessions/"+url.PathEscape(sessionID), "", nil); err != nil {
		return err
	}
	if o.json {
		return printValue(cmd.OutOrStdout(), map[string]any{"user_id": userID, "session_id": sessionID, "ended": true})
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "Ended session %s of user %s.\n", clean(sessionID, 0), clean(userID, 0))
	return err
}

func userConsentsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "consents ID",
		Short: "Lists the apps a user allowed to act for them",
		Long: `Lists the user's standing consents: each app (client) they allowed through
the authorization code flow, the scopes they approved and when. Withdrawn
consents are not listed.`,
		Args: args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ans, err := o.call(cmd, http.MethodGet, userPath(a[0])+"/consents", "", nil)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), ans.body)
			}
			var list struct {
				Consents []admin.ConsentInfo `json:"consents"`
			}
			if err := json.Unmarshal(ans.body, &list); err != nil {
				return fmt.Errorf("decoding the answer: %w", err)
			}
			return printConsents(cmd.OutOrStdout(), list.Consents)
		},
	}
}

func userWithdrawConsentCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "withdraw-consent ID CLIENT_ID",
		Short: "Withdraws a user's consent to an app",
		Long: `Withdraws the user's consent to the app CLIENT_ID, as the user can on the
account page: every token the app holds for the user stops working on its
next request, and the app must ask the user again.`,
		Args: args("ID", "CLIENT_ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			path := userPath(a[0]) + "/consents/" + url.PathEscape(a[1])
			if _, err := o.call(cmd, http.MethodDelete, path, "", nil); err != nil {
				return err
			}
			if o.json {
				return printValue(cmd.OutOrStdout(), map[string]any{"user_id": a[0], "client_id": a[1], "withdrawn": true})
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "Withdrew the consent of user %s to client %s.\n", clean(a[0], 0), clean(a[1], 0))
			return err
		},
	}
}

func userGrantsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "grants ID",
		Short: "Lists the refresh token grants a user gave apps",
		Long: `Lists the user's live refresh token grants: one per time an app registered
for refresh_token signed the user in, with the scopes its refreshes may ask
for, when it was made, last used and ends.`,
		Args: args("ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ans, err := o.call(cmd, http.MethodGet, userPath(a[0])+"/grants", "", nil)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), ans.body)
			}
			var list struct {
				Grants []admin.GrantInfo `json:"grants"`
			}
			if err := json.Unmarshal(ans.body, &list); err != nil {
				return fmt.Errorf("decoding the answer: %w", err)
			}
			return printGrants(cmd.OutOrStdout(), list.Grants)
		},
	}
}

func userRevokeGrantsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke-grants ID CLIENT_ID",
		Short: "Revokes a user's refresh token grants to an app",
		Long: `Ends every refresh token grant of the user to the app CLIENT_ID: its refresh
tokens stop working at once and the access tokens they gave are revoked.
The consent stays: the app may sign the user in again.`,
		Args: args("ID", "CLIENT_ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			path := userPath(a[0]) + "/grants/" + url.PathEscape(a[1])
			if _, err := o.call(cmd, http.MethodDelete, path, "", nil); err != nil {
				return err
			}
			if o.json {
				return printValue(cmd.OutOrStdout(), map[string]any{"user_id": a[0], "client_id": a[1], "revoked": true})
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "Revoked the refresh token grants of user %s to client %s.\n", clean(a[0], 0), clean(a[1], 0))
			return err
		},
	}
}
