package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestScanNumber(t *testing.T) {
	valid := []string{"0", "-0", "1", "10", "1.5", "-1.25", "1e5", "1E+5", "1e-5", "0.0", "123456789012345678901234567890"}
	invalid := []string{"", "-", "01", "+1", "1.", ".5", "1e", "1e+", "Infinity", "NaN", "--1", "0x10"}
	for _, s := range valid {
		if end, err := ScanNumber([]byte(s), 0); err != nil || end != len(s) {
			t.Errorf("ScanNumber(%q) = %d, %v", s, end, err)
		}
	}
	for _, s := range invalid {
		// A prefix such as the 0 of 01 may be read; the whole input never.
		if end, err := ScanNumber([]byte(s), 0); err == nil && end == len(s) {
			t.Errorf("ScanNumber(%q) accepted the whole input", s)
		}
	}
}

func TestAppendString(t *testing.T) {
	inputs := []string{"", "plain", `q"b\s/`, "\n\r\t\b\f\x00\x1f", "é😀", "\u2028\u2029", "<script>&"}
	for _, in := range inputs {
		out := AppendString(nil, in)
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != in {
			t.Errorf("AppendString(%q) = %s; decodes to %q (%v)", in, out, back, err)
		}
		if strings.ContainsAny(string(out[1:len(out)-1]), "\n\r\x00") {
			t.Errorf("AppendString(%q) left a control character: %s", in, out)
		}
		if strings.Contains(string(out), "\u2028") {
			t.Errorf("AppendString(%q) left U+2028 raw", in)
		}
	}
}

func TestSkipValueDepth(t *testing.T) {
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := SkipValue([]byte(ok), 0); err != nil {
		t.Errorf("depth %d refused: %v", MaxDepth, err)
	}
	deep := strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	if _, err := SkipValue([]byte(deep), 0); err == nil {
		t.Errorf("depth %d accepted", MaxDepth+1)
	}
	// A million brackets end quickly, without deep recursion.
	if _, err := SkipValue([]byte(strings.Repeat("[", 1<<20)), 0); err == nil {
		t.Error("unterminated brackets accepted")
	}
}
