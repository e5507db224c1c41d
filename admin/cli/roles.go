package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/registry"
)

// roleCommand is `caddy scopegate role`.
func roleCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "role <command>",
		Short: "Creates, lists, reads, changes and deletes roles (named sets of scopes)",
		Long: `Manages roles: named sets of scopes that users hold. What a user may let an
app do is the union of their roles' scopes.`,
		RunE: groupRun,
	}
	addAdminFlags(cmd, o)
	cmd.AddCommand(
		roleCreateCommand(o),
		roleListCommand(o),
		roleGetCommand(o),
		roleUpdateCommand(o),
		roleDeleteCommand(o),
	)
	return cmd
}

// roleFlags are the flags that set a role's writable fields.
type roleFlags struct {
	description string
	scopes      []string
}

// add defines the flags on cmd.
func (f *roleFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.description, "description", "", "what the role is for, for people")
	cmd.Flags().StringArrayVar(&f.scopes, "scope", nil, `a scope the role grants (repeatable; or several in one space-separated value, "a b")`)
}

// scopeList splits the --scope values on spaces, so that "a b" and
// --scope a --scope b say the same.
func (f *roleFlags) scopeList() []string {
	var out []string
	for _, v := range f.scopes {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// rolePath is the API path of one role.
func rolePath(name string) string {
	return "/roles/" + url.PathEscape(name)
}

// printRoleAnswer prints an answer that is one role.
func (o *options) printRoleAnswer(cmd *cobra.Command, a *answer) error {
	if o.json {
		return printJSON(cmd.OutOrStdout(), a.body)
	}
	var r registry.Role
	if err := json.Unmarshal(a.body, &r); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	return printRole(cmd.OutOrStdout(), r)
}

func roleCreateCommand(o *options) *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:     "create NAME --scope SCOPE ... [--description TEXT]",
		Short:   "Creates a role",
		Example: `  caddy scopegate role create support --scope tickets:read --scope tickets:write --description "Answers customers"`,
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			body, err := json.Marshal(registry.RoleMetadata{Name: a[0], Description: f.description, Scopes: f.scopeList()})
			if err != nil {
				return err
			}
			ans, err := o.call(cmd, http.MethodPost, "/roles", mediaJSON, body)
			if err != nil {
				return err
			}
			return o.printRoleAnswer(cmd, ans)
		},
	}
	f.add(cmd)
	return cmd
}

func roleListCommand(o *options) *cobra.Command {
	var (
		cursor string
		limit  int
		all    bool
	)
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--all]",
		Short: "Lists roles, a page at a time or all of them",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.listPages(cmd, "/roles", "roles", url.Values{}, limit, cursor, all, printRawRoles)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&limit, "limit", 0, "roles per page, 1 to 1000 (default 100)")
	fl.StringVar(&cursor, "cursor", "", "start at this next_cursor of an earlier page")
	fl.BoolVar(&all, "all", false, "follow next_cursor and list every role")
	return cmd
}

// printRawRoles decodes roles and prints them as a table.
func printRawRoles(cmd *cobra.Command, raw []json.RawMessage) error {
	roles := make([]registry.Role, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &roles[i]); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
	}
	return printRoleList(cmd.OutOrStdout(), roles)
}

func roleGetCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Shows one role",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ans, err := o.call(cmd, http.MethodGet, rolePath(a[0]), "", nil)
			if err != nil {
				return err
			}
			return o.printRoleAnswer(cmd, ans)
		},
	}
}

func roleUpdateCommand(o *options) *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "update NAME [--scope SCOPE ...] [--description TEXT]",
		Short: "Changes a role's scopes or description",
		Long: `Changes only what the flags name (a JSON merge patch, RFC 7396). --scope
replaces the whole list; --scope "" clears it, and --description "" clears
the description. Removing a scope takes it from every holder at once. A
role cannot be renamed: create one of the new name instead.`,
		Args: args("NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			patch := map[string]any{}
			if cmd.Flags().Changed("description") {
				patch["description"] = orNull(f.description)
			}
			if cmd.Flags().Changed("scope") {
				if scopes := f.scopeList(); len(scopes) > 0 {
					patch["scopes"] = scopes
				} else {
					patch["scopes"] = nil
				}
			}
			if len(patch) == 0 {
				return errors.New("nothing to change: give --scope or --description; see 'caddy scopegate role update --help'")
			}
			body, err := json.Marshal(patch)
			if err != nil {
				return err
			}
			ans, err := o.call(cmd, http.MethodPatch, rolePath(a[0]), mediaMergePatch, body)
			if err != nil {
				return err
			}
			return o.printRoleAnswer(cmd, ans)
		},
	}
	f.add(cmd)
	return cmd
}

func roleDeleteCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Deletes a role and takes it off every user who holds it",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if _, err := o.call(cmd, http.MethodDelete, rolePath(a[0]), "", nil); err != nil {
				return err
			}
			if o.json {
				return printValue(cmd.OutOrStdout(), map[string]any{"name": a[0], "deleted": true})
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "Deleted role %s.\n", clean(a[0], 0))
			return err
		},
	}
}
