package module

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
)

func TestAppUnmarshalCaddyfile(t *testing.T) {
	t.Run("every option", func(t *testing.T) {
		d := caddyfile.NewTestDispenser(`scopegate {
			issuer               https://auth.example.com
			storage              bolt /var/lib/scopegate.db {
				lock_timeout 3s
			}
			cache_size           500
			max_clients          10
			max_scopes           20
			access_token_ttl     5m
			max_access_token_ttl 1h
		}`)
		var a App
		if err := a.UnmarshalCaddyfile(d); err != nil {
			t.Fatal(err)
		}
		want := App{
			Issuer:            "https://auth.example.com",
			StorageRaw:        json.RawMessage(`{"backend":"bolt","lock_timeout":3000000000,"path":"/var/lib/scopegate.db"}`),
			CacheSize:         500,
			MaxClients:        10,
			MaxScopes:         20,
			AccessTokenTTL:    caddy.Duration(5 * time.Minute),
			MaxAccessTokenTTL: caddy.Duration(time.Hour),
		}
		if a.Issuer != want.Issuer || string(a.StorageRaw) != string(want.StorageRaw) ||
			a.CacheSize != want.CacheSize || a.MaxClients != want.MaxClients || a.MaxScopes != want.MaxScopes ||
			a.AccessTokenTTL != want.AccessTokenTTL || a.MaxAccessTokenTTL != want.MaxAccessTokenTTL {
			t.Fatalf("got %+v\nwant %+v", a, want)
		}
	})

	errorCases := []struct {
		name, input, wantErr string
	}{
		{"unknown option", "scopegate {\n colour red\n}", `unknown scopegate option "colour"`},
		{"missing argument", "scopegate {\n issuer\n}", "wrong argument count"},
		{"extra argument", "scopegate {\n issuer a b\n}", "wrong argument count"},
		{"bad duration", "scopegate {\n access_token_ttl soon\n}", "access_token_ttl: invalid duration"},
		{"negative count", "scopegate {\n max_clients -1\n}", "max_clients: must be a positive whole number"},
		{"count not a number", "scopegate {\n cache_size lots\n}", "cache_size: must be a positive whole number"},
		{"argument on the option itself", "scopegate foo {\n}", "wrong argument count"},
		{"unknown sessions option", "scopegate {\n sessions {\n colour red\n }\n}", `unknown sessions option "colour"`},
		{"sessions bad duration", "scopegate {\n sessions {\n lifetime forever\n }\n}", "lifetime: invalid duration"},
		{"sessions argument", "scopegate {\n sessions 5m {\n }\n}", "wrong argument count"},
		{"unknown passwords option", "scopegate {\n passwords {\n pepper x\n }\n}", `unknown passwords option "pepper"`},
		{"passwords zero", "scopegate {\n passwords {\n min_length 0\n }\n}", "min_length: must be a positive whole number"},
		{"unknown refresh_tokens option", "scopegate {\n refresh_tokens {\n reuse yes\n }\n}", `unknown refresh_tokens option "reuse"`},
		{"refresh_tokens bad duration", "scopegate {\n refresh_tokens {\n ttl forever\n }\n}", "ttl: invalid duration"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			var a App
			err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("error %q does not name file and line", err)
			}
		})
	}
}

func TestAppValidateConfig(t *testing.T) {
	base := func() App {
		return App{Issuer: "https://auth.example.com", CacheSize: 1, MaxClients: 1, MaxScopes: 1,
			AccessTokenTTL: caddy.Duration(time.Minute), MaxAccessTokenTTL: caddy.Duration(time.Hour),
			SigningAlg: "ES256", Leeway: caddy.Duration(30 * time.Second)}
	}
	cases := []struct {
		name    string
		change  func(*App)
		wantErr string
	}{
		{"valid", func(*App) {}, ""},
		{"no issuer", func(a *App) { a.Issuer = "" }, "issuer is required"},
		{"relative issuer", func(a *App) { a.Issuer = "/auth" }, "absolute http(s) URL"},
		{"issuer with query", func(a *App) { a.Issuer = "https://a.example?x=1" }, "absolute http(s) URL"},
		{"issuer with fragment", func(a *App) { a.Issuer = "https://a.example#x" }, "absolute http(s) URL"},
		{"issuer with user", func(a *App) { a.Issuer = "https://u:p@a.example" }, "absolute http(s) URL"},
		{"issuer not http", func(a *App) { a.Issuer = "ftp://a.example" }, "absolute http(s) URL"},
		{"ttl above max", func(a *App) { a.AccessTokenTTL = caddy.Duration(2 * time.Hour) }, "exceeds max_access_token_ttl"},
		{"negative cache", func(a *App) { a.CacheSize = -1 }, "cache_size"},
		{"symmetric algorithm", func(a *App) { a.SigningAlg = "HS256" }, "signing_alg"},
		{"none algorithm", func(a *App) { a.SigningAlg = "none" }, "signing_alg"},
		{"rotation shorter than tokens live", func(a *App) { d := caddy.Duration(time.Minute); a.KeyRotation = &d }, "key_rotation"},
		{"huge leeway", func(a *App) { a.Leeway = caddy.Duration(time.Hour) }, "leeway"},
		{"negative max_users", func(a *App) { a.MaxUsers = -1 }, "max_users"},
		{"idle timeout above lifetime", func(a *App) {
			a.Sessions = &SessionOptions{IdleTimeout: caddy.Duration(2 * time.Hour), Lifetime: caddy.Duration(time.Hour)}
		}, "sessions: session: lifetime"},
		{"persistent lifetime past what browsers keep", func(a *App) {
			a.Sessions = &SessionOptions{PersistentLifetime: caddy.Duration(500 * 24 * time.Hour)}
		}, "sessions: session: persistent lifetime"},
		{"argon2 memory beyond bounds", func(a *App) { a.Passwords = &password.Options{MemoryKiB: 1 << 30} }, "passwords:"},
		{"argon2 lanes beyond a byte", func(a *App) { a.Passwords = &password.Options{Parallelism: 300} }, "passwords: parallelism"},
		{"refresh max_ttl beyond 90 days", func(a *App) {
			a.RefreshTokens = &authserver.RefreshOptions{MaxTTL: registry.Duration(91 * 24 * time.Hour)}
		}, "refresh_tokens: max_ttl"},
		{"refresh ttl above max_ttl", func(a *App) {
			a.RefreshTokens = &authserver.RefreshOptions{TTL: registry.Duration(60 * 24 * time.Hour), MaxTTL: registry.Duration(30 * 24 * time.Hour)}
		}, "refresh_tokens: ttl"},
		{"refresh grace beyond a minute", func(a *App) {
			grace := registry.Duration(2 * time.Minute)
			a.RefreshTokens = &authserver.RefreshOptions{Grace: &grace}
		}, "refresh_tokens: grace"},
		{"refresh max_ttl alone lowers the default ttl", func(a *App) {
			a.RefreshTokens = &authserver.RefreshOptions{MaxTTL: registry.Duration(7 * 24 * time.Hour)}
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			tc.change(&a)
			err := a.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestIssuerUnmarshalCaddyfile(t *testing.T) {
	var iss Issuer
	err := iss.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`scopegate_issuer {
		token_path      /t
		revoke_path     /r
		introspect_path /i
		jwks_path       /k
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if iss.Token != "/t" || iss.Revocation != "/r" || iss.Introspection != "/i" || iss.JWKS != "/k" {
		t.Fatalf("got %+v", iss)
	}
	for name, input := range map[string]string{
		"unknown signin option": "scopegate_issuer {\n signin {\n colour red\n }\n}",
		"return_paths empty":    "scopegate_issuer {\n signin {\n return_paths\n }\n}",
		"signin argument":       "scopegate_issuer {\n signin /login\n}",
		"description no words":  "scopegate_issuer {\n signin {\n scope_description orders:read\n }\n}",
		"description twice":     "scopegate_issuer {\n signin {\n scope_description a one\n scope_description a two\n }\n}",
		"account_path two":      "scopegate_issuer {\n signin {\n account_path /a /b\n }\n}",
		"unknown option":        "scopegate_issuer {\n colour red\n}",
		"relative path":         "scopegate_issuer {\n token_path token\n}",
		"missing argument":      "scopegate_issuer {\n jwks_path\n}",
		"inline argument":       "scopegate_issuer /x",
	} {
		t.Run(name, func(t *testing.T) {
			var iss Issuer
			if err := iss.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err == nil || !strings.Contains(err.Error(), "Testfile:") {
				t.Fatalf("got %v, want an error with file and line", err)
			}
		})
	}
}

func TestGuardUnmarshalCaddyfile(t *testing.T) {
	var g Guard
	err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`scopegate_guard orders:read {
		scopes   extra
		mode     any
		method   POST PUT scopes orders:write
		method   DELETE scopes orders:admin orders:write
		method   except GET HEAD OPTIONS scopes orders:any-write
		audience https://api.example.com/orders
		resource https://api.example.com/orders/v2
		clients  a b
		clients  c
		strip_authorization
		realm    orders
	}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(g)
	want := `{"scopes":["orders:read","extra"],"mode":"any","method_scopes":[{"methods":["POST","PUT"],"scopes":["orders:write"]},` +
		`{"methods":["DELETE"],"scopes":["orders:admin","orders:write"]},` +
		`{"except_methods":["GET","HEAD","OPTIONS"],"scopes":["orders:any-write"]}],"audience":"https://api.example.com/orders",` +
		`"resource":"https://api.example.com/orders/v2","clients":["a","b","c"],"strip_authorization":true,"realm":"orders"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for name, input := range map[string]string{
		"unknown option":         "scopegate_guard {\n colour red\n}",
		"bad mode":               "scopegate_guard {\n mode some\n}",
		"method without scopes":  "scopegate_guard {\n method POST\n}",
		"method scopes but none": "scopegate_guard {\n method POST scopes\n}",
		"scopes without methods": "scopegate_guard {\n method scopes a\n}",
		"except without methods": "scopegate_guard {\n method except scopes a\n}",
		"except, no scopes":      "scopegate_guard {\n method except GET\n}",
		"empty scopes":           "scopegate_guard {\n scopes\n}",
		"strip with argument":    "scopegate_guard {\n strip_authorization yes\n}",
	} {
		t.Run(name, func(t *testing.T) {
			var g Guard
			if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err == nil || !strings.Contains(err.Error(), "Testfile:") {
				t.Fatalf("got %v, want an error with file and line", err)
			}
		})
	}
}

func TestScopeImpliesOption(t *testing.T) {
	var a App
	if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("scopegate {\n scope_implies full *\n scope_implies read:full read:*\n}")); err != nil {
		t.Fatal(err)
	}
	if len(a.ScopeImplies) != 2 || a.ScopeImplies[1] != (scope.Rule{Grant: "read:full", Implies: "read:*"}) {
		t.Fatalf("got %+v", a.ScopeImplies)
	}
	if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("scopegate {\n scope_implies full\n}")); err == nil {
		t.Fatal("one argument accepted")
	}
}

func TestSignInPageOptions(t *testing.T) {
	var iss Issuer
	err := iss.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`scopegate_issuer {
		signin {
			account_path      /me
			consent_template  /etc/scopegate/consent.html
			scope_description orders:read  See your orders
			scope_description orders:write "Place and cancel   orders"
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	p := iss.SignIn
	want := map[string]string{"orders:read": "See your orders", "orders:write": "Place and cancel   orders"}
	if p.AccountPath != "/me" || p.ConsentTemplateFile != "/etc/scopegate/consent.html" || !maps.Equal(p.ScopeDescriptions, want) {
		t.Fatalf("got %+v", p.Options)
	}
}

func TestIssuerRegistrationCaddyfile(t *testing.T) {
	var iss Issuer
	err := iss.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`scopegate_issuer {
		registration {
			path                /apps
			allowed_scopes      notes:read mcp:*
			allowed_scopes      files:read
			audience            https://mcp.example/mcp
			allow_confidential
			private_use_schemes
			per_source          3
			window              10m
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	r := iss.Registration
	if r == nil || r.Path != "/apps" || strings.Join(r.AllowedScopes, " ") != "notes:read mcp:* files:read" ||
		strings.Join(r.Audience, " ") != "https://mcp.example/mcp" || !r.AllowConfidential || !r.PrivateUseSchemes ||
		r.PerSource != 3 || time.Duration(r.Window) != 10*time.Minute {
		t.Fatalf("got %+v", r)
	}
	var off Issuer
	if err := off.UnmarshalCaddyfile(caddyfile.NewTestDispenser("scopegate_issuer")); err != nil || off.Registration != nil {
		t.Fatalf("without a block: %+v, %v; want registration off", off.Registration, err)
	}
	for name, input := range map[string]string{
		"unknown registration option": "scopegate_issuer {\n registration {\n colour red\n }\n}",
		"registration argument":       "scopegate_issuer {\n registration on\n}",
		"per_source zero":             "scopegate_issuer {\n registration {\n per_source 0\n }\n}",
		"bad window":                  "scopegate_issuer {\n registration {\n window soon\n }\n}",
	} {
		t.Run(name, func(t *testing.T) {
			var iss Issuer
			if err := iss.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err == nil || !strings.Contains(err.Error(), "Testfile:") {
				t.Fatalf("got %v, want an error with file and line", err)
			}
		})
	}
}

func TestIssuerSelfServiceCaddyfile(t *testing.T) {
	var iss Issuer
	err := iss.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`scopegate_issuer {
		self_service {
			path   /account/me
			fields name email
			fields username
		}
	}`))
	if err != nil || iss.SelfService.Path != "/account/me" || strings.Join(iss.SelfService.Fields, " ") != "name email username" {
		t.Fatalf("got %+v, %v", iss.SelfService, err)
	}
	for name, input := range map[string]string{
		"unknown self_service option": "scopegate_issuer {\n self_service {\n roles admin\n }\n}",
		"self_service argument":       "scopegate_issuer {\n self_service on\n}",
		"fields without a field":      "scopegate_issuer {\n self_service {\n fields\n }\n}",
	} {
		t.Run(name, func(t *testing.T) {
			var iss Issuer
			if err := iss.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err == nil || !strings.Contains(err.Error(), "Testfile:") {
				t.Fatalf("got %v, want an error with file and line", err)
			}
		})
	}
}
