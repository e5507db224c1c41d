package signin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/oauth"
)

func TestSignInSetsASessionCookie(t *testing.T) {
	cases := []struct {
		name       string
		tls        bool
		tlsInFront bool
		remember   bool
		wantName   string
	}{
		{"over TLS, browser session", true, false, false, "__Host-scopegate_session"},
		{"over TLS, kept signed in", true, false, true, "__Host-scopegate_session"},
		{"TLS in front", false, true, true, "__Host-scopegate_session"},
		{"plain HTTP", false, false, false, "scopegate_session"},
		{"plain HTTP, kept signed in", false, false, true, "scopegate_session"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{Options: Options{TLSInFront: tc.tlsInFront}}, nil)
			b := f.browser(t, tc.tls, "192.0.2.1")
			form := b.signInForm("Alice", "correct horse battery")
			if tc.remember {
				form.Set("remember", "1")
			}
			resp, body := b.post("/signin", form)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
				t.Fatalf("status %d, Location %q, want 303 to /signin\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
			c := sessionCookie(resp, tc.wantName)
			if c == nil {
				t.Fatalf("no %s cookie in %q", tc.wantName, resp.Header.Values("Set-Cookie"))
			}
			secure := tc.tls || tc.tlsInFront
			if !c.HttpOnly || c.Secure != secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Fatalf("cookie %+v: want HttpOnly, Secure=%v, SameSite=Lax, Path=/, no Domain", c, secure)
			}
			if tc.remember {
				wantExpiry := t0.Add(30 * 24 * time.Hour)
				if !c.Expires.Equal(wantExpiry) || c.MaxAge != int(30*24*time.Hour/time.Second) {
					t.Fatalf("persistent cookie Expires %v Max-Age %d, want %v and 30 days", c.Expires, c.MaxAge, wantExpiry)
				}
			} else if !c.Expires.IsZero() || c.MaxAge != 0 {
				t.Fatalf("browser-session cookie has Expires %v Max-Age %d", c.Expires, c.MaxAge)
			}
			se := f.sessions.sessions[c.Value]
			if se == nil || se.userID != "u-alice" || se.persistent != tc.remember || se.meta.Address != "192.0.2.1" {
				t.Fatalf("session %+v", se)
			}
		})
	}
}

func TestSignInNeverKeepsASessionValue(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	// A session the browser already holds (valid), and one planted by an
	// attacker (unknown to the store): neither survives a sign-in.
	b := f.browser(t, true, "192.0.2.1")
	laterForm := b.signInForm("bob", "bobs password 1") // a second tab
	first := sessionCookie(b.signIn("alice", "correct horse battery"), "__Host-scopegate_session").Value
	resp, _ := b.post("/signin", laterForm)
	second := sessionCookie(resp, "__Host-scopegate_session").Value
	if second == first {
		t.Fatal("a sign-in kept the session value the browser sent")
	}
	if f.sessions.live(first) {
		t.Fatal("the previous session is still live after a new sign-in")
	}
	planted := f.browser(t, true, "192.0.2.1")
	planted.cookies["__Host-scopegate_session"] = "attacker-chosen-value"
	got := sessionCookie(planted.signIn("alice", "correct horse battery"), "__Host-scopegate_session").Value
	if got == "attacker-chosen-value" || !f.sessions.live(got) {
		t.Fatalf("sign-in with a planted cookie gave %q", got)
	}
}

// mask hides the per-browser CSRF token so that two pages can be compared.
func mask(body string) string { return csrfField.ReplaceAllString(body, "csrf") }

func TestBadCredentialsAreOneAnswer(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	var first string
	for _, tc := range []struct{ name, username, password string }{
		{"wrong password", "alice", "wrong password"},
		{"unknown user", "alice", "correct horse battery x"},
		{"unknown username", "nobody", "correct horse battery"},
		{"disabled user", "carol", "carols password"},
		{"password in other case", "alice", "CORRECT HORSE BATTERY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := f.browser(t, true, "192.0.2.1")
			resp, body := b.post("/signin", b.signInForm(tc.username, tc.password))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			if sessionCookie(resp, "__Host-scopegate_session") != nil {
				t.Fatal("a session cookie was set")
			}
			if strings.Contains(body, tc.password) {
				t.Fatal("the password is echoed in the page")
			}
			for _, want := range []string{
				`role="alert"`, msgBadCredentials, `value="` + tc.username + `"`,
				`aria-invalid="true" aria-describedby="password-error"`, `id="password-error">` + msgCheckBoth,
			} {
				if !strings.Contains(body, want) {
					t.Fatalf("page lacks %q:\n%s", want, body)
				}
			}
			// Apart from the username kept in its field, the page is the same
			// in every case.
			page := strings.Replace(mask(body), `value="`+tc.username+`"`, `value=""`, 1)
			if first == "" {
				first = page
			} else if page != first {
				t.Fatalf("the page differs from the first case's:\n%s\n---\n%s", page, first)
			}
		})
	}
}

func TestFieldErrors(t *testing.T) {
	cases := []struct {
		name, username, password string
		wantField, wantMessage   string
	}{
		{"no username", "", "x", "username-error", msgNeedUsername},
		{"no password", "alice", "", "password-error", msgNeedPassword},
		{"username too long", strings.Repeat("a", MaxUsernameLen+1), "x", "username-error", msgBadUsername},
		{"control character in username", "ali\x00ce", "x", "username-error", msgBadUsername},
		{"password too long", "alice", strings.Repeat("p", MaxPasswordLen+1), "password-error", msgLongPassword},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{}, nil)
			b := f.browser(t, false, "192.0.2.1")
			resp, body := b.post("/signin", b.signInForm(tc.username, tc.password))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
			if !strings.Contains(body, `aria-describedby="`+tc.wantField+`"`) || !strings.Contains(body, `id="`+tc.wantField+`">`+tc.wantMessage) {
				t.Fatalf("the page lacks %s %q tied to its field:\n%s", tc.wantField, tc.wantMessage, body)
			}
			if f.accounts.checks.Load() != 0 {
				t.Fatal("a password was checked")
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	victim := f.browser(t, true, "192.0.2.1")
	good := victim.signInForm("alice", "correct horse battery")
	other := f.browser(t, true, "192.0.2.9")
	otherForm := other.signInForm("alice", "correct horse battery")
	cases := []struct {
		name   string
		mutate func(b *browser, form url.Values)
		twice  bool
	}{
		{"no pre-session cookie", func(b *browser, _ url.Values) { delete(b.cookies, "__Host-scopegate_csrf") }, false},
		{"no token", func(_ *browser, form url.Values) { form.Del("csrf_token") }, false},
		{"wrong token", func(_ *browser, form url.Values) { form.Set("csrf_token", "AAAA") }, false},
		{"another browser's token", func(_ *browser, form url.Values) { form.Set("csrf_token", otherForm.Get("csrf_token")) }, false},
		{"the sign-out token of the cookie", func(b *browser, form url.Values) {
			form.Set("csrf_token", csrfToken(b.cookies["__Host-scopegate_csrf"], purposeSignOut))
		}, false},
		{"cookie without prefix over TLS", func(b *browser, _ url.Values) {
			b.cookies["scopegate_csrf"] = b.cookies["__Host-scopegate_csrf"]
			delete(b.cookies, "__Host-scopegate_csrf")
		}, false},
		{"the cookie sent twice", func(*browser, url.Values) {}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := f.browser(t, true, "192.0.2.1")
			for k, v := range victim.cookies {
				b.cookies[k] = v
			}
			form := url.Values{}
			for k, v := range good {
				form[k] = append([]string(nil), v...)
			}
			tc.mutate(b, form)
			r := b.request(http.MethodPost, "/signin", "application/x-www-form-urlencoded", form.Encode())
			if tc.twice {
				// A second cookie of the same name, as a sibling subdomain
				// could plant: neither is trusted.
				r.AddCookie(&http.Cookie{Name: "__Host-scopegate_csrf", Value: randomValue()})
			}
			before := f.accounts.checks.Load()
			resp, body := b.send(r)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, msgExpired) {
				t.Fatalf("status %d, want 403 with %q", resp.StatusCode, msgExpired)
			}
			if sessionCookie(resp, "__Host-scopegate_session") != nil || f.accounts.checks.Load() != before {
				t.Fatal("the password was checked or a session started")
			}
		})
	}
	t.Run("the refusal page's form works", func(t *testing.T) {
		// A person whose pre-session cookie is gone (expired, cleared) gets
		// a fresh cookie and token with the 403, and can sign in at once.
		b := f.browser(t, true, "192.0.2.1")
		resp, body := b.post("/signin", good)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
		again := url.Values{"username": {"alice"}, "password": {"correct horse battery"}, "csrf_token": {token(t, body)}}
		if resp, _ := b.post("/signin", again); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("signing in from the refusal page: %d, want 303", resp.StatusCode)
		}
	})
	t.Run("the right token works", func(t *testing.T) {
		resp, _ := victim.post("/signin", good)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", resp.StatusCode)
		}
	})
}

func TestSignOut(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	b := f.browser(t, true, "192.0.2.1")
	b.signIn("alice", "correct horse battery")
	value := b.cookies["__Host-scopegate_session"]
	resp, body := b.get("/signin")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Signed in as <strong id=\"signed-in-name\">Alice Example</strong>") {
		t.Fatalf("signed-in page: %d\n%s", resp.StatusCode, body)
	}
	signOutToken := token(t, body)

	for _, forged := range []url.Values{{}, {"csrf_token": {"forged"}}, {"csrf_token": {csrfToken(value, purposeSignIn)}}} {
		resp, _ := b.post("/signout", forged)
		if resp.StatusCode != http.StatusForbidden || !f.sessions.live(value) {
			t.Fatalf("forged sign-out %v: status %d, session live %v; want 403 and live", forged, resp.StatusCode, f.sessions.live(value))
		}
	}
	resp, _ = b.post("/signout", url.Values{"csrf_token": {signOutToken}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Fatalf("sign-out: %d to %q, want 303 to /signin", resp.StatusCode, resp.Header.Get("Location"))
	}
	c := sessionCookie(resp, "__Host-scopegate_session")
	if c == nil || c.MaxAge >= 0 || c.Value != "" || !c.Secure || c.Path != "/" {
		t.Fatalf("cleared cookie %+v, want an empty __Host- cookie with Max-Age=0", c)
	}
	if !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("Set-Cookie %q lacks Max-Age=0", resp.Header.Get("Set-Cookie"))
	}
	if f.sessions.live(value) {
		t.Fatal("the session is live after sign-out")
	}
	if _, body := b.get("/signin"); !strings.Contains(body, `name="password"`) {
		t.Fatal("the sign-in form is not shown after sign-out")
	}
}

func TestSignedInPageGoesOnToReturnTo(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	b := f.browser(t, true, "192.0.2.1")
	b.signIn("alice", "correct horse battery")
	for target, want := range map[string]string{
		"/signin?return_to=" + url.QueryEscape("/oauth2/authorize?client_id=c1&state=x"): "/oauth2/authorize?client_id=c1&state=x",
		"/signin?return_to=" + url.QueryEscape("https://evil.example/oauth2/authorize"):  "",
	} {
		resp, _ := b.get(target)
		if want == "" {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d, want the signed-in page", target, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Fatalf("%s: %d to %q, want 303 to %q", target, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}

func TestReturnToCarriedThroughTheForm(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	b := f.browser(t, true, "192.0.2.1")
	returnTo := "/oauth2/authorize?client_id=c1&scope=a+b"
	_, body := b.get("/signin?return_to=" + url.QueryEscape(returnTo))
	hidden := `name="return_to" value="/oauth2/authorize?client_id=c1&amp;scope=a&#43;b"`
	if !strings.Contains(body, hidden) {
		t.Fatalf("the form lacks %s:\n%s", hidden, body)
	}
	form := url.Values{"username": {"alice"}, "password": {"wrong"}, "csrf_token": {token(t, body)}, "return_to": {returnTo}}
	if _, body := b.post("/signin", form); !strings.Contains(body, hidden) {
		t.Fatal("return_to is lost after a failure")
	}
	form.Set("password", "correct horse battery")
	resp, _ := b.post("/signin", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != returnTo {
		t.Fatalf("%d to %q, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), returnTo)
	}
	// A return_to that is not allowed is dropped: the person lands on the
	// signed-in page.
	form.Set("return_to", "//evil.example/oauth2/authorize")
	resp, _ = b.post("/signin", form)
	if resp.Header.Get("Location") != "/signin" {
		t.Fatalf("Location %q, want /signin", resp.Header.Get("Location"))
	}
}

// The sign-in round trip keeps the way back for any authorization request
// the endpoint accepts: a return_to of the authorization path and the
// longest query it reads (oauth.MaxAuthorizeQueryLen), made of the
// character a form encodes to three bytes, goes through the page's link and
// the form's body. One byte longer than MaxReturnToLen is still dropped.
func TestLongestReturnToCarriedThroughTheForm(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	b := f.browser(t, true, "192.0.2.1")
	longest := "/oauth2/authorize?x=" + strings.Repeat("=", oauth.MaxAuthorizeQueryLen-len("x="))
	tooLong := "/oauth2/authorize?x=" + strings.Repeat("=", MaxReturnToLen-len("/oauth2/authorize?x=")+1)
	for _, tc := range []struct {
		returnTo, want string
	}{{longest, longest}, {tooLong, "/signin"}} {
		b.cookies = map[string]string{}
		_, body := b.get("/signin?return_to=" + url.QueryEscape(tc.returnTo))
		form := url.Values{"username": {"alice"}, "password": {"correct horse battery"}, "csrf_token": {token(t, body)}, "return_to": {tc.returnTo}}
		resp, _ := b.post("/signin", form)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
			t.Fatalf("a return_to of %d bytes: %d to a Location of %d bytes, want 303 to %.40q",
				len(tc.returnTo), resp.StatusCode, len(resp.Header.Get("Location")), tc.want)
		}
	}
}

func TestThrottleNeverLocksAPersonOut(t *testing.T) {
	f := newFixture(t, Config{Options: Options{PairLimit: 3, SourceLimit: 6}, Window: time.Minute}, nil)
	attacker := f.browser(t, true, "192.0.2.66")
	for range 3 {
		attacker.post("/signin", attacker.signInForm("alice", "guess"))
	}
	checks := f.accounts.checks.Load()
	resp, body := attacker.post("/signin", attacker.signInForm("ALICE", "correct horse battery"))
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, msgThrottled) {
		t.Fatalf("the pair's 4th attempt: %d, want 429 with %q", resp.StatusCode, msgThrottled)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q, want 1..60 seconds", resp.Header.Get("Retry-After"))
	}
	if f.accounts.checks.Load() != checks {
		t.Fatal("a password was checked while throttled")
	}
	if sessionCookie(resp, "__Host-scopegate_session") != nil {
		t.Fatal("a throttled attempt signed in")
	}

	// Alice, from elsewhere, signs in: nobody locks her out.
	alice := f.browser(t, true, "198.51.100.7")
	alice.signIn("alice", "correct horse battery")
	// The attacker's source may still try other names, up to its limit.
	f.browser(t, true, "192.0.2.66").signIn("bob", "bobs password 1")
	for range 2 {
		attacker.post("/signin", attacker.signInForm("bob", "guess"))
	}
	attacker.post("/signin", attacker.signInForm("dave", "guess"))
	if resp, _ := attacker.post("/signin", attacker.signInForm("erin", "guess")); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the source's 7th failure: %d, want 429", resp.StatusCode)
	}
	// Another address in the attacker's IPv6 /64 is the same source; the
	// next /64 is not.
	v6 := f.browser(t, true, "2001:db8:1:2::1")
	for i := range 6 {
		v6.post("/signin", v6.signInForm("user"+strconv.Itoa(i), "guess"))
	}
	neighbour := f.browser(t, true, "2001:db8:1:2::ffff")
	if resp, _ := neighbour.post("/signin", neighbour.signInForm("alice", "correct horse battery")); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("same /64: %d, want 429", resp.StatusCode)
	}
	next := f.browser(t, true, "2001:db8:1:3::1")
	next.signIn("alice", "correct horse battery")

	// The window ends: the attacker's pair may try again.
	f.now = f.now.Add(time.Minute)
	f.browser(t, true, "192.0.2.66").signIn("alice", "correct horse battery")
}

func TestSuccessForgetsThePairsFailures(t *testing.T) {
	f := newFixture(t, Config{Options: Options{PairLimit: 3, SourceLimit: 100}}, nil)
	b := f.browser(t, true, "192.0.2.1")
	for range 2 {
		b.post("/signin", b.signInForm("alice", "typo"))
	}
	b.signIn("alice", "correct horse battery")
	b = f.browser(t, true, "192.0.2.1")
	for range 2 {
		b.post("/signin", b.signInForm("alice", "typo"))
	}
	// Two failures since the success: under the limit of three.
	f.browser(t, true, "192.0.2.1").signIn("alice", "correct horse battery")
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	b := f.browser(t, true, "192.0.2.1")
	requests := map[string]*http.Request{
		"form":             b.request(http.MethodGet, "/signin", "", ""),
		"stylesheet":       b.request(http.MethodGet, "/signin/style.css", "", ""),
		"bad form":         b.request(http.MethodPost, "/signin", "application/json", "{}"),
		"CSRF refusal":     b.request(http.MethodPost, "/signin", "application/x-www-form-urlencoded", "username=a&password=b"),
		"sign-out":         b.request(http.MethodPost, "/signout", "application/x-www-form-urlencoded", ""),
		"405":              b.request(http.MethodPut, "/signin", "", ""),
		"404 under it":     b.request(http.MethodGet, "/signin/other", "", ""),
		"HEAD of the form": b.request(http.MethodHead, "/signin", "", ""),
	}
	want := map[string]string{
		"Content-Security-Policy": contentSecurityPolicy,
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	for name, r := range requests {
		resp, _ := b.send(r)
		for header, value := range want {
			if got := resp.Header.Get(header); got != value {
				t.Errorf("%s: %s = %q, want %q", name, header, got, value)
			}
		}
	}
	for _, directive := range []string{"frame-ancestors 'none'", "default-src 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(contentSecurityPolicy, directive) {
			t.Errorf("the policy lacks %s", directive)
		}
	}
}

func TestMethods(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	b := f.browser(t, true, "192.0.2.1")
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodPut, "/signin", "GET, HEAD, POST"},
		{http.MethodDelete, "/signin", "GET, HEAD, POST"},
		{"PROPFIND", "/signin", "GET, HEAD, POST"},
		{http.MethodGet, "/signout", "POST"},
		{http.MethodHead, "/signout", "POST"},
		{http.MethodPost, "/signin/style.css", "GET, HEAD"},
	} {
		resp, _ := b.send(b.request(tc.method, tc.path, "", ""))
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.allow)
		}
	}
}

func TestMalformedFormsRefused(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	b := f.browser(t, true, "192.0.2.1")
	good := b.signInForm("alice", "correct horse battery")
	enc := good.Encode()
	cases := []struct {
		name, contentType, body string
		want                    int
	}{
		{"username twice", "application/x-www-form-urlencoded", enc + "&username=bob", http.StatusBadRequest},
		{"password twice", "application/x-www-form-urlencoded", enc + "&password=x", http.StatusBadRequest},
		{"csrf token twice", "application/x-www-form-urlencoded", enc + "&csrf_token=x", http.StatusBadRequest},
		{"bad percent encoding", "application/x-www-form-urlencoded", enc + "&x=%zz", http.StatusBadRequest},
		{"semicolon separator", "application/x-www-form-urlencoded", enc + ";x=1", http.StatusBadRequest},
		{"JSON", "application/json", `{"username":"alice"}`, http.StatusUnsupportedMediaType},
		{"multipart", "multipart/form-data; boundary=x", "--x--", http.StatusUnsupportedMediaType},
		{"no content type", "", enc, http.StatusUnsupportedMediaType},
		{"too large", "application/x-www-form-urlencoded", enc + "&pad=" + strings.Repeat("a", MaxBody), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := b.send(b.request(http.MethodPost, "/signin", tc.contentType, tc.body))
			if resp.StatusCode != tc.want || !strings.Contains(body, msgMalformed) {
				t.Fatalf("status %d, want %d with %q", resp.StatusCode, tc.want, msgMalformed)
			}
			if f.accounts.checks.Load() != 0 {
				t.Fatal("a password was checked")
			}
		})
	}
	t.Run("two content types", func(t *testing.T) {
		r := b.request(http.MethodPost, "/signin", "application/x-www-form-urlencoded", enc)
		r.Header.Add("Content-Type", "application/x-www-form-urlencoded")
		if resp, _ := b.send(r); resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("status %d, want 415", resp.StatusCode)
		}
	})
	t.Run("credentials in the query are ignored", func(t *testing.T) {
		r := b.request(http.MethodPost, "/signin?username=alice&password=correct+horse+battery", "application/x-www-form-urlencoded",
			url.Values{"csrf_token": good["csrf_token"]}.Encode())
		if resp, _ := b.send(r); resp.StatusCode != http.StatusBadRequest || f.accounts.checks.Load() != 0 {
			t.Fatalf("status %d, want 400 and no password check", resp.StatusCode)
		}
	})
}

func TestServerFaults(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	f := newFixture(t, Config{}, zap.New(core))
	f.accounts.fault = errors.New("store closed")
	b := f.browser(t, true, "192.0.2.1")
	for range DefaultPairLimit {
		b.post("/signin", b.signInForm("alice", "correct horse battery"))
	}
	resp, body := b.post("/signin", b.signInForm("alice", "correct horse battery"))
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, msgUnavailable) || strings.Contains(body, "store closed") {
		t.Fatalf("status %d, want 500 with %q and no cause", resp.StatusCode, msgUnavailable)
	}
	if logs.FilterMessage("sign-in check failed").Len() != DefaultPairLimit+1 {
		t.Fatal("the fault is not logged")
	}
	// A passing fault (a busy hasher, a store without a leader) asks the
	// person to come back shortly.
	f.accounts.fault = fmt.Errorf("every password computation is busy: %w", ErrUnavailable)
	resp, body = b.post("/signin", b.signInForm("alice", "correct horse battery"))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, msgUnavailable) {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// A fault is not a failure: it is not counted against the person.
	f.accounts.fault = nil
	b.signIn("alice", "correct horse battery")
}

func TestLogsHoldNoSecrets(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	f := newFixture(t, Config{Options: Options{PairLimit: 1}}, zap.New(core))
	b := f.browser(t, true, "192.0.2.1")
	wrong := "wrong-password-Zq81"
	b.post("/signin", b.signInForm("alice", wrong))
	b.post("/signin", b.signInForm("alice", wrong)) // throttled
	b.signIn("bob", "bobs password 1")
	_, page := b.get("/signin")
	b.post("/signout", url.Values{"csrf_token": {token(t, page)}})
	b.post("/signout", url.Values{"csrf_token": {"forged"}})

	if logs.FilterMessage("sign-in failed").Len() != 1 || logs.FilterMessage("signed in").Len() != 1 {
		t.Fatalf("want one failure and one success logged, got %v", logs.All())
	}
	secrets := []string{wrong, "bobs password 1", token(t, page)}
	for value := range f.sessions.sessions {
		secrets = append(secrets, value)
	}
	for _, v := range b.cookies {
		secrets = append(secrets, v)
	}
	for _, entry := range logs.All() {
		line := entry.Message
		for k, v := range entry.ContextMap() {
			line += " " + k + "=" + fmt.Sprint(v)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Fatalf("log line %q holds a secret", line)
			}
		}
		if strings.Contains(strings.ToLower(line), "alice") {
			t.Fatalf("log line %q holds the attempted username", line)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]Options{
		"relative path":           {Path: "signin"},
		"path with query":         {Path: "/signin?x=1"},
		"same paths":              {Path: "/a", SignOutPath: "/a"},
		"return path not plain":   {ReturnPaths: []string{"/oauth2/authorize/../x"}},
		"return path network ref": {ReturnPaths: []string{"//evil.example"}},
		"return path encoded":     {ReturnPaths: []string{"/a%2Fb"}},
		"cookie name with space":  {CookieName: "a b"},
		"cookie name with ;":      {CookieName: "a;b"},
		"missing template":        {TemplateFile: filepath.Join(t.TempDir(), "none.html")},
		"long product name":       {ProductName: strings.Repeat("x", 101)},
		"account path not plain":  {AccountPath: "/account/../signin"},
		"account path is signin":  {AccountPath: DefaultPath},
		"long scope description":  {ScopeDescriptions: map[string]string{"orders:read": strings.Repeat("é", MaxScopeDescriptionLen+1)}},
		"description of no scope": {ScopeDescriptions: map[string]string{"": "Read your orders"}},
		"blank scope described":   {ScopeDescriptions: map[string]string{" ": "Read your orders"}},
		"empty scope description": {ScopeDescriptions: map[string]string{"orders:read": " "}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(Config{Options: cfg}, newAccounts(), newSessions(), nil); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := New(Config{}, nil, newSessions(), nil); err == nil {
		t.Fatal("accepted without accounts")
	}
}

func TestOperatorTemplate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "page.html")
	text := `<title>{{.ProductName}}</title>{{with .Form}}<form action="{{.Action}}"><input name="csrf_token" value="{{.CSRFToken}}"><input name="password">{{.Username}}</form>{{end}}{{with .SignedIn}}<p>Hello {{.Name}}</p>{{end}}`
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Config{Options: Options{TemplateFile: file, ProductName: "Acme <ID>"}}, nil)
	b := f.browser(t, false, "192.0.2.1")
	resp, body := b.get("/signin")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "<title>Acme &lt;ID&gt;</title>") || !strings.Contains(body, `action="/signin"`) {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	resp, body = b.post("/signin", url.Values{"username": {"<b>alice</b>"}, "password": {"x"}, "csrf_token": {token(t, body)}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "&lt;b&gt;alice&lt;/b&gt;") {
		t.Fatalf("the username is not escaped: %d\n%s", resp.StatusCode, body)
	}
	b.signIn("alice", "correct horse battery")
	if _, body := b.get("/signin"); !strings.Contains(body, "<p>Hello Alice Example</p>") {
		t.Fatalf("signed-in page: %s", body)
	}

	bad := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(bad, []byte(`{{.Form`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Options: Options{TemplateFile: bad}}, newAccounts(), newSessions(), nil); err == nil || !strings.Contains(err.Error(), "bad.html") {
		t.Fatalf("a broken template: %v", err)
	}
	failing := filepath.Join(dir, "failing.html")
	if err := os.WriteFile(failing, []byte(`{{.Nope}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f = newFixture(t, Config{Options: Options{TemplateFile: failing}}, nil)
	if resp, body := f.browser(t, false, "192.0.2.1").get("/signin"); resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "Nope") {
		t.Fatalf("a template failing at run time: %d %q", resp.StatusCode, body)
	}
}

// An operator's template may begin with the built-in pages' "head", and
// gets the page's title, product name and stylesheet through it; one that
// defines its own "head" keeps it.
func TestOperatorTemplateUsesTheSharedHead(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ text, want string }{
		"shared head": {`{{template "head" .}}<body><p id="mine">{{.ProductName}}</p></body></html>`,
			`<title>Sign in · Acme</title>`},
		"own head": {`{{define "head"}}<head><title>own</title></head>{{end}}{{template "head" .}}<body></body>`,
			`<head><title>own</title></head><body>`},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".html")
			if err := os.WriteFile(file, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, Config{Options: Options{TemplateFile: file, ProductName: "Acme"}}, nil)
			resp, body := f.browser(t, false, "192.0.2.1").get("/signin")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, tc.want) {
				t.Fatalf("%d, want %q in\n%s", resp.StatusCode, tc.want, body)
			}
			if name == "shared head" && !strings.Contains(body, `<link rel="stylesheet" href="/signin/style.css">`) {
				t.Fatalf("the shared head has no stylesheet:\n%s", body)
			}
		})
	}
}

func TestStylesheet(t *testing.T) {
	f := newFixture(t, Config{Options: Options{Path: "/login"}}, nil)
	b := f.browser(t, false, "192.0.2.1")
	_, page := b.get("/login")
	if !strings.Contains(page, `<link rel="stylesheet" href="/login/style.css">`) {
		t.Fatal("the page does not link its stylesheet")
	}
	resp, css := b.get("/login/style.css")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(css, "prefers-color-scheme: dark") {
		t.Fatalf("stylesheet: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "style=") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Fatal("the page has a script, an inline style or an external resource")
	}
}

func TestScopeDescriptionAtTheLimitAccepted(t *testing.T) {
	words := strings.Repeat("é", MaxScopeDescriptionLen) // 200 characters, 400 bytes
	h, err := New(Config{Options: Options{ScopeDescriptions: map[string]string{"orders:read": words}}}, newAccounts(), newSessions(), nil)
	if err != nil {
		t.Fatalf("a description of %d characters: %v", MaxScopeDescriptionLen, err)
	}
	if got := h.ConsentConfig().ScopeDescriptions["orders:read"]; got != words {
		t.Fatalf("the consent page's descriptions lost it: %q", got)
	}
}

// The page's options reach the consent page: its descriptions, its
// template, its style.
func TestConsentConfigCarriesTheOptions(t *testing.T) {
	h, err := New(Config{Options: Options{
		Path: "/login", ProductName: "Acme Cloud", ConsentTemplateFile: "/etc/consent.html",
		ScopeDescriptions: map[string]string{"orders:read": "Read your orders"},
	}}, newAccounts(), newSessions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := h.ConsentConfig()
	if got.ProductName != "Acme Cloud" || got.StylesheetURL != "/login/style.css" ||
		got.TemplateFile != "/etc/consent.html" || got.ScopeDescriptions["orders:read"] != "Read your orders" {
		t.Fatalf("ConsentConfig() = %+v", got)
	}
}

// The account page is a place a sign-in may lead back to, whatever the
// operator's return paths, and the signed-in page links to it.
func TestAccountPathIsAReturnPath(t *testing.T) {
	for name, cfg := range map[string]Options{
		"default": {},
		"custom":  {AccountPath: "/me/apps", ReturnPaths: []string{"/oauth2/authorize"}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, Config{Options: cfg}, nil)
			account := orDefault(cfg.AccountPath, DefaultAccountPath)
			b := f.browser(t, true, "192.0.2.1")
			b.signIn("alice", "correct horse battery")
			resp, _ := b.get("/signin?return_to=" + url.QueryEscape(account))
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != account {
				t.Fatalf("return_to the account page: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			_, body := b.get("/signin")
			if !strings.Contains(body, `<a href="`+account+`" id="account-link">`) {
				t.Fatalf("the signed-in page does not link to %s: %s", account, body)
			}
		})
	}
}
