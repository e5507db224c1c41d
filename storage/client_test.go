package storage_test

import (
	"reflect"
	"testing"

	"github.com/scopegate/scopegate/storage"
)

func TestCloneIsDeep(t *testing.T) {
	original := sampleClient("client-a", "A")
	// The fixture must set every field, or a field added to Client later
	// could be missed by Clone without this test noticing.
	v := reflect.ValueOf(original)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("sampleClient leaves %s zero; set it so Clone is tested on it", v.Type().Field(i).Name)
		}
	}
	clone := original.Clone()
	if !reflect.DeepEqual(clone, original) {
		t.Fatalf("Clone() = %+v, want %+v", clone, original)
	}
	cv := reflect.ValueOf(clone)
	for i := range v.NumField() {
		field := v.Type().Field(i)
		if field.Type.Kind() != reflect.Slice {
			continue
		}
		if v.Field(i).Pointer() == cv.Field(i).Pointer() {
			t.Errorf("Clone shares the backing array of %s", field.Name)
		}
	}
	for i := range original.Secrets {
		if &original.Secrets[i].Hash[0] == &clone.Secrets[i].Hash[0] {
			t.Errorf("Clone shares the hash of secret %d", i)
		}
	}
	// Writing through the clone leaves the original as it was.
	clone.Secrets[0].Hash[0] ^= 0xff
	clone.Scopes[0] = "changed"
	clone.IPAllowlist[0] = clone.IPAllowlist[1]
	clone.Claims[0] = '['
	if want := sampleClient("client-a", "A"); !reflect.DeepEqual(original, want) {
		t.Fatalf("original after changing the clone = %+v, want %+v", original, want)
	}
}

func TestCloneKeepsNilAndEmpty(t *testing.T) {
	tests := []struct {
		name string
		in   storage.Client
	}{
		{"zero", storage.Client{}},
		{"empty, not nil", storage.Client{Scopes: []string{}, Secrets: []storage.Secret{}, Claims: []byte{}}},
		{"secret without hash", storage.Client{Secrets: []storage.Secret{{ID: "s"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Clone(); !reflect.DeepEqual(got, tt.in) {
				t.Fatalf("Clone() = %#v, want %#v", got, tt.in)
			}
		})
	}
}
