package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// writePhase is one kind of admin write: the request it sends for the i-th
// client of a round, and the status that means it was done.
type writePhase struct {
	name, label string
	want        int
	request     func(admin, name, id string) (*http.Request, error)
}

// writePhases run in this order in every round: the clients a round creates
// are updated, then deleted, so the store ends each round as it began it.
var writePhases = []writePhase{
	{"create", "create (`POST /scopegate/clients`)", http.StatusCreated, func(admin, name, _ string) (*http.Request, error) {
		body, err := json.Marshal(map[string]string{"client_name": name, "scope": "orders:read"})
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequest(http.MethodPost, admin+"/scopegate/clients", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	}},
	{"update", "update (`PATCH /scopegate/clients/{id}`, scope)", http.StatusOK, func(admin, _, id string) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPatch, admin+"/scopegate/clients/"+id,
			strings.NewReader(`{"scope":"orders:read orders:write"}`))
		if err == nil {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
		return req, err
	}},
	{"delete", "delete (`DELETE /scopegate/clients/{id}`)", http.StatusNoContent, func(admin, _, id string) (*http.Request, error) {
		return http.NewRequest(http.MethodDelete, admin+"/scopegate/clients/"+id, nil)
	}},
}

// phaseResult is one phase of one round: its rate of writes done, the
// latencies of its requests as the writers saw them, and the writes refused
// or failed, with the first one's error.
type phaseResult struct {
	perSecond float64
	p50, p99  time.Duration
	errors    int
	firstErr  error
}

// runAdminWrites measures how many writes a second the gateway's admin API
// takes from many concurrent writers: in each round, n client creates, then
// an update of each of those clients, then their deletes, each phase from
// the given number of writers at once. It prints a Markdown table of the
// medians over the rounds, and one line per round to progress. A write that
// fails is counted, and the first failure of each phase is shown; a client
// whose create failed is left out of the later phases.
func runAdminWrites(args []string, w, progress io.Writer) error {
	fs := flag.NewFlagSet("admin-writes", flag.ContinueOnError)
	admin := fs.String("admin", "", "the gateway's admin endpoint base URL")
	writers := fs.Int("writers", 64, "concurrent writers")
	n := fs.Int("n", 3200, "clients created, updated and deleted per round")
	rounds := fs.Int("rounds", 3, "rounds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *admin == "" || *writers < 1 || *n < 1 || *rounds < 1 {
		return errors.New("admin-writes: want -admin URL and positive -writers, -n and -rounds")
	}
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConns: 2 * *writers, MaxIdleConnsPerHost: 2 * *writers},
		Timeout:   adminTimeout,
	}
	results := map[string][]phaseResult{}
	for r := 1; r <= *rounds; r++ {
		ids := make([]string, *n)
		var line strings.Builder
		fmt.Fprintf(&line, "admin writes round %d:", r)
		for _, p := range writePhases {
			res := runWritePhase(client, *admin, p, r, ids, *writers)
			results[p.name] = append(results[p.name], res)
			fmt.Fprintf(&line, " %s %.0f/s (p99 %s, %d errors)", p.name, res.perSecond, formatMicros(float64(res.p99.Microseconds())), res.errors)
		}
		fmt.Fprintln(progress, line.String())
	}
	return writeAdminTable(w, results, *writers, *n, *rounds)
}

// runWritePhase sends one request per client of ids from writers
// goroutines and times the phase. A create fills ids in; later phases use
// them, and skip a client whose create failed.
func runWritePhase(client *http.Client, admin string, p writePhase, round int, ids []string, writers int) phaseResult {
	latencies := make([]time.Duration, len(ids))
	sent := make([]bool, len(ids))
	var next atomic.Int64
	var done, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				if p.name != "create" && ids[i] == "" {
					continue
				}
				name := fmt.Sprintf("admin-write-%d-%06d", round, i)
				t0 := time.Now()
				id, err := sendWrite(client, admin, p, name, ids[i])
				latencies[i], sent[i] = time.Since(t0), true
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				done.Add(1)
				if p.name == "create" {
					ids[i] = id
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var measured []time.Duration
	for i, d := range latencies {
		if sent[i] {
			measured = append(measured, d)
		}
	}
	slices.Sort(measured)
	return phaseResult{
		perSecond: float64(done.Load()) / elapsed.Seconds(),
		p50:       percentile(measured, 50),
		p99:       percentile(measured, 99),
		errors:    int(failed.Load()),
		firstErr:  firstErr,
	}
}

// sendWrite sends one write and returns the created client's ID, for a
// create. A refusal carries the server's error document, never a secret.
func sendWrite(client *http.Client, admin string, p writePhase, name, id string) (string, error) {
	req, err := p.request(admin, name, id)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", p.name, name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", p.name, name, err)
	}
	if resp.StatusCode != p.want {
		return "", fmt.Errorf("%s %s: status %d, want %d: %s", p.name, name, resp.StatusCode, p.want, bytes.TrimSpace(body))
	}
	if p.name != "create" {
		return "", nil
	}
	var created struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.ClientID == "" {
		return "", fmt.Errorf("create %s: the answer has no client_id", name)
	}
	return created.ClientID, nil
}

// percentile returns the p-th percentile of sorted latencies (nearest
// rank), or 0 for none.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n), 1-based
	return sorted[max(rank, 1)-1]
}

// writeAdminTable writes one row per phase: the medians over the rounds of
// its rate, p50 and p99, and its errors over all rounds; then the first
// error of each phase that had any.
func writeAdminTable(w io.Writer, results map[string][]phaseResult, writers, n, rounds int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Admin API writes: %d concurrent writers, %d rounds of %d clients created, updated and deleted (medians over the rounds):\n\n",
		writers, rounds, n)
	b.WriteString("| admin write | per s | p50 | p99 | errors |\n|---|---:|---:|---:|---:|\n")
	var firstErrs []string
	for _, p := range writePhases {
		var rate, p50, p99 []float64
		errs := 0
		var firstErr error
		for _, r := range results[p.name] {
			rate = append(rate, r.perSecond)
			p50 = append(p50, float64(r.p50.Microseconds()))
			p99 = append(p99, float64(r.p99.Microseconds()))
			errs += r.errors
			if firstErr == nil {
				firstErr = r.firstErr
			}
		}
		if len(rate) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %d |\n", p.label, median(rate), formatMicros(median(p50)), formatMicros(median(p99)), errs)
		if firstErr != nil {
			firstErrs = append(firstErrs, fmt.Sprintf("- first %s error: %v", p.name, firstErr))
		}
	}
	if len(firstErrs) > 0 {
		b.WriteString("\n" + strings.Join(firstErrs, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
