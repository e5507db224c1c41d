package oauth

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const formType = "application/x-www-form-urlencoded"

// tokenReq builds a POST to /oauth2/token with a form body.
type tokenReq struct {
	method      string   // default POST
	target      string   // default /oauth2/token
	contentType []string // default [formType]; empty slice for none
	noType      bool     // send no Content-Type at all
	body        string
	auth        []string // Authorization values
	header      http.Header
}

func (tr tokenReq) build() *http.Request {
	method, target := tr.method, tr.target
	if method == "" {
		method = http.MethodPost
	}
	if target == "" {
		target = "/oauth2/token"
	}
	r := httptest.NewRequest(method, target, strings.NewReader(tr.body))
	switch {
	case tr.noType:
	case tr.contentType != nil:
		r.Header["Content-Type"] = tr.contentType
	default:
		r.Header.Set("Content-Type", formType)
	}
	if tr.auth != nil {
		r.Header["Authorization"] = tr.auth
	}
	for k, v := range tr.header {
		r.Header[k] = v
	}
	return r
}

// basic encodes id and secret as RFC 6749 Appendix B asks.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// basicRaw base64-encodes raw as Basic credentials, without form-encoding.
func basicRaw(raw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

func TestParseTokenRequestAccepts(t *testing.T) {
	longID := strings.Repeat("i", MaxClientIDLen)
	longSecret := strings.Repeat("s", MaxClientSecretLen)
	tests := []struct {
		name    string
		req     tokenReq
		maxBody int64
		want    TokenRequest
	}{
		{
			name: "client_secret_post",
			req:  tokenReq{body: "grant_type=client_credentials&client_id=abc&client_secret=s3cr3t&scope=orders%3Aread+admin"},
			want: TokenRequest{GrantType: "client_credentials", ClientID: "abc", ClientSecret: "s3cr3t", AuthMethod: AuthMethodPost,
				Scope: "orders:read admin", Scopes: []string{"orders:read", "admin"},
				Form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"abc"}, "scope": {"orders:read admin"}}},
		},
		{
			name: "client_secret_basic",
			req:  tokenReq{body: "grant_type=client_credentials", auth: []string{basic("abc", "s3cr3t")}},
			want: TokenRequest{GrantType: "client_credentials", ClientID: "abc", ClientSecret: "s3cr3t", AuthMethod: AuthMethodBasic,
				Form: url.Values{"grant_type": {"client_credentials"}}},
		},
		{
			name: "basic with reserved characters form-encoded",
			req:  tokenReq{body: "grant_type=client_credentials", auth: []string{basic("my:client+1", "p+s%&:x =y")}},
			want: TokenRequest{GrantType: "client_credentials", ClientID: "my:client+1", ClientSecret: "p+s%&:x =y", AuthMethod: AuthMethodBasic,
				Form: url.Values{"grant_type": {"client_credentials"}}},
		},
		{
			name: "basic plus is a space",
			req:  tokenReq{body: "grant_type=x", auth: []string{basicRaw("a+b:c+d")}},
			want: TokenRequest{GrantType: "x", ClientID: "a b", ClientSecret: "c d", AuthMethod: AuthMethodBasic, Form: url.Values{"grant_type": {"x"}}},
		},
		{
			name: "basic splits at the first colon",
			req:  tokenReq{body: "grant_type=x", auth: []string{basicRaw("id:se:cr:et")}},
			want: TokenRequest{GrantType: "x", ClientID: "id", ClientSecret: "se:cr:et", AuthMethod: AuthMethodBasic, Form: url.Values{"grant_type": {"x"}}},
		},
		{
			name: "basic without padding",
			req:  tokenReq{body: "grant_type=x", auth: []string{"Basic " + base64.RawStdEncoding.EncodeToString([]byte("abcd:e"))}},
			want: TokenRequest{GrantType: "x", ClientID: "abcd", ClientSecret: "e", AuthMethod: AuthMethodBasic, Form: url.Values{"grant_type": {"x"}}},
		},
		{
			name: "basic scheme case-insensitive and spaces",
			req:  tokenReq{body: "grant_type=x", auth: []string{"bAsIc   " + base64.StdEncoding.EncodeToString([]byte("a:b"))}},
			want: TokenRequest{GrantType: "x", ClientID: "a", ClientSecret: "b", AuthMethod: AuthMethodBasic, Form: url.Values{"grant_type": {"x"}}},
		},
		{
			name: "basic with the same client_id in the body",
			req:  tokenReq{body: "grant_type=x&client_id=a", auth: []string{basic("a", "b")}},
			want: TokenRequest{GrantType: "x", ClientID: "a", ClientSecret: "b", AuthMethod: AuthMethodBasic, Form: url.Values{"grant_type": {"x"}, "client_id": {"a"}}},
		},
		{
			name: "no client authentication",
			req:  tokenReq{body: "grant_type=client_credentials"},
			want: TokenRequest{GrantType: "client_credentials", AuthMethod: AuthMethodNone, Form: url.Values{"grant_type": {"client_credentials"}}},
		},
		{
			name: "client_id alone",
			req:  tokenReq{body: "grant_type=x&client_id=pub"},
			want: TokenRequest{GrantType: "x", ClientID: "pub", AuthMethod: AuthMethodNone, Form: url.Values{"grant_type": {"x"}, "client_id": {"pub"}}},
		},
		{
			name: "empty values are absent",
			req:  tokenReq{body: "grant_type=x&scope=&client_secret=&client_id=&resource=&code="},
			want: TokenRequest{GrantType: "x", AuthMethod: AuthMethodNone, Form: url.Values{"grant_type": {"x"}}},
		},
		{
			name: "content type parameters and case",
			req:  tokenReq{body: "grant_type=x", contentType: []string{"Application/X-WWW-Form-URLEncoded; charset=UTF-8"}},
			want: TokenRequest{GrantType: "x", Form: url.Values{"grant_type": {"x"}}},
		},
		{
			name: "identity encoding",
			req:  tokenReq{body: "grant_type=x", header: http.Header{"Content-Encoding": {"identity"}}},
			want: TokenRequest{GrantType: "x", Form: url.Values{"grant_type": {"x"}}},
		},
		{
			name: "unrelated query string ignored",
			req:  tokenReq{target: "/oauth2/token?tenant=1&grant_type=evil&scope=admin", body: "grant_type=x"},
			want: TokenRequest{GrantType: "x", Form: url.Values{"grant_type": {"x"}}},
		},
		{
			name: "scope duplicates dropped",
			req:  tokenReq{body: "grant_type=x&scope=a+b+a"},
			want: TokenRequest{GrantType: "x", Scope: "a b a", Scopes: []string{"a", "b"}, Form: url.Values{"grant_type": {"x"}, "scope": {"a b a"}}},
		},
		{
			name: "scope at the limit",
			req:  tokenReq{body: "grant_type=x&scope=" + strings.Repeat("a ", MaxScopeLen/2-1) + "bb"},
			want: TokenRequest{GrantType: "x", Scope: strings.Repeat("a ", MaxScopeLen/2-1) + "bb", Scopes: []string{"a", "bb"},
				Form: url.Values{"grant_type": {"x"}, "scope": {strings.Repeat("a ", MaxScopeLen/2-1) + "bb"}}},
		},
		{
			name: "resources repeat",
			req:  tokenReq{body: "grant_type=x&resource=https%3A%2F%2Fapi.example.com%2Forders&resource=urn%3Aexample%3Ainvoices"},
			want: TokenRequest{GrantType: "x", Resource: []string{"https://api.example.com/orders", "urn:example:invoices"},
				Form: url.Values{"grant_type": {"x"}, "resource": {"https://api.example.com/orders", "urn:example:invoices"}}},
		},
		{
			name: "longest id and secret",
			req:  tokenReq{body: "grant_type=x", auth: []string{basic(longID, longSecret)}},
			want: TokenRequest{GrantType: "x", ClientID: longID, ClientSecret: longSecret, AuthMethod: AuthMethodBasic, Form: url.Values{"grant_type": {"x"}}},
		},
		{
			name: "longest id and secret fully percent-encoded",
			req:  tokenReq{body: "grant_type=x", auth: []string{basicRaw(strings.Repeat("%7E", MaxClientIDLen) + ":" + strings.Repeat("%7E", MaxClientSecretLen))}},
			want: TokenRequest{GrantType: "x", ClientID: strings.Repeat("~", MaxClientIDLen), ClientSecret: strings.Repeat("~", MaxClientSecretLen),
				AuthMethod: AuthMethodBasic, Form: url.Values{"grant_type": {"x"}}},
		},
		{
			name:    "body exactly at the limit",
			req:     tokenReq{body: "grant_type=x&pad=" + strings.Repeat("p", 83)},
			maxBody: 100,
			want:    TokenRequest{GrantType: "x", Form: url.Values{"grant_type": {"x"}, "pad": {strings.Repeat("p", 83)}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, e := ParseTokenRequest(tt.req.build(), tt.maxBody)
			if e != nil {
				t.Fatalf("ParseTokenRequest() error = %v (status %d)", e, e.Status)
			}
			want := tt.want
			if got.GrantType != want.GrantType || got.ClientID != want.ClientID || got.ClientSecret != want.ClientSecret ||
				got.AuthMethod != want.AuthMethod || got.Scope != want.Scope {
				t.Errorf("got %+v\nwant %+v", fields(got), fields(&want))
			}
			if !slices.Equal(got.Scopes, want.Scopes) {
				t.Errorf("Scopes = %q, want %q", got.Scopes, want.Scopes)
			}
			if !slices.Equal(got.Resource, want.Resource) {
				t.Errorf("Resource = %q, want %q", got.Resource, want.Resource)
			}
			if !equalForms(got.Form, want.Form) {
				t.Errorf("Form = %v, want %v", got.Form, want.Form)
			}
		})
	}
}

// fields shows a request including its secret, for test failures only.
func fields(r *TokenRequest) []string {
	return []string{r.GrantType, r.ClientID, r.ClientSecret, r.AuthMethod, r.Scope}
}

func equalForms(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestParseTokenRequestRefuses(t *testing.T) {
	ok := "grant_type=client_credentials"
	tests := []struct {
		name     string
		req      tokenReq
		r        *http.Request // overrides req when set
		maxBody  int64
		wantCode string
		status   int
		desc     string
	}{
		{name: "GET", req: tokenReq{method: http.MethodGet}, wantCode: "invalid_request", status: 405, desc: "this endpoint accepts only POST"},
		{name: "PUT", req: tokenReq{method: http.MethodPut, body: ok}, wantCode: "invalid_request", status: 405, desc: "this endpoint accepts only POST"},
		{name: "client_id in query", req: tokenReq{target: "/oauth2/token?client_id=abc", body: ok}, wantCode: "invalid_request", status: 400, desc: "client credentials are not accepted in the query string"},
		{name: "client_secret in query", req: tokenReq{target: "/oauth2/token?x=1&client_secret=s", body: ok, auth: []string{basic("a", "b")}}, wantCode: "invalid_request", status: 400, desc: "client credentials are not accepted in the query string"},
		{name: "encoded key in query", req: tokenReq{target: "/oauth2/token?client%5Fsecret=s", body: ok}, wantCode: "invalid_request", status: 400, desc: "client credentials are not accepted in the query string"},
		{name: "credential after malformed pair", req: tokenReq{target: "/oauth2/token?a=%zz&client_secret=s", body: ok}, wantCode: "invalid_request", status: 400, desc: "client credentials are not accepted in the query string"},
		{name: "password in query", req: tokenReq{target: "/oauth2/token?password=hunter2", body: ok}, wantCode: "invalid_request", status: 400, desc: "a password is not accepted in the query string"},
		{name: "encoded password in query", req: tokenReq{target: "/oauth2/token?a=%zz&pass%77ord", body: ok}, wantCode: "invalid_request", status: 400, desc: "a password is not accepted in the query string"},
		{name: "credential without value", req: tokenReq{target: "/oauth2/token?client_id", body: ok}, wantCode: "invalid_request", status: 400, desc: "client credentials are not accepted in the query string"},
		{name: "JSON body", req: tokenReq{contentType: []string{"application/json"}, body: `{"grant_type":"client_credentials"}`}, wantCode: "invalid_request", status: 400, desc: "the body must be application/x-www-form-urlencoded"},
		{name: "no content type", req: tokenReq{noType: true, body: ok}, wantCode: "invalid_request", status: 400, desc: "the body must be application/x-www-form-urlencoded"},
		{name: "two content types", req: tokenReq{contentType: []string{formType, formType}, body: ok}, wantCode: "invalid_request", status: 400, desc: "the body must be application/x-www-form-urlencoded"},
		{name: "multipart", req: tokenReq{contentType: []string{"multipart/form-data; boundary=x"}, body: ok}, wantCode: "invalid_request", status: 400, desc: "the body must be application/x-www-form-urlencoded"},
		{name: "malformed content type", req: tokenReq{contentType: []string{formType + "; charset"}, body: ok}, wantCode: "invalid_request", status: 400, desc: "the body must be application/x-www-form-urlencoded"},
		{name: "gzip", req: tokenReq{body: ok, header: http.Header{"Content-Encoding": {"gzip"}}}, wantCode: "invalid_request", status: 400, desc: "content encodings are not accepted"},
		{name: "declared length over limit", req: tokenReq{body: ok + "&pad=" + strings.Repeat("p", 100)}, maxBody: 64, wantCode: "invalid_request", status: 413, desc: "the request body is too large"},
		{name: "streamed body over limit", r: unknownLength(ok + "&pad=" + strings.Repeat("p", 100)), maxBody: 64, wantCode: "invalid_request", status: 413, desc: "the request body is too large"},
		{name: "default limit", r: unknownLength(ok + "&pad=" + strings.Repeat("p", DefaultMaxBody)), wantCode: "invalid_request", status: 413, desc: "the request body is too large"},
		{name: "outer MaxBytesReader", r: maxBytes(ok+"&pad="+strings.Repeat("p", 100), 50), wantCode: "invalid_request", status: 413, desc: "the request body is too large"},
		{name: "read failure", r: failingBody(), wantCode: "invalid_request", status: 400, desc: "the request body could not be read"},
		{name: "malformed escape", req: tokenReq{body: "grant_type=%zz"}, wantCode: "invalid_request", status: 400, desc: "the form body is malformed"},
		{name: "semicolon separator", req: tokenReq{body: "grant_type=x;scope=a"}, wantCode: "invalid_request", status: 400, desc: "the form body is malformed"},
		{name: "repeated grant_type", req: tokenReq{body: "grant_type=a&grant_type=b"}, wantCode: "invalid_request", status: 400, desc: "the grant_type parameter is repeated"},
		{name: "repeated scope, one empty", req: tokenReq{body: ok + "&scope=&scope=a"}, wantCode: "invalid_request", status: 400, desc: "the scope parameter is repeated"},
		{name: "repeated client_secret", req: tokenReq{body: ok + "&client_id=a&client_secret=b&client_secret=b"}, wantCode: "invalid_request", status: 400, desc: "the client_secret parameter is repeated"},
		{name: "repeated unknown", req: tokenReq{body: ok + "&foo=1&foo=2"}, wantCode: "invalid_request", status: 400, desc: "a parameter is repeated"},
		{name: "two Authorization headers", req: tokenReq{body: ok, auth: []string{basic("a", "b"), basic("a", "b")}}, wantCode: "invalid_request", status: 400, desc: "more than one Authorization header"},
		{name: "Bearer scheme", req: tokenReq{body: ok, auth: []string{"Bearer abc"}}, wantCode: "invalid_client", status: 401, desc: "unsupported authentication scheme: use client_secret_basic or client_secret_post"},
		{name: "Unicode look-alike scheme", req: tokenReq{body: ok, auth: []string{"Baſic " + base64.StdEncoding.EncodeToString([]byte("a:b"))}}, wantCode: "invalid_client", status: 401, desc: "unsupported authentication scheme: use client_secret_basic or client_secret_post"},
		{name: "empty Authorization", req: tokenReq{body: ok, auth: []string{""}}, wantCode: "invalid_client", status: 401, desc: "unsupported authentication scheme: use client_secret_basic or client_secret_post"},
		{name: "Basic without credentials", req: tokenReq{body: ok, auth: []string{"Basic"}}, wantCode: "invalid_request", status: 400, desc: "malformed Basic credentials"},
		{name: "Basic with spaces only", req: tokenReq{body: ok, auth: []string{"Basic   "}}, wantCode: "invalid_request", status: 400, desc: "malformed Basic credentials"},
		{name: "bad base64", req: tokenReq{body: ok, auth: []string{"Basic !!!!"}}, wantCode: "invalid_request", status: 400, desc: "malformed Basic credentials"},
		{name: "base64url alphabet", req: tokenReq{body: ok, auth: []string{"Basic " + base64.URLEncoding.EncodeToString([]byte("a:\xfb\xff"))}}, wantCode: "invalid_request", status: 400, desc: "malformed Basic credentials"},
		{name: "newline inside base64", req: tokenReq{body: ok, auth: []string{"Basic YTpi\nYw=="}}, wantCode: "invalid_request", status: 400, desc: "malformed Basic credentials"},
		{name: "impossible base64 length", req: tokenReq{body: ok, auth: []string{"Basic YTpiY"}}, wantCode: "invalid_request", status: 400, desc: "malformed Basic credentials"},
		{name: "misplaced padding", req: tokenReq{body: ok, auth: []string{"Basic YT=6Yg=="}}, wantCode: "invalid_request", status: 400, desc: "malformed Basic credentials"},
		{name: "two words", req: tokenReq{body: ok, auth: []string{"Basic YTpi YTpi"}}, wantCode: "invalid_request", status: 400, desc: "malformed Basic credentials"},
		{name: "no colon", req: tokenReq{body: ok, auth: []string{basicRaw("abc")}}, wantCode: "invalid_request", status: 400, desc: "malformed Basic credentials"},
		{name: "bad percent in id", req: tokenReq{body: ok, auth: []string{basicRaw("a%zz:b")}}, wantCode: "invalid_request", status: 400, desc: "malformed percent-encoding in Basic credentials"},
		{name: "bad percent in secret", req: tokenReq{body: ok, auth: []string{basicRaw("a:b%4")}}, wantCode: "invalid_request", status: 400, desc: "malformed percent-encoding in Basic credentials"},
		{name: "empty id", req: tokenReq{body: ok, auth: []string{basicRaw(":secret")}}, wantCode: "invalid_client", status: 401, desc: "Basic credentials without a client_id"},
		{name: "empty secret", req: tokenReq{body: ok, auth: []string{basicRaw("id:")}}, wantCode: "invalid_client", status: 401, desc: "Basic credentials without a client_secret"},
		{name: "Basic too long", req: tokenReq{body: ok, auth: []string{"Basic " + strings.Repeat("QUFB", maxBasicLen/4+1)}}, wantCode: "invalid_request", status: 400, desc: "Basic credentials are too long"},
		{name: "Basic and body secret", req: tokenReq{body: ok + "&client_secret=s", auth: []string{basic("a", "b")}}, wantCode: "invalid_request", status: 400, desc: "client credentials sent by more than one method"},
		{name: "Basic and body secret with same id", req: tokenReq{body: ok + "&client_id=a&client_secret=b", auth: []string{basic("a", "b")}}, wantCode: "invalid_request", status: 400, desc: "client credentials sent by more than one method"},
		{name: "Basic and another body client_id", req: tokenReq{body: ok + "&client_id=other", auth: []string{basic("a", "b")}}, wantCode: "invalid_request", status: 400, desc: "client_id in the body differs from the Basic credentials"},
		{name: "secret without id", req: tokenReq{body: ok + "&client_secret=s"}, wantCode: "invalid_request", status: 400, desc: "client_secret sent without client_id"},
		{name: "id too long (post)", req: tokenReq{body: ok + "&client_secret=s&client_id=" + strings.Repeat("i", MaxClientIDLen+1)}, wantCode: "invalid_request", status: 400, desc: "client_id is too long"},
		{name: "id too long (basic)", req: tokenReq{body: ok, auth: []string{basic(strings.Repeat("i", MaxClientIDLen+1), "s")}}, wantCode: "invalid_request", status: 400, desc: "client_id is too long"},
		{name: "id too long (alone)", req: tokenReq{body: ok + "&client_id=" + strings.Repeat("i", MaxClientIDLen+1)}, wantCode: "invalid_request", status: 400, desc: "client_id is too long"},
		{name: "secret too long", req: tokenReq{body: ok + "&client_id=a&client_secret=" + strings.Repeat("s", MaxClientSecretLen+1)}, wantCode: "invalid_request", status: 400, desc: "client_secret is too long"},
		{name: "id with newline", req: tokenReq{body: ok + "&client_id=a%0d%0aX&client_secret=s"}, wantCode: "invalid_request", status: 400, desc: "client_id contains characters outside printable ASCII"},
		{name: "id non-ASCII", req: tokenReq{body: ok, auth: []string{basic("é", "s")}}, wantCode: "invalid_request", status: 400, desc: "client_id contains characters outside printable ASCII"},
		{name: "secret with NUL", req: tokenReq{body: ok, auth: []string{basic("a", "s\x00")}}, wantCode: "invalid_request", status: 400, desc: "client_secret contains characters outside printable ASCII"},
		{name: "missing grant_type", req: tokenReq{body: "scope=a"}, wantCode: "invalid_request", status: 400, desc: "missing grant_type"},
		{name: "empty grant_type", req: tokenReq{body: "grant_type=&scope=a"}, wantCode: "invalid_request", status: 400, desc: "missing grant_type"},
		{name: "empty body", req: tokenReq{body: ""}, wantCode: "invalid_request", status: 400, desc: "missing grant_type"},
		{name: "grant_type only in query", req: tokenReq{target: "/oauth2/token?grant_type=client_credentials", body: "scope=a"}, wantCode: "invalid_request", status: 400, desc: "missing grant_type"},
		{name: "scope too long", req: tokenReq{body: ok + "&scope=" + strings.Repeat("a", MaxScopeLen+1)}, wantCode: "invalid_request", status: 400, desc: "the scope parameter is too long"},
		{name: "scope with quote", req: tokenReq{body: ok + "&scope=a+%22b%22"}, wantCode: "invalid_scope", status: 400, desc: "malformed scope: scope token 2, byte 1: character not allowed in a scope token"},
		{name: "scope with backslash", req: tokenReq{body: ok + "&scope=a%5Cb"}, wantCode: "invalid_scope", status: 400, desc: "malformed scope: scope token 1, byte 2: character not allowed in a scope token"},
		{name: "scope with control", req: tokenReq{body: ok + "&scope=a%01"}, wantCode: "invalid_scope", status: 400, desc: "malformed scope: scope token 1, byte 2: character not allowed in a scope token"},
		{name: "scope double space", req: tokenReq{body: ok + "&scope=a++b"}, wantCode: "invalid_scope", status: 400, desc: "malformed scope: scope token 2: empty scope token (leading, trailing or repeated space)"},
		{name: "resource relative", req: tokenReq{body: ok + "&resource=%2Forders"}, wantCode: "invalid_target", status: 400, desc: "resource must be an absolute URI without a fragment"},
		{name: "resource bare name", req: tokenReq{body: ok + "&resource=orders-api"}, wantCode: "invalid_target", status: 400, desc: "resource must be an absolute URI without a fragment"},
		{name: "resource with fragment", req: tokenReq{body: ok + "&resource=https%3A%2F%2Fa.example%2F%23frag"}, wantCode: "invalid_target", status: 400, desc: "resource must be an absolute URI without a fragment"},
		{name: "resource with space", req: tokenReq{body: ok + "&resource=https%3A%2F%2Fa.example%2F+x"}, wantCode: "invalid_target", status: 400, desc: "resource must be an absolute URI without a fragment"},
		{name: "resource scheme only", req: tokenReq{body: ok + "&resource=https%3A"}, wantCode: "invalid_target", status: 400, desc: "resource must be an absolute URI without a fragment"},
		{name: "second resource bad", req: tokenReq{body: ok + "&resource=urn%3Aa&resource=b"}, wantCode: "invalid_target", status: 400, desc: "resource must be an absolute URI without a fragment"},
		{name: "too many resources", req: tokenReq{body: ok + strings.Repeat("&resource=urn%3Aa", MaxResources+1)}, wantCode: "invalid_request", status: 400, desc: "too many resource parameters"},
		{name: "resource too long", req: tokenReq{body: ok + "&resource=urn%3A" + strings.Repeat("a", MaxResourceLen)}, wantCode: "invalid_request", status: 400, desc: "a resource parameter is too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			if r == nil {
				r = tt.req.build()
			}
			got, e := ParseTokenRequest(r, tt.maxBody)
			if e == nil {
				t.Fatalf("ParseTokenRequest() = %+v, want %s", fields(got), tt.wantCode)
			}
			if got != nil {
				t.Errorf("request returned with an error")
			}
			if e.Code != tt.wantCode || e.Status != tt.status || e.Description != tt.desc {
				t.Errorf("error = %s/%d %q, want %s/%d %q", e.Code, e.Status, e.Description, tt.wantCode, tt.status, tt.desc)
			}
			checkDescription(t, e)
		})
	}
}

func unknownLength(body string) *http.Request {
	r := tokenReq{body: body}.build()
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = -1
	return r
}

func maxBytes(body string, n int64) *http.Request {
	r := unknownLength(body)
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, n)
	return r
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func failingBody() *http.Request {
	r := unknownLength("")
	r.Body = io.NopCloser(errReader{})
	return r
}

func TestFormNeverHoldsTheSecret(t *testing.T) {
	r := tokenReq{body: "grant_type=x&client_id=a&client_secret=topsecret"}.build()
	got, e := ParseTokenRequest(r, 0)
	if e != nil {
		t.Fatal(e)
	}
	if _, ok := got.Form["client_secret"]; ok {
		t.Errorf("Form holds client_secret")
	}
	if got.ClientSecret != "topsecret" {
		t.Errorf("ClientSecret = %q", got.ClientSecret)
	}
}

func TestTokenRequestStringRedactsSecret(t *testing.T) {
	r := &TokenRequest{GrantType: "client_credentials", ClientID: "abc", ClientSecret: "topsecret", AuthMethod: AuthMethodPost, Scope: "a b"}
	const want = `TokenRequest{grant_type="client_credentials" client_id="abc" auth_method="client_secret_post" client_secret=redacted scope="a b"}`
	for _, got := range []string{r.String(), r.GoString()} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	if got := (&TokenRequest{GrantType: "x\r\n"}).String(); strings.ContainsAny(got, "\r\n") {
		t.Errorf("String() = %q holds a raw newline", got)
	}
	var nilReq *TokenRequest
	if got := nilReq.String(); got != "<nil>" {
		t.Errorf("nil String() = %q", got)
	}
}

// TestDescriptionsNeverEchoInput puts CR/LF, quotes and markup into every
// part of a token request and of a bearer header, and checks that no
// description carries any of it back.
func TestDescriptionsNeverEchoInput(t *testing.T) {
	payloads := []string{
		"\r\nSet-Cookie: x=1",
		`"><script>alert(1)</script>`,
		"<script>alert('x')</script>",
		`\"quoted\"`,
		"marker-7f3a",
	}
	var reqs []tokenReq
	for _, p := range payloads {
		q := url.QueryEscape(p)
		reqs = append(reqs,
			tokenReq{body: "grant_type=x&scope=" + q},
			tokenReq{body: "grant_type=x&scope=a&scope=" + q},
			tokenReq{body: "grant_type=x&client_id=" + q + "&client_secret=s"},
			tokenReq{body: "grant_type=x&client_id=a&client_secret=" + q},
			tokenReq{body: "grant_type=x&resource=" + q},
			tokenReq{body: "grant_type=x&" + q + "=1&" + q + "=2"},
			tokenReq{body: q},
			tokenReq{body: p},
			tokenReq{body: "grant_type=x", auth: []string{basic(p, p)}},
			tokenReq{body: "grant_type=x", auth: []string{basicRaw(p + ":" + p)}},
			tokenReq{body: "grant_type=x", auth: []string{basicRaw(p)}},
			tokenReq{body: "grant_type=x", auth: []string{"Basic " + p}},
			tokenReq{body: "grant_type=x", auth: []string{p}},
			tokenReq{body: "grant_type=x&client_id=other", auth: []string{basic(p, p)}},
			tokenReq{body: "grant_type=x", contentType: []string{p}},
			tokenReq{body: "grant_type=x", header: http.Header{"Content-Encoding": {p}}},
			tokenReq{target: "/oauth2/token?client_id=" + q, body: "grant_type=x"},
			tokenReq{method: "P" + strings.Map(func(r rune) rune {
				if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
					return r
				}
				return -1
			}, p), body: "grant_type=x"},
		)
	}
	var errs []*Error
	// Payloads made of printable ASCII are valid credentials or scopes, so
	// some requests pass parsing; the rest must fail without echoing.
	for _, tr := range reqs {
		if _, e := ParseTokenRequest(tr.build(), 0); e != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) < len(reqs)*3/4 {
		t.Fatalf("only %d of %d bad requests failed", len(errs), len(reqs))
	}
	for _, p := range payloads {
		for _, v := range []string{"Bearer " + p, p, "Bearer a" + p, "Bearer " + strings.Repeat("a", 5000) + p} {
			if _, e := BearerToken(http.Header{"Authorization": {v}}, 0); e != nil {
				errs = append(errs, e)
			}
		}
	}
	for _, e := range errs {
		checkDescription(t, e)
		for _, bad := range []string{"\r", "\n", `"`, "<", ">", "script", "alert", "marker", "Set-Cookie", "quoted"} {
			if strings.Contains(e.Description, bad) {
				t.Errorf("description %q contains %q", e.Description, bad)
			}
		}
	}
}

func TestParseClientRequest(t *testing.T) {
	newReq := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/revoke", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	t.Run("no grant_type needed; token kept in the form; secret removed", func(t *testing.T) {
		req, e := ParseClientRequest(newReq("token=abc&client_id=c1&client_secret=s1"), 0)
		if e != nil {
			t.Fatal(e)
		}
		if req.Form.Get("token") != "abc" || req.ClientID != "c1" || req.ClientSecret != "s1" || req.AuthMethod != AuthMethodPost {
			t.Fatalf("got %+v", req)
		}
		if _, ok := req.Form["client_secret"]; ok {
			t.Fatal("client_secret left in the form")
		}
	})
	t.Run("repeated token", func(t *testing.T) {
		_, e := ParseClientRequest(newReq("token=a&token=b&client_id=c1&client_secret=s1"), 0)
		if e == nil || e.Code != CodeInvalidRequest || e.Status != http.StatusBadRequest {
			t.Fatalf("got %v", e)
		}
	})
	t.Run("secret in the query", func(t *testing.T) {
		r := newReq("token=a")
		r.URL.RawQuery = "client_secret=s1"
		_, e := ParseClientRequest(r, 0)
		if e == nil || e.Code != CodeInvalidRequest {
			t.Fatalf("got %v", e)
		}
	})
}
