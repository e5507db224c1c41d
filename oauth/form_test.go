package oauth

import (
	"errors"
	"io"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// TestParseFormMatchesParseQuery checks that parseForm reads every form as
// url.ParseQuery does: the same values, and an error exactly when it gives
// one.
func TestParseFormMatchesParseQuery(t *testing.T) {
	for _, body := range []string{
		"",
		"grant_type=client_credentials&scope=orders%3Aread+orders%3Awrite",
		"a=1&a=2&b=3&a=4",
		"resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example",
		"a&b=&=c&&d=%20",
		"a=1;b=2&c=3",
		"a=%zz&b=2",
		"a%=1",
		"a=%41%42%43&%61=x",
		"k=" + strings.Repeat("v", 100) + "&" + strings.Repeat("k=1&", 70),
		strings.Repeat("&", 10),
		"x=%E2%80%A8&y=+&z=%2B",
	} {
		t.Run(body, func(t *testing.T) {
			got, gotErr := parseForm(body)
			want, wantErr := url.ParseQuery(body)
			if (gotErr != nil) != (wantErr != nil) {
				t.Fatalf("error %v, url.ParseQuery's %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%v, url.ParseQuery gives %v", got, want)
			}
		})
	}
}

// TestParseFormValuesIndependent checks that the values of different
// parameters do not share room: appending to one leaves the next alone.
func TestParseFormValuesIndependent(t *testing.T) {
	form, err := parseForm("a=1&b=2&c=3")
	if err != nil {
		t.Fatal(err)
	}
	form["a"] = append(form["a"], "x")
	form["b"][0] = "changed"
	if got := form["c"]; len(got) != 1 || got[0] != "3" {
		t.Fatalf("c = %q after changing a and b", got)
	}
	if got := form["a"]; len(got) != 2 || got[0] != "1" || got[1] != "x" {
		t.Fatalf("a = %q", got)
	}
}

// TestReadBody checks readBody against io.ReadAll of a LimitReader, with
// declared lengths that are right, wrong or absent, and readers that return
// a byte at a time or data with the end.
func TestReadBody(t *testing.T) {
	body := strings.Repeat("0123456789", 100)
	for _, declared := range []int64{-1, 0, 10, 999, 1000, 1001, 5000} {
		for _, limit := range []int64{1, 500, 1000, 1001, 4096} {
			for name, wrap := range map[string]func(io.Reader) io.Reader{
				"plain":    func(r io.Reader) io.Reader { return r },
				"one byte": iotest.OneByteReader,
				"data EOF": iotest.DataErrReader,
			} {
				got, err := readBody(wrap(strings.NewReader(body)), declared, limit)
				if err != nil {
					t.Fatalf("declared %d, limit %d, %s: %v", declared, limit, name, err)
				}
				want, _ := io.ReadAll(io.LimitReader(strings.NewReader(body), limit))
				if string(got) != string(want) {
					t.Fatalf("declared %d, limit %d, %s: %d bytes, want %d", declared, limit, name, len(got), len(want))
				}
			}
		}
	}
	boom := errors.New("boom")
	if _, err := readBody(iotest.ErrReader(boom), 10, 100); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
}

// FuzzParseForm checks parseForm against url.ParseQuery on any body.
func FuzzParseForm(f *testing.F) {
	f.Add("grant_type=client_credentials&scope=orders%3Aread")
	f.Add("a=1&a=2;b&%zz=1&=&&c=%2")
	f.Fuzz(func(t *testing.T, body string) {
		got, gotErr := parseForm(body)
		want, wantErr := url.ParseQuery(body)
		if (gotErr != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("parseForm(%q) = %v, %v; url.ParseQuery: %v, %v", body, got, gotErr, want, wantErr)
		}
	})
}
