package module

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
)

func TestRemoteAdminUnmarshalCaddyfile(t *testing.T) {
	cases := []struct {
		name, input, wantResource, wantErr string
	}{
		{"bare", "scopegate_admin", "", ""},
		{"resource", "scopegate_admin {\n resource https://ops.example.com/manage\n}", "https://ops.example.com/manage", ""},
		{"unknown option", "scopegate_admin {\n audience x\n}", "", `unknown scopegate_admin option "audience"`},
		{"resource without value", "scopegate_admin {\n resource\n}", "", "wrong argument count"},
		{"resource with two values", "scopegate_admin {\n resource a b\n}", "", "wrong argument count"},
		{"argument on the directive", "scopegate_admin https://x.example", "", "wrong argument count"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ra RemoteAdmin
			err := ra.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "Testfile:") {
					t.Fatalf("got %v, want an error with file and line containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || ra.Resource != tc.wantResource {
				t.Fatalf("got %q, %v; want %q", ra.Resource, err, tc.wantResource)
			}
		})
	}
}

func TestRemoteAdminResource(t *testing.T) {
	cases := []struct {
		name, issuer, resource string
		wantResource, wantPath string
		wantErr                string
	}{
		{name: "default from the issuer", issuer: "https://api.example.com",
			wantResource: "https://api.example.com/scopegate/admin", wantPath: "/.well-known/oauth-protected-resource/scopegate/admin"},
		{name: "default from an issuer with a path", issuer: "https://api.example.com/auth/",
			wantResource: "https://api.example.com/auth/scopegate/admin", wantPath: "/.well-known/oauth-protected-resource/auth/scopegate/admin"},
		{name: "configured", issuer: "https://api.example.com", resource: "https://ops.example.com/manage/",
			wantResource: "https://ops.example.com/manage/", wantPath: "/.well-known/oauth-protected-resource/manage"},
		{name: "relative", issuer: "https://api.example.com", resource: "/manage", wantErr: "absolute URI"},
		{name: "fragment", issuer: "https://api.example.com", resource: "https://api.example.com/manage#admin", wantErr: "absolute URI"},
		{name: "the issuer itself", issuer: "https://api.example.com", resource: "https://api.example.com", wantErr: "must not be the issuer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			app := &App{Issuer: tc.issuer, StorageRaw: boltAt(filepath.Join(t.TempDir(), "scopegate.db"), 0)}
			if err := app.Provision(ctx); err != nil {
				t.Fatal(err)
			}
			ra := RemoteAdmin{Resource: tc.resource}
			err := ra.setup(app, zap.NewNop())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || ra.Resource != tc.wantResource {
				t.Fatalf("got %q, %v; want %q", ra.Resource, err, tc.wantResource)
			}
			doc, ok := app.server.Resources().Lookup(tc.wantPath)
			var md struct {
				Resource             string   `json:"resource"`
				AuthorizationServers []string `json:"authorization_servers"`
			}
			if !ok || json.Unmarshal(doc.Body, &md) != nil || md.Resource != tc.wantResource ||
				len(md.AuthorizationServers) != 1 || md.AuthorizationServers[0] != tc.issuer {
				t.Fatalf("metadata at %s: %v %s", tc.wantPath, ok, doc.Body)
			}
		})
	}
}
