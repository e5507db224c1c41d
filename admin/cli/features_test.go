package cli

import (
	"regexp"
	"testing"

	"github.com/scopegate/scopegate/registry"
)

// TestFeatureHelp: create's and update's --feature help names every feature
// the registry knows, each on its own line with what it allows.
func TestFeatureHelp(t *testing.T) {
	features := registry.New(nil, registry.Limits{}).Limits().Features
	for _, cmd := range []string{"create", "update"} {
		r := runOK(t, "client", cmd, "--help")
		for _, f := range features {
			if !regexp.MustCompile(`(?m)^ +` + f + ` +\S`).MatchString(r.Stdout) {
				t.Errorf("client %s --help does not describe the %s feature:\n%s", cmd, f, r.Stdout)
			}
		}
	}
}
