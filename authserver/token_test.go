package authserver

import (
	"maps"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/grant"
)

// The token endpoint serves exactly the grants the metadata document names
// (grant.Issued).
func TestTokenEndpointServesTheIssuedGrants(t *testing.T) {
	served := slices.Sorted(maps.Keys(grants))
	issued := slices.Sorted(slices.Values(grant.Issued))
	if !slices.Equal(served, issued) {
		t.Fatalf("served %v, issued %v", served, issued)
	}
}
