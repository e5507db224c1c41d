package module

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/token"
)

// keyStatuses reads a key set answer as kid → status, for the operator's
// keys (use all).
func keyStatuses(t *testing.T, body string) map[string]string {
	return keyStatusesOfUse(t, body, token.UseAll)
}

// keyStatusesOfUse reads a key set answer as kid → status, for the keys of
// use.
func keyStatusesOfUse(t *testing.T, body, use string) map[string]string {
	t.Helper()
	var set struct {
		Keys []token.KeyInfo `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatalf("key set %s: %v", body, err)
	}
	out := map[string]string{}
	for _, k := range set.Keys {
		if k.Use == use {
			out[k.KeyID] = k.Status
		}
	}
	return out
}

// TestRevokeKeyThroughAdminAPI: POST /keys/{kid}/revoke on the admin
// endpoint retires the active key at once; the next key takes over and a new
// next key is published, so the gateway keeps signing; the revoked key's
// tokens are refused by the guard; an unknown kid is 404.
func TestRevokeKeyThroughAdminAPI(t *testing.T) {
	f := newFailStoreFixture(t)
	id, secret := newTestClient(t, f.app, "orders:read")
	before := f.app.server.KeySet()
	active, next := before.SigningKeyID(), ""
	for kid, status := range keyStatuses(t, f.adminDo("GET", "/keys", "").body) {
		if status == token.StatusNext {
			next = kid
		}
	}
	old := f.token(id, secret)

	ans := f.adminDo("POST", "/keys/"+active+"/revoke", "")
	if ans.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", ans.status, ans.body)
	}
	statuses := keyStatuses(t, ans.body)
	if statuses[active] != token.StatusRevoked || statuses[next] != token.StatusActive {
		t.Fatalf("after revoking the active key: %v (active was %s, next %s)", statuses, active, next)
	}
	newNext := 0
	for _, s := range statuses {
		if s == token.StatusNext {
			newNext++
		}
	}
	if newNext != 1 {
		t.Fatalf("after revoking the active key: %d next keys: %v", newNext, statuses)
	}
	if strings.Contains(string(f.app.server.KeySet().JWKS()), active) {
		t.Error("the revoked key is still published")
	}
	if status, reached := f.guarded(old); status != http.StatusUnauthorized || reached {
		t.Errorf("token of the revoked key: %d, reached %v", status, reached)
	}
	if status, reached := f.guarded(f.token(id, secret)); status != http.StatusOK || !reached {
		t.Errorf("token of the key that took over: %d", status)
	}

	ans = f.adminDo("POST", "/keys/nosuchkid/revoke", "")
	if ans.status != http.StatusNotFound || ans.errorCode() != "not_found" {
		t.Errorf("unknown kid: %d %s", ans.status, ans.body)
	}
	audit := f.logs.FilterMessage("admin change").FilterField(zap.String("action", "keys.revoke")).All()
	if len(audit) != 1 || audit[0].ContextMap()["kid"] != active {
		t.Errorf("audit: %+v", audit)
	}
}

// TestRevokeIDTokenKeyThroughAdminAPI: the RS256 key that signs ID tokens
// beside the operator's ES256 key is listed with its use, and revoked like
// any key: its next key takes over, it leaves the JWKS, and the operator's
// keys are untouched.
func TestRevokeIDTokenKeyThroughAdminAPI(t *testing.T) {
	f := newFailStoreFixture(t)
	list := f.adminDo("GET", "/keys", "").body
	operator := keyStatuses(t, list)
	active, next := "", ""
	for kid, status := range keyStatusesOfUse(t, list, token.UseIDToken) {
		switch status {
		case token.StatusActive:
			active = kid
		case token.StatusNext:
			next = kid
		}
	}
	if active == "" || next == "" || !strings.Contains(string(f.app.server.KeySet().JWKS()), active) {
		t.Fatalf("ID-token keys: %s", list)
	}
	ans := f.adminDo("POST", "/keys/"+active+"/revoke", "")
	if ans.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", ans.status, ans.body)
	}
	if got := keyStatusesOfUse(t, ans.body, token.UseIDToken); got[active] != token.StatusRevoked || got[next] != token.StatusActive || len(got) != 3 {
		t.Fatalf("ID-token keys after revoking the active one: %v", got)
	}
	if got := keyStatuses(t, ans.body); !maps.Equal(got, operator) {
		t.Errorf("the operator's keys changed: %v, were %v", got, operator)
	}
	if strings.Contains(string(f.app.server.KeySet().JWKS()), active) {
		t.Error("the revoked ID-token key is still published")
	}
}

// newKeyFileApp provisions and starts an app whose signing key is an
// operator's PEM file, and returns its admin API.
func newKeyFileApp(t *testing.T) (*App, http.Handler) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	a := &App{Issuer: "https://gw.example", StorageRaw: boltAt(filepath.Join(dir, "scopegate.db"), 0), SigningKeyFile: keyFile}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = a.Cleanup()
	})
	a.logger = zap.NewNop()
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	return a, http.StripPrefix(adminPathPrefix, a.admin)
}

// TestKeyFileChangesAreConflicts: with signing_key_file the key is the
// operator's. Rotating, or revoking the file's key (the only one that can
// sign), answers 409 conflict saying to replace the file and reload, where
// rotation used to be a 500; the key keeps signing. Another kid is 404.
func TestKeyFileChangesAreConflicts(t *testing.T) {
	a, api := newKeyFileApp(t)
	kid := a.server.KeySet().SigningKeyID()
	do := func(path string) (int, string, string) {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "http://localhost:2019"+adminPathPrefix+path, nil))
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return rec.Code, e.Error, e.Description
	}
	for _, path := range []string{"/keys/rotate", "/keys/" + kid + "/revoke"} {
		status, code, desc := do(path)
		if status != http.StatusConflict || code != "conflict" || !strings.Contains(desc, "replace the file") || !strings.Contains(desc, "reload") {
			t.Errorf("POST %s: %d %s %q", path, status, code, desc)
		}
	}
	if status, code, _ := do("/keys/nosuchkid/revoke"); status != http.StatusNotFound || code != "not_found" {
		t.Errorf("unknown kid: %d %s", status, code)
	}
	if a.server.KeySet().SigningKeyID() != kid {
		t.Error("the file key no longer signs")
	}
}
