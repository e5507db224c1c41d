package password

import (
	"errors"
	"strings"
	"testing"
)

func TestPolicyCheck(t *testing.T) {
	var p Policy
	for _, tc := range []struct {
		name    string
		pw      string
		related []string
		want    error
	}{
		{"good", "violet-harbour-92", nil, nil},
		{"eight characters", "xk3!mq9z", nil, nil},
		{"seven characters", "xk3!mq9", nil, ErrTooShort},
		{"empty", "", nil, ErrTooShort},
		{"eight bytes, four characters", "éééé", nil, ErrTooShort},
		{"eight characters in Greek", "αβγδεζηθ", nil, nil},
		{"1024 bytes", strings.Repeat("z", 1024), nil, nil},
		{"1025 bytes", strings.Repeat("z", 1025), nil, ErrTooLong},
		{"invalid UTF-8", "abcdefgh\xff", nil, ErrNotUTF8},
		{"common", "football", nil, ErrCommon},
		{"common in other case", "PassWord1", nil, ErrCommon},
		{"common digits", "12345678", nil, ErrCommon},
		{"common qwerty", "qwertyuiop", nil, ErrCommon},
		{"the username", "alice.smith", []string{"alice.smith", "a@example.com"}, ErrRelated},
		{"the username in other case", "Alice.Smith", []string{"alice.smith"}, ErrRelated},
		{"the email", "alice@example.com", []string{"alice", "alice@example.com"}, ErrRelated},
		{"empty related value", "violet-harbour-92", []string{""}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Check(tc.pw, tc.related...)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			if err != nil && len(tc.pw) > 0 && strings.Contains(err.Error(), tc.pw) {
				t.Fatalf("error %q repeats the password", err)
			}
		})
	}
}

func TestPolicyLimitsAreSettable(t *testing.T) {
	p := Policy{MinLength: 12, MaxLength: 16}
	if err := p.Check("violet-harb"); !errors.Is(err, ErrTooShort) || !strings.Contains(err.Error(), "12") {
		t.Fatalf("11 characters with MinLength 12: %v", err)
	}
	if err := p.Check("violet-harbour-929"); !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "16") {
		t.Fatalf("18 bytes with MaxLength 16: %v", err)
	}
}

func TestCommonListIsComplete(t *testing.T) {
	n := len(commonSet())
	if n < 9900 {
		t.Fatalf("common list holds %d passwords, want about 10,000", n)
	}
	for _, pw := range []string{"123456", "iloveyou", "trustno1", "letmein", "football"} {
		if !IsCommon(pw) || !IsCommon(strings.ToUpper(pw)) {
			t.Errorf("%q is not found as common", pw)
		}
	}
}
