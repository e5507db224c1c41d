package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scopegate/scopegate/scope"
)

// s256 returns the S256 challenge of verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeCodes are the codes ParseAuthorizeQuery may return.
var authorizeCodes = []string{CodeInvalidRequest, CodeUnsupportedResponseType, CodeInvalidScope, CodeInvalidTarget,
	CodeRequestNotSupported, CodeRequestURINotSupported}

// FuzzParseAuthorizeRequest drives ParseAuthorizeQuery with arbitrary query
// strings. It must never panic. An error before the client is known is
// never redirectable; a parameter error becomes redirectable only through
// Trust, and then its URL carries exactly the error, description, state
// and issuer appended to the redirect URI. An accepted request satisfies
// every documented bound, and its query only bytes a URI carries as they
// are (so it comes back whole through the sign-in page's return_to).
func FuzzParseAuthorizeRequest(f *testing.F) {
	f.Add(authorizeQuery().Encode())
	f.Add(authorizeQuery("scope", "a b", "resource", "urn:x", "prompt", "login consent", "max_age", "60", "nonce", "n").Encode())
	f.Add(authorizeQuery("response_type", "token").Encode())
	f.Add(authorizeQuery("code_challenge_method", "plain", "state", "a&b=c#d").Encode())
	f.Add(authorizeQuery("redirect_uri", "https://app.example/cb?x=1&").Encode())
	f.Add("client_id=a&redirect_uri=b&client_id=%zz")
	f.Add(authorizeQuery("request", "eyJhbGciOiJub25lIn0.e30.", "response_type", "").Encode())
	f.Add(authorizeQuery("request_uri", "https://evil.example/r", "request", "").Encode())
	f.Add(authorizeQuery().Encode() + "&login_hint=Zo\xc3\xab&x=a\\b")
	f.Fuzz(func(t *testing.T, raw string) {
		req, e := ParseAuthorizeQuery(raw)
		if req == nil {
			if e == nil || e.Redirectable() || e.Err.Status != 400 {
				t.Fatalf("no request and error %v", e)
			}
			checkDescription(t, e.Err)
			return
		}
		if !IsURIText(raw) || len(raw) > MaxAuthorizeQueryLen {
			t.Fatalf("read a query of %d bytes with a byte a URI must percent-encode: %q", len(raw), raw)
		}
		if req.ClientID == "" || req.RedirectURI == "" || len(req.ClientID) > MaxClientIDLen || len(req.RedirectURI) > MaxURILength ||
			!isVSChars(req.ClientID) || !isVSChars(req.RedirectURI) {
			t.Fatalf("client_id %q redirect_uri %q", req.ClientID, req.RedirectURI)
		}
		if len(req.State) > MaxStateLen || !isVSChars(req.State) {
			t.Fatalf("state %q", req.State)
		}
		if e != nil {
			if e.Redirectable() || !slices.Contains(authorizeCodes, e.Err.Code) {
				t.Fatalf("parameter error %v, redirectable %v", e, e.Redirectable())
			}
			checkDescription(t, e.Err)
			checkErrorRedirect(t, req, e)
			return
		}
		checkAccepted(t, req)
		if req.Trust([]string{req.RedirectURI}) != nil {
			t.Fatal("Trust refused the request's own redirect URI")
		}
	})
}

// checkErrorRedirect checks the URL an error of req is sent to after Trust.
func checkErrorRedirect(t *testing.T, req *AuthorizeRequest, parsed *AuthorizeError) {
	t.Helper()
	e := req.Trust([]string{req.RedirectURI})
	if e == nil || !e.Redirectable() || e.Err != parsed.Err {
		t.Fatalf("Trust returned %v for %v", e, parsed)
	}
	loc := e.RedirectURL("https://id.example")
	base, _, _ := strings.Cut(req.RedirectURI, "#")
	if !strings.HasPrefix(loc, base) {
		t.Fatalf("redirect %q does not start with %q", loc, base)
	}
	added, err := url.ParseQuery(strings.TrimLeft(loc[len(base):], "?&"))
	if err != nil {
		t.Fatalf("appended parameters %q: %v", loc[len(base):], err)
	}
	want := url.Values{"error": {e.Err.Code}, "error_description": {e.Err.Description}, "iss": {"https://id.example"}}
	if req.State != "" {
		want["state"] = []string{req.State}
	}
	if len(added) != len(want) {
		t.Fatalf("appended %v, want %v", added, want)
	}
	for k, v := range want {
		if !slices.Equal(added[k], v) {
			t.Fatalf("appended %v, want %v", added, want)
		}
	}
}

// checkAccepted checks the documented invariants of an accepted request.
func checkAccepted(t *testing.T, req *AuthorizeRequest) {
	t.Helper()
	switch {
	case req.ResponseType != "code":
		t.Fatalf("response_type %q", req.ResponseType)
	case (req.CodeChallenge == "") != (req.CodeChallengeMethod == ""),
		req.CodeChallenge != "" && (req.CodeChallengeMethod != PKCEMethodS256 || !validS256Challenge(req.CodeChallenge)):
		t.Fatalf("PKCE %q %q", req.CodeChallenge, req.CodeChallengeMethod)
	case len(req.Resources) > MaxResources:
		t.Fatalf("%d resources", len(req.Resources))
	case len(req.Nonce) > MaxNonceLen || !isVSChars(req.Nonce):
		t.Fatalf("nonce %q", req.Nonce)
	case len(req.LoginHint) > MaxLoginHintLen || !utf8.ValidString(req.LoginHint) || strings.ContainsFunc(req.LoginHint, isControl):
		t.Fatalf("login_hint %q", req.LoginHint)
	case req.MaxAge != nil && (*req.MaxAge < 0 || *req.MaxAge > MaxMaxAge):
		t.Fatalf("max_age %d", *req.MaxAge)
	case len(req.Prompt) > 1 && slices.Contains(req.Prompt, PromptNone):
		t.Fatalf("prompt %q", req.Prompt)
	}
	for _, r := range req.Resources {
		if !ValidResource(r) {
			t.Fatalf("resource %q", r)
		}
	}
	for i, p := range req.Prompt {
		if p != PromptNone && p != PromptLogin && p != PromptConsent || slices.Contains(req.Prompt[:i], p) {
			t.Fatalf("prompt %q", req.Prompt)
		}
	}
	if req.Scope != "" {
		again, err := scope.Parse(req.Scope)
		if err != nil || !slices.Equal(again, req.Scopes) {
			t.Fatalf("Scopes %q do not match Scope", req.Scopes)
		}
	} else if req.Scopes != nil {
		t.Fatal("Scopes without Scope")
	}
}

// FuzzVerifyPKCE checks that VerifyPKCE never panics, accepts only a
// well-formed verifier whose S256 is the challenge, and accepts every such
// verifier.
func FuzzVerifyPKCE(f *testing.F) {
	f.Add(rfcChallenge, "S256", rfcVerifier)
	f.Add(rfcVerifier, "plain", rfcVerifier)
	f.Add(rfcChallenge, "S256", strings.Repeat("~", 128))
	f.Fuzz(func(t *testing.T, challenge, method, verifier string) {
		ok := VerifyPKCE(challenge, method, verifier)
		if ok && (method != PKCEMethodS256 || !validVerifier(verifier) || s256(verifier) != challenge) {
			t.Fatalf("accepted challenge %q method %q verifier %q", challenge, method, verifier)
		}
		if validVerifier(verifier) && !VerifyPKCE(s256(verifier), PKCEMethodS256, verifier) {
			t.Fatalf("refused the S256 of a valid verifier %q", verifier)
		}
	})
}
