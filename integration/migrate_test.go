package integration

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// soloCaddyfile is one gateway on a bolt file, with the cluster gateways'
// issuer and routes: what a deployment looks like before it moves to etcd.
const soloCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer http://scopegate.cluster.test
		storage {{.Dir}}/scopegate.db
	}
}
http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	handle /api/* {
		scopegate_guard read
		respond "upstream reached" 200
	}
	respond "no such route" 404
}
`

// TestStoreMigrate moves a single gateway's bolt file into etcd with
// `caddy scopegate store migrate` and checks that nothing the apps hold
// breaks: the same client IDs and secrets get tokens from the cluster, a
// token issued before the move passes its guard (the signing keys moved,
// sealed), a token revoked before the move stays refused, and a second
// run changes nothing.
func TestStoreMigrate(t *testing.T) {
	t.Parallel()
	solo := &clusterGateway{Gateway: StartGateway(t, soloCaddyfile), id: "solo"}
	kept := solo.mustCreate(t, "kept")
	other := solo.mustCreate(t, "other")
	live := solo.mustToken(t, kept)
	revoked := solo.mustToken(t, kept)
	form := url.Values{"token": {revoked}}
	a := probe(http.MethodPost, solo.URL("/oauth2/revoke"), strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded",
		"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(kept.ClientID)+":"+url.QueryEscape(kept.ClientSecret))))
	if a.err != nil || a.status != http.StatusOK {
		t.Fatalf("revoking a token: %v", a)
	}
	solo.Stop()
	boltFile := filepath.Join(solo.Dir, "scopegate.db")

	f := newClusterFixture(t, 1)
	gw := f.gws[0]
	// The migration names the destination by a config, as an operator
	// would: the gateway's own Caddyfile, straight to etcd (no link proxy).
	gw.Vars["EtcdProxy"] = f.etcd.members[0].clientAddr()
	config := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(config, []byte(gw.Caddyfile()), 0o600); err != nil {
		t.Fatal(err)
	}
	gw.Vars["EtcdProxy"] = gw.link.Addr()

	out := cliOK(t, nil, "store", "migrate", "--from", boltFile, "--config", config).Stdout
	// Four keys: the active and next ES256 keys, and the RS256 pair that signs ID tokens.
	for _, want := range []string{"clients       2 (0 already there", "signing keys  4 (0 already there)", "revocations   1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the first run's report lacks %q:\n%s", want, out)
		}
	}
	out = cliOK(t, nil, "store", "migrate", "--from", boltFile, "--config", config).Stdout
	if !strings.Contains(out, "clients       0 (2 already there") || !strings.Contains(out, "signing keys  0 (4 already there)") {
		t.Errorf("the second run changed something:\n%s", out)
	}

	f.start(gw)
	f.awaitHealth(gw, "ok", 20*time.Second)
	if a := gw.guard(live); a.err != nil || a.status != http.StatusOK {
		t.Errorf("a token issued before the move: %v, want 200", a)
	}
	if a := gw.guard(revoked); a.err != nil || a.status != http.StatusUnauthorized {
		t.Errorf("a token revoked before the move: %v, want 401", a)
	}
	for _, c := range []createdClient{kept, other} {
		if tok, a := gw.token(c); tok == "" {
			t.Errorf("client %s with its old secret: %v", c.ClientName, a)
		}
	}

	// The bolt file of a running gateway is locked: migrate says so.
	solo.Start()
	stderr := cliFails(t, nil, "store", "migrate", "--from", boltFile, "--config", config)
	if !strings.Contains(stderr, "is a gateway still running on it?") {
		t.Errorf("migrating from a file in use: %q", stderr)
	}
}
