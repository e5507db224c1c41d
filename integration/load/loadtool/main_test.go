package main

import (
	"bufio"
	"errors"
	"io"
	"net"
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
	// and 100: CPU ratios 0.909, 1 and 0.8.
	in := `1 plain RESULT 1000 1000 4000 10000 0 1000000
1 token RESULT 10 1000 4000 100 0 50000
1 guard-cached RESULT 900 1100 4400 9000 0 990000
2 plain RESULT 2000 900 3000 20000 0 2000000
2 guard-cached RESULT 1900 950 3300 19000 2 1900000
3 plain RESULT 800 1200 5000 8000 0 800000
3 guard-cached RESULT 800 1300 6000 8000 0 1000000
`
	samples, err := parseResults(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := writeTable(&out, samples, "EdDSA"); err != nil {
		t.Fatal(err)
	}
	want := "| variant | req/s | p50 | p99 | errors | gateway CPU/req | vs | req/s ratio | p99 ratio | CPU ratio |\n" +
		"|---|---:|---:|---:|---:|---:|---|---:|---:|---:|\n" +
		"| plain `reverse_proxy`, one token | 1000 | 1.00 ms | 4.00 ms | 0 | 100 µs |  |  |  |  |\n" +
		"| guarded, one token (verification cached) | 900 | 1.10 ms | 4.40 ms | 2 | 110 µs | plain | 0.950 | 1.10× | 0.909 |\n" +
		// A row without its counterpart has no ratio; the label names the
		// signing algorithm.
		"| token endpoint (client_credentials, EdDSA) | 10 | 1.00 ms | 4.00 ms | 0 | 500 µs |  |  |  |  |\n"
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
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "median of the per-round ratios",
			in: "1 respond RESULT 10000 1 1 1 0 1\n1 token RESULT 4000 1 1 1 0 1\n" +
				"2 respond RESULT 10000 1 1 1 0 1\n2 token RESULT 6000 1 1 1 0 1\n" +
				"3 respond RESULT 20000 1 1 1 0 1\n3 token RESULT 10000 1 1 1 0 1\n",
			want: "\nToken endpoint vs Ory Hydra, as a ratio of ratios (not measured side by side: Hydra is not installable here): " +
				"ours 0.500 of `respond` / Hydra's quoted 130 of 30000 = 0.0043 -> 115×\n",
		},
		{name: "no token rounds", in: "1 plain RESULT 10000 1 1 1 0 1\n", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			samples, err := parseResults(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			if err := writeHydraComparison(&out, samples); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
}
