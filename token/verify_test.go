package token

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
)

// payloadJSON returns the claims of validClaims as JSON with changes applied:
// a nil value deletes a claim.
func payloadJSON(t testing.TB, changes map[string]any) string {
	t.Helper()
	c := validClaims()
	m := map[string]any{
		"iss": c.Issuer, "sub": c.Subject, "aud": c.Audience[0], "exp": c.ExpiresAt,
		"iat": c.IssuedAt, "jti": c.JWTID, "client_id": c.ClientID, "scope": c.Scope,
	}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal payload: %v", err)
	}
	return string(b)
}

func headerJSON(alg, kid, typ string) string {
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":%q}`, alg, kid, typ)
}

func TestVerifyRoundTrip(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			ks, k := keySetFor(t, alg)
			want := validClaims()
			want.Audience = Audience{"https://a.example", "https://b.example"}
			want.NotBefore = t0.Unix() - 5
			want.Extra = json.RawMessage(`{"tenant":"acme","roles":["a","b"]}`)
			raw, err := ks.Sign(want)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			got, err := testVerifier().Verify(ks, raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want.KeyID = k.ID
			if want.Scopes, err = scope.ParseSet(want.Scope); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("claims differ:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestVerifyRefusesForgedTokens(t *testing.T) {
	ks, k := keySetFor(t, AlgES256)
	rsaKS, rsaKey := keySetFor(t, AlgRS256)
	ours := signWith(t, AlgES256, privateOf(t, k))
	ourRSA := signWith(t, AlgRS256, privateOf(t, rsaKey))
	foreign := foreignKeys()
	hdr := headerJSON(AlgES256, k.ID, "at+jwt")
	good := forge(hdr, payloadJSON(t, nil), ours)
	parts := strings.Split(good, ".")

	ecPub := privateOf(t, k).Public()
	ecDER, err := x509.MarshalPKIXPublicKey(ecPub)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})
	rsaDER, err := x509.MarshalPKIXPublicKey(privateOf(t, rsaKey).Public())
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER})
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &jwks); err != nil || len(jwks.Keys) != 1 {
		t.Fatalf("JWKS: %v, %d keys", err, len(jwks.Keys))
	}
	ecJWK := []byte(jwks.Keys[0])

	tests := []struct {
		name     string
		ks       *KeySet
		nilKS    bool
		token    string
		verifier func(*Verifier)
		want     error
	}{
		{name: "control: valid", token: good},
		{name: "alg none, empty signature", token: forge(headerJSON("none", k.ID, "at+jwt"), payloadJSON(t, nil), nil), want: ErrMalformed},
		{name: "alg none, some signature", token: forge(headerJSON("none", k.ID, "at+jwt"), payloadJSON(t, nil), ours), want: ErrWrongAlgorithm},
		{name: "alg None", token: forge(headerJSON("None", k.ID, "at+jwt"), payloadJSON(t, nil), ours), want: ErrWrongAlgorithm},
		{name: "alg NONE", token: forge(headerJSON("NONE", k.ID, "at+jwt"), payloadJSON(t, nil), ours), want: ErrWrongAlgorithm},
		{name: "alg none without kid", token: forge(`{"alg":"none","typ":"at+jwt"}`, payloadJSON(t, nil), ours), want: ErrUnknownKey},
		{name: "alg es256 lower case", token: forge(headerJSON("es256", k.ID, "at+jwt"), payloadJSON(t, nil), ours), want: ErrWrongAlgorithm},
		{name: "HS256 with public key PEM as secret", token: forge(headerJSON("HS256", k.ID, "at+jwt"), payloadJSON(t, nil), hmacSigner(ecPEM)), want: ErrWrongAlgorithm},
		{name: "HS256 with public key DER as secret", token: forge(headerJSON("HS256", k.ID, "at+jwt"), payloadJSON(t, nil), hmacSigner(ecDER)), want: ErrWrongAlgorithm},
		{name: "HS256 with public JWK as secret", token: forge(headerJSON("HS256", k.ID, "at+jwt"), payloadJSON(t, nil), hmacSigner(ecJWK)), want: ErrWrongAlgorithm},
		{name: "HS256 with RSA public key PEM as secret", ks: rsaKS, token: forge(headerJSON("HS256", rsaKey.ID, "at+jwt"), payloadJSON(t, nil), hmacSigner(rsaPEM)), want: ErrWrongAlgorithm},
		{name: "foreign ES256 key with our kid", token: forge(hdr, payloadJSON(t, nil), signWith(t, AlgES256, foreign[AlgES256])), want: ErrBadSignature},
		{name: "foreign RS256 key with our kid", ks: rsaKS, token: forge(headerJSON(AlgRS256, rsaKey.ID, "at+jwt"), payloadJSON(t, nil), signWith(t, AlgRS256, foreign[AlgRS256])), want: ErrBadSignature},
		{name: "RS256 header on an ES256 kid", token: forge(headerJSON(AlgRS256, k.ID, "at+jwt"), payloadJSON(t, nil), signWith(t, AlgRS256, foreign[AlgRS256])), want: ErrWrongAlgorithm},
		{name: "ES256 header on an RS256 kid", ks: rsaKS, token: forge(headerJSON(AlgES256, rsaKey.ID, "at+jwt"), payloadJSON(t, nil), signWith(t, AlgES256, foreign[AlgES256])), want: ErrWrongAlgorithm},
		{name: "EdDSA header on an ES256 kid", token: forge(headerJSON(AlgEdDSA, k.ID, "at+jwt"), payloadJSON(t, nil), signWith(t, AlgEdDSA, foreign[AlgEdDSA])), want: ErrWrongAlgorithm},
		{name: "kid unknown", token: forge(headerJSON(AlgES256, "no-such-key", "at+jwt"), payloadJSON(t, nil), ours), want: ErrUnknownKey},
		{name: "kid missing", token: forge(`{"alg":"ES256","typ":"at+jwt"}`, payloadJSON(t, nil), ours), want: ErrUnknownKey},
		{name: "kid empty", token: forge(headerJSON(AlgES256, "", "at+jwt"), payloadJSON(t, nil), ours), want: ErrUnknownKey},
		{name: "kid path", token: forge(headerJSON(AlgES256, "../../etc/passwd", "at+jwt"), payloadJSON(t, nil), ours), want: ErrUnknownKey},
		{name: "kid SQL", token: forge(headerJSON(AlgES256, "' OR 1=1 --", "at+jwt"), payloadJSON(t, nil), ours), want: ErrUnknownKey},
		{name: "kid 10 KiB", token: forge(headerJSON(AlgES256, strings.Repeat("k", 10<<10), "at+jwt"), payloadJSON(t, nil), ours), want: ErrTooLong},
		{name: "kid 10 KiB under a raised length cap", token: forge(headerJSON(AlgES256, strings.Repeat("k", 10<<10), "at+jwt"), payloadJSON(t, nil), ours), verifier: func(v *Verifier) { v.MaxTokenLength = 64 << 10 }, want: ErrMalformed},
		{name: "kid a number", token: forge(`{"alg":"ES256","kid":7,"typ":"at+jwt"}`, payloadJSON(t, nil), ours), want: ErrMalformed},
		{name: "kid our kid with different case", token: forge(headerJSON(AlgES256, strings.ToUpper(k.ID), "at+jwt"), payloadJSON(t, nil), ours), want: ErrUnknownKey},
		{name: "header jwk", token: forge(`{"alg":"ES256","kid":"`+k.ID+`","typ":"at+jwt","jwk":`+string(ecJWK)+`}`, payloadJSON(t, nil), ours), want: ErrUnsupported},
		{name: "header x5c", token: forge(`{"alg":"ES256","kid":"`+k.ID+`","typ":"at+jwt","x5c":["MIIB"]}`, payloadJSON(t, nil), ours), want: ErrUnsupported},
		{name: "header x5t", token: forge(`{"alg":"ES256","kid":"`+k.ID+`","typ":"at+jwt","x5t":"abc"}`, payloadJSON(t, nil), ours), want: ErrUnsupported},
		{name: "header x5t#S256", token: forge(`{"alg":"ES256","kid":"`+k.ID+`","typ":"at+jwt","x5t#S256":"abc"}`, payloadJSON(t, nil), ours), want: ErrUnsupported},
		{name: "header crit", token: forge(`{"alg":"ES256","kid":"`+k.ID+`","typ":"at+jwt","crit":["exp"],"exp":1}`, payloadJSON(t, nil), ours), want: ErrUnsupported},
		{name: "header crit escaped name", token: forge(`{"alg":"ES256","kid":"`+k.ID+`","typ":"at+jwt","\u0063rit":["x"]}`, payloadJSON(t, nil), ours), want: ErrUnsupported},
		{name: "header b64 false", token: forge(`{"alg":"ES256","kid":"`+k.ID+`","typ":"at+jwt","b64":false}`, payloadJSON(t, nil), ours), want: ErrUnsupported},
		{name: "header alg repeated", token: forge(`{"alg":"none","alg":"ES256","kid":"`+k.ID+`","typ":"at+jwt"}`, payloadJSON(t, nil), ours), want: ErrMalformed},
		{name: "header alg missing", token: forge(`{"kid":"`+k.ID+`","typ":"at+jwt"}`, payloadJSON(t, nil), ours), want: ErrMalformed},
		{name: "header not an object", token: forge(`["ES256"]`, payloadJSON(t, nil), ours), want: ErrMalformed},
		{name: "header trailing data", token: forge(hdr+`{}`, payloadJSON(t, nil), ours), want: ErrMalformed},
		{name: "header not JSON", token: b64("hello") + "." + parts[1] + "." + parts[2], want: ErrMalformed},
		{name: "typ missing", token: forge(`{"alg":"ES256","kid":"`+k.ID+`"}`, payloadJSON(t, nil), ours), want: ErrWrongType},
		{name: "typ JWT", token: forge(headerJSON(AlgES256, k.ID, "JWT"), payloadJSON(t, nil), ours), want: ErrWrongType},
		{name: "typ at+jwt with suffix", token: forge(headerJSON(AlgES256, k.ID, "at+jwt2"), payloadJSON(t, nil), ours), want: ErrWrongType},
		{name: "id token signed by us", token: forge(headerJSON(AlgES256, k.ID, "JWT"), payloadJSON(t, map[string]any{"aud": "client-1", "nonce": "n-0S6_WzA2Mj", "auth_time": t0.Unix()}), ours), want: ErrWrongType},
		{name: "typ at+JWT accepted", token: forge(headerJSON(AlgES256, k.ID, "at+JWT"), payloadJSON(t, nil), ours)},
		{name: "typ application/at+jwt accepted", token: forge(headerJSON(AlgES256, k.ID, "application/at+jwt"), payloadJSON(t, nil), ours)},
		{name: "typ APPLICATION/AT+JWT accepted", token: forge(headerJSON(AlgES256, k.ID, "APPLICATION/AT+JWT"), payloadJSON(t, nil), ours)},
		{name: "unknown header member ignored", token: forge(`{"alg":"ES256","kid":"`+k.ID+`","typ":"at+jwt","cty":"x","ext":{"a":[1,2]}}`, payloadJSON(t, nil), ours)},
		{name: "iss with trailing slash", token: forge(hdr, payloadJSON(t, map[string]any{"iss": testIssuer + "/"}), ours), want: ErrWrongIssuer},
		{name: "iss in other case", token: forge(hdr, payloadJSON(t, map[string]any{"iss": strings.ToUpper(testIssuer)}), ours), want: ErrWrongIssuer},
		{name: "iss missing", token: forge(hdr, payloadJSON(t, map[string]any{"iss": nil}), ours), want: ErrWrongIssuer},
		{name: "verifier without issuer", token: good, verifier: func(v *Verifier) { v.Issuer = "" }, want: ErrWrongIssuer},
		{name: "exp absent", token: forge(hdr, payloadJSON(t, map[string]any{"exp": nil}), ours), want: ErrMissingClaim},
		{name: "exp 0", token: forge(hdr, payloadJSON(t, map[string]any{"exp": 0}), ours), want: ErrMissingClaim},
		{name: "exp a string", token: forge(hdr, payloadJSON(t, map[string]any{"exp": fmt.Sprint(t0.Unix() + 600)}), ours), want: ErrMalformed},
		{name: "exp null", token: forge(hdr, payloadJSON(t, map[string]any{"exp": json.RawMessage("null")}), ours), want: ErrMalformed},
		{name: "exp huge", token: forge(hdr, payloadJSON(t, map[string]any{"exp": json.RawMessage("1e400")}), ours), want: ErrMalformed},
		{name: "exp negative", token: forge(hdr, payloadJSON(t, map[string]any{"exp": -1}), ours), want: ErrMalformed},
		{name: "exp past the leeway", token: forge(hdr, payloadJSON(t, map[string]any{"exp": t0.Unix() - 31}), ours), want: ErrExpired},
		{name: "exp at now minus leeway", token: forge(hdr, payloadJSON(t, map[string]any{"exp": t0.Unix() - 30}), ours), want: ErrExpired},
		{name: "exp within the leeway", token: forge(hdr, payloadJSON(t, map[string]any{"exp": t0.Unix() - 29}), ours)},
		{name: "exp just past, no leeway", token: forge(hdr, payloadJSON(t, map[string]any{"exp": t0.Unix()}), ours), verifier: func(v *Verifier) { v.Leeway = -1 }, want: ErrExpired},
		{name: "nbf in the future", token: forge(hdr, payloadJSON(t, map[string]any{"nbf": t0.Unix() + 31}), ours), want: ErrNotYetValid},
		{name: "nbf within the leeway", token: forge(hdr, payloadJSON(t, map[string]any{"nbf": t0.Unix() + 30}), ours)},
		{name: "iat far in the future", token: forge(hdr, payloadJSON(t, map[string]any{"iat": t0.Unix() + 3600}), ours), want: ErrNotYetValid},
		{name: "expired and badly signed", token: forge(hdr, payloadJSON(t, map[string]any{"exp": t0.Unix() - 3600}), signWith(t, AlgES256, foreign[AlgES256])), want: ErrBadSignature},
		{name: "jti missing", token: forge(hdr, payloadJSON(t, map[string]any{"jti": nil}), ours), want: ErrMissingClaim},
		{name: "sub missing", token: forge(hdr, payloadJSON(t, map[string]any{"sub": nil}), ours), want: ErrMissingClaim},
		{name: "client_id missing", token: forge(hdr, payloadJSON(t, map[string]any{"client_id": nil}), ours), want: ErrMissingClaim},
		// A token an app holds for a person: whether that person may still
		// hold it is the server's check (authserver.CheckToken), not the
		// signature's.
		{name: "sub differs from client_id", token: forge(hdr, payloadJSON(t, map[string]any{"sub": "user-2"}), ours)},
		{name: "claims repeated", token: forge(hdr, `{"iss":"`+testIssuer+`","sub":"a","sub":"b"}`, ours), want: ErrMalformed},
		{name: "claims not an object", token: forge(hdr, `"hello"`, ours), want: ErrMalformed},
		{name: "claims not JSON", token: forge(hdr, `hello`, ours), want: ErrMalformed},
		{name: "empty signature", token: parts[0] + "." + parts[1] + ".", want: ErrMalformed},
		{name: "empty payload", token: parts[0] + ".." + parts[2], want: ErrMalformed},
		{name: "empty header", token: "." + parts[1] + "." + parts[2], want: ErrMalformed},
		{name: "two segments", token: parts[0] + "." + parts[1], want: ErrMalformed},
		{name: "four segments", token: good + "." + parts[2], want: ErrMalformed},
		{name: "six segments", token: good + ".a.b.c", want: ErrMalformed},
		{name: "five-part JWE", token: b64(`{"alg":"RSA-OAEP","enc":"A256GCM","kid":"`+k.ID+`"}`) + ".ZW5j.aXY.Y2lwaGVy.dGFn", want: ErrUnsupported},
		{name: "JSON serialization", token: `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, want: ErrMalformed},
		{name: "padded header", token: parts[0] + "==." + parts[1] + "." + parts[2], want: ErrMalformed},
		{name: "padded signature", token: good + "=", want: ErrMalformed},
		{name: "standard alphabet plus", token: parts[0] + "." + parts[1] + "." + strings.Replace(parts[2], parts[2][:1], "+", 1), want: ErrMalformed},
		{name: "standard alphabet slash", token: parts[0] + "." + parts[1] + "/." + parts[2], want: ErrMalformed},
		{name: "whitespace", token: parts[0] + ".\n" + parts[1] + "." + parts[2], want: ErrMalformed},
		{name: "signature one byte short", token: parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-2], want: ErrBadSignature},
		{name: "signature as DER", token: derSigned(t, hdr, payloadJSON(t, nil), k), want: ErrBadSignature},
		{name: "signature non-canonical base64", token: parts[0] + "." + parts[1] + "." + nonCanonical(parts[2]), want: ErrMalformed},
		{name: "signature all zeros", token: parts[0] + "." + parts[1] + "." + strings.Repeat("A", 86), want: ErrBadSignature},
		{name: "signature r||s swapped", token: parts[0] + "." + parts[1] + "." + swapHalves(t, parts[2]), want: ErrBadSignature},
		{name: "signature bit flipped", token: parts[0] + "." + parts[1] + "." + flipLast(parts[2]), want: ErrBadSignature},
		{name: "payload swapped after signing", token: parts[0] + "." + b64(payloadJSON(t, map[string]any{"scope": "admin"})) + "." + parts[2], want: ErrBadSignature},
		{name: "nil key set", nilKS: true, token: good, want: ErrUnknownKey},
		{name: "RS256 control: valid", ks: rsaKS, token: forge(headerJSON(AlgRS256, rsaKey.ID, "at+jwt"), payloadJSON(t, nil), ourRSA)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := ks
			switch {
			case tt.nilKS:
				set = nil
			case tt.ks != nil:
				set = tt.ks
			}
			v := testVerifier()
			if tt.verifier != nil {
				tt.verifier(v)
			}
			c, err := v.Verify(set, tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v, want success", err)
				}
				if c == nil || c.ClientID != "client-1" {
					t.Fatalf("Verify returned claims %+v", c)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if c != nil {
				t.Errorf("Verify returned claims with error %v", err)
			}
			// The text is safe to show: it never echoes the token.
			if len(tt.token) > 8 && strings.Contains(err.Error(), tt.token[:8]) {
				t.Errorf("error %q contains token bytes", err)
			}
		})
	}
}

// derSigned signs with our ES256 key but keeps the ASN.1 DER signature, which
// JWS does not allow.
func derSigned(t *testing.T, header, payload string, k storage.SigningKey) string {
	t.Helper()
	m, err := parseKeyMaterial(k.Algorithm, k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return forge(header, payload, func(input []byte) []byte {
		digest := sha256.Sum256(input)
		sig, err := m.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	})
}

// nonCanonical changes the unused low bits of the last character of an
// unpadded base64url segment, keeping the decoded bytes.
func nonCanonical(seg string) string {
	const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(base64URLAlphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(base64URLAlphabet[last|1])
}

// swapHalves exchanges r and s of an ES256 signature segment.
func swapHalves(t *testing.T, seg string) string {
	t.Helper()
	sig, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature segment: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), sig[32:]...), sig[:32]...))
}

// flipLast changes the last full character of a segment.
func flipLast(seg string) string {
	c := seg[len(seg)-2]
	r := byte('A')
	if c == 'A' {
		r = 'B'
	}
	return seg[:len(seg)-2] + string(r) + seg[len(seg)-1:]
}

func TestVerifyNeverFetchesKeyReferences(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer srv.Close()

	ks, k := keySetFor(t, AlgES256)
	foreign := signWith(t, AlgES256, foreignKeys()[AlgES256])
	for _, member := range []string{"jku", "x5u"} {
		t.Run(member, func(t *testing.T) {
			for _, kid := range []string{k.ID, "attacker-key"} {
				hdr := fmt.Sprintf(`{"alg":"ES256","kid":%q,"typ":"at+jwt",%q:%q}`, kid, member, srv.URL+"/jwks.json")
				_, err := testVerifier().Verify(ks, forge(hdr, payloadJSON(t, nil), foreign))
				if !errors.Is(err, ErrUnsupported) {
					t.Errorf("kid %s: Verify error = %v, want ErrUnsupported", kid, err)
				}
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the key URL was fetched %d times", n)
	}
}

func TestVerifyRejectsHugeInputFast(t *testing.T) {
	ks, _ := keySetFor(t, AlgES256)
	v := testVerifier()
	tests := []struct {
		name  string
		token string
	}{
		{"1 MiB of dots", strings.Repeat(".", 1<<20)},
		{"1 MiB of base64", strings.Repeat("QUFB", 1<<18)},
		{"8 KiB plus one", strings.Repeat("a", MaxLength+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(100, func() { _, err = v.Verify(ks, tt.token) })
			if !errors.Is(err, ErrTooLong) {
				t.Fatalf("Verify error = %v, want ErrTooLong", err)
			}
			if allocs != 0 {
				t.Errorf("rejecting allocated %v times, want 0", allocs)
			}
			start := time.Now()
			for range 1000 {
				v.Verify(ks, tt.token)
			}
			// The check is one comparison: a thousand of them take
			// microseconds, even on a loaded machine.
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("1000 rejections took %v", d)
			}
		})
	}
}

func TestVerifyRefusalsDoNotAllocate(t *testing.T) {
	ks, k := keySetFor(t, AlgES256)
	ours := signWith(t, AlgES256, privateOf(t, k))
	good := forge(headerJSON(AlgES256, k.ID, "at+jwt"), payloadJSON(t, nil), ours)
	parts := strings.Split(good, ".")
	tests := map[string]string{
		"five-part JWE": "a.b.c.d.e",
		"alphabet":      parts[0] + "." + parts[1] + "." + parts[2] + "=",
		"unknown kid":   forge(headerJSON(AlgES256, "nope", "at+jwt"), payloadJSON(t, nil), ours),
		"typ":           forge(headerJSON(AlgES256, k.ID, "JWT"), payloadJSON(t, nil), ours),
		"short sig":     parts[0] + "." + parts[1] + "." + parts[2][:80],
	}
	v := testVerifier()
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(50, func() {
				if _, err := v.Verify(ks, tok); err == nil {
					t.Fatal("Verify accepted a bad token")
				}
			})
			if allocs != 0 {
				t.Errorf("allocs = %v, want 0", allocs)
			}
		})
	}
}

func TestVerifyClaimNamesAreExact(t *testing.T) {
	ks, k := keySetFor(t, AlgES256)
	ours := signWith(t, AlgES256, privateOf(t, k))
	// encoding/json would let "Client_ID" and "SUB", coming later, replace
	// client_id and sub; the strict reader keeps them as extra claims.
	payload := `{"iss":"` + testIssuer + `","sub":"client-1","client_id":"client-1","jti":"j","iat":` +
		fmt.Sprint(t0.Unix()) + `,"exp":` + fmt.Sprint(t0.Unix()+60) + `,"Client_ID":"admin","SUB":"admin"}`
	c, err := testVerifier().Verify(ks, forge(headerJSON(AlgES256, k.ID, "at+jwt"), payload, ours))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.ClientID != "client-1" || c.Subject != "client-1" {
		t.Errorf("client_id %q, sub %q; want client-1 for both", c.ClientID, c.Subject)
	}
	if got, want := string(c.Extra), `{"Client_ID":"admin","SUB":"admin"}`; got != want {
		t.Errorf("Extra = %s, want %s", got, want)
	}
}

func TestVerifierDefaults(t *testing.T) {
	tests := []struct {
		name       string
		v          Verifier
		wantLeeway int64
		wantMax    int
	}{
		{"zero values", Verifier{}, 30, MaxLength},
		{"negative leeway means none", Verifier{Leeway: -time.Second}, 0, MaxLength},
		{"explicit", Verifier{Leeway: 5 * time.Second, MaxTokenLength: 100}, 5, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.v.leewaySeconds(); got != tt.wantLeeway {
				t.Errorf("leeway = %d, want %d", got, tt.wantLeeway)
			}
			if got := tt.v.maxLength(); got != tt.wantMax {
				t.Errorf("max length = %d, want %d", got, tt.wantMax)
			}
		})
	}
	if (&Verifier{}).now().IsZero() {
		t.Error("default clock returned the zero time")
	}
}
