// Package cli adds the `caddy scopegate` subcommands to Caddy's command
// line: client, user, role and signing-key management through the admin
// API on Caddy's admin endpoint (as `caddy reload` talks to it), and a
// token fetcher for trying a client out.
//
// Importing the package registers the commands. Answers are printed as
// aligned tables, or as the API's JSON with --json; errors are one line on
// stderr and a non-zero exit status.
package cli

import (
	"fmt"
	"os"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "scopegate",
		Usage: "client|user|role|keys|token|store ...",
		Short: "Manages Scopegate API clients, users, roles and signing keys, and fetches test tokens",
		Long: `
Manages the API clients, the users and roles, and the token signing keys
of a running Caddy with Scopegate, through the scopegate API on Caddy's admin endpoint (the same
endpoint 'caddy reload' uses, localhost:2019 unless configured otherwise),
and fetches access tokens from the token endpoint for testing.

The admin address comes from --address, else from the config named by
--config (and --adapter), else from CADDY_ADMIN, else localhost:2019.

Output is an aligned table; --json prints the API's JSON instead. Client
secrets are printed once, by 'client create' and 'client rotate-secret':
they cannot be shown again. User passwords are never taken as flag values:
'user create --password-stdin' and 'user passwd' read them from standard
input, at a prompt without echo when it is a terminal.`,
		CobraFunc: func(cmd *cobra.Command) { build(cmd, os.Getenv) },
	})
}

// options holds the flags every subcommand shares.
type options struct {
	// json prints the API's JSON instead of a table.
	json bool
	// address, config and adapter locate the admin endpoint.
	address, config, adapter string
	// getenv reads the environment; tests replace it.
	getenv func(string) string
}

// build turns cmd, the `scopegate` command Caddy made, into the command
// tree.
func build(cmd *cobra.Command, getenv func(string) string) {
	o := &options{getenv: getenv}
	cmd.SetErrPrefix("scopegate:")
	cmd.SilenceUsage = true
	cmd.SetFlagErrorFunc(flagError)
	cmd.RunE = groupRun
	cmd.PersistentFlags().BoolVar(&o.json, "json", false, "print the API's JSON instead of a table")
	cmd.AddCommand(clientCommand(o), userCommand(o), roleCommand(o), keysCommand(o), tokenCommand(o), storeCommand())
}

// flagError points a mistyped flag at the command's help.
func flagError(cmd *cobra.Command, err error) error {
	return fmt.Errorf("%w; see '%s --help'", err, cmd.CommandPath())
}

// groupRun runs a command that only groups others: it prints the help, or
// refuses an unknown subcommand and names the ones there are (cobra would
// print the help and succeed).
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q for '%s'; the commands are %s; see '%s --help'",
			args[0], cmd.CommandPath(), strings.Join(subcommandNames(cmd), ", "), cmd.CommandPath())
	}
	return cmd.Help()
}

// subcommandNames lists cmd's visible subcommands, in cobra's order.
func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return names
}

// addAdminFlags adds the flags that locate the admin endpoint.
func addAdminFlags(cmd *cobra.Command, o *options) {
	f := cmd.PersistentFlags()
	f.StringVar(&o.address, "address", "", "the admin endpoint's address (host:port or unix//path); default from --config, CADDY_ADMIN, or localhost:2019")
	f.StringVarP(&o.config, "config", "c", "", "read the admin address from this config file")
	f.StringVarP(&o.adapter, "adapter", "a", "", "the config adapter for --config")
}

// args checks that a command got exactly the named positional arguments.
func args(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, got []string) error {
		switch {
		case len(got) < len(names):
			return fmt.Errorf("missing %s; usage: %s", strings.Join(names[len(got):], " and "), cmd.UseLine())
		case len(got) > len(names):
			return fmt.Errorf("unexpected argument %q; usage: %s", got[len(names)], cmd.UseLine())
		}
		for i, a := range got {
			if a == "" || a == "." || a == ".." {
				return fmt.Errorf("%q is not a valid %s", a, names[i])
			}
		}
		return nil
	}
}
