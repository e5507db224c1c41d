package oauth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// checkDescription fails the test if a description holds a byte outside
// the set RFC 6749 §5.2 allows in error_description (%x20-21 / %x23-5B /
// %x5D-7E): no quotes, backslashes, control characters or non-ASCII.
func checkDescription(t *testing.T, e *Error) {
	t.Helper()
	for i := 0; i < len(e.Description); i++ {
		c := e.Description[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Errorf("description %q has byte %#x at %d", e.Description, c, i)
		}
	}
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		name   string
		fn     func(string) *Error
		code   string
		status int
	}{
		{name: "invalid_request", fn: InvalidRequest, code: "invalid_request", status: 400},
		{name: "method not allowed", fn: MethodNotAllowed, code: "invalid_request", status: 405},
		{name: "too large", fn: RequestTooLarge, code: "invalid_request", status: 413},
		{name: "invalid_client", fn: InvalidClient, code: "invalid_client", status: 401},
		{name: "invalid_grant", fn: InvalidGrant, code: "invalid_grant", status: 400},
		{name: "unauthorized_client", fn: UnauthorizedClient, code: "unauthorized_client", status: 400},
		{name: "unsupported_grant_type", fn: UnsupportedGrantType, code: "unsupported_grant_type", status: 400},
		{name: "invalid_scope", fn: InvalidScope, code: "invalid_scope", status: 400},
		{name: "invalid_target", fn: InvalidTarget, code: "invalid_target", status: 400},
		{name: "server_error", fn: ServerError, code: "server_error", status: 500},
		{name: "temporarily_unavailable", fn: TemporarilyUnavailable, code: "temporarily_unavailable", status: 503},
		{name: "too many attempts", fn: TooManyAttempts, code: "temporarily_unavailable", status: 429},
		{name: "invalid_token", fn: InvalidToken, code: "invalid_token", status: 401},
		{name: "insufficient_scope", fn: InsufficientScope, code: "insufficient_scope", status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.fn("some text")
			if e.Code != tt.code || e.Status != tt.status || e.Description != "some text" {
				t.Errorf("got %+v, want code %s status %d", *e, tt.code, tt.status)
			}
			if e == tt.fn("some text") {
				t.Errorf("constructor returned a shared value")
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{name: "with description", err: InvalidRequest("missing grant_type"), want: "invalid_request: missing grant_type"},
		{name: "without description", err: InvalidClient(""), want: "invalid_client"},
		{name: "no bearer", err: ErrNoBearer, want: "authentication required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		err        *Error
		preset     http.Header
		wantStatus int
		wantBody   string
		wantHeader map[string]string // "" means absent
	}{
		{
			name: "with description", err: InvalidRequest("missing grant_type"),
			wantStatus: 400, wantBody: `{"error":"invalid_request","error_description":"missing grant_type"}`,
			wantHeader: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache", "X-Content-Type-Options": "nosniff", "Allow": ""},
		},
		{
			name: "description omitted when empty", err: InvalidClient(""),
			wantStatus: 401, wantBody: `{"error":"invalid_client"}`,
			wantHeader: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"},
		},
		{
			name: "405 adds Allow", err: MethodNotAllowed("only POST"),
			wantStatus: 405, wantBody: `{"error":"invalid_request","error_description":"only POST"}`,
			wantHeader: map[string]string{"Allow": "POST", "Content-Type": "application/json", "Cache-Control": "no-store"},
		},
		{
			name: "405 keeps a caller's Allow", err: MethodNotAllowed(""), preset: http.Header{"Allow": {"GET, HEAD"}},
			wantStatus: 405, wantBody: `{"error":"invalid_request"}`,
			wantHeader: map[string]string{"Allow": "GET, HEAD"},
		},
		{
			name: "caller's challenge kept", err: InvalidClient("bad"), preset: http.Header{"Www-Authenticate": {`Basic realm="x"`}},
			wantStatus: 401, wantBody: `{"error":"invalid_client","error_description":"bad"}`,
			wantHeader: map[string]string{"WWW-Authenticate": `Basic realm="x"`},
		},
		{
			name: "html-significant characters escaped", err: InvalidRequest("<a&b>"),
			wantStatus: 400, wantBody: `{"error":"invalid_request","error_description":"\u003ca\u0026b\u003e"}`,
		},
		{
			name: "no bearer has no body", err: ErrNoBearer,
			wantStatus: 401, wantBody: "",
			wantHeader: map[string]string{"Content-Type": "", "Cache-Control": "no-store", "Pragma": "no-cache"},
		},
		{
			name: "nil is a server error", err: nil,
			wantStatus: 500, wantBody: `{"error":"server_error"}`,
		},
		{
			name: "success status refused", err: &Error{Code: "invalid_request", Status: 200},
			wantStatus: 500, wantBody: `{"error":"invalid_request"}`,
		},
		{
			name: "zero status refused", err: &Error{Code: "invalid_request"},
			wantStatus: 500, wantBody: `{"error":"invalid_request"}`,
		},
		{
			name: "too many attempts", err: TooManyAttempts("too many failed logins"),
			wantStatus: 429, wantBody: `{"error":"temporarily_unavailable","error_description":"too many failed logins"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			for k, v := range tt.preset {
				rec.Header()[k] = v
			}
			tt.err.Write(rec)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body = %s, want %s", got, tt.wantBody)
			}
			for k, want := range tt.wantHeader {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestNoStore(t *testing.T) {
	h := http.Header{"Cache-Control": {"public, max-age=60"}}
	NoStore(h)
	if got := h.Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
		t.Errorf("Cache-Control = %q, want [no-store]", got)
	}
	if got := h.Values("Pragma"); len(got) != 1 || got[0] != "no-cache" {
		t.Errorf("Pragma = %q, want [no-cache]", got)
	}
}
