package oauth

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// RFC 7636 Appendix B's example.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

const appRedirect = "https://app.example/cb"

// authorizeQuery is a valid request with the given parameters replaced
// ("" removes one); a name ending in "+" adds a value instead.
func authorizeQuery(changes ...string) url.Values {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {"app1"},
		"redirect_uri":          {appRedirect},
		"state":                 {"xyz"},
		"code_challenge":        {rfcChallenge},
		"code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(changes); i += 2 {
		name, value := changes[i], changes[i+1]
		switch {
		case strings.HasSuffix(name, "+"):
			name = strings.TrimSuffix(name, "+")
			q[name] = append(q[name], value)
		case value == "" && name != "":
			delete(q, name)
		default:
			q.Set(name, value)
		}
	}
	return q
}

func TestParseAuthorizeRequestAccepts(t *testing.T) {
	q := authorizeQuery(
		"scope", "read write read",
		"nonce", "n-0S6_WzA2Mj",
		"resource", "https://api.example/",
		"resource+", "urn:example:orders",
		"resource+", "",
		"prompt", "login consent login",
		"max_age", "0",
		"login_hint", "Zoë Ångström",
		"unknown_param", "ignored",
		"empty", "",
	)
	q["scope_extra"] = []string{""}
	req, e := ParseAuthorizeRequest(q)
	if e != nil {
		t.Fatalf("refused: %v", e)
	}
	want := AuthorizeRequest{
		ResponseType: "code", ClientID: "app1", RedirectURI: appRedirect, State: "xyz",
		Scope: "read write read", Nonce: "n-0S6_WzA2Mj",
		CodeChallenge: rfcChallenge, CodeChallengeMethod: "S256", LoginHint: "Zoë Ångström",
	}
	if req.ResponseType != want.ResponseType || req.ClientID != want.ClientID || req.RedirectURI != want.RedirectURI ||
		req.State != want.State || req.Scope != want.Scope || req.Nonce != want.Nonce ||
		req.CodeChallenge != want.CodeChallenge || req.CodeChallengeMethod != want.CodeChallengeMethod ||
		req.LoginHint != want.LoginHint {
		t.Fatalf("got %+v", req)
	}
	if !slices.Equal(req.Scopes, []string{"read", "write"}) {
		t.Errorf("scopes %q", req.Scopes)
	}
	if !slices.Equal(req.Resources, []string{"https://api.example/", "urn:example:orders"}) {
		t.Errorf("resources %q", req.Resources)
	}
	if !slices.Equal(req.Prompt, []string{"login", "consent"}) {
		t.Errorf("prompt %q", req.Prompt)
	}
	if req.MaxAge == nil || *req.MaxAge != 0 {
		t.Errorf("max_age %v", req.MaxAge)
	}

	t.Run("minimal, empty values as absent", func(t *testing.T) {
		req, e := ParseAuthorizeRequest(authorizeQuery("state", "", "code_challenge", "", "code_challenge_method", "",
			"scope+", "", "prompt+", "", "max_age+", "", "request+", "", "request_uri+", ""))
		if e != nil {
			t.Fatalf("refused: %v", e)
		}
		if req.State != "" || req.CodeChallenge != "" || req.Scopes != nil || req.Prompt != nil || req.MaxAge != nil || req.Resources != nil {
			t.Fatalf("got %+v", req)
		}
		if e := req.Trust([]string{appRedirect}); e != nil {
			t.Fatalf("Trust: %v", e)
		}
		e = req.RequirePKCE()
		if e == nil || !e.Redirectable() || e.Err.Code != CodeInvalidRequest || !strings.Contains(e.Err.Description, "PKCE") {
			t.Fatalf("RequirePKCE without a challenge: %v", e)
		}
	})
	t.Run("prompt none alone, max_age at its bound", func(t *testing.T) {
		req, e := ParseAuthorizeRequest(authorizeQuery("prompt", "none", "max_age", "2147483647"))
		if e != nil || !slices.Equal(req.Prompt, []string{"none"}) || *req.MaxAge != MaxMaxAge {
			t.Fatalf("got %+v, %v", req, e)
		}
		if req.RequirePKCE() != nil {
			t.Fatal("RequirePKCE with a challenge")
		}
	})
}

// TestParseAuthorizeRequestShows covers the errors found before the client
// and its redirect URI are trusted: never redirectable, whatever follows.
func TestParseAuthorizeRequestShows(t *testing.T) {
	long := strings.Repeat("a", MaxURILength)
	tests := []struct {
		name  string
		query url.Values
	}{
		{"missing client_id", authorizeQuery("client_id", "")},
		{"empty client_id", authorizeQuery("client_id", "", "client_id+", "")},
		{"repeated client_id", authorizeQuery("client_id+", "app2")},
		{"repeated client_id, one empty", authorizeQuery("client_id+", "")},
		{"client_id too long", authorizeQuery("client_id", strings.Repeat("c", MaxClientIDLen+1))},
		{"client_id with a newline", authorizeQuery("client_id", "app1\n")},
		{"missing redirect_uri", authorizeQuery("redirect_uri", "")},
		{"repeated redirect_uri", authorizeQuery("redirect_uri+", "https://evil.example/cb")},
		{"redirect_uri too long", authorizeQuery("redirect_uri", "https://app.example/"+long)},
		{"redirect_uri with a control character", authorizeQuery("redirect_uri", "https://app.example/cb\r\nX: y")},
		{"missing redirect_uri and a bad response_type", authorizeQuery("redirect_uri", "", "response_type", "token")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, e := ParseAuthorizeRequest(tt.query)
			if req != nil || e == nil {
				t.Fatalf("got %+v, %v; want an error", req, e)
			}
			if e.Redirectable() || e.RedirectURL("https://issuer.example") != "" {
				t.Fatalf("a pre-trust error is redirectable: %v", e)
			}
			if e.Err.Code != CodeInvalidRequest || e.Err.Status != 400 {
				t.Fatalf("error %v status %d", e, e.Err.Status)
			}
			checkDescription(t, e.Err)
		})
	}
}

func TestParseAuthorizeQuery(t *testing.T) {
	good := authorizeQuery().Encode()
	if _, e := ParseAuthorizeQuery(good); e != nil {
		t.Fatalf("refused a good query: %v", e)
	}
	for name, raw := range map[string]string{
		// url.Values from r.URL.Query() would drop the malformed pair and
		// see one client_id.
		"a malformed pair hiding a second client_id": good + "&client_id=%zz",
		"semicolon separator":                        good + ";x=y",
		"too long":                                   good + "&pad=" + strings.Repeat("a", MaxAuthorizeQueryLen),
		// Bytes a URI carries only percent-encoded (RFC 3986 §2): the
		// request would not come back whole through sign-in's return_to.
		"raw non-ASCII":   good + "&login_hint=Zo\xc3\xab",
		"raw backslash":   good + "&x=a\\b",
		"raw space":       good + "&x=a b",
		"raw tab":         good + "&x=a\tb",
		"raw DEL":         good + "&x=a\x7fb",
		"raw number sign": good + "&x=a#b",
	} {
		t.Run(name, func(t *testing.T) {
			req, e := ParseAuthorizeQuery(raw)
			if req != nil || e == nil || e.Redirectable() {
				t.Fatalf("got %+v, %v; want a shown error", req, e)
			}
		})
	}
}

// TestParseAuthorizeRequestRedirects covers the errors found after
// client_id and redirect_uri: held until Trust, then sent to the client
// with the state.
func TestParseAuthorizeRequestRedirects(t *testing.T) {
	tests := []struct {
		name  string
		query url.Values
		code  string
		// state is the state the error goes back with.
		state string
		// describes is a part of the description.
		describes string
	}{
		{"missing response_type", authorizeQuery("response_type", ""), CodeInvalidRequest, "xyz", "response_type"},
		{"implicit grant", authorizeQuery("response_type", "token"), CodeUnsupportedResponseType, "xyz", "implicit grant"},
		{"hybrid", authorizeQuery("response_type", "code id_token"), CodeUnsupportedResponseType, "xyz", "code"},
		{"response_type in upper case", authorizeQuery("response_type", "CODE"), CodeUnsupportedResponseType, "xyz", "code"},
		{"repeated response_type", authorizeQuery("response_type+", "code"), CodeInvalidRequest, "xyz", "repeated"},
		{"repeated unknown parameter", authorizeQuery("foo", "1", "foo+", "2"), CodeInvalidRequest, "xyz", "repeated"},
		{"repeated state", authorizeQuery("state+", "abc"), CodeInvalidRequest, "", "repeated"},
		{"state too long", authorizeQuery("state", strings.Repeat("s", MaxStateLen+1)), CodeInvalidRequest, "", "state"},
		{"state with a newline", authorizeQuery("state", "a\nb"), CodeInvalidRequest, "", "state"},
		{"PKCE downgrade: plain", authorizeQuery("code_challenge", rfcVerifier, "code_challenge_method", "plain"), CodeInvalidRequest, "xyz", "PKCE downgrade"},
		{"PKCE downgrade: no method", authorizeQuery("code_challenge_method", ""), CodeInvalidRequest, "xyz", "PKCE downgrade"},
		{"PKCE method in lower case", authorizeQuery("code_challenge_method", "s256"), CodeInvalidRequest, "xyz", "S256"},
		{"PKCE method without challenge", authorizeQuery("code_challenge", ""), CodeInvalidRequest, "xyz", "code_challenge"},
		{"challenge too short", authorizeQuery("code_challenge", rfcChallenge[:42]), CodeInvalidRequest, "xyz", "43"},
		{"challenge padded", authorizeQuery("code_challenge", rfcChallenge[:42]+"="), CodeInvalidRequest, "xyz", "43"},
		{"challenge in standard base64", authorizeQuery("code_challenge", strings.ReplaceAll(rfcChallenge, "-", "+")), CodeInvalidRequest, "xyz", "43"},
		{"challenge of 128 characters, plain's shape", authorizeQuery("code_challenge", strings.Repeat("a", 128)), CodeInvalidRequest, "xyz", "43"},
		{"challenge not canonical", authorizeQuery("code_challenge", rfcChallenge[:42]+"N"), CodeInvalidRequest, "xyz", "43"},
		{"malformed scope", authorizeQuery("scope", `read "write"`), CodeInvalidScope, "xyz", "scope"},
		{"scope too long", authorizeQuery("scope", strings.Repeat("s", MaxScopeLen+1)), CodeInvalidRequest, "xyz", "scope"},
		{"relative resource", authorizeQuery("resource", "/api"), CodeInvalidTarget, "xyz", "resource"},
		{"resource with a fragment", authorizeQuery("resource", "https://api.example/#x"), CodeInvalidTarget, "xyz", "resource"},
		{"too many resources", authorizeQuery("resource", "urn:a", "resource+", "urn:b", "resource+", "urn:c", "resource+", "urn:d",
			"resource+", "urn:e", "resource+", "urn:f", "resource+", "urn:g", "resource+", "urn:h", "resource+", "urn:i",
			"resource+", "urn:j", "resource+", "urn:k", "resource+", "urn:l", "resource+", "urn:m", "resource+", "urn:n",
			"resource+", "urn:o", "resource+", "urn:p", "resource+", "urn:q"), CodeInvalidRequest, "xyz", "resource"},
		{"prompt none with login", authorizeQuery("prompt", "none login"), CodeInvalidRequest, "xyz", "none"},
		{"prompt unknown", authorizeQuery("prompt", "select_account"), CodeInvalidRequest, "xyz", "prompt"},
		{"prompt with two spaces", authorizeQuery("prompt", "login  consent"), CodeInvalidRequest, "xyz", "prompt"},
		{"max_age negative", authorizeQuery("max_age", "-1"), CodeInvalidRequest, "xyz", "max_age"},
		{"max_age with a sign", authorizeQuery("max_age", "+5"), CodeInvalidRequest, "xyz", "max_age"},
		{"max_age fraction", authorizeQuery("max_age", "1.5"), CodeInvalidRequest, "xyz", "max_age"},
		{"max_age too large", authorizeQuery("max_age", "2147483648"), CodeInvalidRequest, "xyz", "max_age"},
		{"max_age huge", authorizeQuery("max_age", "99999999999999999999"), CodeInvalidRequest, "xyz", "max_age"},
		{"nonce too long", authorizeQuery("nonce", strings.Repeat("n", MaxNonceLen+1)), CodeInvalidRequest, "xyz", "nonce"},
		{"nonce with a NUL", authorizeQuery("nonce", "a\x00b"), CodeInvalidRequest, "xyz", "nonce"},
		{"login_hint with a newline", authorizeQuery("login_hint", "alice\r\nadmin"), CodeInvalidRequest, "xyz", "login_hint"},
		{"login_hint not UTF-8", authorizeQuery("login_hint", "\xff"), CodeInvalidRequest, "xyz", "login_hint"},
		{"request object", authorizeQuery("request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluIn0."), CodeRequestNotSupported, "xyz", "request"},
		{"request object carrying the response_type", authorizeQuery("request", "eyJhbGciOiJub25lIn0.e30.", "response_type", ""), CodeRequestNotSupported, "xyz", "request"},
		{"request object with a bad PKCE method", authorizeQuery("request", "x", "code_challenge_method", "plain"), CodeRequestNotSupported, "xyz", "request"},
		{"request_uri", authorizeQuery("request_uri", "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c"), CodeRequestURINotSupported, "xyz", "request_uri"},
		{"request_uri to fetch", authorizeQuery("request_uri", "https://evil.example/req.jwt", "response_type", ""), CodeRequestURINotSupported, "xyz", "request_uri"},
		{"request and request_uri", authorizeQuery("request", "x", "request_uri", "urn:x"), CodeRequestNotSupported, "xyz", "request"},
		{"repeated request_uri", authorizeQuery("request_uri", "urn:x", "request_uri+", "urn:y"), CodeInvalidRequest, "xyz", "repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, e := ParseAuthorizeRequest(tt.query)
			if req == nil || e == nil {
				t.Fatalf("got %+v, %v; want a request and an error", req, e)
			}
			if e.Redirectable() {
				t.Fatal("redirectable before Trust")
			}
			if req.ResponseType != "" || req.CodeChallenge != "" || req.Scopes != nil {
				t.Fatalf("a refused request carries parsed fields: %+v", req)
			}
			if e.Err.Code != tt.code || !strings.Contains(e.Err.Description, tt.describes) {
				t.Fatalf("error %v; want %s about %q", e, tt.code, tt.describes)
			}
			checkDescription(t, e.Err)

			if e := req.Trust([]string{"https://other.example/cb"}); e == nil || e.Redirectable() {
				t.Fatalf("Trust with the redirect URI unregistered: %v", e)
			}
			sent := req.Trust([]string{"https://other.example/cb", appRedirect})
			if sent == nil || !sent.Redirectable() || sent.Err.Code != tt.code {
				t.Fatalf("Trust: %v", sent)
			}
			loc, err := url.Parse(sent.RedirectURL("https://issuer.example"))
			if err != nil {
				t.Fatal(err)
			}
			q := loc.Query()
			if loc.Scheme+"://"+loc.Host+loc.Path != appRedirect || q.Get("error") != tt.code ||
				q.Get("error_description") != e.Err.Description || q.Get("state") != tt.state ||
				q.Get("iss") != "https://issuer.example" || q.Has("state") != (tt.state != "") {
				t.Fatalf("redirect %s", loc)
			}
		})
	}
}

// TestTrust checks that nothing is redirected to a redirect URI the client
// did not register, however close.
func TestTrust(t *testing.T) {
	registered := []string{"https://app.example/cb", "https://app.example/cb?x=1"}
	for _, got := range []string{
		"https://app.example/cb/", "https://app.example/cb/../cb", "https://APP.example/cb", "https://app.example/CB",
		"https://app.example:443/cb", "https://app.example.evil.example/cb", "https://user@app.example/cb",
		"https://app.example/cb#x", "https://app.example/cb?x=2", "http://app.example/cb", "https://app.example/c",
	} {
		t.Run(got, func(t *testing.T) {
			req, e := ParseAuthorizeRequest(authorizeQuery("redirect_uri", got, "response_type", "token"))
			if req == nil {
				t.Fatalf("refused before trust: %v", e)
			}
			e = req.Trust(registered)
			if e == nil || e.Redirectable() || e.Err.Code != CodeInvalidRequest {
				t.Fatalf("Trust: %v; want a shown invalid_request", e)
			}
			if f := req.Fail(AccessDenied("the person denied the request")); f.Redirectable() {
				t.Fatal("Fail redirects for an untrusted request")
			}
		})
	}
	t.Run("registered, with its own query", func(t *testing.T) {
		req, e := ParseAuthorizeRequest(authorizeQuery("redirect_uri", "https://app.example/cb?x=1"))
		if e != nil {
			t.Fatal(e)
		}
		if e := req.Trust(registered); e != nil {
			t.Fatalf("Trust: %v", e)
		}
		f := req.Fail(AccessDenied("the person denied the request"))
		if got, want := f.RedirectURL("https://id.example"), "https://app.example/cb?x=1&error=access_denied&error_description=the+person+denied+the+request&state=xyz&iss=https%3A%2F%2Fid.example"; got != want {
			t.Fatalf("redirect\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("unknown client is shown", func(t *testing.T) {
		if e := UnknownClient(); e.Redirectable() || e.Err.Code != CodeInvalidClient || e.Err.Status != 400 {
			t.Fatalf("UnknownClient: %+v", e.Err)
		}
	})
}

// TestRedirectURLsAreInjectionSafe: state, code and issuer cannot add or end
// parameters, and the registered URI's query is kept byte for byte.
func TestRedirectURLsAreInjectionSafe(t *testing.T) {
	tests := []struct{ name, uri, code, state, issuer, want string }{
		{"plain", "https://app.example/cb", "c0de", "s1", "https://id.example",
			"https://app.example/cb?code=c0de&state=s1&iss=https%3A%2F%2Fid.example"},
		{"state that tries to add a code and a fragment", "https://app.example/cb", "c0de", "x&code=evil#frag", "https://id.example",
			"https://app.example/cb?code=c0de&state=x%26code%3Devil%23frag&iss=https%3A%2F%2Fid.example"},
		{"own query kept as registered", "https://app.example/cb?a=%2F&b", "c", "s", "https://id.example",
			"https://app.example/cb?a=%2F&b&code=c&state=s&iss=https%3A%2F%2Fid.example"},
		{"trailing question mark", "https://app.example/cb?", "c", "", "https://id.example",
			"https://app.example/cb?code=c&iss=https%3A%2F%2Fid.example"},
		{"trailing ampersand", "https://app.example/cb?a=1&", "c", "", "", "https://app.example/cb?a=1&code=c"},
		{"fragment dropped", "https://app.example/cb#frag", "c", "s", "", "https://app.example/cb?code=c&state=s"},
		{"private-use scheme", "com.example.app:/oauth", "c", "s", "https://id.example",
			"com.example.app:/oauth?code=c&state=s&iss=https%3A%2F%2Fid.example"},
		{"loopback", "http://127.0.0.1:53219/cb", "c", "a b+c", "",
			"http://127.0.0.1:53219/cb?code=c&state=a+b%2Bc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SuccessRedirect(tt.uri, tt.code, tt.state, tt.issuer)
			if got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if q := u.Query(); q.Get("code") != tt.code || q.Get("state") != tt.state || len(q["code"]) != 1 || u.Fragment != "" {
				t.Fatalf("parsed back: %v, fragment %q", q, u.Fragment)
			}
		})
	}
}

func TestVerifyPKCE(t *testing.T) {
	tests := []struct {
		name                        string
		challenge, method, verifier string
		want                        bool
	}{
		{"RFC 7636 Appendix B", rfcChallenge, "S256", rfcVerifier, true},
		{"another verifier", rfcChallenge, "S256", rfcVerifier[:42] + "l", false},
		{"verifier of 128 characters", s256(strings.Repeat("~", 128)), "S256", strings.Repeat("~", 128), true},
		{"verifier of 129 characters", s256(strings.Repeat("~", 129)), "S256", strings.Repeat("~", 129), false},
		{"verifier of 42 characters", s256(rfcVerifier[:42]), "S256", rfcVerifier[:42], false},
		{"verifier with a reserved character", s256(rfcVerifier[:42] + "+"), "S256", rfcVerifier[:42] + "+", false},
		{"verifier with a space", s256(rfcVerifier[:42] + " "), "S256", rfcVerifier[:42] + " ", false},
		{"plain: the verifier as the challenge", rfcVerifier, "plain", rfcVerifier, false},
		{"plain method named S256", rfcVerifier, "S256", rfcVerifier, false},
		{"no method", rfcChallenge, "", rfcVerifier, false},
		{"method in lower case", rfcChallenge, "s256", rfcVerifier, false},
		{"no verifier", rfcChallenge, "S256", "", false},
		{"no challenge", "", "S256", rfcVerifier, false},
		{"padded challenge", rfcChallenge + "=", "S256", rfcVerifier, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyPKCE(tt.challenge, tt.method, tt.verifier); got != tt.want {
				t.Fatalf("VerifyPKCE = %v, want %v", got, tt.want)
			}
		})
	}
}
