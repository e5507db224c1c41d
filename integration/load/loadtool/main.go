// Command loadtool is the helper of integration/load/run.sh: the upstream
// that every proxied variant forwards to, client creation through the admin
// API of the gateway or of Ory Hydra, Hydra's access-token signing key, the
// pool of tokens fetched before the measured rounds, the Markdown tables
// made from wrk's results, and the rate of admin API writes from many
// concurrent writers. It exists so that the script needs nothing beyond
// bash, wrk and the Go toolchain.
//
// Usage:
//
//	loadtool ports     -n N
//	loadtool upstream  -addr 127.0.0.1:PORT
//	loadtool client    -admin http://127.0.0.1:PORT [-api scopegate|hydra] -name NAME -scope SCOPE
//	loadtool hydra-key -admin http://127.0.0.1:PORT -alg ES256
//	loadtool tokens    -url TOKEN_URL -id ID -secret SECRET -scope SCOPE -n N [-alg ES256] -out FILE
//	loadtool report    -results FILE [-alg ES256]
//	loadtool admin-writes -admin http://127.0.0.1:PORT [-writers 64] [-n 3200] [-rounds 3]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadtool ports|upstream|client|hydra-key|tokens|report|admin-writes [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "ports":
		err = runPorts(args, os.Stdout)
	case "upstream":
		err = runUpstream(args)
	case "client":
		err = runClient(args, os.Stdout)
	case "hydra-key":
		err = runHydraKey(args)
	case "tokens":
		err = runTokens(args)
	case "report":
		err = runReport(args, os.Stdout)
	case "admin-writes":
		err = runAdminWrites(args, os.Stdout, os.Stderr)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtool:", err)
		os.Exit(1)
	}
}

// runPorts prints n free loopback TCP ports, one per line. All n listeners
// are open at once, so the ports are distinct.
func runPorts(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("ports", flag.ContinueOnError)
	n := fs.Int("n", 1, "how many ports")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ports []string
	for range *n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	_, err := fmt.Fprintln(w, strings.Join(ports, "\n"))
	return err
}

// upstreamResponse is what the upstream answers to every request: small, so
// the measurement is of the gateway's per-request work rather than of copying
// bytes.
const upstreamResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"

// runUpstream serves upstreamResponse on addr until SIGINT or SIGTERM. It is
// a minimal HTTP/1.1 keep-alive responder rather than net/http: whatever the
// upstream costs per request is added alike to the plain and the guarded
// proxy and so dilutes the ratio between them, and on a 2-core machine it
// also takes CPU from the proxy under test.
func runUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = l.Close()
	}()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go serveConn(conn)
	}
}

// serveConn answers each request on conn with upstreamResponse until the
// peer closes it. Bodies with a Content-Length are skipped; a chunked body
// is not supported and closes the connection.
func serveConn(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	for {
		bodyLen, err := readRequestHead(r)
		if err != nil {
			return
		}
		if _, err := r.Discard(int(bodyLen)); err != nil {
			return
		}
		if _, err := w.WriteString(upstreamResponse); err != nil {
			return
		}
		// Flush once the pipelined requests already read are all answered.
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// errUnsupported ends a connection whose request this upstream cannot frame.
var errUnsupported = errors.New("unsupported request framing")

// readRequestHead reads a request line and headers up to the blank line and
// returns the body's Content-Length.
func readRequestHead(r *bufio.Reader) (int64, error) {
	var bodyLen int64
	for first := true; ; first = false {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if first {
				continue // RFC 9112 §2.2: ignore a blank line before the request line
			}
			return bodyLen, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || first {
			continue
		}
		switch {
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")):
			bodyLen, err = strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
			if err != nil || bodyLen < 0 || bodyLen > 1<<20 {
				return 0, errUnsupported
			}
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Transfer-Encoding")):
			return 0, errUnsupported
		}
	}
}

// adminTimeout bounds each admin API call, so a server that accepts the
// connection and never answers stops the script instead of hanging it.
const adminTimeout = 30 * time.Second

// runClient creates one API client through an admin API and prints its ID,
// its secret and its HTTP Basic credentials (for token.lua) on one line,
// separated by spaces.
func runClient(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	admin := fs.String("admin", "", "admin endpoint base URL")
	api := fs.String("api", "scopegate", "whose admin API: scopegate or hydra")
	name := fs.String("name", "load", "client_name")
	scope := fs.String("scope", "", "allowed scopes, space-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, secret, err := createClient(&http.Client{Timeout: adminTimeout}, *admin, *api, *name, *scope)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, id, secret, basicCredentials(id, secret))
	return err
}

// clientAPIs say, per admin API, where a client is created and what the
// request asks for. Hydra's clients default to the authorization_code grant,
// so its request names the grant and the authentication method the load
// uses.
var clientAPIs = map[string]struct {
	path  string
	extra map[string]any
}{
	"scopegate": {path: "/scopegate/clients"},
	"hydra": {path: "/admin/clients", extra: map[string]any{
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_basic",
	}},
}

// createClient creates a client_credentials client named name, allowed
// scope, through the admin API at admin, and returns its ID and secret.
func createClient(c *http.Client, admin, api, name, scope string) (id, secret string, err error) {
	spec, ok := clientAPIs[api]
	if !ok {
		return "", "", fmt.Errorf("unknown admin API %q (want scopegate or hydra)", api)
	}
	fields := map[string]any{"client_name": name, "scope": scope}
	for k, v := range spec.extra {
		fields[k] = v
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return "", "", err
	}
	resp, err := c.Post(admin+spec.path, "application/json", bytes.NewReader(body))
	if err != nil {
		return "", "", fmt.Errorf("creating client: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", fmt.Errorf("creating client: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		// A refusal carries no secret: it is the server's error document.
		return "", "", fmt.Errorf("creating client: status %d: %s", resp.StatusCode, raw)
	}
	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(raw, &created); err != nil {
		return "", "", fmt.Errorf("decoding the created client: %w", err)
	}
	if created.ClientID == "" || created.ClientSecret == "" {
		return "", "", errors.New("creating client: the answer has no client_id or client_secret")
	}
	return created.ClientID, created.ClientSecret, nil
}

// basicCredentials is the value after "Basic " for a client: ID and secret
// are form-urlencoded before they are joined (RFC 6749 §2.3.1), since
// Hydra's generated secrets, unlike ours, are not limited to unreserved
// characters.
func basicCredentials(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

// hydraAccessTokenKeySet is the JSON Web Key Set whose first private key
// Hydra signs JWT access tokens with; Hydra creates it with an RS256 key
// (4096 bits) on first use.
const hydraAccessTokenKeySet = "hydra.jwt.access-token"

// runHydraKey gives Hydra's access tokens a new signing key of the named
// algorithm.
func runHydraKey(args []string) error {
	fs := flag.NewFlagSet("hydra-key", flag.ContinueOnError)
	admin := fs.String("admin", "", "Hydra's admin base URL")
	alg := fs.String("alg", "ES256", "JWS algorithm of the new key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return replaceHydraKey(&http.Client{Timeout: adminTimeout}, *admin, *alg)
}

// replaceHydraKey deletes Hydra's access-token key set, if there is one, and
// has Hydra generate a new one with one key of algorithm alg. Deleting first
// matters: creating a key in an existing set adds to it, and the old key
// would stay in the set. Hydra signs with the set's newest private key;
// with the set deleted first the new key is the only one, whatever the
// resolution of the creation times. The answer holds the private key, so
// nothing of it is printed or put in an error.
func replaceHydraKey(c *http.Client, admin, alg string) error {
	setURL := admin + "/admin/keys/" + hydraAccessTokenKeySet
	req, err := http.NewRequest(http.MethodDelete, setURL, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("deleting key set %s: %w", hydraAccessTokenKeySet, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("deleting key set %s: status %d", hydraAccessTokenKeySet, resp.StatusCode)
	}
	body, err := json.Marshal(map[string]string{"alg": alg, "use": "sig", "kid": "load-" + strings.ToLower(alg)})
	if err != nil {
		return err
	}
	resp, err = c.Post(setURL, "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("creating key set %s: %w", hydraAccessTokenKeySet, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("creating key set %s: status %d", hydraAccessTokenKeySet, resp.StatusCode)
	}
	var set struct {
		Keys []struct {
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return fmt.Errorf("decoding key set %s: %w", hydraAccessTokenKeySet, err)
	}
	if len(set.Keys) != 1 || set.Keys[0].Alg != alg {
		got := ""
		if len(set.Keys) > 0 {
			got = set.Keys[0].Alg
		}
		return fmt.Errorf("creating key set %s: want one %s key, got a key with alg %q (%d keys)", hydraAccessTokenKeySet, alg, got, len(set.Keys))
	}
	return nil
}

// runTokens fetches n tokens from the token endpoint with 16 concurrent
// requests and writes them to a file, one per line.
func runTokens(args []string) error {
	fs := flag.NewFlagSet("tokens", flag.ContinueOnError)
	tokenURL := fs.String("url", "", "token endpoint URL")
	id := fs.String("id", "", "client_id")
	secret := fs.String("secret", "", "client_secret")
	scope := fs.String("scope", "", "scope to request")
	n := fs.Int("n", 1000, "how many tokens")
	alg := fs.String("alg", "", "if set, every token must be a JWT signed with this algorithm")
	out := fs.String("out", "", "file to write the tokens to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {*scope}}.Encode()
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 16},
		Timeout:   30 * time.Second,
	}
	tokens := make([]string, *n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(tokens) {
					return
				}
				tok, err := fetchToken(client, *tokenURL, form, *id, *secret)
				if err == nil && *alg != "" {
					err = checkAlg(tok, *alg)
				}
				if err != nil {
					errs <- err
					return
				}
				tokens[i] = tok
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return os.WriteFile(*out, []byte(strings.Join(tokens, "\n")+"\n"), 0o600)
}

// fetchToken asks for one client_credentials token.
func fetchToken(client *http.Client, tokenURL, form, id, secret string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+basicCredentials(id, secret))
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("token response (status %d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("token request refused: status %d, error %q", resp.StatusCode, body.Error)
	}
	return body.AccessToken, nil
}

// checkAlg fails unless token is a JWT signed with alg: the proof that a
// server issues what the table's label says (Hydra issues opaque tokens
// unless told otherwise, and signs with RS256 unless given another key).
func checkAlg(token, alg string) error {
	got, err := jwtAlg(token)
	if err != nil {
		return err
	}
	if got != alg {
		return fmt.Errorf("token signed with %s, want %s", got, alg)
	}
	return nil
}

// jwtAlg returns the alg of a JWS compact serialisation's protected header.
// The signature is not checked: this only tells what the server chose.
func jwtAlg(token string) (string, error) {
	header, _, ok := strings.Cut(token, ".")
	if !ok || strings.Count(token, ".") != 2 {
		return "", errors.New("token is not a JWT (three dot-separated parts): an opaque token?")
	}
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return "", fmt.Errorf("token header: %w", err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", fmt.Errorf("token header: %w", err)
	}
	if h.Alg == "" {
		return "", errors.New("token header has no alg")
	}
	return h.Alg, nil
}

// sample is one wrk run: the RESULT line that results.lua prints, prefixed
// by the script with the round and the variant, and followed by the CPU time
// the gateway process used during the run.
type sample struct {
	round    int
	variant  string
	rps      float64
	p50us    float64
	p99us    float64
	requests float64
	errors   int64
	cpuus    float64
}

// cpuPerRequest is the gateway's CPU time per request, in µs.
func (s sample) cpuPerRequest() float64 {
	if s.requests == 0 {
		return 0
	}
	return s.cpuus / s.requests
}

// parseResults reads lines of the form
//
//	<round> <variant> RESULT <requests/s> <p50 µs> <p99 µs> <requests> <errors> <gateway CPU µs>
func parseResults(r io.Reader) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 9 || f[2] != "RESULT" {
			return nil, fmt.Errorf("results line %d: want 9 fields with RESULT third, got %q", line, sc.Text())
		}
		var s sample
		var err error
		nums := make([]float64, 6)
		for i, v := range f[3:] {
			if nums[i], err = strconv.ParseFloat(v, 64); err != nil {
				return nil, fmt.Errorf("results line %d: %q is not a number", line, v)
			}
		}
		if s.round, err = strconv.Atoi(f[0]); err != nil {
			return nil, fmt.Errorf("results line %d: round %q is not a number", line, f[0])
		}
		s.variant = f[1]
		s.rps, s.p50us, s.p99us, s.requests, s.errors, s.cpuus = nums[0], nums[1], nums[2], nums[3], int64(nums[4]), nums[5]
		out = append(out, s)
	}
	return out, sc.Err()
}

// median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// row is one line of the table: a variant and what it is compared with.
type row struct {
	variant, label, counterpart string
}

// tableRows are the variants in the order the table shows them. A variant
// with a counterpart is compared with it round by round. A %s in a label is
// the signing algorithm. The Hydra rows are compared with `respond`, the
// form in which DESIGN.md §8 quotes Hydra; run.sh describes both Hydra
// configurations.
var tableRows = []row{
	{"plain", "plain `reverse_proxy`, one token", ""},
	{"guard-cached", "guarded, one token (verification cached)", "plain"},
	{"plain-rotating", "plain `reverse_proxy`, token pool", ""},
	{"guard-new", "guarded, new token per request (%s)", "plain-rotating"},
	{"respond", "`respond` route, token request", ""},
	{"token", "token endpoint (client_credentials, %s)", "respond"},
	{"hydra-default", "Ory Hydra token endpoint, defaults (PBKDF2 25,000 iterations, RS256)", "respond"},
	{"hydra-tuned", "Ory Hydra token endpoint, tuned (PBKDF2 1 iteration, ES256)", "respond"},
}

// hydraRows are the rows of the comparison of the token endpoint with Hydra:
// each Hydra variant is the counterpart of the token endpoint.
var hydraRows = []row{
	{"token", "Ory Hydra, defaults", "hydra-default"},
	{"token", "Ory Hydra, tuned", "hydra-tuned"},
}

// runReport prints the Markdown tables of the medians in a results file.
func runReport(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	results := fs.String("results", "", "results file written by run.sh")
	alg := fs.String("alg", "ES256", "the gateway's signing algorithm, for the labels")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*results)
	if err != nil {
		return err
	}
	defer f.Close()
	samples, err := parseResults(f)
	if err != nil {
		return err
	}
	if err := writeTable(w, samples, *alg); err != nil {
		return err
	}
	return writeHydraComparison(w, samples, *alg)
}

// runsByVariant indexes samples by variant, then by round.
func runsByVariant(samples []sample) map[string]map[int]sample {
	byKey := map[string]map[int]sample{}
	for _, s := range samples {
		if byKey[s.variant] == nil {
			byKey[s.variant] = map[int]sample{}
		}
		byKey[s.variant][s.round] = s
	}
	return byKey
}

// comparison holds, for the rounds in which a variant and its counterpart
// both ran, the per-round ratios: req/s and p99 of the variant over the
// counterpart's, and the counterpart's CPU per request over the variant's.
type comparison struct {
	rps, p99, cpu []float64
}

// compare pairs the runs of a variant with its counterpart's, round by round.
func compare(runs, counterpart map[int]sample) comparison {
	var c comparison
	for round, s := range runs {
		other, ok := counterpart[round]
		if ok && other.rps > 0 && other.p99us > 0 {
			c.rps = append(c.rps, s.rps/other.rps)
			c.p99 = append(c.p99, s.p99us/other.p99us)
		}
		if ok && s.cpuPerRequest() > 0 {
			c.cpu = append(c.cpu, other.cpuPerRequest()/s.cpuPerRequest())
		}
	}
	return c
}

// writeTable writes one row per variant: median requests/s, p50, p99 and
// CPU per request of the serving process (the gateway, or Hydra for its
// rows) over the rounds, and against the counterpart the median of the
// per-round ratios (rounds are interleaved, so each ratio compares runs made
// minutes apart at most, which cancels much of a shared machine's drift).
// The CPU ratio is the counterpart's CPU per request over the variant's: the
// req/s ratio the server would reach if its own CPU were all that limited
// it, which a machine shared with wrk, the upstream and other work does not
// show directly.
func writeTable(w io.Writer, samples []sample, alg string) error {
	byKey := runsByVariant(samples)
	var b strings.Builder
	b.WriteString("| variant | req/s | p50 | p99 | errors | server CPU/req | vs | req/s ratio | p99 ratio | CPU ratio |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|\n")
	for _, r := range tableRows {
		runs := byKey[r.variant]
		if len(runs) == 0 {
			continue
		}
		var rps, p50, p99, cpu []float64
		var errs int64
		for _, s := range runs {
			rps, p50, p99, cpu = append(rps, s.rps), append(p50, s.p50us), append(p99, s.p99us), append(cpu, s.cpuPerRequest())
			errs += s.errors
		}
		c := compare(runs, byKey[r.counterpart])
		vs, ratioCell, p99Cell, cpuCell := "", "", "", ""
		if len(c.rps) > 0 {
			vs = r.counterpart
			ratioCell = formatRatio(median(c.rps))
			p99Cell = fmt.Sprintf("%.2f×", median(c.p99))
		}
		if len(c.cpu) > 0 {
			cpuCell = formatRatio(median(c.cpu))
		}
		label := r.label
		if strings.Contains(label, "%s") {
			label = fmt.Sprintf(label, alg)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %d | %.0f µs | %s | %s | %s | %s |\n", label, median(rps),
			formatMicros(median(p50)), formatMicros(median(p99)), errs, median(cpu), vs, ratioCell, p99Cell, cpuCell)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHydraComparison writes how many times Hydra's throughput the token
// endpoint reaches, and how many times the gateway's CPU per token Hydra
// spends, each the median of the per-round ratios of this run, for both
// Hydra configurations; or that Hydra was not measured (HYDRA=0).
func writeHydraComparison(w io.Writer, samples []sample, alg string) error {
	byKey := runsByVariant(samples)
	if len(byKey["hydra-default"]) == 0 && len(byKey["hydra-tuned"]) == 0 {
		_, err := io.WriteString(w, "\nHydra: not measured\n")
		return err
	}
	var b strings.Builder
	b.WriteString("\nToken endpoint vs Ory Hydra, measured side by side in this run (medians of the per-round ratios; " +
		"CPU ratio: Hydra's CPU per request over the gateway's):\n\n")
	fmt.Fprintf(&b, "| token endpoint (client_credentials, %s) vs | req/s ratio | CPU ratio |\n", alg)
	b.WriteString("|---|---:|---:|\n")
	for _, r := range hydraRows {
		c := compare(byKey[r.variant], byKey[r.counterpart])
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.label, timesCell(c.rps), timesCell(c.cpu))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// timesCell writes the median of ratios as a multiple, or nothing for none.
func timesCell(ratios []float64) string {
	if len(ratios) == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f×", median(ratios))
}

// formatRatio writes a ratio with three decimals, or four below 0.01, where
// three would leave one digit (Hydra's defaults against `respond`).
func formatRatio(r float64) string {
	if r < 0.01 {
		return fmt.Sprintf("%.4f", r)
	}
	return fmt.Sprintf("%.3f", r)
}

// formatMicros writes a latency given in microseconds in ms with two decimals.
func formatMicros(us float64) string {
	return fmt.Sprintf("%.2f ms", us/1000)
}
