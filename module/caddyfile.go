package module

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("scopegate", parseGlobalOption)
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
//		storage               <path>
//		lock_timeout          <duration>
//		cache_size            <records>
//		max_clients           <count>
//		max_scopes            <count>
//		access_token_ttl      <duration>
//		max_access_token_ttl  <duration>
//	}
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option's name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		option := d.Val()
		switch option {
		case "issuer":
			if err := oneArg(d, &a.Issuer); err != nil {
				return err
			}
		case "storage":
			if err := oneArg(d, &a.Storage); err != nil {
				return err
			}
		case "lock_timeout":
			if err := durationArg(d, &a.LockTimeout); err != nil {
				return err
			}
		case "access_token_ttl":
			if err := durationArg(d, &a.AccessTokenTTL); err != nil {
				return err
			}
		case "max_access_token_ttl":
			if err := durationArg(d, &a.MaxAccessTokenTTL); err != nil {
				return err
			}
		case "cache_size":
			if err := countArg(d, &a.CacheSize); err != nil {
				return err
			}
		case "max_clients":
			if err := countArg(d, &a.MaxClients); err != nil {
				return err
			}
		case "max_scopes":
			if err := countArg(d, &a.MaxScopes); err != nil {
				return err
			}
		default:
			return d.Errf("unknown scopegate option %q", option)
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

// Interface guards
var _ caddyfile.Unmarshaler = (*App)(nil)
