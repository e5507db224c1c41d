package oauth

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/scope"
)

// statusOf is the status each code must come with from the parsers.
var statusOf = map[string][]int{
	CodeInvalidRequest: {400, 405, 413},
	CodeInvalidClient:  {401},
	CodeInvalidScope:   {400},
	CodeInvalidTarget:  {400},
	CodeInvalidToken:   {401},
}

// checkParserError fails unless e is one the parsers may produce, with the
// status its code calls for and a description within RFC 6749's charset.
func checkParserError(t *testing.T, e *Error) {
	t.Helper()
	statuses, ok := statusOf[e.Code]
	if !ok {
		t.Fatalf("unexpected code %q", e.Code)
	}
	if !slices.Contains(statuses, e.Status) {
		t.Fatalf("code %s with status %d", e.Code, e.Status)
	}
	if e.Description == "" {
		t.Fatalf("code %s without description", e.Code)
	}
	checkDescription(t, e)
}

// FuzzParseTokenRequest drives ParseTokenRequest with arbitrary body,
// Authorization header, Content-Type and query string. It must never panic;
// an error must be a known code with its status; an accepted request must
// hold only bounded, well-formed values and no secret in Form.
func FuzzParseTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&scope=a+b", "Basic YTpi", formType, "")
	f.Add("grant_type=password&username=alice&password=p%26w", "Basic YTpi", formType, "")
	f.Add("grant_type=password&username=alice", "Basic YTpi", formType, "pass%77ord=x")
	// RFC 8693 token exchange: its own parameters, repeated, and beside resource.
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=a.b.c&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&audience=app-b&scope=orders%3Aread", "Basic YTpi", formType, "")
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=a.b.c&subject_token=d.e.f&audience=app-b", "Basic YTpi", formType, "")
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=a.b.c&audience=app-b&audience=app-c&resource=https%3A%2F%2Fb.example%2Forders&resource=https%3A%2F%2Fb.example%2Fx", "Basic YTpi", formType, "")
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=a.b.c&actor_token=x&actor_token_type=y&requested_token_type=", "Basic YTpi", formType, "subject_token=q")
	f.Fuzz(func(t *testing.T, body, authorization, contentType, query string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", contentType)
		if authorization != "" {
			r.Header["Authorization"] = []string{authorization}
		}
		req, e := ParseTokenRequest(r, 4096)
		if e != nil {
			if req != nil {
				t.Fatalf("request returned with an error")
			}
			checkParserError(t, e)
			return
		}
		switch {
		case req.GrantType == "":
			t.Fatalf("accepted without grant_type")
		case len(req.ClientID) > MaxClientIDLen, len(req.ClientSecret) > MaxClientSecretLen, len(req.Scope) > MaxScopeLen:
			t.Fatalf("bounds not enforced: %d %d %d", len(req.ClientID), len(req.ClientSecret), len(req.Scope))
		case !isVSChars(req.ClientID) || !isVSChars(req.ClientSecret):
			t.Fatalf("credentials outside VSCHAR")
		case req.AuthMethod != AuthMethodBasic && req.AuthMethod != AuthMethodPost && req.AuthMethod != AuthMethodNone:
			t.Fatalf("auth method %q", req.AuthMethod)
		case (req.AuthMethod == AuthMethodNone) != (req.ClientSecret == ""):
			t.Fatalf("auth method %q with secret present = %v", req.AuthMethod, req.ClientSecret != "")
		case req.AuthMethod != AuthMethodNone && req.ClientID == "":
			t.Fatalf("secret without id")
		case req.AuthMethod == AuthMethodBasic && authorization == "":
			t.Fatalf("basic without header")
		case req.Form.Has("client_secret"):
			t.Fatalf("Form holds client_secret")
		case queryHas(r.URL, "password"):
			t.Fatalf("accepted a password in the query string")
		case len(req.Resource) > MaxResources:
			t.Fatalf("%d resources", len(req.Resource))
		}
		for name, values := range req.Form {
			if len(values) == 0 || slices.Contains(values, "") {
				t.Fatalf("parameter %q kept with an empty value", name)
			}
			if len(values) > 1 && name != "resource" {
				t.Fatalf("parameter %q repeated", name)
			}
		}
		if req.Scope != "" {
			again, err := scope.Parse(req.Scope)
			if err != nil || !slices.Equal(again, req.Scopes) {
				t.Fatalf("Scopes %q do not match Scope", req.Scopes)
			}
		} else if req.Scopes != nil {
			t.Fatalf("Scopes without Scope")
		}
	})
}

// FuzzBearerToken checks that BearerToken never panics, returns a token only
// as a well-formed substring of the header within the limit, and otherwise
// a known error.
func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer abc", 16)
	f.Fuzz(func(t *testing.T, value string, maxLen int) {
		h := http.Header{"Authorization": {value}}
		tok, e := BearerToken(h, maxLen)
		limit := maxLen
		if limit <= 0 {
			limit = DefaultMaxBearerLen
		}
		switch {
		case e == ErrNoBearer:
			if tok != "" {
				t.Fatalf("token with ErrNoBearer")
			}
			if len(value) >= 7 && strings.EqualFold(value[:7], "bearer ") {
				t.Fatalf("ErrNoBearer for a Bearer value")
			}
		case e != nil:
			if tok != "" {
				t.Fatalf("token with an error")
			}
			checkParserError(t, e)
		default:
			if tok == "" {
				t.Fatalf("no token and no error for a present header")
			}
			if len(tok) > limit {
				t.Fatalf("token of %d bytes over limit %d", len(tok), limit)
			}
			if !strings.HasSuffix(value, tok) || !isB64token(tok) {
				t.Fatalf("token %q not a well-formed suffix", tok)
			}
			if strings.TrimLeft(value[6:len(value)-len(tok)], " ") != "" || value[6] != ' ' {
				t.Fatalf("junk between scheme and token")
			}
		}
	})
}
