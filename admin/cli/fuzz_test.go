package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
)

// FuzzDecodeAPIError feeds error answers of any shape, as a broken or
// hostile server could send them: the message must stay one printable line
// of bounded length.
func FuzzDecodeAPIError(f *testing.F) {
	f.Add(404, []byte(`{"error":"not_found","error_description":"no client with this ID"}`))
	f.Add(403, []byte(`{"error":"host not allowed"}`))
	f.Add(500, []byte("line one\nline two\x1b[2J"))
	f.Add(400, []byte(`{"error_description":"a\u202Eb\r\nc"}`))
	f.Add(599, []byte{})
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeAPIError(status, body)
		msg := e.Error()
		if strings.ContainsFunc(msg, func(r rune) bool { return unicode.IsControl(r) || isBidiControl(r) }) {
			t.Fatalf("control character in %q", msg)
		}
		if n := len([]rune(e.Description)); n == 0 || n > 301 {
			t.Fatalf("description of %d runes: %q", n, e.Description)
		}
	})
}

// FuzzDecodeJWT feeds tokens of any shape to the --json decoder: it must
// return JSON objects or nothing, never panic.
func FuzzDecodeJWT(f *testing.F) {
	f.Add(b64(`{"alg":"ES256"}`) + "." + b64(`{"sub":"a"}`) + ".sig")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(b64(`{"a":1}`) + "." + b64(`{"b":[1,{"c":null}]}`) + ".")
	f.Fuzz(func(t *testing.T, tok string) {
		h, c := decodeJWT(tok)
		if (h == nil) != (c == nil) {
			t.Fatalf("header %q and claims %q: one without the other", h, c)
		}
		for _, part := range [][]byte{h, c} {
			if part == nil {
				continue
			}
			var obj map[string]any
			if !bytes.HasPrefix(bytes.TrimSpace(part), []byte("{")) || json.Unmarshal(part, &obj) != nil {
				t.Fatalf("not a JSON object: %q", part)
			}
		}
	})
}
