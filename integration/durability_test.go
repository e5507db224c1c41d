package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// durabilityCaddyfile serves the token endpoint over a store that may hold
// many clients; failed logins are not throttled in the way of the checks,
// which try deleted clients' secrets on purpose.
const durabilityCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
		max_clients 100000
		failed_login_limit 100000
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	respond "not an OAuth endpoint" 404
}
`

// ackedClient is what the gateway acknowledged about one client: every
// write recorded here got a 2xx answer.
type ackedClient struct {
	id string
	// secrets are the secrets from the create and every acknowledged
	// rotation. Rotations keep the old secrets for an hour, so all of them
	// must authenticate.
	secrets []string
	// deleted: a delete got its 204.
	deleted bool
	// maybeDeleted: a delete was sent and no answer came back before the
	// kill; it may or may not have committed.
	maybeDeleted bool
}

// ledger records the acknowledged writes of all writers.
type ledger struct {
	mu      sync.Mutex
	clients map[string]*ackedClient
	acks    atomic.Int64
}

func (l *ledger) created(id, secret string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clients[id] = &ackedClient{id: id, secrets: []string{secret}}
	l.acks.Add(1)
}

func (l *ledger) update(id string, change func(*ackedClient)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	change(l.clients[id])
	l.acks.Add(1)
}

// adminWrite sends one admin API request without retrying: after the kill a
// retry could land on the restarted gateway and blur what was acknowledged.
func adminWrite(g *Gateway, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, g.AdminURL("/scopegate"+path), rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		// The status line came but the body did not: no acknowledgement.
		return 0, nil, err
	}
	return resp.StatusCode, raw, nil
}

// writeUntilKilled creates clients, rotates their secrets and deletes some,
// recording every acknowledged change, until a request gets no answer.
func writeUntilKilled(t *testing.T, g *Gateway, l *ledger, killing *atomic.Bool, round, writer int) {
	failed := func(what string, err error, status int, body []byte) {
		if err == nil {
			t.Errorf("writer %d: %s: %d %s", writer, what, status, body)
		} else if !killing.Load() {
			t.Errorf("writer %d: %s failed before the kill: %v", writer, what, err)
		}
	}
	for i := 0; ; i++ {
		status, body, err := adminWrite(g, http.MethodPost, "/clients", map[string]any{
			"client_name": fmt.Sprintf("r%d-w%d-%d", round, writer, i), "scope": "read",
		})
		if err != nil || status != http.StatusCreated {
			failed("create", err, status, body)
			return
		}
		var c createdClient
		if err := json.Unmarshal(body, &c); err != nil || c.ClientID == "" || c.ClientSecret == "" {
			t.Errorf("writer %d: create answered %s", writer, body)
			return
		}
		l.created(c.ClientID, c.ClientSecret)

		for range i % 3 {
			status, body, err := adminWrite(g, http.MethodPost, "/clients/"+c.ClientID+"/secrets", map[string]any{"grace_period": "1h"})
			if err != nil || status != http.StatusCreated {
				failed("rotate", err, status, body)
				return
			}
			var r struct {
				ClientSecret string `json:"client_secret"`
			}
			if err := json.Unmarshal(body, &r); err != nil || r.ClientSecret == "" {
				t.Errorf("writer %d: rotate answered %s", writer, body)
				return
			}
			l.update(c.ClientID, func(a *ackedClient) { a.secrets = append(a.secrets, r.ClientSecret) })
		}

		if i%4 == 3 {
			status, body, err := adminWrite(g, http.MethodDelete, "/clients/"+c.ClientID, nil)
			if err != nil {
				l.mu.Lock()
				l.clients[c.ClientID].maybeDeleted = true
				l.mu.Unlock()
			}
			if err != nil || status != http.StatusNoContent {
				failed("delete", err, status, body)
				return
			}
			l.update(c.ClientID, func(a *ackedClient) { a.deleted = true })
		}
	}
}

// checkLedger checks every acknowledged change against the running gateway.
func checkLedger(t *testing.T, g *Gateway, l *ledger) (live, deleted, unsure int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	for _, c := range l.clients {
		resp := do(t, http.MethodGet, g.AdminURL("/scopegate/clients/"+c.id), nil)
		switch {
		case c.maybeDeleted:
			unsure++
			if resp.Status != http.StatusOK && resp.Status != http.StatusNotFound {
				t.Errorf("client %s (delete unanswered): %d %s", c.id, resp.Status, resp.Body)
			}
		case c.deleted:
			deleted++
			if resp.Status != http.StatusNotFound {
				t.Errorf("client %s was deleted with a 204 and is back: %d %s", c.id, resp.Status, resp.Body)
			}
			postForm(t, g, "/oauth2/token", form, c.id, c.secrets[len(c.secrets)-1]).wantError(t, http.StatusUnauthorized, "invalid_client")
		default:
			live++
			if resp.Status != http.StatusOK {
				t.Errorf("client %s was created with a 201 and is gone: %d %s", c.id, resp.Status, resp.Body)
				continue
			}
			var got struct {
				Secrets []json.RawMessage `json:"secrets"`
			}
			resp.JSON(t, &got)
			if len(got.Secrets) < len(c.secrets) {
				t.Errorf("client %s has %d secrets, %d were acknowledged", c.id, len(got.Secrets), len(c.secrets))
			}
			for i, secret := range c.secrets {
				if ans := postForm(t, g, "/oauth2/token", form, c.id, secret); ans.Status != http.StatusOK {
					t.Errorf("client %s, acknowledged secret %d of %d: %d %s", c.id, i+1, len(c.secrets), ans.Status, ans.Raw)
				}
			}
		}
	}
	return live, deleted, unsure
}

// TestKillDuringAdminWrites kills the gateway with SIGKILL while 16 writers
// create clients, rotate their secrets and delete some through the admin
// API, three times over the same store. After each kill the file passes
// bbolt's consistency check, the gateway starts cleanly, and every change
// that got a 2xx is there: created clients exist unless their delete was
// acknowledged, deleted ones are gone, and every acknowledged secret
// authenticates at the token endpoint.
func TestKillDuringAdminWrites(t *testing.T) {
	// Not parallel: 16 writers keep the machine busy, and each round must
	// reach its share of acknowledged writes within 60 s.
	const writers = 16
	g := StartGateway(t, durabilityCaddyfile)
	storePath := filepath.Join(g.Dir, "scopegate.db")
	l := &ledger{clients: map[string]*ackedClient{}}

	for round := 1; round <= 3; round++ {
		var killing atomic.Bool
		var wg sync.WaitGroup
		startAcks := l.acks.Load()
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				writeUntilKilled(t, g, l, &killing, round, w)
			}()
		}
		// Kill once a random amount of work has been acknowledged, while
		// every writer still has requests in flight.
		target := startAcks + 60 + rand.Int64N(120)
		eventually(60*time.Second, func() bool { return l.acks.Load() >= target || t.Failed() })
		killing.Store(true)
		g.Kill()
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if l.acks.Load() < target {
			t.Fatalf("round %d: only %d writes acknowledged in 60s", round, l.acks.Load()-startAcks)
		}

		db, err := storage.Open(storePath, storage.BoltOptions{Timeout: time.Second})
		if err != nil {
			t.Fatalf("round %d: opening the store after the kill: %v", round, err)
		}
		checkErr := db.Check()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if checkErr != nil {
			t.Fatalf("round %d: consistency check after the kill: %v", round, checkErr)
		}

		g.Start()
		live, deleted, unsure := checkLedger(t, g, l)
		t.Logf("round %d: %d writes acknowledged before the kill; store now has %d live and %d deleted clients checked, %d deletes unanswered",
			round, l.acks.Load()-startAcks, live, deleted, unsure)
	}
}
