package module

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/grant"
)

// TestMetadataHasNoEmptyLists: every list in the RFC 8414 document names
// something the server does. response_types_supported names what an
// authorization endpoint accepts; there is none yet, so the member is left
// out (as authorization_endpoint is) rather than sent as [], which clients
// that validate metadata refuse.
func TestMetadataHasNoEmptyLists(t *testing.T) {
	a := newTestApp(t)
	iss := new(Issuer)
	if err := iss.setup(a.server); err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	if err := json.Unmarshal(endpoint(iss, "/.well-known/oauth-authorization-server").(authserver.Document).Body, &md); err != nil {
		t.Fatal(err)
	}
	for name, v := range md {
		if list, ok := v.([]any); ok && len(list) == 0 {
			t.Errorf("%s is an empty list", name)
		}
	}
	for _, absent := range []string{"response_types_supported", "authorization_endpoint"} {
		if _, ok := md[absent]; ok {
			t.Errorf("%s is published without an authorization endpoint", absent)
		}
	}
	var grants []string
	for _, g := range md["grant_types_supported"].([]any) {
		grants = append(grants, g.(string))
	}
	if !slices.Equal(grants, grant.Supported) {
		t.Errorf("grant_types_supported = %v, want %v", grants, grant.Supported)
	}
}
