package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRegistry is an admin API that keeps clients in a map, as much of it
// as admin-writes uses, and refuses what the real one would.
type fakeRegistry struct {
	mu      sync.Mutex
	clients map[string]string // id → scope
	names   map[string]bool
	seq     int
	failOn  string // a client name whose create answers 503
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, hasID := strings.CutPrefix(r.URL.Path, "/scopegate/clients/")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/scopegate/clients":
		var body struct {
			Name  string `json:"client_name"`
			Scope string `json:"scope"`
		}
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil || body.Name == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if body.Name == f.failOn {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"temporarily_unavailable"}`)
			return
		}
		if f.names[body.Name] {
			w.WriteHeader(http.StatusConflict)
			return
		}
		f.seq++
		id := fmt.Sprintf("id%d", f.seq)
		f.clients[id], f.names[body.Name] = body.Scope, true
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"client_id":%q,"client_secret":"sgs_x"}`, id)
	case r.Method == http.MethodPatch && hasID:
		var body struct {
			Scope string `json:"scope"`
		}
		if _, ok := f.clients[id]; !ok || r.Header.Get("Content-Type") != "application/merge-patch+json" || json.NewDecoder(r.Body).Decode(&body) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.clients[id] = body.Scope
		_, _ = io.WriteString(w, `{}`)
	case r.Method == http.MethodDelete && hasID:
		if _, ok := f.clients[id]; !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(f.clients, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func TestRunAdminWrites(t *testing.T) {
	reg := &fakeRegistry{clients: map[string]string{}, names: map[string]bool{}}
	var patched []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			reg.mu.Lock()
			patched = append(patched, r.URL.Path)
			reg.mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	var out, progress strings.Builder
	if err := runAdminWrites([]string{"-admin", srv.URL, "-writers", "8", "-n", "50", "-rounds", "2"}, &out, &progress); err != nil {
		t.Fatal(err)
	}
	if reg.seq != 100 || len(reg.clients) != 0 || len(patched) != 100 {
		t.Errorf("created %d, left %d, patched %d; want 100 created and patched over two rounds, none left", reg.seq, len(reg.clients), len(patched))
	}
	for _, want := range []string{
		"8 concurrent writers, 2 rounds of 50 clients",
		"| create (`POST /scopegate/clients`) |",
		"| update (`PATCH /scopegate/clients/{id}`, scope) |",
		"| delete (`DELETE /scopegate/clients/{id}`) |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if got := strings.Count(progress.String(), "admin writes round"); got != 2 {
		t.Errorf("%d progress lines, want 2:\n%s", got, progress.String())
	}

	t.Run("a refused write is counted and shown, and its client left out", func(t *testing.T) {
		reg := &fakeRegistry{clients: map[string]string{}, names: map[string]bool{}, failOn: "admin-write-1-000007"}
		var requests []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reg.mu.Lock()
			requests = append(requests, r.Method)
			reg.mu.Unlock()
			reg.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		var out strings.Builder
		if err := runAdminWrites([]string{"-admin", srv.URL, "-writers", "4", "-n", "20", "-rounds", "1"}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(requests, " "); strings.Count(got, "POST") != 20 || strings.Count(got, "PATCH") != 19 || strings.Count(got, "DELETE") != 19 {
			t.Errorf("requests %s: want 20 creates, then 19 updates and deletes", got)
		}
		if len(reg.clients) != 0 {
			t.Errorf("%d clients left", len(reg.clients))
		}
		for _, want := range []string{
			"| create (`POST /scopegate/clients`) | ",
			" | 1 |\n| update",
			"- first create error: create admin-write-1-000007: status 503, want 201: {\"error\":\"temporarily_unavailable\"}",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, out.String())
			}
		}
		if strings.Contains(out.String(), "first update error") {
			t.Errorf("an update error was reported:\n%s", out.String())
		}
	})
	t.Run("flags", func(t *testing.T) {
		if err := runAdminWrites([]string{"-writers", "0"}, io.Discard, io.Discard); err == nil {
			t.Fatal("no -admin and no writers were accepted")
		}
	})
}

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(hundred...), 99, 99 * time.Millisecond},
		{"p99 of ten is the last", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
