package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/token"
)

// keysCommand is `caddy scopegate keys`.
func keysCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys <command>",
		Short: "Lists, rotates and revokes the token signing keys",
		RunE:  groupRun,
	}
	addAdminFlags(cmd, o)
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "Lists the signing keys (public parts only)",
			Long: `Lists the signing keys: the active one, the next one (already published in
the JWKS so that verifiers know it before it signs), and retired ones kept
until every token they signed has expired.`,
			Args: args(),
			RunE: func(cmd *cobra.Command, _ []string) error {
				return o.keys(cmd, http.MethodGet, "/keys")
			},
		},
		&cobra.Command{
			Use:   "rotate",
			Short: "Rotates the signing keys now",
			Long: `Rotates now: the published next key starts signing, a new next key is
published, and the active key retires; tokens it signed stay valid until
they expire.`,
			Args: args(),
			RunE: func(cmd *cobra.Command, _ []string) error {
				return o.keys(cmd, http.MethodPost, "/keys/rotate")
			},
		},
		&cobra.Command{
			Use:   "revoke KID",
			Short: "Retires a signing key at once (a key that may be compromised)",
			Long: `Retires the key KID at once: it leaves the JWKS, and every token it signed
is refused on the next request, even one the gateway has already verified.
When it was the active key, the next key starts signing and a new next key
is published. With signing_key_file the file's key is the only one; replace
the file and reload instead.`,
			Args: args("KID"),
			RunE: func(cmd *cobra.Command, a []string) error {
				return o.keys(cmd, http.MethodPost, "/keys/"+url.PathEscape(a[0])+"/revoke")
			},
		},
	)
	return cmd
}

// keys sends a keys request and prints the key set it returns.
func (o *options) keys(cmd *cobra.Command, method, path string) error {
	a, err := o.call(cmd, method, path, "", nil)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(cmd.OutOrStdout(), a.body)
	}
	var set struct {
		Keys []token.KeyInfo `json:"keys"`
	}
	if err := json.Unmarshal(a.body, &set); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	return printKeys(cmd.OutOrStdout(), set.Keys)
}
