package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeGateway issues "tok-<scope>" to client c1 / s1 and serves /orders/42
// to a bearer of tok-orders:read.
func fakeGateway(t *testing.T, tokenRequests *atomic.Int32) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		tokenRequests.Add(1)
		id, secret, ok := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if !ok || id != "c1" || secret != "s1" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"client authentication failed"}`))
			return
		}
		if r.PostFormValue("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if res := r.PostFormValue("resource"); res != "" && res != "https://api.example.com/orders" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_target"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok-" + r.PostFormValue("scope"), "token_type": "Bearer", "expires_in": 900})
	})
	mux.HandleFunc("/orders/42", func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer tok-orders:read":
			_, _ = w.Write([]byte(`{"order":42}`))
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="scopegate", error="insufficient_scope", scope="orders:read"`)
			w.WriteHeader(http.StatusForbidden)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRun(t *testing.T) {
	var tokenRequests atomic.Int32
	srv := fakeGateway(t, &tokenRequests)
	creds := map[string]string{"SCOPEGATE_CLIENT_ID": "c1", "SCOPEGATE_CLIENT_SECRET": "s1"}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantOut string
		wantErr string
	}{
		{"allowed", creds, []string{"-scope", "orders:read", srv.URL + "/orders/42"},
			"GET " + srv.URL + "/orders/42: 200 OK\n{\"order\":42}\n", ""},
		{"with a resource", creds, []string{"-resource", "https://api.example.com/orders", srv.URL + "/orders/42"},
			"GET " + srv.URL + "/orders/42: 200 OK\n{\"order\":42}\n", ""},
		{"scope missing", creds, []string{"-scope", "orders:write", srv.URL + "/orders/42"},
			"GET " + srv.URL + "/orders/42: 403 Forbidden\nWWW-Authenticate: Bearer realm=\"scopegate\", error=\"insufficient_scope\", scope=\"orders:read\"\n\n",
			"the API answered 403 Forbidden"},
		{"wrong secret", map[string]string{"SCOPEGATE_CLIENT_ID": "c1", "SCOPEGATE_CLIENT_SECRET": "bad"}, []string{srv.URL + "/orders/42"},
			"", "the token endpoint refused: invalid_client client authentication failed"},
		{"resource refused", creds, []string{"-resource", "https://other.example.com", srv.URL + "/orders/42"},
			"", "the token endpoint refused: invalid_target "},
		{"no credentials", nil, []string{srv.URL + "/orders/42"}, "", "set SCOPEGATE_CLIENT_ID and SCOPEGATE_CLIENT_SECRET"},
		{"no URL", creds, nil, "", "usage: go-client [flags] <API URL>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"-token-url", srv.URL + "/oauth2/token"}, tt.args...)
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, &out)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Fatalf("run error = %v, want %q", err, tt.wantErr)
			}
			if out.String() != tt.wantOut {
				t.Errorf("output = %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
	if n := tokenRequests.Load(); n != 5 {
		t.Errorf("%d token requests, want 5 (one per run that has credentials and a URL)", n)
	}
}
