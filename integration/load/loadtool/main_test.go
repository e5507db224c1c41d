package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{7}, 7},
		{"odd count, unsorted", []float64{9, 1, 5}, 5},
		{"even count takes the mean of the middle two", []float64{4, 1, 3, 10}, 3.5},
		{"ties", []float64{2, 2, 2, 8}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatalf("median reordered its argument: %v", tt.in)
				}
			}
		})
	}
}

func TestParseResults(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []sample
		wantErr string
	}{
		{
			name: "two lines and a blank one",
			in:   "1 plain RESULT 1000.5 900 2000 10005 0 500000\n\n2 token RESULT 300.0 100 400 3000 7 90000\n",
			want: []sample{
				{round: 1, variant: "plain", rps: 1000.5, p50us: 900, p99us: 2000, requests: 10005, errors: 0, cpuus: 500000},
				{round: 2, variant: "token", rps: 300, p50us: 100, p99us: 400, requests: 3000, errors: 7, cpuus: 90000},
			},
		},
		{name: "missing field", in: "1 plain RESULT 1 2 3 4 5\n", wantErr: "line 1: want 9 fields"},
		{name: "no RESULT marker", in: "1 plain OTHER 1 2 3 4 5 6\n", wantErr: "RESULT third"},
		{name: "not a number", in: "1 plain RESULT 1 x 3 4 5 6\n", wantErr: `"x" is not a number`},
		{name: "bad round", in: "one plain RESULT 1 2 3 4 5 6\n", wantErr: `round "one"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseResults(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d samples, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("sample %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	// Three rounds: guard-cached's per-round ratios are 0.9, 0.95 and 1.0,
	// so the median ratio is 0.95 although the ratio of medians differs.
	// Its CPU per request is 110, 100 and 125 µs against plain's 100, 100
	// and 100: CPU ratios 0.909, 1 and 0.8. The Hydra rows are compared with
	// `respond`, and their CPU is the Hydra process's.
	in := `1 plain RESULT 1000 1000 4000 10000 0 1000000
2 token RESULT 10 1000 4000 100 0 50000
1 guard-cached RESULT 900 1100 4400 9000 0 990000
2 plain RESULT 2000 900 3000 20000 0 2000000
2 guard-cached RESULT 1900 950 3300 19000 2 1900000
3 plain RESULT 800 1200 5000 8000 0 800000
3 guard-cached RESULT 800 1300 6000 8000 0 1000000
1 respond RESULT 20000 500 1000 200000 0 8000000
1 hydra-tuned RESULT 400 50000 90000 4000 0 4000000
1 hydra-default RESULT 100 250000 400000 1000 3 10000000
`
	samples, err := parseResults(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := writeTable(&out, samples, "EdDSA"); err != nil {
		t.Fatal(err)
	}
	want := "| variant | req/s | p50 | p99 | errors | server CPU/req | vs | req/s ratio | p99 ratio | CPU ratio |\n" +
		"|---|---:|---:|---:|---:|---:|---|---:|---:|---:|\n" +
		"| plain `reverse_proxy`, one token | 1000 | 1.00 ms | 4.00 ms | 0 | 100 µs |  |  |  |  |\n" +
		"| guarded, one token (verification cached) | 900 | 1.10 ms | 4.40 ms | 2 | 110 µs | plain | 0.950 | 1.10× | 0.909 |\n" +
		"| `respond` route, token request | 20000 | 0.50 ms | 1.00 ms | 0 | 40 µs |  |  |  |  |\n" +
		// A row without its counterpart has no ratio; the label names the
		// signing algorithm.
		"| token endpoint (client_credentials, EdDSA) | 10 | 1.00 ms | 4.00 ms | 0 | 500 µs |  |  |  |  |\n" +
		"| Ory Hydra token endpoint, defaults (PBKDF2 25,000 iterations, RS256) | 100 | 250.00 ms | 400.00 ms | 3 | 10000 µs | respond | 0.0050 | 400.00× | 0.0040 |\n" +
		"| Ory Hydra token endpoint, tuned (PBKDF2 1 iteration, ES256) | 400 | 50.00 ms | 90.00 ms | 0 | 1000 µs | respond | 0.020 | 90.00× | 0.040 |\n"
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestReadRequestHead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantLen int64
		wantErr error
	}{
		{"no body", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, nil},
		{"content length, any case", "POST / HTTP/1.1\r\ncontent-LENGTH: 12\r\n\r\n", 12, nil},
		{"leading blank line", "\r\nGET / HTTP/1.1\r\n\r\n", 0, nil},
		{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 0, nil},
		{"chunked is refused", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, errUnsupported},
		{"negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, errUnsupported},
		{"huge length", "POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 0, errUnsupported},
		{"cut short", "GET / HTTP/1.1\r\nHost:", 0, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRequestHead(bufio.NewReader(strings.NewReader(tt.in)))
			if !errors.Is(err, tt.wantErr) || got != tt.wantLen {
				t.Errorf("readRequestHead = %d, %v; want %d, %v", got, err, tt.wantLen, tt.wantErr)
			}
		})
	}
}

// TestServeConnPipelined sends two requests, one with a body, in one write
// and expects two answers.
func TestServeConnPipelined(t *testing.T) {
	client, server := net.Pipe()
	go serveConn(server)
	defer client.Close()
	_ = client.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		_, _ = io.WriteString(client, "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n")
	}()
	want := upstreamResponse + upstreamResponse
	got := make([]byte, len(want))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("reading answers: %v", err)
	}
	if string(got) != want {
		t.Errorf("answers %q, want %q", got, want)
	}
}

func TestWriteHydraComparison(t *testing.T) {
	const header = "\nToken endpoint vs Ory Hydra, measured side by side in this run (medians of the per-round ratios; " +
		"CPU ratio: Hydra's CPU per request over the gateway's):\n\n" +
		"| token endpoint (client_credentials, ES256) vs | req/s ratio | CPU ratio |\n" +
		"|---|---:|---:|\n"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			// Per round, token / hydra-default is 40, 60 and 50 and token /
			// hydra-tuned 2, 3 and 4: medians 50 and 3, although the ratios
			// of the medians (6000 / 125, 6000 / 2000) are 48 and 3. The
			// CPU per request is 100 µs for the token endpoint in every
			// round, 5000 µs for Hydra's defaults and 300 µs tuned.
			name: "median of the per-round ratios",
			in: "1 token RESULT 4000 1 1 4000 0 400000\n1 hydra-default RESULT 100 1 1 100 0 500000\n1 hydra-tuned RESULT 2000 1 1 2000 0 600000\n" +
				"2 token RESULT 6000 1 1 6000 0 600000\n2 hydra-default RESULT 100 1 1 100 0 500000\n2 hydra-tuned RESULT 2000 1 1 2000 0 600000\n" +
				"3 token RESULT 10000 1 1 10000 0 1000000\n3 hydra-default RESULT 200 1 1 200 0 1000000\n3 hydra-tuned RESULT 2500 1 1 2500 0 750000\n" +
				"1 respond RESULT 20000 1 1 20000 0 1\n",
			want: header +
				"| Ory Hydra, defaults | 50.0× | 50.0× |\n" +
				"| Ory Hydra, tuned | 3.0× | 3.0× |\n",
		},
		{
			// A Hydra variant missing from a round (a run that stopped early)
			// leaves that round out of its ratio and no other.
			name: "a round without one variant",
			in: "1 token RESULT 4000 1 1 4000 0 400000\n1 hydra-default RESULT 100 1 1 100 0 500000\n1 hydra-tuned RESULT 2000 1 1 2000 0 600000\n" +
				"2 token RESULT 6000 1 1 6000 0 600000\n2 hydra-default RESULT 100 1 1 100 0 500000\n",
			want: header +
				"| Ory Hydra, defaults | 50.0× | 50.0× |\n" +
				"| Ory Hydra, tuned | 2.0× | 3.0× |\n",
		},
		{
			name: "Hydra not run (HYDRA=0)",
			in:   "1 respond RESULT 10000 1 1 1 0 1\n1 token RESULT 4000 1 1 1 0 1\n",
			want: "\nHydra: not measured\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			samples, err := parseResults(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			if err := writeHydraComparison(&out, samples, "ES256"); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestJWTAlg(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		want    string
		wantErr string
	}{
		// {"alg":"ES256","kid":"k","typ":"JWT"}
		{name: "ES256", token: "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJKV1QifQ.e30.c2ln", want: "ES256"},
		// {"alg":"RS256"}
		{name: "RS256", token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", want: "RS256"},
		{name: "opaque token", token: "ory_at_abc.def", wantErr: "not a JWT"},
		{name: "header not base64url", token: "e+J.e30.c2ln", wantErr: "header"},
		// {"typ":"JWT"}
		{name: "no alg", token: "eyJ0eXAiOiJKV1QifQ.e30.c2ln", wantErr: "no alg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jwtAlg(tt.token)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("jwtAlg = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestBasicCredentials(t *testing.T) {
	// RFC 6749 §2.3.1: ID and secret are form-urlencoded before they are
	// joined with a colon, so a colon or a space in either survives.
	got := basicCredentials("id:1", "s e+c/r")
	raw, err := base64.StdEncoding.DecodeString(got)
	if err != nil {
		t.Fatal(err)
	}
	if want := "id%3A1:s+e%2Bc%2Fr"; string(raw) != want {
		t.Errorf("decoded %q, want %q", raw, want)
	}
}

// adminStub answers one admin API call: it records the request and writes a
// fixed status and body. The real servers (Caddy with the plugin, Hydra) are
// what run.sh talks to; this checks what the load tool sends and how it reads
// the answer.
type adminStub struct {
	method, path, contentType string
	body                      map[string]any
}

func serveStub(t *testing.T, calls *[]adminStub, status func(r *http.Request) int, answer string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := adminStub{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type")}
		if r.ContentLength > 0 {
			if err := json.NewDecoder(r.Body).Decode(&c.body); err != nil {
				t.Errorf("request body: %v", err)
			}
		}
		*calls = append(*calls, c)
		w.WriteHeader(status(r))
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCreateClient(t *testing.T) {
	created := func(*http.Request) int { return http.StatusCreated }
	tests := []struct {
		name     string
		api      string
		wantPath string
		wantBody map[string]any
	}{
		{
			name:     "scopegate",
			api:      "scopegate",
			wantPath: "/scopegate/clients",
			wantBody: map[string]any{"client_name": "load", "scope": "orders:read"},
		},
		{
			// Hydra's client defaults to authorization_code and
			// client_secret_basic; the load client asks for what it uses.
			name:     "hydra",
			api:      "hydra",
			wantPath: "/admin/clients",
			wantBody: map[string]any{
				"client_name": "load", "scope": "orders:read",
				"grant_types":                []any{"client_credentials"},
				"token_endpoint_auth_method": "client_secret_basic",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []adminStub
			srv := serveStub(t, &calls, created, `{"client_id":"c-1","client_secret":"s.1_x","scope":"orders:read"}`)
			id, secret, err := createClient(srv.Client(), srv.URL, tt.api, "load", "orders:read")
			if err != nil {
				t.Fatal(err)
			}
			if id != "c-1" || secret != "s.1_x" {
				t.Errorf("got %q, %q; want c-1, s.1_x", id, secret)
			}
			if len(calls) != 1 || calls[0].method != http.MethodPost || calls[0].path != tt.wantPath || calls[0].contentType != "application/json" {
				t.Fatalf("calls = %+v, want one JSON POST to %s", calls, tt.wantPath)
			}
			if !reflect.DeepEqual(calls[0].body, tt.wantBody) {
				t.Errorf("body = %v, want %v", calls[0].body, tt.wantBody)
			}
		})
	}
	t.Run("unknown API", func(t *testing.T) {
		if _, _, err := createClient(http.DefaultClient, "http://127.0.0.1:1", "keycloak", "load", "x"); err == nil || !strings.Contains(err.Error(), `unknown admin API "keycloak"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		var calls []adminStub
		srv := serveStub(t, &calls, func(*http.Request) int { return http.StatusBadRequest }, `{"error":"invalid_client_metadata"}`)
		if _, _, err := createClient(srv.Client(), srv.URL, "hydra", "load", "x"); err == nil || !strings.Contains(err.Error(), "status 400") {
			t.Fatalf("err = %v, want the status", err)
		}
	})
	t.Run("no secret in the answer", func(t *testing.T) {
		var calls []adminStub
		srv := serveStub(t, &calls, created, `{"client_id":"c-1"}`)
		if _, _, err := createClient(srv.Client(), srv.URL, "hydra", "load", "x"); err == nil || !strings.Contains(err.Error(), "no client_id or client_secret") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestReplaceHydraKey(t *testing.T) {
	// Hydra answers the key creation with the private key; the load tool
	// must neither print it nor put it in an error.
	const private = "WH5GW23IhFQ-V1BEkeD6nzeVjQdSzre7F5xNvFdPgdY"
	es256 := `{"keys":[{"use":"sig","kty":"EC","kid":"load-es256","crv":"P-256","alg":"ES256","x":"x","y":"y","d":"` + private + `"}]}`
	tests := []struct {
		name      string
		deleted   int
		answer    string
		created   int
		wantErr   string
		wantCalls int
	}{
		{name: "set existed", deleted: http.StatusNoContent, created: http.StatusCreated, answer: es256, wantCalls: 2},
		{name: "set did not exist", deleted: http.StatusNotFound, created: http.StatusCreated, answer: es256, wantCalls: 2},
		{name: "delete refused", deleted: http.StatusForbidden, wantErr: "deleting key set hydra.jwt.access-token: status 403", wantCalls: 1},
		{name: "create refused", deleted: http.StatusNoContent, created: http.StatusBadRequest, answer: `{"error":"x"}`, wantErr: "status 400", wantCalls: 2},
		{name: "other algorithm", deleted: http.StatusNoContent, created: http.StatusCreated, answer: strings.Replace(es256, `"alg":"ES256"`, `"alg":"RS256"`, 1), wantErr: `got a key with alg "RS256"`, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []adminStub
			status := func(r *http.Request) int {
				if r.Method == http.MethodDelete {
					return tt.deleted
				}
				return tt.created
			}
			srv := serveStub(t, &calls, status, tt.answer)
			err := replaceHydraKey(srv.Client(), srv.URL, "ES256")
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), private) {
				t.Fatalf("the error carries the private key: %v", err)
			}
			if len(calls) != tt.wantCalls {
				t.Fatalf("calls = %+v, want %d", calls, tt.wantCalls)
			}
			const path = "/admin/keys/hydra.jwt.access-token"
			if calls[0].method != http.MethodDelete || calls[0].path != path {
				t.Errorf("first call %s %s, want DELETE %s", calls[0].method, calls[0].path, path)
			}
			if len(calls) == 2 {
				want := map[string]any{"alg": "ES256", "use": "sig", "kid": "load-es256"}
				if calls[1].method != http.MethodPost || calls[1].path != path || !reflect.DeepEqual(calls[1].body, want) {
					t.Errorf("second call %+v, want POST %s with %v", calls[1], path, want)
				}
			}
		})
	}
}
