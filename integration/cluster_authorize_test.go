package integration

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// authorizeAt sends one request to g's authorization endpoint with the
// person's session cookie, through signinPage, which never follows a
// redirect: each step of the flow goes to the gateway the test names.
func authorizeAt(t *testing.T, g *clusterGateway, method string, query, form url.Values, session *http.Cookie) answer {
	t.Helper()
	target := g.URL("/oauth2/authorize")
	if query != nil {
		target += "?" + query.Encode()
	}
	var req *http.Request
	var err error
	if form != nil {
		req, err = http.NewRequest(method, target, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(method, target, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(session)
	resp, err := signinPage.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", g.id, method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

var requestIDField = regexp.MustCompile(`name="request_id" value="([^"]+)"`)

// A person's authorization moves between gateways at every step, as
// behind a load balancer without sticky sessions: signed in at gw0, the
// request made at gw1, approved at gw2, the code redeemed at gw0, the token
// used at gw1; then the code sent again at gw2 is refused, and the token
// it gave stops working at every gateway. Each step goes to its gateway at
// once, with no wait for the others to see the last one's write.
func TestClusterAuthorizationMovesBetweenGateways(t *testing.T) {
	t.Parallel()
	f := startClusterFixture(t, 3)
	gw := f.gws
	gw[0].mustAdmin(t, http.StatusCreated, http.MethodPost, "/roles", map[string]any{"name": "reader", "scopes": []string{"read"}})
	gw[0].mustAdmin(t, http.StatusCreated, http.MethodPost, "/users",
		map[string]any{"username": "dana", "name": "Dana", "password": "amber-orchard-2291", "roles": []string{"reader"}})
	const redirect = "https://app.example/callback"
	created := gw[0].mustAdmin(t, http.StatusCreated, http.MethodPost, "/clients", map[string]any{
		"client_name": "orders-spa", "scope": "read", "grant_types": []string{"authorization_code"},
		"redirect_uris": []string{redirect}, "token_endpoint_auth_method": "none",
	})
	var app struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(created.body, &app); err != nil || app.ClientID == "" {
		t.Fatalf("create client: %s", created.body)
	}

	// Sign in at gw0.
	resp, page := pageAt(t, gw[0].Gateway, http.MethodGet, nil)
	pre, csrf := cookieNamed(resp, "scopegate_csrf"), csrfField.FindStringSubmatch(page)
	if pre == nil || csrf == nil {
		t.Fatalf("the sign-in page set no CSRF cookie or token: %v", resp.Header)
	}
	resp, _ = pageAt(t, gw[0].Gateway, http.MethodPost,
		url.Values{"username": {"dana"}, "password": {"amber-orchard-2291"}, "csrf_token": {csrf[1]}}, pre)
	session := cookieNamed(resp, "scopegate_session")
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign-in at gw0: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}

	// The authorization request at gw1 shows the consent page.
	verifier := strings.Repeat("cluster-verifier-", 3)
	sum := sha256.Sum256([]byte(verifier))
	query := url.Values{
		"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {redirect}, "scope": {"read"},
		"state": {"state-7"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	consent := authorizeAt(t, gw[1], http.MethodGet, query, nil, session)
	consentCSRF, requestID := csrfField.FindSubmatch(consent.body), requestIDField.FindSubmatch(consent.body)
	if consent.status != http.StatusOK || consentCSRF == nil || requestID == nil {
		t.Fatalf("authorize at gw1: %d %s", consent.status, consent.body)
	}

	// Approved at gw2: the app's redirect URI gets the code.
	decided := authorizeAt(t, gw[2], http.MethodPost, nil,
		url.Values{"csrf_token": {string(consentCSRF[1])}, "request_id": {string(requestID[1])}, "decision": {"allow"}}, session)
	back, err := url.Parse(decided.header.Get("Location"))
	if decided.status != http.StatusSeeOther || err != nil || !strings.HasPrefix(back.String(), redirect+"?") {
		t.Fatalf("consent at gw2: %d, Location %q: %s", decided.status, decided.header.Get("Location"), decided.body)
	}
	if back.Query().Get("state") != "state-7" || back.Query().Get("iss") != "http://scopegate.cluster.test" {
		t.Fatalf("the redirect's state and iss: %v", back.Query())
	}

	// Redeemed at gw0, used at gw1.
	redeem := func(g *clusterGateway) answer {
		form := url.Values{
			"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {redirect},
			"client_id": {app.ClientID}, "code_verifier": {verifier},
		}
		return probe(http.MethodPost, g.URL("/oauth2/token"), strings.NewReader(form.Encode()),
			"Content-Type", "application/x-www-form-urlencoded")
	}
	issued := redeem(gw[0])
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if issued.status != http.StatusOK || json.Unmarshal(issued.body, &tok) != nil || tok.Scope != "read" {
		t.Fatalf("redeem at gw0: %v", issued)
	}
	if a := gw[1].guard(tok.AccessToken); a.status != http.StatusOK {
		t.Fatalf("the person's token at gw1: %v", a)
	}

	// The code again, at gw2: refused, and its token revoked everywhere.
	if again := redeem(gw[2]); again.status != http.StatusBadRequest || !strings.Contains(string(again.body), "invalid_grant") {
		t.Fatalf("the code reused at gw2: %v", again)
	}
	for _, g := range gw {
		awaitGuard(t, g, tok.AccessToken, http.StatusUnauthorized, 5*time.Second, "the token of a reused code")
	}
}
