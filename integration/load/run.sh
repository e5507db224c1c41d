#!/usr/bin/env bash
# Side-by-side load test of Scopegate against plain Caddy, in one Caddy
# process (DESIGN.md §8): plain reverse_proxy vs the guarded proxy (one token,
# then a new token per request), and a `respond` route vs the token endpoint;
# and the token endpoint vs Ory Hydra's, run next to it on the same machine in
# two configurations (its defaults, and tuned: a one-iteration PBKDF2 hasher
# and an ES256 key). Variants run in interleaved rounds; the tables show
# medians and the median of the per-round ratios. After the rounds, the
# admin API's write rate: clients created, updated and deleted by 64
# concurrent writers.
#
#   bash integration/load/run.sh
#   STORE=etcd bash integration/load/run.sh
#
# STORE chooses the gateway's store: bolt (the default: a bbolt file in the
# scratch directory) or etcd (a one-member etcd on loopback, built from
# examples/cluster/etcd with the etcd server version in go.mod, its data in
# the scratch directory, fsync on; the gateway's signing keys sealed with a
# random key made for the run). Everything else is the same, so the ratios
# of two runs compare the stores.
#
# Tunables (environment): ROUNDS (5), DURATION seconds per run (10), WARMUP
# seconds (3), THREADS (2), CONNECTIONS (32), POOL tokens (20000),
# VERIFIED_CACHE (1000), SIGNING_ALG (ES256; or EdDSA, RS256), OUT_DIR (keep
# the raw wrk output there), PROFILE_DIR (also take 8 s CPU profiles of the
# guarded and token variants from Caddy's /debug/pprof and keep them there,
# with the binary), HYDRA (1; 0 skips Hydra, e.g. where it cannot be built),
# STORE (bolt), ADMIN_WRITES clients per round of admin writes (3200; 0 skips
# them), WRITERS concurrent admin writers (64).
#
# Hydra is the version pinned in integration/load/hydra/go.mod, built with cgo
# (sqlite, for `dsn: memory`) on first use into
# ${XDG_CACHE_HOME:-~/.cache}/scopegate-load/ and rebuilt only when that
# module's go.sum changes (as it does with any change of version or replace).
# The first build takes minutes.
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
HYDRA=${HYDRA:-1}
STORE=${STORE:-bolt}
ADMIN_WRITES=${ADMIN_WRITES:-3200}
WRITERS=${WRITERS:-64}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/scopegate-load.XXXXXX")
pids=()

# running PID tells whether the process is alive. (bash reaps its exited
# children at once and keeps their status for `wait`, so kill -0 does not
# find them.)
running() { kill -0 "$1" 2>/dev/null; }

# stop PID sends SIGTERM and waits up to 30 s for the process to exit, then
# kills it.
stop() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 300; i++)); do
		running "$pid" || break
		sleep 0.1
	done
	if running "$pid"; then
		log "process $pid did not stop within 30 s of SIGTERM; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# cleanup stops what this script started, by process ID, the last started
# first (the gateway writes its usage counters to its store as it stops, so
# an etcd member must outlive it), and removes its scratch directory (after
# copying the raw output to OUT_DIR if asked).
cleanup() {
	local status=$? i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop "${pids[i]}"
	done
	if [[ -n $OUT_DIR ]]; then
		mkdir -p "$OUT_DIR"
		cp "$work"/*.txt "$work"/*.log "$work"/hydra-*.yaml "$OUT_DIR"/ 2>/dev/null || true
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

case $HYDRA in
0 | 1) ;;
*) log "HYDRA must be 0 or 1, not \"$HYDRA\""; exit 2 ;;
esac
case $STORE in
bolt | etcd) ;;
*) log "STORE must be bolt or etcd, not \"$STORE\""; exit 2 ;;
esac

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
if [[ $STORE == etcd ]]; then
	(cd "$root" && go build -o "$work/etcd" ./examples/cluster/etcd)
fi

# build_hydra prints the path of the Hydra binary, building it first unless
# the cache holds one built from the same go.sum.
build_hydra() {
	local src=$here/hydra cache=${XDG_CACHE_HOME:-$HOME/.cache}/scopegate-load
	local sum bin version
	sum=$(sha256sum <"$src/go.sum" | cut -c1-16)
	bin=$cache/hydra-$sum
	if [[ -x $bin ]]; then
		echo "$bin"
		return
	fi
	command -v cc >/dev/null 2>&1 || { log "building Hydra needs a C compiler (cgo, for sqlite); HYDRA=0 skips Hydra"; return 1; }
	version=$(cd "$src" && GOWORK=off go list -m -f '{{.Version}}' github.com/ory/hydra/v2) || return 1
	log "building Ory Hydra $version into $cache (once; this takes minutes)"
	mkdir -p "$cache"
	# The version goes where Hydra's own release build puts it, so that
	# `hydra version` and its logs name it.
	(cd "$src" && GOWORK=off CGO_ENABLED=1 go build -tags sqlite,sqlite_omit_load_extension \
		-ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$version" \
		-o "$bin.$$.tmp" github.com/ory/hydra/v2) >&2 || {
		rm -f "$bin.$$.tmp"
		log "building Hydra failed; HYDRA=0 runs the suite without it"
		return 1
	}
	mv "$bin.$$.tmp" "$bin"
	# Builds from an older go.sum are not used again.
	find "$cache" -maxdepth 1 -name 'hydra-*' ! -name "hydra-$sum" ! -name '*.tmp' -delete
	echo "$bin"
}

if ((HYDRA)); then
	hydra_bin=$(build_hydra)
	hydra_version=$("$hydra_bin" version | awk '$1 == "Version:" { print $2 }')
fi

mapfile -t ports < <("$work/loadtool" ports -n 12)
admin_port=${ports[0]} upstream_port=${ports[1]} plain_port=${ports[2]}
guard_port=${ports[3]} issuer_port=${ports[4]} respond_port=${ports[5]}
hydra_default_public=${ports[6]} hydra_default_admin=${ports[7]}
hydra_tuned_public=${ports[8]} hydra_tuned_admin=${ports[9]}
etcd_port=${ports[10]} etcd_peer_port=${ports[11]}

# --- start -------------------------------------------------------------------
# await_ready NAME PID LOG SECONDS URL... polls until every URL answers 2xx,
# and fails at once if PID exits, or after SECONDS.
await_ready() {
	local name=$1 pid=$2 logfile=$3 seconds=$4 url
	shift 4
	local deadline=$((SECONDS + seconds))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited:"; cat "$logfile" >&2; return 1
		fi
		for url in "$@"; do
			curl -fsS -o /dev/null "$url" 2>/dev/null || { sleep 0.1; continue 2; }
		done
		return 0
	done
	log "$name not ready within $seconds s"; cat "$logfile" >&2; return 1
}

"$work/loadtool" upstream -addr "127.0.0.1:$upstream_port" 2>"$work/upstream.log" &
pids+=($!)

if [[ $STORE == etcd ]]; then
	"$work/etcd" -data-dir "$work/etcd-data" -listen "127.0.0.1:$etcd_port" -peer "127.0.0.1:$etcd_peer_port" >"$work/etcd.log" 2>&1 &
	etcd_pid=$!
	pids+=("$etcd_pid")
	await_ready etcd "$etcd_pid" "$work/etcd.log" 60 "http://127.0.0.1:$etcd_port/health"
	(umask 077 && head -c 32 /dev/urandom >"$work/sealing.key")
fi

SG_ADMIN_PORT=$admin_port SG_UPSTREAM_PORT=$upstream_port SG_PLAIN_PORT=$plain_port \
SG_GUARD_PORT=$guard_port SG_ISSUER_PORT=$issuer_port SG_RESPOND_PORT=$respond_port \
SG_DIR=$work SG_VERIFIED_CACHE=$VERIFIED_CACHE SG_SIGNING_ALG=$SIGNING_ALG \
SG_STORE=$STORE SG_ETCD_PORT=$etcd_port SG_MAX_CLIENTS=$((ADMIN_WRITES + 100)) \
XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config \
	"$work/caddy" run --config "$here/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
caddy_pid=$!
pids+=("$caddy_pid")

# The health answer is 200 once the store is open (for etcd: listed).
await_ready caddy "$caddy_pid" "$work/caddy.log" 20 "http://127.0.0.1:$respond_port/" "http://127.0.0.1:$upstream_port/" \
	"http://127.0.0.1:$admin_port/scopegate/health"

# start_hydra NAME PUBLIC_PORT ADMIN_PORT [YAML...] writes NAME's config into
# the scratch directory and starts Hydra with it; HYDRA_PID is its process.
# Both configurations share what is not being compared: the in-memory store,
# JWT access tokens, and logging at warn, i.e. no line per request, like the
# gateway, which runs without access logs. --dev allows plain HTTP on
# loopback; --sqa-opt-out turns off Hydra's telemetry (no network here).
start_hydra() {
	local name=$1 public=$2 admin=$3 config=$work/hydra-$1.yaml
	shift 3
	{
		cat <<-EOF
			dsn: memory
			log:
			  level: warn
			serve:
			  public:
			    host: 127.0.0.1
			    port: $public
			  admin:
			    host: 127.0.0.1
			    port: $admin
			urls:
			  self:
			    issuer: http://127.0.0.1:$public/
			secrets:
			  system:
			    - $(head -c 32 /dev/urandom | base64 -w0)
			strategies:
			  access_token: jwt
		EOF
		printf '%s\n' "$@"
	} >"$config"
	"$hydra_bin" serve all --dev --sqa-opt-out --config "$config" >"$work/hydra-$name.log" 2>&1 &
	HYDRA_PID=$!
	pids+=("$HYDRA_PID")
	await_ready "hydra ($name)" "$HYDRA_PID" "$work/hydra-$name.log" 60 \
		"http://127.0.0.1:$admin/health/ready" "http://127.0.0.1:$public/health/ready"
}

if ((HYDRA)); then
	# Defaults: Hydra's own hasher (PBKDF2-SHA256, 25,000 iterations in
	# v2.3.0) and the RS256 key (4096 bits) it makes on first use.
	start_hydra default "$hydra_default_public" "$hydra_default_admin"
	hydra_default_pid=$HYDRA_PID
	# Tuned: the framework's cost without its deliberately slow hashing,
	# and the same signing algorithm as the gateway's default.
	start_hydra tuned "$hydra_tuned_public" "$hydra_tuned_admin" \
		"oauth2:" "  hashers:" "    algorithm: pbkdf2" "    pbkdf2:" "      iterations: 1"
	hydra_tuned_pid=$HYDRA_PID
	"$work/loadtool" hydra-key -admin "http://127.0.0.1:$hydra_tuned_admin" -alg ES256
fi

# --- client and tokens -------------------------------------------------------
read -r client_id client_secret SG_BASIC < <("$work/loadtool" client -admin "http://127.0.0.1:$admin_port" -name load -scope orders:read)
[[ -n ${SG_BASIC:-} ]] || { log "creating the load client failed"; exit 1; }
token_url="http://127.0.0.1:$issuer_port/oauth2/token"
start=$(date +%s.%N)
"$work/loadtool" tokens -url "$token_url" -id "$client_id" -secret "$client_secret" \
	-scope orders:read -n "$POOL" -alg "$SIGNING_ALG" -out "$work/tokens.txt"
log "fetched $POOL tokens in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
token=$(head -n 1 "$work/tokens.txt")

# SG_BASIC is the client's Basic credentials, form-urlencoded first (RFC 6749
# §2.3.1) by loadtool; token.lua sends it.
export SG_LOAD_DIR=$here SG_TOKENS=$work/tokens.txt SG_FORM="grant_type=client_credentials&scope=orders%3Aread" SG_BASIC

# Each Hydra gets a client of its own, and issues a token before the rounds:
# that proves it issues JWTs signed as its label says, and makes the defaults'
# RSA key, which takes seconds, outside the measurement.
if ((HYDRA)); then
	hydra_default_url="http://127.0.0.1:$hydra_default_public/oauth2/token"
	hydra_tuned_url="http://127.0.0.1:$hydra_tuned_public/oauth2/token"
	read -r hydra_default_id hydra_default_secret hydra_default_basic < <("$work/loadtool" client -api hydra \
		-admin "http://127.0.0.1:$hydra_default_admin" -name load -scope orders:read)
	read -r hydra_tuned_id hydra_tuned_secret hydra_tuned_basic < <("$work/loadtool" client -api hydra \
		-admin "http://127.0.0.1:$hydra_tuned_admin" -name load -scope orders:read)
	[[ -n ${hydra_default_basic:-} && -n ${hydra_tuned_basic:-} ]] || { log "creating the Hydra clients failed"; exit 1; }
	"$work/loadtool" tokens -url "$hydra_default_url" -id "$hydra_default_id" -secret "$hydra_default_secret" \
		-scope orders:read -n 1 -alg RS256 -out "$work/hydra-default-token.txt"
	"$work/loadtool" tokens -url "$hydra_tuned_url" -id "$hydra_tuned_id" -secret "$hydra_tuned_secret" \
		-scope orders:read -n 1 -alg ES256 -out "$work/hydra-tuned-token.txt"
	rm -f "$work"/hydra-*-token.txt
fi

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
	# Hydra's defaults answer in about a second under this load, near wrk's
	# 2 s timeout; a request that timed out would count as an error, not as
	# the slow answer it is.
	hydra-default) SG_BASIC=$hydra_default_basic wrk "${args[@]}" --timeout 10s -s "$here/token.lua" "$hydra_default_url" ;;
	hydra-tuned) SG_BASIC=$hydra_tuned_basic wrk "${args[@]}" --timeout 10s -s "$here/token.lua" "$hydra_tuned_url" ;;
	*) log "unknown variant $variant"; return 1 ;;
	esac
}

clock_ticks=$(getconf CLK_TCK)

# cpu_us PID prints the CPU time (user and system) the process has used.
cpu_us() {
	# Fields after the command name: utime and stime are the 12th and 13th.
	local stat
	stat=$(<"/proc/$1/stat")
	awk -v hz="$clock_ticks" '{ printf "%d\n", ($12 + $13) * 1000000 / hz }' <<<"${stat##*) }"
}

# server_pid VARIANT prints the process that serves the variant.
server_pid() {
	case $1 in
	hydra-default) echo "$hydra_default_pid" ;;
	hydra-tuned) echo "$hydra_tuned_pid" ;;
	*) echo "$caddy_pid" ;;
	esac
}

# measure ROUND VARIANT runs one measured run and appends its RESULT line,
# with the serving process's CPU time during the run.
measure() {
	local round=$1 variant=$2 out="$work/wrk-$1-$2.txt"
	local pid cpu_before cpu_after result
	pid=$(server_pid "$variant")
	cpu_before=$(cpu_us "$pid")
	run_wrk "$variant" "$DURATION" >"$out" 2>&1
	cpu_after=$(cpu_us "$pid")
	result=$(grep '^RESULT ' "$out") || { log "wrk gave no result for $variant:"; cat "$out" >&2; exit 1; }
	echo "$round $variant $result $((cpu_after - cpu_before))" >>"$work/results.txt"
	log "round $round $(printf '%-15s' "$variant") $result $((cpu_after - cpu_before))"
}

variants=(plain guard-cached plain-rotating guard-new respond token)
if ((HYDRA)); then
	variants+=(hydra-default hydra-tuned)
fi
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

# Interleaved rounds: each variant runs next to its counterpart; the groups
# rotate, and the order within a group reverses every other round, so
# neither a slot nor the machine's drift favours one side. The token endpoint
# sits between `respond` and Hydra's defaults, with Hydra tuned next to
# those.
groups=("plain guard-cached" "plain-rotating guard-new" "respond token")
if ((HYDRA)); then
	groups[2]="respond token hydra-default hydra-tuned"
fi
# Storage writes during the rounds: the token and guard paths must not write;
# the only writer is the once-a-minute flush of usage counters. On etcd, the
# etcd member's CPU time and disk writes over the rounds show the same: the
# hot paths read the gateway's local copy and never ask etcd.
written_bytes() { awk '/^write_bytes:/ { print $2 }' "/proc/$1/io"; }
written_before=$(written_bytes "$caddy_pid")
if [[ $STORE == etcd ]]; then
	etcd_cpu_before=$(cpu_us "$etcd_pid") etcd_written_before=$(written_bytes "$etcd_pid")
fi
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < ${#groups[@]}; k++)); do
		read -r -a members <<<"${groups[$(((k + r) % ${#groups[@]}))]}"
		for ((i = 0; i < ${#members[@]}; i++)); do
			if ((r % 2 == 0)); then
				measure "$r" "${members[${#members[@]} - 1 - i]}"
			else
				measure "$r" "${members[i]}"
			fi
		done
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
written=$(($(written_bytes "$caddy_pid") - written_before))
requests=$(awk '{ n += $7 } END { print n }' "$work/results.txt")
if [[ $STORE == etcd ]]; then
	etcd_cpu=$(($(cpu_us "$etcd_pid") - etcd_cpu_before)) etcd_written=$(($(written_bytes "$etcd_pid") - etcd_written_before))
fi

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

# Admin writes last: they change the store (each round deletes what it
# created) and load the machine differently from the rounds.
if ((ADMIN_WRITES > 0)); then
	log "admin writes: $ROUNDS rounds of $ADMIN_WRITES clients created, updated and deleted by $WRITERS writers"
	"$work/loadtool" admin-writes -admin "http://127.0.0.1:$admin_port" -writers "$WRITERS" -n "$ADMIN_WRITES" \
		-rounds "$ROUNDS" >"$work/admin-writes.txt"
else
	echo "Admin API writes: not measured (ADMIN_WRITES=0)" >"$work/admin-writes.txt"
fi

rss_mb() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }

if [[ $STORE == etcd ]]; then
	etcd_version=$(cd "$root" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
	store_line="- store: etcd, one member on loopback (examples/cluster/etcd, etcd server $etcd_version, fsync on), signing keys sealed; during the rounds etcd used $((etcd_cpu / 1000)) ms of CPU and wrote $((etcd_written / 1024)) KiB to disk (/proc/PID/stat, /proc/PID/io); etcd RSS at the end $(rss_mb "$etcd_pid") MB"
else
	store_line="- store: bolt, one bbolt file in the scratch directory"
fi

if ((HYDRA)); then
	hydra_line="- Ory Hydra $hydra_version (integration/load/hydra/go.mod; sqlite \`dsn: memory\`, JWT access tokens, log level warn): defaults (PBKDF2-SHA256 25,000 iterations, RS256 4096-bit key) and tuned (PBKDF2 1 iteration, ES256 key); RSS at the end $(rss_mb "$hydra_default_pid") MB and $(rss_mb "$hydra_tuned_pid") MB"
else
	hydra_line="- Ory Hydra: not run (HYDRA=0)"
fi

# --- report ------------------------------------------------------------------
cat <<EOF
Scopegate load run, $(date -u +%Y-%m-%dT%H:%MZ)

- machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM; $(go version | cut -d' ' -f3); $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)
- load average (1, 5, 15 min): before $load_before, after $load_after
$store_line
- wrk: $THREADS threads, $CONNECTIONS connections, $ROUNDS interleaved rounds of $DURATION s per variant after a ${WARMUP} s warm-up; token pool $POOL, verified_token_cache_size $VERIFIED_CACHE, signing_alg $SIGNING_ALG
- $upstream_check
- gateway RSS at the end: $(rss_mb "$caddy_pid") MB
$hydra_line
- storage writes by the gateway during the rounds: $((written / 1024)) KiB for $requests requests (/proc/PID/io write_bytes; usage counters are flushed once a minute)

$("$work/loadtool" report -results "$work/results.txt" -alg "$SIGNING_ALG")

$(cat "$work/admin-writes.txt")

req/s, p50 and p99 are medians over the rounds; the ratios are medians of the
per-round ratios against the counterpart named in "vs", measured in the same
round. "errors" sums socket errors, timeouts and responses >= 400 over all
rounds. "server CPU/req" is the user and system CPU time (/proc/PID/stat) of
the process serving the variant (Caddy, or the Hydra process for its rows)
over the requests of a run; the CPU ratio is the counterpart's CPU per
request over the variant's. Admin writes: clients created through the admin
endpoint, then each updated (a JSON merge patch of its scope), then each
deleted, every phase by $WRITERS concurrent writers; per s is clients a
second over the phase, p50 and p99 the latency each writer saw.
EOF
