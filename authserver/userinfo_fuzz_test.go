package authserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzUserInfo sends arbitrary methods and Authorization values to the
// UserInfo endpoint on a real store, with a valid token of a person who
// granted openid among the seeds: never a 5xx; a 200 only for that token
// exactly, by GET or POST, with the person's sub; every refusal a JSON
// error or a bare 401 challenge.
func FuzzUserInfo(f *testing.F) {
	fx := oidcCode(f)
	valid := fx.redeem(f, "", "openid", "profile")["access_token"].(string)
	for _, seed := range []struct{ method, header string }{
		{http.MethodGet, "Bearer " + valid},
		{http.MethodPost, "bearer " + valid},
		{http.MethodGet, "Bearer " + valid + "x"},
		{http.MethodGet, "Basic YWxpY2U6c2VjcmV0"},
		{http.MethodPut, "Bearer " + valid},
		{http.MethodGet, "Bearer a b"},
		{http.MethodGet, "Bearer \r\n<script>"},
		{http.MethodGet, ""},
	} {
		f.Add(seed.method, seed.header)
	}
	endpoint := fx.s.newUserInfoEndpoint()
	f.Fuzz(func(t *testing.T, method, header string) {
		r := httptest.NewRequest(http.MethodGet, "https://gw.example/oauth2/userinfo", nil)
		r.Method = method
		r.RemoteAddr = "192.0.2.7:1234"
		if header != "" {
			r.Header["Authorization"] = []string{header}
		}
		w := httptest.NewRecorder()
		endpoint.ServeHTTP(w, r)
		switch {
		case w.Code >= 500:
			t.Fatalf("%q %q: %d %s", method, header, w.Code, w.Body)
		case w.Code == http.StatusOK:
			var claims map[string]any
			scheme, found := strings.CutSuffix(header, valid)
			if (method != http.MethodGet && method != http.MethodPost) || !found || !strings.EqualFold(strings.TrimSpace(scheme), "bearer") ||
				json.Unmarshal(w.Body.Bytes(), &claims) != nil || claims["sub"] != fx.userID {
				t.Fatalf("%q %q admitted: %s", method, header, w.Body)
			}
		case w.Body.Len() > 0 && !strings.Contains(w.Body.String(), `"error"`):
			t.Fatalf("%q %q: %d %s, not a JSON error", method, header, w.Code, w.Body)
		}
	})
}
