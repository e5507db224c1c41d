package token

import (
	"encoding/base64"
	"encoding/json"
	"strings"
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
		{"newline", "QU\nJD", false},
		{"non-canonical two chars", "QR", false},
		{"non-canonical three chars", "QUJ", false},
		{"dot", "QU.D", false},
		{"high byte", "QU\xffD", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]byte, len(tt.in))
			n, ok := decodeSegment(dst, tt.in)
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
			n, ok := decodeSegment(dst, enc)
			if !ok || string(dst[:n]) != string(src[:i]) {
				t.Errorf("length %d: %q, %v", i, dst[:n], ok)
			}
		}
	})
	t.Run("refuses a short destination", func(t *testing.T) {
		if _, ok := decodeSegment(make([]byte, 2), "QUJD"); ok {
			t.Error("decoded into a short buffer")
		}
	})
}

func TestScanNumber(t *testing.T) {
	valid := []string{"0", "-0", "1", "10", "1.5", "-1.25", "1e5", "1E+5", "1e-5", "0.0", "123456789012345678901234567890"}
	invalid := []string{"", "-", "01", "+1", "1.", ".5", "1e", "1e+", "Infinity", "NaN", "--1", "0x10"}
	for _, s := range valid {
		if end, err := scanNumber([]byte(s), 0); err != nil || end != len(s) {
			t.Errorf("scanNumber(%q) = %d, %v", s, end, err)
		}
	}
	for _, s := range invalid {
		// A prefix such as the 0 of 01 may be read; the whole input never.
		if end, err := scanNumber([]byte(s), 0); err == nil && end == len(s) {
			t.Errorf("scanNumber(%q) accepted the whole input", s)
		}
	}
}

func TestAppendString(t *testing.T) {
	inputs := []string{"", "plain", `q"b\s/`, "\n\r\t\b\f\x00\x1f", "é😀", "\u2028\u2029", "<script>&"}
	for _, in := range inputs {
		out := appendString(nil, in)
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != in {
			t.Errorf("appendString(%q) = %s; decodes to %q (%v)", in, out, back, err)
		}
		if strings.ContainsAny(string(out[1:len(out)-1]), "\n\r\x00") {
			t.Errorf("appendString(%q) left a control character: %s", in, out)
		}
		if strings.Contains(string(out), "\u2028") {
			t.Errorf("appendString(%q) left U+2028 raw", in)
		}
	}
}

func TestSkipValueDepth(t *testing.T) {
	ok := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	if _, err := skipValue([]byte(ok), 0, 0); err != nil {
		t.Errorf("depth %d refused: %v", maxJSONDepth, err)
	}
	deep := strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1)
	if _, err := skipValue([]byte(deep), 0, 0); err == nil {
		t.Errorf("depth %d accepted", maxJSONDepth+1)
	}
	// A million brackets end quickly, without deep recursion.
	if _, err := skipValue([]byte(strings.Repeat("[", 1<<20)), 0, 0); err == nil {
		t.Error("unterminated brackets accepted")
	}
}
