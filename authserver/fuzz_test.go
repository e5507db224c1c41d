package authserver

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzDropIdentityTokens feeds arbitrary Connection values, as a caller
// sends them, through dropIdentityTokens: it never panics, leaves no
// identity name in the list, and keeps every other name.
func FuzzDropIdentityTokens(f *testing.F) {
	for _, s := range []string{
		"X-Client-Id, X-Scope", "keep-alive", "x_client_id,close", " X-Scope ,\t, upgrade",
		"", ",,,", "X-Client-Id", "X-Client-Idx, X-Scopes", "\tX_SCOPE\t", "x_user_id, X-User-Idx",
	} {
		f.Add(s, "close")
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		values := []string{first, second}
		h := http.Header{"Connection": values}
		dropIdentityTokens(h, "Connection", values)
		var want []string
		for _, v := range values {
			for item := range strings.SplitSeq(v, ",") {
				if item = strings.Trim(item, " \t"); item != "" && !isIdentityHeader(item) {
					want = append(want, item)
				}
			}
		}
		var got []string
		for _, v := range h["Connection"] {
			for item := range strings.SplitSeq(v, ",") {
				item = strings.Trim(item, " \t")
				if isIdentityHeader(item) {
					t.Fatalf("identity name %q left in %q", item, h["Connection"])
				}
				if item != "" {
					got = append(got, item)
				}
			}
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("from %q kept %q, want %q", values, got, want)
		}
	})
}
