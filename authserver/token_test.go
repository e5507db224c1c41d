package authserver

import (
	"maps"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/grant"
)

// The token endpoint serves exactly the grants the metadata document names
// (grant.Issued); authorization_code may be registered but is not served
// until its grant is written.
func TestTokenEndpointServesTheIssuedGrants(t *testing.T) {
	served := slices.Sorted(maps.Keys(grants))
	issued := slices.Sorted(slices.Values(grant.Issued))
	if !slices.Equal(served, issued) {
		t.Fatalf("served %v, issued %v", served, issued)
	}
	if _, ok := grants[grant.AuthorizationCode]; ok {
		t.Fatal("authorization_code is served; move this test's second half to its own grant's tests")
	}
}
