package authserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/token"
)

// writeKeyFile writes priv as a PKCS #8 PEM file in dir.
func writeKeyFile(t *testing.T, dir, name string, priv any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReadKeyFileWithAnIDTokenKey: beside an ES256 signing_key_file the
// operator may give an RSA id_token_key_file, which then signs RS256 ID
// tokens only; without it the file key stands alone. Misplaced or unfit
// files are refused with the option named.
func TestReadKeyFileWithAnIDTokenKey(t *testing.T) {
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecFile, rsFile := writeKeyFile(t, dir, "signing.pem", ec), writeKeyFile(t, dir, "id-token.pem", rs)
	now := time.Now()

	alone, err := ReadKeyFile(ecFile, "", token.AlgES256, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := alone.IDTokenAlgorithms(); !slices.Equal(got, []string{token.AlgES256}) {
		t.Errorf("a file key alone: ID token algorithms %v", got)
	}

	both, err := ReadKeyFile(ecFile, rsFile, token.AlgES256, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := both.IDTokenAlgorithms(); !slices.Equal(got, []string{token.AlgES256, token.AlgRS256}) {
		t.Errorf("with an ID-token key file: ID token algorithms %v", got)
	}
	uses := map[string]string{}
	for _, k := range both.KeySet().Keys() {
		uses[k.Algorithm+" "+k.Status] = k.Use
	}
	if uses["ES256 active"] != token.UseAll || uses["RS256 active"] != token.UseIDToken || len(uses) != 2 {
		t.Errorf("keys %+v", both.KeySet().Keys())
	}
	for _, k := range both.KeySet().Keys() {
		want := "signing_key_file"
		if k.Use == token.UseIDToken {
			want = "id_token_key_file"
		}
		if err := both.Retire(context.Background(), k.KeyID); err == nil || !strings.Contains(err.Error(), "comes from "+want) {
			t.Errorf("retiring the %s key: %v, want a conflict naming %s", k.Use, err, want)
		}
	}

	for name, tc := range map[string]struct {
		signing, idToken, alg, want string
	}{
		"without signing_key_file":    {"", rsFile, token.AlgES256, "id_token_key_file needs signing_key_file"},
		"beside an RS256 signing key": {rsFile, rsFile, token.AlgRS256, "id_token_key_file is not used with signing_alg RS256"},
		"an EC key":                   {ecFile, ecFile, token.AlgES256, "id_token_key_file " + ecFile},
		"missing":                     {ecFile, filepath.Join(dir, "nope.pem"), token.AlgES256, "reading id_token_key_file"},
	} {
		if _, err := ReadKeyFile(tc.signing, tc.idToken, tc.alg, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, tc.want)
		}
	}
}
