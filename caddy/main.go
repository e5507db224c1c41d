// Command caddy is Caddy with Scopegate compiled in, for
// `go run ./caddy run --config Caddyfile.example`.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/scopegate/scopegate"
)

func main() {
	caddycmd.Main()
}
