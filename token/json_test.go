package token

import (
	"encoding/base64"
	"testing"
)

func TestDecodeSegment(t *testing.T) {
	strict := base64.RawURLEncoding.Strict()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"empty", "", true},
		{"one byte", "QQ", true},
		{"two bytes", "QUI", true},
		{"three bytes", "QUJD", true},
		{"url alphabet", "-_-_", true},
		{"length 1 mod 4", "QUJDR", false},
		{"padding", "QQ==", false},
		{"standard alphabet plus", "+/+/", false},
		{"non-canonical two chars", "QR", false},
		{"non-canonical three chars", "QUJ", false},
		{"dot", "QU.D", false},
		{"high byte", "QU\xffD", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]byte, len(tt.in))
			n, ok := decodeSegment(dst, []byte(tt.in))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			want, err := strict.DecodeString(tt.in)
			if ok {
				if err != nil || string(dst[:n]) != string(want) {
					t.Errorf("decoded %q, stdlib %q (%v)", dst[:n], want, err)
				}
			}
		})
	}
	t.Run("agrees with the standard library on every length", func(t *testing.T) {
		src := []byte("\x00\xff\x10scopegate\xfe\x80")
		for i := range len(src) {
			enc := base64.RawURLEncoding.EncodeToString(src[:i])
			dst := make([]byte, i)
			n, ok := decodeSegment(dst, []byte(enc))
			if !ok || string(dst[:n]) != string(src[:i]) {
				t.Errorf("length %d: %q, %v", i, dst[:n], ok)
			}
		}
	})
	t.Run("refuses a short destination", func(t *testing.T) {
		if _, ok := decodeSegment(make([]byte, 2), []byte("QUJD")); ok {
			t.Error("decoded into a short buffer")
		}
	})
}
