package authserver

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// X-User-Id is the gateway's alone, as X-Client-Id is: whatever spelling
// the caller sends is removed, also from Connection, and the header is set
// only for a token held for a person.
func TestSetIdentityOwnsXUserID(t *testing.T) {
	forged := http.Header{
		"X-User-Id": {"admin"}, "X_user_id": {"admin"}, "X-USER-ID": {"admin"}, "x-user_id": {"admin"},
		"Connection": {"X-User-Id, keep-alive"},
	}
	for _, tt := range []struct {
		name, userID string
		want         []string
	}{
		{name: "a client's own token", userID: "", want: nil},
		{name: "a token held for a person", userID: "u-alice", want: []string{"u-alice"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = forged.Clone()
			SetIdentity(r, "app", tt.userID, "orders:read")
			for name, values := range r.Header {
				if headerNameEqual(name, headerUserID) && (name != headerUserID || !slices.Equal(values, tt.want)) {
					t.Errorf("%s: %q reached the upstream", name, values)
				}
			}
			if got := r.Header.Values(headerUserID); !slices.Equal(got, tt.want) {
				t.Errorf("X-User-Id %q, want %q", got, tt.want)
			}
			if got := r.Header.Get("Connection"); got != "keep-alive" {
				t.Errorf("Connection %q, want keep-alive", got)
			}
			if r.Header.Get(headerClientID) != "app" || r.Header.Get(headerScope) != "orders:read" {
				t.Errorf("X-Client-Id %q X-Scope %q", r.Header.Get(headerClientID), r.Header.Get(headerScope))
			}
		})
	}
}
