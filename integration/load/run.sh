#!/usr/bin/env bash
# Side-by-side load test of Scopegate against plain Caddy, in one Caddy
# process (DESIGN.md §8): plain reverse_proxy vs the guarded proxy (one token,
# then a new token per request), and a `respond` route vs the token endpoint.
# Variants run in interleaved rounds; the table shows medians and the median
# of the per-round ratios.
#
#   bash integration/load/run.sh
#
# Tunables (environment): ROUNDS (5), DURATION seconds per run (10), WARMUP
# seconds (3), THREADS (2), CONNECTIONS (32), POOL tokens (20000),
# VERIFIED_CACHE (1000), SIGNING_ALG (ES256; or EdDSA, RS256), OUT_DIR (keep
# the raw wrk output there), PROFILE_DIR (also take 8 s CPU profiles of the
# guarded and token variants from Caddy's /debug/pprof and keep them there,
# with the binary).
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
POOL=${POOL:-20000}
VERIFIED_CACHE=${VERIFIED_CACHE:-1000}
SIGNING_ALG=${SIGNING_ALG:-ES256}
OUT_DIR=${OUT_DIR:-}
PROFILE_DIR=${PROFILE_DIR:-}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/scopegate-load.XXXXXX")
pids=()

# cleanup stops what this script started, by process ID, and removes its
# scratch directory (after copying the raw output to OUT_DIR if asked).
cleanup() {
	local status=$?
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $OUT_DIR ]]; then
		mkdir -p "$OUT_DIR"
		cp "$work"/*.txt "$work"/caddy.log "$OUT_DIR"/ 2>/dev/null || true
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

# --- wrk -------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
	sudo=""
	if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
	log "installing wrk from Debian"
	$sudo apt-get install -y wrk >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y wrk >&2; }
fi

# --- build -------------------------------------------------------------------
log "building the gateway and the load helper"
(cd "$root" && go build -o "$work/caddy" ./caddy && go build -o "$work/loadtool" ./integration/load/loadtool)

mapfile -t ports < <("$work/loadtool" ports -n 6)
admin_port=${ports[0]} upstream_port=${ports[1]} plain_port=${ports[2]}
guard_port=${ports[3]} issuer_port=${ports[4]} respond_port=${ports[5]}

# --- start -------------------------------------------------------------------
"$work/loadtool" upstream -addr "127.0.0.1:$upstream_port" 2>"$work/upstream.log" &
pids+=($!)

SG_ADMIN_PORT=$admin_port SG_UPSTREAM_PORT=$upstream_port SG_PLAIN_PORT=$plain_port \
SG_GUARD_PORT=$guard_port SG_ISSUER_PORT=$issuer_port SG_RESPOND_PORT=$respond_port \
SG_DIR=$work SG_VERIFIED_CACHE=$VERIFIED_CACHE SG_SIGNING_ALG=$SIGNING_ALG \
XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config \
	"$work/caddy" run --config "$here/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
caddy_pid=$!
pids+=("$caddy_pid")

ready=""
for _ in $(seq 200); do
	if ! kill -0 "$caddy_pid" 2>/dev/null; then
		log "caddy exited:"; cat "$work/caddy.log" >&2; exit 1
	fi
	if curl -fsS -o /dev/null "http://127.0.0.1:$respond_port/" 2>/dev/null &&
		curl -fsS -o /dev/null "http://127.0.0.1:$upstream_port/" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.1
done
[[ -n $ready ]] || { log "gateway not ready within 20 s"; cat "$work/caddy.log" >&2; exit 1; }

# --- client and tokens -------------------------------------------------------
read -r client_id client_secret < <("$work/loadtool" client -admin "http://127.0.0.1:$admin_port" -name load -scope orders:read)
[[ -n ${client_id:-} && -n ${client_secret:-} ]] || { log "creating the load client failed"; exit 1; }
token_url="http://127.0.0.1:$issuer_port/oauth2/token"
start=$(date +%s.%N)
"$work/loadtool" tokens -url "$token_url" -id "$client_id" -secret "$client_secret" \
	-scope orders:read -n "$POOL" -out "$work/tokens.txt"
log "fetched $POOL tokens in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
token=$(head -n 1 "$work/tokens.txt")

# The Basic credentials are form-urlencoded first (RFC 6749 Appendix B);
# generated IDs and secrets use only unreserved characters.
export SG_LOAD_DIR=$here SG_TOKENS=$work/tokens.txt SG_FORM="grant_type=client_credentials&scope=orders%3Aread"
SG_BASIC=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)
export SG_BASIC

status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$guard_port/orders/1")
[[ $status == 200 ]] || { log "guarded route answered $status to a fresh token"; exit 1; }

# run_wrk VARIANT SECONDS runs one measurement and prints wrk's output.
run_wrk() {
	local variant=$1 seconds=$2
	local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${seconds}s")
	case $variant in
	upstream) wrk "${args[@]}" -s "$here/static.lua" -H "Authorization: Bearer $token" "http://127.0.0.1:$upstream_port/orders/1" ;;
	plain) wrk "${args[@]}" -s "$here/static.lua" -H "Authorization: Bearer $token" "http://127.0.0.1:$plain_port/orders/1" ;;
	guard-cached) wrk "${args[@]}" -s "$here/static.lua" -H "Authorization: Bearer $token" "http://127.0.0.1:$guard_port/orders/1" ;;
	plain-rotating) wrk "${args[@]}" -s "$here/rotating.lua" "http://127.0.0.1:$plain_port/orders/1" ;;
	guard-new) wrk "${args[@]}" -s "$here/rotating.lua" "http://127.0.0.1:$guard_port/orders/1" ;;
	respond) wrk "${args[@]}" -s "$here/token.lua" "http://127.0.0.1:$respond_port/oauth2/token" ;;
	token) wrk "${args[@]}" -s "$here/token.lua" "$token_url" ;;
	*) log "unknown variant $variant"; return 1 ;;
	esac
}

clock_ticks=$(getconf CLK_TCK)

# gateway_cpu_us prints the CPU time (user and system) the gateway has used.
gateway_cpu_us() {
	# Fields after the command name: utime and stime are the 12th and 13th.
	local stat
	stat=$(<"/proc/$caddy_pid/stat")
	awk -v hz="$clock_ticks" '{ printf "%d\n", ($12 + $13) * 1000000 / hz }' <<<"${stat##*) }"
}

# measure ROUND VARIANT runs one measured run and appends its RESULT line,
# with the gateway's CPU time during the run.
measure() {
	local round=$1 variant=$2 out="$work/wrk-$1-$2.txt"
	local cpu_before cpu_after result
	cpu_before=$(gateway_cpu_us)
	run_wrk "$variant" "$DURATION" >"$out" 2>&1
	cpu_after=$(gateway_cpu_us)
	result=$(grep '^RESULT ' "$out") || { log "wrk gave no result for $variant:"; cat "$out" >&2; exit 1; }
	echo "$round $variant $result $((cpu_after - cpu_before))" >>"$work/results.txt"
	log "round $round $(printf '%-15s' "$variant") $result $((cpu_after - cpu_before))"
}

variants=(plain guard-cached plain-rotating guard-new respond token)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

log "warming up: ${WARMUP} s per variant"
for v in "${variants[@]}"; do
	run_wrk "$v" "$WARMUP" >/dev/null
done

# The upstream must be far faster than the proxy in front of it, or the
# table would measure the upstream.
measure 0 upstream
measure 0 plain
upstream_rps=$(awk '$2 == "upstream" { print $4 }' "$work/results.txt")
plain_rps=$(awk '$2 == "plain" && $1 == 0 { print $4 }' "$work/results.txt")
upstream_check=$(awk -v u="$upstream_rps" -v p="$plain_rps" 'BEGIN {
	r = u / p
	printf "upstream alone %.0f req/s, plain reverse_proxy %.0f req/s: %.1f× (want >= 4: %s)", u, p, r, (r >= 4 ? "ok" : "NOT MET") }')
log "$upstream_check"
sed -i '/^0 /d' "$work/results.txt"

# Interleaved rounds: each variant runs next to its counterpart; the pairs
# rotate, and which of a pair goes first alternates, so neither a slot nor
# the machine's drift favours one side.
pairs=("plain guard-cached" "plain-rotating guard-new" "respond token")
# Storage writes during the rounds: the token and guard paths must not write;
# the only writer is the once-a-minute flush of usage counters.
written_before=$(awk '/^write_bytes:/ { print $2 }' "/proc/$caddy_pid/io")
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < ${#pairs[@]}; k++)); do
		read -r a b <<<"${pairs[$(((k + r) % ${#pairs[@]}))]}"
		if ((r % 2 == 0)); then
			measure "$r" "$b"; measure "$r" "$a"
		else
			measure "$r" "$a"; measure "$r" "$b"
		fi
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
written=$(($(awk '/^write_bytes:/ { print $2 }' "/proc/$caddy_pid/io") - written_before))
requests=$(awk '{ n += $7 } END { print n }' "$work/results.txt")

if [[ -n $PROFILE_DIR ]]; then
	mkdir -p "$PROFILE_DIR"
	for v in guard-cached guard-new token; do
		log "profiling $v"
		run_wrk "$v" "$DURATION" >/dev/null &
		wrk_pid=$!
		pids+=("$wrk_pid")
		sleep 1
		curl -fsS -o "$PROFILE_DIR/$v.pprof" "http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=8"
		wait "$wrk_pid" || true
	done
	curl -fsS -o "$PROFILE_DIR/heap.pprof" "http://127.0.0.1:$admin_port/debug/pprof/heap"
	cp "$work/caddy" "$PROFILE_DIR/caddy"
fi

rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$caddy_pid/status")

# --- report ------------------------------------------------------------------
cat <<EOF
Scopegate load run, $(date -u +%Y-%m-%dT%H:%MZ)

- machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM; $(go version | cut -d' ' -f3); $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)
- load average (1, 5, 15 min): before $load_before, after $load_after
- wrk: $THREADS threads, $CONNECTIONS connections, $ROUNDS interleaved rounds of $DURATION s per variant after a ${WARMUP} s warm-up; token pool $POOL, verified_token_cache_size $VERIFIED_CACHE, signing_alg $SIGNING_ALG
- $upstream_check
- gateway RSS at the end: $((rss_kb / 1024)) MB
- storage writes by the gateway during the rounds: $((written / 1024)) KiB for $requests requests (/proc/PID/io write_bytes; usage counters are flushed once a minute)

$("$work/loadtool" report -results "$work/results.txt" -alg "$SIGNING_ALG")

req/s, p50 and p99 are medians over the rounds; the ratios are medians of the
per-round ratios against the counterpart named in "vs", measured in the same
round. "errors" sums socket errors, timeouts and responses >= 400 over all
rounds. "gateway CPU/req" is the Caddy process's user and system CPU time
(/proc/PID/stat) over the requests of a run; the CPU ratio is the
counterpart's CPU per request over the variant's.
EOF
