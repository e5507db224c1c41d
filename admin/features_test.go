package admin

import (
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/registry"
)

// TestOpenAPIFeaturesEnum: every schema of the OpenAPI document that has a
// features member lists exactly the features the registry accepts by
// default, in its order, and describes each.
func TestOpenAPIFeaturesEnum(t *testing.T) {
	want := registry.New(nil, registry.Limits{}).Limits().Features
	d := loadOpenAPI(t)
	schemas := d.root["components"].(map[string]any)["schemas"].(map[string]any)
	found := 0
	for name, s := range schemas {
		props, _ := s.(map[string]any)["properties"].(map[string]any)
		features, ok := props["features"].(map[string]any)
		if !ok {
			continue
		}
		found++
		var enum []string
		for _, v := range features["items"].(map[string]any)["enum"].([]any) {
			enum = append(enum, v.(string))
		}
		if !slices.Equal(enum, want) {
			t.Errorf("%s.features enum %v, want %v", name, enum, want)
		}
		description, _ := features["description"].(string)
		for _, f := range want {
			if !containsCode(description, f) {
				t.Errorf("%s.features description does not describe `%s`", name, f)
			}
		}
	}
	if found == 0 {
		t.Fatal("no schema has a features member")
	}
}

// containsCode reports whether markdown text holds name as `name`.
func containsCode(text, name string) bool {
	return strings.Contains(text, "`"+name+"`")
}
