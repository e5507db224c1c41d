package module

import (
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/internal/caddyopt"
	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/registration"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage/caddystore"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("scopegate", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("scopegate_issuer", parseIssuer)
	// After basic_auth and before handle, route, respond and reverse_proxy, so
	// a plain site block works without a route block.
	httpcaddyfile.RegisterDirectiveOrder("scopegate_issuer", httpcaddyfile.After, "basic_auth")
	httpcaddyfile.RegisterHandlerDirective("scopegate_guard", parseGuard)
	httpcaddyfile.RegisterDirectiveOrder("scopegate_guard", httpcaddyfile.Before, "forward_auth")
	httpcaddyfile.RegisterHandlerDirective("scopegate_admin", parseRemoteAdmin)
	httpcaddyfile.RegisterDirectiveOrder("scopegate_admin", httpcaddyfile.Before, "respond")
}

// parseRemoteAdmin sets up the remote admin API from its directive.
func parseRemoteAdmin(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	ra := new(RemoteAdmin)
	err := ra.UnmarshalCaddyfile(h.Dispenser)
	return ra, err
}

// UnmarshalCaddyfile sets up remote admin from Caddyfile tokens. Syntax:
//
//	scopegate_admin {
//		resource <uri>
//	}
//
// The block is optional; resource defaults to the issuer followed by
// /scopegate/admin.
func (ra *RemoteAdmin) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	return caddyopt.Set{Texts: map[string]*string{"resource": &ra.Resource}}.ReadBlock(d, "scopegate_admin")
}

// parseGlobalOption turns the `scopegate` global option into the scopegate app.
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the scopegate global option may appear only once")
	}
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{
		Name:  "scopegate",
		Value: caddyconfig.JSON(app, nil),
	}, nil
}

// UnmarshalCaddyfile sets up the app from Caddyfile tokens. Syntax:
//
//	scopegate {
//		issuer                <url>
//		storage               <path>   # or: storage bolt|etcd { ... }, see storage/caddystore
//		cache_size            <records>
//		max_clients           <count>
//		max_scopes            <count>
//		access_token_ttl      <duration>
//		max_access_token_ttl  <duration>
//		signing_alg           ES256|RS256|EdDSA
//		signing_key_file      <PEM or JWK file>
//		id_token_key_file     <RSA PEM or JWK file>   # beside signing_key_file
//		key_rotation          <duration>   # 0: manual only
//		leeway                <duration>
//		verified_token_cache_size <tokens>
//		failed_login_limit    <count>
//		failed_login_window   <duration>
//		scope_implies         <grant> <pattern>   # repeatable
//		metrics_per_client
//		max_users             <count>
//		sessions {
//			idle_timeout        <duration>
//			lifetime            <duration>
//			persistent_lifetime <duration>
//			max_per_user        <count>
//		}
//		refresh_tokens { ttl <duration>  max_ttl <duration>  grace <duration> }
//		passwords {
//			memory_kib      <KiB>
//			iterations      <count>
//			parallelism     <lanes>
//			max_concurrent  <hashes>
//			min_length      <characters>
//		}
//	}
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option's name
	return caddyopt.Set{
		Texts: map[string]*string{
			"issuer": &a.Issuer, "signing_alg": &a.SigningAlg, "signing_key_file": &a.SigningKeyFile,
			"id_token_key_file": &a.IDTokenKeyFile,
		},
		Durations: map[string]*caddy.Duration{
			"access_token_ttl": &a.AccessTokenTTL, "max_access_token_ttl": &a.MaxAccessTokenTTL,
			"leeway": &a.Leeway, "failed_login_window": &a.FailedLoginWindow,
		},
		Counts: map[string]*int{
			"cache_size": &a.CacheSize, "max_clients": &a.MaxClients, "max_scopes": &a.MaxScopes,
			"verified_token_cache_size": &a.VerifiedTokenCacheSize, "failed_login_limit": &a.FailedLoginLimit,
			"max_users": &a.MaxUsers,
		},
		Flags: map[string]*bool{"metrics_per_client": &a.MetricsPerClient},
		Other: a.unmarshalOther,
	}.ReadBlock(d, "scopegate")
}

// unmarshalOther reads the app's options that are not of one simple kind.
func (a *App) unmarshalOther(d *caddyfile.Dispenser, option string) (bool, error) {
	var err error
	switch option {
	case "storage":
		a.StorageRaw, err = caddystore.UnmarshalCaddyfile(d)
	case "lock_timeout":
		err = d.Err("lock_timeout is an option of the bolt backend now: storage bolt <path> { lock_timeout <duration> }")
	case "key_rotation":
		a.KeyRotation = new(caddy.Duration)
		err = caddyopt.Duration(d, a.KeyRotation)
	case "sessions":
		o := new(SessionOptions)
		a.Sessions = o
		err = caddyopt.Set{
			Durations: map[string]*caddy.Duration{
				"idle_timeout": &o.IdleTimeout, "lifetime": &o.Lifetime, "persistent_lifetime": &o.PersistentLifetime,
			},
			Counts: map[string]*int{"max_per_user": &o.MaxPerUser},
		}.ReadBlock(d, "sessions")
	case "passwords":
		p := new(password.Options)
		a.Passwords = p
		err = caddyopt.Set{Counts: map[string]*int{
			"memory_kib": &p.MemoryKiB, "iterations": &p.Iterations, "parallelism": &p.Parallelism,
			"max_concurrent": &p.MaxConcurrent, "min_length": &p.MinLength,
		}}.ReadBlock(d, "passwords")
	case "refresh_tokens":
		r := authserver.NewRefreshOptions()
		a.RefreshTokens = r
		err = caddyopt.Set{Durations: map[string]*caddy.Duration{
			"ttl": (*caddy.Duration)(&r.TTL), "max_ttl": (*caddy.Duration)(&r.MaxTTL), "grace": (*caddy.Duration)(r.Grace),
		}}.ReadBlock(d, "refresh_tokens")
	case "scope_implies":
		var rule scope.Rule
		if !d.Args(&rule.Grant, &rule.Implies) || d.NextArg() {
			err = d.ArgErr()
		}
		a.ScopeImplies = append(a.ScopeImplies, rule)
	default:
		return false, nil
	}
	return true, err
}

// parseIssuer sets up the issuer handler from its directive.
func parseIssuer(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	iss := new(Issuer)
	err := iss.UnmarshalCaddyfile(h.Dispenser)
	return iss, err
}

// UnmarshalCaddyfile sets up the issuer from Caddyfile tokens. Syntax:
//
//	scopegate_issuer {
//		token_path       <path>
//		revoke_path      <path>
//		introspect_path  <path>
//		jwks_path        <path>
//		authorize_path   <path>
//		userinfo_path    <path>
//		end_session_path <path>
//		password_grant   # the legacy password grant, for trusted apps only
//		signin {
//			path                 <path>
//			signout_path         <path>
//			product_name         <text>
//			template             <html/template file>
//			return_paths         <path...>
//			cookie_name          <name>
//			tls_in_front
//			failed_per_source    <count>
//			failed_per_username  <count>
//			failed_window        <duration>
//			account_path         <path>
//			consent_template     <html/template file>
//			scope_description    <scope> <words...>   # repeatable; the rest of the line
//		}
//		registration { path allowed_scopes audience allow_confidential private_use_schemes per_source window }
//		self_service { path <path>; fields <field...> }   # login_client apps: a person's own record
//	}
//
// The block is optional. The paths' defaults are authserver.EndpointPaths'
// and signin.Options'.
func (iss *Issuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	paths := map[string]*string{
		"token_path": &iss.Token, "revoke_path": &iss.Revocation,
		"introspect_path": &iss.Introspection, "jwks_path": &iss.JWKS, "authorize_path": &iss.Authorize,
		"userinfo_path": &iss.UserInfo, "end_session_path": &iss.EndSession,
	}
	flags := map[string]*bool{"password_grant": &iss.PasswordGrant}
	err := caddyopt.Set{Texts: paths, Flags: flags, Other: func(d *caddyfile.Dispenser, option string) (bool, error) {
		if option == "registration" {
			iss.Registration = new(registration.Options)
			return true, registrationOptions(iss.Registration).ReadBlock(d, "registration")
		}
		if option == "self_service" {
			return true, caddyopt.Set{Texts: map[string]*string{"path": &iss.SelfService.Path}, Lists: map[string]*[]string{"fields": &iss.SelfService.Fields}}.ReadBlock(d, "self_service")
		}
		if option != "signin" {
			return false, nil
		}
		iss.SignIn = new(SignInPage)
		return true, iss.SignIn.options().ReadBlock(d, "signin")
	}}.ReadBlock(d, "scopegate_issuer")
	for option, path := range paths {
		if err == nil && *path != "" && !strings.HasPrefix(*path, "/") {
			err = d.Errf("%s must start with /", option)
		}
	}
	return err
}

// options are the issuer's signin block's options.
func (p *SignInPage) options() caddyopt.Set {
	return caddyopt.Set{
		Texts: map[string]*string{
			"path": &p.Path, "signout_path": &p.SignOutPath, "product_name": &p.ProductName,
			"template": &p.TemplateFile, "cookie_name": &p.CookieName,
			"account_path": &p.AccountPath, "consent_template": &p.ConsentTemplateFile,
		},
		Durations: map[string]*caddy.Duration{"failed_window": &p.FailedWindow},
		Counts:    map[string]*int{"failed_per_source": &p.SourceLimit, "failed_per_username": &p.PairLimit},
		Flags:     map[string]*bool{"tls_in_front": &p.TLSInFront},
		Lists:     map[string]*[]string{"return_paths": &p.ReturnPaths},
		Words:     map[string]*map[string]string{"scope_description": &p.ScopeDescriptions},
	}
}

// registrationOptions are the issuer's registration block's options.
func registrationOptions(o *registration.Options) caddyopt.Set {
	return caddyopt.Set{
		Texts: map[string]*string{"path": &o.Path}, Counts: map[string]*int{"per_source": &o.PerSource},
		Durations: map[string]*caddy.Duration{"window": (*caddy.Duration)(&o.Window)},
		Flags:     map[string]*bool{"allow_confidential": &o.AllowConfidential, "private_use_schemes": &o.PrivateUseSchemes},
		Lists:     map[string]*[]string{"allowed_scopes": &o.AllowedScopes, "audience": &o.Audience},
	}
}

// parseGuard sets up the guard from its directive.
func parseGuard(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	g := new(Guard)
	err := g.UnmarshalCaddyfile(h.Dispenser)
	return g, err
}

// UnmarshalCaddyfile sets up the guard from Caddyfile tokens. Syntax:
//
//	scopegate_guard [<scope>...] {
//		scopes              <scope>...
//		mode                all|any
//		method              <METHOD>... scopes <scope>...
//		method       except <METHOD>... scopes <scope>...
//		audience            <resource URI>
//		resource            <resource URI>
//		clients             <client_id>...
//		strip_authorization
//		realm               <name>
//	}
//
// Scopes on the directive's line are the same as a scopes line. A method
// line covers the methods it names, or with except every method but those:
// `method except GET HEAD OPTIONS scopes orders:write` cannot forget one.
func (g *Guard) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	g.Scopes = append(g.Scopes, d.RemainingArgs()...)
	return caddyopt.Set{
		Texts: map[string]*string{"audience": &g.Audience, "resource": &g.Resource, "realm": &g.Realm},
		Lists: map[string]*[]string{"scopes": &g.Scopes, "clients": &g.Clients},
		Flags: map[string]*bool{"strip_authorization": &g.StripAuthorization},
		Other: g.unmarshalOther,
	}.ReadOptions(d, "scopegate_guard")
}

// unmarshalOther reads the guard's mode and method options.
func (g *Guard) unmarshalOther(d *caddyfile.Dispenser, option string) (bool, error) {
	switch option {
	case "mode":
		if err := caddyopt.Text(d, &g.Mode); err != nil {
			return true, err
		}
		if g.Mode != "all" && g.Mode != "any" {
			return true, d.Errf("mode must be all or any, not %q", g.Mode)
		}
	case "method":
		var ms MethodScopes
		args := d.RemainingArgs()
		except := len(args) > 0 && args[0] == "except"
		if except {
			args = args[1:]
		}
		split := slices.Index(args, "scopes")
		if split < 1 || split == len(args)-1 {
			return true, d.Err("method needs [except] one or more methods, then scopes and one or more scopes")
		}
		if except {
			ms.ExceptMethods = args[:split]
		} else {
			ms.Methods = args[:split]
		}
		ms.Scopes = args[split+1:]
		g.MethodScopes = append(g.MethodScopes, ms)
	default:
		return false, nil
	}
	return true, nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*Issuer)(nil)
	_ caddyfile.Unmarshaler = (*Guard)(nil)
	_ caddyfile.Unmarshaler = (*RemoteAdmin)(nil)
)
