package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/token"
)

const testTokenIssuer = "https://gateway.example.com"

// audiences returns n distinct audience URIs of about width characters.
func audiences(n, width int) string {
	list := make([]string, n)
	for i := range list {
		u := fmt.Sprintf("https://api.example.com/%03d/", i)
		list[i] = `"` + u + strings.Repeat("a", max(0, width-len(u))) + `"`
	}
	return "[" + strings.Join(list, ",") + "]"
}

// TestMetadataOverTokenLimitRefused: scope, audience and claims that are
// each within their own bounds can together make a token longer than the
// guard reads; such metadata is refused with the limit named, on create,
// replace and patch, and nothing is stored.
func TestMetadataOverTokenLimitRefused(t *testing.T) {
	tooBig := map[string]string{
		"audiences": `{"client_name":"big","audience":` + audiences(60, 100) + `}`,
		"all three": `{"client_name":"big","scope":"` + scopes(150) + `","audience":` + audiences(20, 100) + `,"claims":{"note":"` + strings.Repeat("x", 3000) + `"}}`,
	}
	for name, body := range tooBig {
		t.Run(name, func(t *testing.T) {
			r, store, _ := newTestRegistry(t, Limits{TokenIssuer: testTokenIssuer})
			small, _ := mustCreate(t, r, `{"client_name":"small"}`)
			before := store.snapshot(t)
			m, err := DecodeMetadata([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			checks := map[string]func() error{
				"create":  func() error { _, _, err := r.Create(ctx, m); return err },
				"replace": func() error { _, err := r.Replace(ctx, small.ClientID, m); return err },
				"patch":   func() error { _, err := r.Patch(ctx, small.ClientID, []byte(body)); return err },
			}
			for op, do := range checks {
				err := do()
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("%s: %v, want a *ValidationError", op, err)
				}
				if !strings.Contains(ve.Reason, "8192-byte limit") || ve.Field != "scope, audience and claims" {
					t.Errorf("%s: %q does not say why and what the limit is", op, err)
				}
			}
			if store.snapshot(t) != before {
				t.Error("a refused change was stored")
			}
		})
	}
}

// scopes returns n distinct scope tokens.
func scopes(n int) string {
	list := make([]string, n)
	for i := range list {
		list[i] = fmt.Sprintf("scope:%04d", i)
	}
	return strings.Join(list, " ")
}

// TestMetadataWithinTokenLimitAccepted: a large client whose worst-case
// token fits is accepted, and its worst case is within the limit.
func TestMetadataWithinTokenLimitAccepted(t *testing.T) {
	r, _, _ := newTestRegistry(t, Limits{TokenIssuer: testTokenIssuer})
	c, _ := mustCreate(t, r, `{"client_name":"large","scope":"`+scopes(100)+`","audience":`+audiences(10, 60)+`,"claims":{"note":"`+strings.Repeat("x", 1000)+`"}}`)
	n, err := token.WorstCaseLength(&token.Claims{
		Issuer: testTokenIssuer, Subject: c.ClientID, ClientID: c.ClientID,
		Audience: c.Audience, Scope: c.Scope, Extra: c.Claims,
	})
	if err != nil || n > token.MaxLength {
		t.Fatalf("accepted a client whose tokens may be %d bytes (%v)", n, err)
	}
}

// TestClaimsTheTokenWriterRefusesAreRefused: claims are checked by the
// strict JSON rule the token package applies, so a lone surrogate, which
// encoding/json lets through, is refused here rather than breaking every
// token request later.
func TestClaimsTheTokenWriterRefusesAreRefused(t *testing.T) {
	r, store, _ := newTestRegistry(t, Limits{})
	before := store.snapshot(t)
	for name, claims := range map[string]string{
		"lone surrogate":        `{"note":"\ud800"}`,
		"lone surrogate nested": `{"a":{"b":["\udfff"]}}`,
		"lone surrogate name":   `{"\ud800x":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			// The body's reader refuses it first; a Metadata made without
			// DecodeMetadata is refused when it is stored.
			_, decodeErr := DecodeMetadata([]byte(`{"client_name":"a","claims":` + claims + `}`))
			_, _, createErr := r.Create(context.Background(), Metadata{ClientName: "a", Claims: json.RawMessage(claims)})
			for _, err := range []error{decodeErr, createErr} {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != "claims" {
					t.Fatalf("got %v, want a claims *ValidationError", err)
				}
				if strings.Contains(err.Error(), `\ud`) {
					t.Errorf("the message %q repeats the value", err)
				}
			}
		})
	}
	if store.snapshot(t) != before {
		t.Error("a refused client was stored")
	}
}
