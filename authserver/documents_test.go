package authserver

import (
	"encoding/json"
	"testing"
)

// The metadata says that request objects are not supported, by value or
// by reference: OpenID Connect Discovery, whose fields RFC 8414 §2 takes
// in, defaults request_uri_parameter_supported to true, so an app reading
// the document would otherwise expect the authorization endpoint to fetch
// its request_uri.
func TestMetadataRefusesRequestObjects(t *testing.T) {
	doc, err := Metadata("https://gw.example", EndpointPaths{Token: "/oauth2/token", Authorize: "/oauth2/authorize"})
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	if err := json.Unmarshal(doc.Body, &md); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"request_parameter_supported", "request_uri_parameter_supported"} {
		if v, ok := md[name]; !ok || v != false {
			t.Errorf("%s = %v (present %v), want false", name, v, ok)
		}
	}
}
