package oauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func BenchmarkBearerToken(b *testing.B) {
	h := http.Header{"Authorization": {"Bearer " + strings.Repeat("eyJhbGciOiJFUzI1NiJ9", 20) + ".c2ln"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, e := BearerToken(h, 0); e != nil {
			b.Fatal(e)
		}
	}
}

func BenchmarkBearerTokenHuge(b *testing.B) {
	h := http.Header{"Authorization": {"Bearer " + strings.Repeat(".", 1<<20)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, e := BearerToken(h, 0); e == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkParseTokenRequest(b *testing.B) {
	for _, bc := range []struct {
		name, body, auth string
	}{
		{name: "basic", body: "grant_type=client_credentials&scope=orders%3Aread+orders%3Awrite", auth: basic("c_0123456789abcdef0123456789abcdef", "sgs_0123456789abcdef0123456789abcdef0123456789abcdef")},
		{name: "post", body: "grant_type=client_credentials&scope=orders%3Aread+orders%3Awrite&client_id=c_0123456789abcdef0123456789abcdef&client_secret=sgs_0123456789abcdef0123456789abcdef0123456789abcdef"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(bc.body))
				r.Header.Set("Content-Type", formType)
				if bc.auth != "" {
					r.Header.Set("Authorization", bc.auth)
				}
				b.StartTimer()
				if _, e := ParseTokenRequest(r, 0); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}

func BenchmarkBearerChallenge(b *testing.B) {
	e := InsufficientScope("the token lacks a required scope")
	b.ReportAllocs()
	for b.Loop() {
		_ = BearerChallenge("api", e, "orders:read orders:write", "https://api.example.com/.well-known/oauth-protected-resource")
	}
}
