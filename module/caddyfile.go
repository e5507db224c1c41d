package module

import (
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

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
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch option := d.Val(); option {
		case "resource":
			if err := oneArg(d, &ra.Resource); err != nil {
				return err
			}
		default:
			return d.Errf("unknown scopegate_admin option %q", option)
		}
	}
	return nil
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
	if d.NextArg() {
		return d.ArgErr()
	}
	// Options of one argument, by kind; the rest are handled below.
	simple := optionSet{
		texts: map[string]*string{
			"issuer": &a.Issuer, "signing_alg": &a.SigningAlg, "signing_key_file": &a.SigningKeyFile,
		},
		durations: map[string]*caddy.Duration{
			"access_token_ttl": &a.AccessTokenTTL, "max_access_token_ttl": &a.MaxAccessTokenTTL,
			"leeway": &a.Leeway, "failed_login_window": &a.FailedLoginWindow,
		},
		counts: map[string]*int{
			"cache_size": &a.CacheSize, "max_clients": &a.MaxClients, "max_scopes": &a.MaxScopes,
			"verified_token_cache_size": &a.VerifiedTokenCacheSize, "failed_login_limit": &a.FailedLoginLimit,
			"max_users": &a.MaxUsers,
		},
		flags: map[string]*bool{"metrics_per_client": &a.MetricsPerClient},
	}
	for d.NextBlock(0) {
		option := d.Val()
		if ok, err := simple.read(d, option); ok || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		var err error
		switch {
		case option == "storage":
			a.StorageRaw, err = caddystore.UnmarshalCaddyfile(d)
		case option == "lock_timeout":
			return d.Err("lock_timeout is an option of the bolt backend now: storage bolt <path> { lock_timeout <duration> }")
		case option == "key_rotation":
			a.KeyRotation = new(caddy.Duration)
			err = durationArg(d, a.KeyRotation)
		case option == "sessions":
			a.Sessions = new(SessionOptions)
			err = a.Sessions.options().readBlock(d, "sessions")
		case option == "passwords":
			a.Passwords = new(PasswordOptions)
			err = a.Passwords.options().readBlock(d, "passwords")
		case option == "scope_implies":
			var rule ScopeRule
			if !d.Args(&rule.Grant, &rule.Implies) || d.NextArg() {
				return d.ArgErr()
			}
			a.ScopeImplies = append(a.ScopeImplies, rule)
		default:
			return d.Errf("unknown scopegate option %q", option)
		}
		if err != nil {
			return err
		}
	}
	return nil
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
//		}
//	}
//
// The block is optional; the paths default to /oauth2/token, /oauth2/revoke,
// /oauth2/introspect and /.well-known/jwks.json, and the sign-in page's to
// /signin and /signout.
func (iss *Issuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if d.NextArg() {
		return d.ArgErr()
	}
	paths := map[string]*string{
		"token_path": &iss.TokenPath, "revoke_path": &iss.RevokePath,
		"introspect_path": &iss.IntrospectPath, "jwks_path": &iss.JWKSPath,
	}
	for d.NextBlock(0) {
		option := d.Val()
		if option == "signin" {
			iss.SignIn = new(SignInPage)
			if err := iss.SignIn.unmarshalCaddyfile(d); err != nil {
				return err
			}
			continue
		}
		dst := paths[option]
		if dst == nil {
			return d.Errf("unknown scopegate_issuer option %q", option)
		}
		if err := oneArg(d, dst); err != nil {
			return err
		}
		if !strings.HasPrefix(*dst, "/") {
			return d.Errf("%s must start with /", option)
		}
	}
	return nil
}

// unmarshalCaddyfile reads the issuer's signin block.
func (p *SignInPage) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	opts := optionSet{
		texts: map[string]*string{
			"path": &p.Path, "signout_path": &p.SignOutPath, "product_name": &p.ProductName,
			"template": &p.TemplateFile, "cookie_name": &p.CookieName,
		},
		durations: map[string]*caddy.Duration{"failed_window": &p.FailedWindow},
		counts:    map[string]*int{"failed_per_source": &p.FailedPerSource, "failed_per_username": &p.FailedPerUsername},
		flags:     map[string]*bool{"tls_in_front": &p.TLSInFront},
		lists:     map[string]*[]string{"return_paths": &p.ReturnPaths},
	}
	return opts.readBlock(d, "signin")
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
	for d.NextBlock(0) {
		option := d.Val()
		switch option {
		case "scopes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			g.Scopes = append(g.Scopes, args...)
		case "mode":
			if err := oneArg(d, &g.Mode); err != nil {
				return err
			}
			if g.Mode != "all" && g.Mode != "any" {
				return d.Errf("mode must be all or any, not %q", g.Mode)
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
				return d.Err("method needs [except] one or more methods, then scopes and one or more scopes")
			}
			if except {
				ms.ExceptMethods = args[:split]
			} else {
				ms.Methods = args[:split]
			}
			ms.Scopes = args[split+1:]
			g.MethodScopes = append(g.MethodScopes, ms)
		case "audience":
			if err := oneArg(d, &g.Audience); err != nil {
				return err
			}
		case "resource":
			if err := oneArg(d, &g.Resource); err != nil {
				return err
			}
		case "clients":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			g.Clients = append(g.Clients, args...)
		case "strip_authorization":
			if d.NextArg() {
				return d.ArgErr()
			}
			g.StripAuthorization = true
		case "realm":
			if err := oneArg(d, &g.Realm); err != nil {
				return err
			}
		default:
			return d.Errf("unknown scopegate_guard option %q", option)
		}
	}
	return nil
}

// oneArg reads the single argument of the current option.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// durationArg reads one duration argument in Caddy's syntax (`15m`, `1d`).
func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	option := d.Val()
	var raw string
	if err := oneArg(d, &raw); err != nil {
		return err
	}
	v, err := caddy.ParseDuration(raw)
	if err != nil {
		return d.Errf("%s: invalid duration %q: %v", option, raw, err)
	}
	*dst = caddy.Duration(v)
	return nil
}

// countArg reads one positive integer argument.
func countArg(d *caddyfile.Dispenser, dst *int) error {
	option := d.Val()
	var raw string
	if err := oneArg(d, &raw); err != nil {
		return err
	}
	v, err := strconv.Atoi(raw)
	if err != nil || v < 1 {
		return d.Errf("%s: must be a positive whole number, not %q", option, raw)
	}
	*dst = v
	return nil
}

// optionSet names a block's options of simple kinds, so that each block's
// parser lists its options rather than repeating how each kind is read.
type optionSet struct {
	texts     map[string]*string
	durations map[string]*caddy.Duration
	counts    map[string]*int
	flags     map[string]*bool
	lists     map[string]*[]string
}

// read reads the arguments of option when the set has it.
func (o optionSet) read(d *caddyfile.Dispenser, option string) (bool, error) {
	switch {
	case o.texts[option] != nil:
		return true, oneArg(d, o.texts[option])
	case o.durations[option] != nil:
		return true, durationArg(d, o.durations[option])
	case o.counts[option] != nil:
		return true, countArg(d, o.counts[option])
	case o.flags[option] != nil:
		*o.flags[option] = true
		if d.NextArg() {
			return true, d.ArgErr()
		}
		return true, nil
	case o.lists[option] != nil:
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		*o.lists[option] = append(*o.lists[option], args...)
		return true, nil
	}
	return false, nil
}

// readBlock reads a block that holds only options of the set; what names
// the block in errors.
func (o optionSet) readBlock(d *caddyfile.Dispenser, what string) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		ok, err := o.read(d, d.Val())
		if err != nil {
			return err
		}
		if !ok {
			return d.Errf("unknown %s option %q", what, d.Val())
		}
	}
	return nil
}

// options are the sessions block's options.
func (o *SessionOptions) options() optionSet {
	return optionSet{
		durations: map[string]*caddy.Duration{
			"idle_timeout": &o.IdleTimeout, "lifetime": &o.Lifetime, "persistent_lifetime": &o.PersistentLifetime,
		},
		counts: map[string]*int{"max_per_user": &o.MaxPerUser},
	}
}

// options are the passwords block's options.
func (p *PasswordOptions) options() optionSet {
	return optionSet{counts: map[string]*int{
		"memory_kib": &p.MemoryKiB, "iterations": &p.Iterations, "parallelism": &p.Parallelism,
		"max_concurrent": &p.MaxConcurrent, "min_length": &p.MinLength,
	}}
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*Issuer)(nil)
	_ caddyfile.Unmarshaler = (*Guard)(nil)
	_ caddyfile.Unmarshaler = (*RemoteAdmin)(nil)
)
