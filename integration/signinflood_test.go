package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// signinFloodCaddyfile lets a flood of wrong passwords through the page's
// throttles, so that every attempt reaches the password hasher: what is
// tested is the hasher's bound, the last line of defence.
const signinFloodCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
		passwords {
			max_concurrent {{.MaxConcurrent}}
		}
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer {
		signin {
			failed_per_source   1000000
			failed_per_username 1000000
		}
	}
}
`

// A flood of wrong passwords from many connections at once cannot take the
// gateway's memory: at most max_concurrent argon2id computations (19 MiB
// each) run at once, a bounded queue waits, and the rest are told to come
// back (503 with Retry-After). Without the bound, 64 at once would take
// over 1 GiB.
func TestSignInFloodMemoryIsBounded(t *testing.T) {
	g := NewGateway(t, signinFloodCaddyfile)
	g.Vars["MaxConcurrent"] = 2
	g.Start()
	do(t, http.MethodPost, g.AdminURL("/scopegate/users"), map[string]any{"username": "dora", "password": "copper-kettle-6402"})

	resp, page := pageAt(t, g, http.MethodGet, nil)
	pre, token := cookieNamed(resp, "scopegate_csrf"), csrfField.FindStringSubmatch(page)
	if pre == nil || token == nil {
		t.Fatal("the page set no CSRF cookie or token")
	}
	attempt := func(password string) int {
		r, _ := pageAt(t, g, http.MethodPost, url.Values{"username": {"dora"}, "password": {password}, "csrf_token": {token[1]}}, pre)
		return r.StatusCode
	}
	if status := attempt("warming-up-the-hasher"); status != http.StatusOK {
		t.Fatalf("a wrong password: %d, want the form again (200)", status)
	}
	before := memory(t, g.PID())

	const workers, each = 64, 4
	var checked, busy atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				switch status := attempt(fmt.Sprintf("wrong-%d-%d", w, i)); status {
				case http.StatusOK:
					checked.Add(1)
				case http.StatusServiceUnavailable:
					busy.Add(1)
				default:
					t.Errorf("a wrong password in the flood: %d", status)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after := memory(t, g.PID())
	growth := after.Peak - before.Peak
	t.Logf("%d wrong passwords from %d connections in %v: %d checked (%.0f/s), %d told to retry; peak RSS %.0f → %.0f MB (+%.0f)",
		workers*each, workers, elapsed.Round(time.Millisecond), checked.Load(), float64(checked.Load())/elapsed.Seconds(),
		busy.Load(), before.Peak, after.Peak, growth)
	if checked.Load() == 0 {
		t.Fatal("no attempt was checked")
	}
	if growth > 300 {
		t.Fatalf("peak memory grew by %.0f MB under the flood, want under 300 (2 × 19 MiB computations and a bounded queue)", growth)
	}
	if status := attempt("copper-kettle-6402"); status != http.StatusSeeOther {
		t.Fatalf("the right password after the flood: %d, want 303", status)
	}
}
