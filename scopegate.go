// Package scopegate registers Scopegate's Caddy modules. Build a Caddy with it
// compiled in by importing this package, or with
//
//	xcaddy build --with github.com/scopegate/scopegate
package scopegate

import (
	// The Caddy modules: the app, the HTTP handlers and the admin API routes.
	_ "github.com/scopegate/scopegate/module"
	// The `caddy scopegate` subcommands.
	_ "github.com/scopegate/scopegate/admin/cli"
)
