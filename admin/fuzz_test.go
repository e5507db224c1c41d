package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scopegate/scopegate/registry"
)

// FuzzRotateRequest feeds arbitrary bytes to the rotate body decoder:
// nothing may panic, and every refusal is a *registry.ValidationError.
func FuzzRotateRequest(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"grace_period":"1h"}`, `{"grace_period":3600,"expires_in":"720h"}`,
		`{"grace":1}`, `[]`, `null`, `{} {}`, `{"grace_period":1e99}`, "{\"grace_period\":\"\xff\"}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req rotateRequest
		err := decodeRotateRequest(body, &req)
		var ve *registry.ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("error %v (%T) is not a *registry.ValidationError", err, err)
		}
	})
}

// FuzzClientListQuery feeds arbitrary query strings to GET /clients' query
// reader: nothing may panic; a refusal is a 400 invalid_request that never
// repeats a value sent; an accepted query filters by registered only for
// exactly "true" or "false".
func FuzzClientListQuery(f *testing.F) {
	for _, seed := range []string{"", "registered=true", "registered=false", "registered=", "registered=TRUE",
		"registered=1", "registered=true&registered=true", "name=a&registered=false&limit=2&cursor=x",
		"registered=%zz", "registered=%3Cscript%3E", "Registered=true", "registered"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest(http.MethodGet, "/clients", nil)
		r.URL.RawQuery = rawQuery
		w := httptest.NewRecorder()
		q, ok := readClientListQuery(w, r)
		if !ok {
			var answer struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || w.Code != http.StatusBadRequest || answer.Error != codeInvalidRequest {
				t.Fatalf("refused %q with %d %s", rawQuery, w.Code, w.Body)
			}
			// Every refusal is one of the fixed texts, so none repeats a
			// value sent.
			if !listRefusals[answer.Description] {
				t.Fatalf("refused %q with the description %q", rawQuery, answer.Description)
			}
			return
		}
		sent := r.URL.Query().Get("registered")
		switch {
		case sent == "" && q.Registered != nil, sent != "" && (q.Registered == nil || sent != map[bool]string{true: "true", false: "false"}[*q.Registered]):
			t.Fatalf("registered=%q read as %v", sent, q.Registered)
		}
	})
}

// listRefusals are the descriptions GET /clients refuses a query with.
var listRefusals = map[string]bool{
	"the query string is not valid URL encoding":                       true,
	"the only query parameters are name, registered, limit and cursor": true,
	"name: must appear at most once":                                   true,
	"registered: must appear at most once":                             true,
	"limit: must appear at most once":                                  true,
	"cursor: must appear at most once":                                 true,
	limitDescription:                                                   true,
	"registered: must be true or false":                                true,
}
