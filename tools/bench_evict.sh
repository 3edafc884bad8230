#!/usr/bin/env bash
# bench_evict.sh - kvns vs redis-server under a memory limit (a follow-up of `make bench`,
# also runnable alone: `sh tools/bench_evict.sh` after `make`).
#
# Starts build/kvns (KVNS_MEMORY_LIMIT=<limit> KVNS_EVICTION_POLICY=lru, metrics off) and
# redis-server (--maxmemory <limit> --maxmemory-policy allkeys-lru --save ''), both on
# 127.0.0.1, free ports, each in its own process group, stopped by PID on exit. Then:
#   (a) SET throughput while evicting: redis-benchmark -t set -d 100 -r KEYS -n N -P 16
#       -c 50 with KEYS chosen so that KEYS x ~(100 + overhead) bytes = 3x the limit;
#       one uncounted warm-up run per server (so every counted run starts full), then
#       ROUNDS rounds alternating the servers; medians of requests/s and of server CPU
#       per request, evictions per run, keys resident, used_memory vs maxmemory.
#   (b) hit rate of a skewed workload: tools/zipf_client.c (compiled here with cc) fills
#       a universe of ~3x what fits, then draws keys Zipf(s) distributed and does GET,
#       and SET on a miss (cache-aside), pipelined; hit rate over the counted operations
#       after a warm-up, for kvns lru, redis allkeys-lru and, for reference, redis
#       allkeys-lfu, next to the "oracle" hit rate of a cache holding the same number of
#       keys as the most popular ones.
# kvns's lru means "fewest hits first" (a per-key read counter), Redis's allkeys-lru is
# (approximated) recency: the report says so.
# Output: a table on stdout and $BENCH_OUT/evict.md (logs in $BENCH_OUT/evict-*.log).
#
# Environment (defaults in brackets):
#   EVICT_LIMIT_MB [64]       memory limit of both servers, MiB
#   EVICT_ROUNDS [3]          counted rounds of (a)
#   EVICT_N [1000000]         requests per redis-benchmark run
#   EVICT_CLIENTS [50]        redis-benchmark -c
#   EVICT_PIPELINE [16]       redis-benchmark -P
#   EVICT_VALUE [100]         value bytes (-d, and the Zipf client's values)
#   EVICT_KEY_BYTES [150]     bytes a key costs, overhead included (sizes KEYS)
#   EVICT_KEYS [3 x limit / EVICT_KEY_BYTES]   redis-benchmark -r
#   EVICT_ZIPF_S [1.0]        Zipf exponent
#   EVICT_ZIPF_UNIVERSE [EVICT_KEYS]           distinct keys of the Zipf workload
#   EVICT_ZIPF_WARMUP [1000000] / EVICT_ZIPF_OPS [1000000]   uncounted / counted GETs
#   EVICT_ZIPF_SEED [42]      same GET sequence for every server
#   EVICT_REDIS_LFU [1]       0 skips the redis allkeys-lfu reference run
#   EVICT_RUN_TIMEOUT [300]   seconds before one client run is abandoned
#   EVICT_STRICT [1]          exit 1 when a run failed (e.g. an error reply); 0: exit 0
#   BENCH_KVNS_BIN [build/kvns], BENCH_REDIS_SERVER [redis-server], BENCH_NO_REDIS [0],
#   BENCH_OUT [build/bench], BENCH_START_TIMEOUT [20]
#   KVNS_WORKERS, KVNS_THREADS, KVNS_SHARD_COUNT, KVNS_LOG_LEVEL pass through to kvns
#   (KVNS_PERSIST_PATH, KVNS_EVICTION_THRESHOLD and KVNS_NS_EVICTION are removed).

# `sh tools/bench_evict.sh`: continue in bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# ---------------------------------------------------------------- settings
LIMIT_MB=${EVICT_LIMIT_MB:-64}
ROUNDS=${EVICT_ROUNDS:-3}
N=${EVICT_N:-1000000}
CLIENTS=${EVICT_CLIENTS:-50}
PIPE=${EVICT_PIPELINE:-16}
VALUE=${EVICT_VALUE:-100}
KEY_BYTES=${EVICT_KEY_BYTES:-150}
ZIPF_S=${EVICT_ZIPF_S:-1.0}
ZIPF_WARMUP=${EVICT_ZIPF_WARMUP:-1000000}
ZIPF_OPS=${EVICT_ZIPF_OPS:-1000000}
ZIPF_SEED=${EVICT_ZIPF_SEED:-42}
REDIS_LFU=${EVICT_REDIS_LFU:-1}
RUN_TIMEOUT=${EVICT_RUN_TIMEOUT:-300}
START_TIMEOUT=${BENCH_START_TIMEOUT:-20}
KVNS_EXE=${BENCH_KVNS_BIN:-build/kvns}
REDIS_EXE=${BENCH_REDIS_SERVER:-redis-server}
OUT=${BENCH_OUT:-build/bench}

die() { echo "bench_evict: error: $*" >&2; exit 1; }
log() { echo "bench_evict: $*"; }

for v in LIMIT_MB ROUNDS N CLIENTS PIPE VALUE KEY_BYTES ZIPF_WARMUP ZIPF_OPS ZIPF_SEED RUN_TIMEOUT START_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
[[ $ZIPF_S =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "EVICT_ZIPF_S must be a positive number, got '$ZIPF_S'"
(( ROUNDS >= 1 && LIMIT_MB >= 1 && KEY_BYTES >= 1 && ZIPF_OPS >= 1 )) ||
    die "EVICT_ROUNDS, EVICT_LIMIT_MB, EVICT_KEY_BYTES and EVICT_ZIPF_OPS must be >= 1"
LIMIT=$((LIMIT_MB * 1024 * 1024))
KEYS=${EVICT_KEYS:-$((3 * LIMIT / KEY_BYTES))}
UNIVERSE=${EVICT_ZIPF_UNIVERSE:-$KEYS}
[[ $KEYS =~ ^[0-9]+$ && $UNIVERSE =~ ^[0-9]+$ ]] || die "EVICT_KEYS / EVICT_ZIPF_UNIVERSE must be integers"

if ! command -v redis-benchmark >/dev/null || ! command -v redis-cli >/dev/null; then
    log "redis-benchmark/redis-cli missing: installing redis-tools"
    sh tools/ensure-packages.sh redis-tools || die "redis-benchmark and redis-cli (Debian package redis-tools) are required"
fi
command -v cc >/dev/null || die "a C compiler (cc) is required for tools/zipf_client.c"
[ -x "$KVNS_EXE" ] || die "$KVNS_EXE not found or not executable (run make first)"
HAVE_REDIS=0
if [ "${BENCH_NO_REDIS:-0}" != 1 ] && command -v "$REDIS_EXE" >/dev/null; then HAVE_REDIS=1; fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CLK_TCK=$(getconf CLK_TCK)
ZIPF_BIN="$OUT/zipf_client"
cc -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$ZIPF_BIN" tools/zipf_client.c -lm ||
    die "cannot compile tools/zipf_client.c"

SERVERS=(kvns)
if (( HAVE_REDIS )); then SERVERS+=(redis); fi

# ---------------------------------------------------------------- processes (by PID only)
declare -A PID=() PORT=()
BG_PID=""

# PID $1 and its descendants, one per line.
server_pids() {
    local queue=("$1") p t c
    [ -d "/proc/$1" ] || return 0
    while ((${#queue[@]})); do
        p=${queue[0]}; queue=("${queue[@]:1}")
        echo "$p"
        for t in /proc/"$p"/task/*/children; do
            [ -r "$t" ] || continue
            read -r -a c 2>/dev/null <"$t" || true
            queue+=("${c[@]}")
        done
    done
}

# CPU clock ticks used so far by the process tree of $1 (utime+stime+cutime+cstime).
cpu_ticks() {
    local total=0 p line f
    for p in $(server_pids "$1"); do
        read -r line 2>/dev/null <"/proc/$p/stat" || continue
        read -r -a f <<<"${line##*) }"
        total=$(( total + f[11] + f[12] + f[13] + f[14] ))
    done
    echo "$total"
}

alive() {
    local line
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    line=${line##*) }
    [ "${line%% *}" != Z ]
}

port_in_use() { grep -qi -- "$(printf ':%04X ' "$1")" /proc/net/tcp /proc/net/tcp6 2>/dev/null; }

free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if [ "$p" = "${PORT[kvns]:-}" ] || [ "$p" = "${PORT[redis]:-}" ]; then continue; fi
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "no free TCP port found"
}

rcli() { redis-cli -h 127.0.0.1 -p "${PORT[$1]}" "${@:2}"; }
info_field() {   # server field
    { rcli "$1" INFO everything 2>/dev/null || true; } | tr -d '\r' | awk -F: -v f="$2" '$1 == f && !seen { print $2; seen = 1 }'
}

start_server() {   # kvns | redis
    local s=$1 port pid i logf="$OUT/evict-$1.log"
    port=$(free_port)
    if [ "$s" = kvns ]; then
        env -u KVNS_PERSIST_PATH -u KVNS_EVICTION_THRESHOLD -u KVNS_NS_EVICTION \
            KVNS_HOST=127.0.0.1 KVNS_PORT="$port" KVNS_METRICS_PORT=0 \
            KVNS_MEMORY_LIMIT="${LIMIT_MB}m" KVNS_EVICTION_POLICY=lru \
            setsid "$KVNS_EXE" </dev/null >"$logf" 2>&1 &
    else
        mkdir -p "$OUT/evict-redis-dir"
        setsid "$REDIS_EXE" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
            --maxmemory "${LIMIT_MB}mb" --maxmemory-policy allkeys-lru \
            --dir "$OUT/evict-redis-dir" --daemonize no </dev/null >"$logf" 2>&1 &
    fi
    pid=$!
    PID[$s]=$pid PORT[$s]=$port
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        if ! alive "$pid"; then
            tail -n 20 "$logf" >&2 || true
            die "$s failed to start (log: $logf)"
        fi
        if [ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ]; then
            log "$s ready: pid $pid, port $port, maxmemory $(info_field "$s" maxmemory), policy $(info_field "$s" maxmemory_policy)"
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$logf" >&2 || true
    die "$s did not answer PING on 127.0.0.1:$port within ${START_TIMEOUT}s (log: $logf)"
}

stop_server() {   # SIGTERM to the leader, then SIGKILL what is left of its tree and group
    local s=$1 pid=${PID[$1]:-} pids p i
    [ -n "$pid" ] || return 0
    unset "PID[$s]"
    pids=$(server_pids "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
    for p in $pids; do if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? s
    trap - EXIT INT TERM
    if [ -n "$BG_PID" ]; then kill -TERM "$BG_PID" 2>/dev/null || true; wait "$BG_PID" 2>/dev/null || true; fi
    for s in "${!PID[@]}"; do stop_server "$s"; done
    rm -f "$OUT/evict-run.out"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench_evict: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# Runs a client command in the background (so signals are handled) with a timeout;
# its stdout goes to $OUT/evict-run.out. Returns its exit code.
run_bg() {
    local rc=0
    timeout --foreground -k 5 "$RUN_TIMEOUT" "$@" </dev/null >"$OUT/evict-run.out" 2>>"$OUT/evict-client.err" &
    BG_PID=$!
    wait "$BG_PID" || rc=$?
    BG_PID=""
    return "$rc"
}

median() {
    printf '%s\n' "$@" | { grep -E '^[0-9.eE+-]+$' || true; } | sort -g | awk '
        { a[NR] = $1 }
        END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fmt() { if [[ $2 == nan || $2 == - || -z $2 ]]; then echo "-"; else awk -v f="$1" -v v="$2" 'BEGIN { printf f, v }'; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

# ---------------------------------------------------------------- (a) SET throughput
declare -A RPS=() CPU=() EVICTED=() RESIDENT=() USED=() MAXMEM=()
FAILED=0
FAILNOTES=()

set_run() {   # server label ("round <r>" or "warm-up")
    local s=$1 label=$2 before after ev0 ev1 rc=0 rps cpu keys used why n=$N
    # the warm-up writes at least KEYS random keys (~63% of them distinct): the store fills
    if [ "$label" = warm-up ] && (( KEYS > N )); then n=$KEYS; fi
    ev0=$(info_field "$s" evicted_keys); before=$(cpu_ticks "${PID[$s]}")
    run_bg redis-benchmark -h 127.0.0.1 -p "${PORT[$s]}" -t set -d "$VALUE" -r "$KEYS" \
        -n "$n" -P "$PIPE" -c "$CLIENTS" --csv || rc=$?
    after=$(cpu_ticks "${PID[$s]}"); ev1=$(info_field "$s" evicted_keys)
    alive "${PID[$s]}" || die "$s died during the SET run; log: $OUT/evict-$s.log"
    rps=$({ grep '^"SET"' "$OUT/evict-run.out" || true; } | tail -n 1 | awk -F'","' '{ print $2 }')
    keys=$({ rcli "$s" DBSIZE 2>/dev/null || true; } | tr -d '\r')
    used=$(info_field "$s" used_memory)
    if (( rc != 0 )) || [ -z "$rps" ]; then
        FAILED=$((FAILED + 1))
        why=$(tail -n 1 "$OUT/evict-client.err" 2>/dev/null | tr -d '\r' | cut -c1-160)
        FAILNOTES+=("SET $label on $s: redis-benchmark exit $rc: ${why:-no message}")
        printf '  %-8s %-5s FAILED (exit %d: %s)\n' "$label" "$s" "$rc" "${why:-see $OUT/evict-client.err}"
        return 0
    fi
    cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.3f", t * 1e6 / hz / n }')
    printf '  %-8s %-5s %10s rps %8s cpu us/req  evicted %8s  keys %8s  used_memory %s\n' "$label" "$s" \
        "$(fmt %.0f "$rps")" "$cpu" "$((ev1 - ev0))" "$keys" "$used"
    if [ "$label" = warm-up ]; then
        (( ev1 > ev0 )) || log "warning: $s did not evict during the warm-up: counted runs may start below the limit"
        return 0
    fi
    RPS[$s]+="$rps " CPU[$s]+="$cpu " EVICTED[$s]+="$((ev1 - ev0)) "
    RESIDENT[$s]=$keys USED[$s]=$used
}

# ---------------------------------------------------------------- (b) hit rate
declare -A HIT=() HKEYS=() HUSED=() HOPS=() HERR=() HORACLE=()

oracle() {   # keys -> share of Zipf(s) mass on the `keys` most popular of UNIVERSE
    awk -v k="$1" -v u="$UNIVERSE" -v s="$ZIPF_S" 'BEGIN {
        if (k > u) k = u
        for (i = 1; i <= u; i++) { p = 1 / (i ^ s); t += p; if (i <= k) h += p }
        printf "%.4f", h / t }'
}

zipf_run() {   # server label
    local s=$1 label=$2 line keys used rc=0
    [ "$(rcli "$s" FLUSHALL 2>&1)" = OK ] || die "FLUSHALL failed on $s"
    run_bg "$ZIPF_BIN" -h 127.0.0.1 -p "${PORT[$s]}" -u "$UNIVERSE" -n "$ZIPF_OPS" -w "$ZIPF_WARMUP" \
        -s "$ZIPF_S" -d "$VALUE" -b 64 -S "$ZIPF_SEED" -k "key:" -F || rc=$?
    alive "${PID[$s]}" || die "$s died during the Zipf run; log: $OUT/evict-$s.log"
    line=$(tail -n 1 "$OUT/evict-run.out")
    if (( rc != 0 )) || [[ $line != ops=* ]]; then
        FAILED=$((FAILED + 1))
        FAILNOTES+=("Zipf run $label: exit $rc: $(tail -n 1 "$OUT/evict-client.err" 2>/dev/null | cut -c1-160)")
        printf '  %-22s FAILED (exit %d; see %s)\n' "$label" "$rc" "$OUT/evict-client.err"
        return 0
    fi
    keys=$({ rcli "$s" DBSIZE 2>/dev/null || true; } | tr -d '\r')
    used=$(info_field "$s" used_memory)
    HIT[$label]=$(sed -n 's/.*hit_rate=\([0-9.]*\).*/\1/p' <<<"$line")
    HOPS[$label]=$(sed -n 's/.*ops_per_sec=\([0-9.]*\).*/\1/p' <<<"$line")
    HERR[$label]=$(sed -n 's/.*set_errors=\([0-9]*\).*/\1/p' <<<"$line")
    HKEYS[$label]=$keys HUSED[$label]=$used
    HORACLE[$label]=$(oracle "$keys")
    printf '  %-22s hit rate %s  (oracle for %s keys: %s)  used_memory %s  SET errors %s  %s ops/s\n' "$label" \
        "${HIT[$label]}" "$keys" "${HORACLE[$label]}" "$used" "${HERR[$label]}" "${HOPS[$label]}"
}

# ---------------------------------------------------------------- main
: >"$OUT/evict-client.err"
log "limit ${LIMIT_MB} MiB; SET: -d $VALUE -r $KEYS (~3x the limit at ~$KEY_BYTES B/key) -n $N -P $PIPE -c $CLIENTS, $ROUNDS round(s)"
log "Zipf: s=$ZIPF_S over $UNIVERSE keys, fill + $ZIPF_WARMUP warm-up + $ZIPF_OPS counted GETs (SET on miss)"
if (( HAVE_REDIS )); then log "redis: $("$REDIS_EXE" --version | head -n 1)"; else log "redis-server not installed (or BENCH_NO_REDIS=1): kvns only"; fi
for s in "${SERVERS[@]}"; do start_server "$s"; done
start_ts=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

log "(a) SET throughput while evicting"
for s in "${SERVERS[@]}"; do set_run "$s" warm-up; done
for ((r = 1; r <= ROUNDS; r++)); do
    if (( r % 2 )); then order=("${SERVERS[@]}"); else order=(); for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SERVERS[i]}"); done; fi
    for s in "${order[@]}"; do set_run "$s" "round $r"; done
done
for s in "${SERVERS[@]}"; do MAXMEM[$s]=$(info_field "$s" maxmemory); done

log "(b) hit rate, Zipf s=$ZIPF_S cache-aside"
HLABELS=("kvns lru")
zipf_run kvns "kvns lru"
if (( HAVE_REDIS )); then
    HLABELS+=("redis allkeys-lru")
    zipf_run redis "redis allkeys-lru"
    if [ "$REDIS_LFU" = 1 ]; then
        rcli redis CONFIG SET maxmemory-policy allkeys-lfu >/dev/null
        HLABELS+=("redis allkeys-lfu")
        zipf_run redis "redis allkeys-lfu"
        rcli redis CONFIG SET maxmemory-policy allkeys-lru >/dev/null
    fi
fi
elapsed=$(( $(date +%s) - start_ts ))
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
MD="$OUT/evict.md" TXT="$OUT/evict.txt"
# shellcheck disable=SC2086
{
    k_rps=$(median ${RPS[kvns]:-}); k_cpu=$(median ${CPU[kvns]:-}); k_ev=$(median ${EVICTED[kvns]:-})
    r_rps=nan r_cpu=nan r_ev=nan
    if (( HAVE_REDIS )); then r_rps=$(median ${RPS[redis]:-}); r_cpu=$(median ${CPU[redis]:-}); r_ev=$(median ${EVICTED[redis]:-}); fi
}
per_key() { awk -v u="$1" -v k="$2" 'BEGIN { if (k + 0 == 0 || u == "") print "-"; else printf "%.0f", u / k }'; }
{
    echo
    echo "(a) SET throughput while evicting: limit ${LIMIT_MB} MiB, redis-benchmark -t set -d $VALUE -r $KEYS -n $N -P $PIPE -c $CLIENTS, median of $ROUNDS"
    printf '%-20s | %10s | %11s | %12s | %13s | %12s | %10s\n' server "SET rps" "cpu us/req" "evicted/run" "keys resident" "used_memory" "maxmemory"
    printf -- '-%.0s' {1..106}; echo
    printf '%-20s | %10s | %11s | %12s | %13s | %12s | %10s\n' "kvns lru" "$(fmt %.0f "$k_rps")" "$(fmt %.3f "$k_cpu")" \
        "$(fmt %.0f "$k_ev")" "${RESIDENT[kvns]:--}" "${USED[kvns]:--}" "${MAXMEM[kvns]:--}"
    if (( HAVE_REDIS )); then
        printf '%-20s | %10s | %11s | %12s | %13s | %12s | %10s\n' "redis allkeys-lru" "$(fmt %.0f "$r_rps")" "$(fmt %.3f "$r_cpu")" \
            "$(fmt %.0f "$r_ev")" "${RESIDENT[redis]:--}" "${USED[redis]:--}" "${MAXMEM[redis]:--}"
        echo "ratio kvns/redis: SET rps $(ratio "$k_rps" "$r_rps"), cpu/req $(ratio "$k_cpu" "$r_cpu")"
    fi
    echo
    echo "(b) hit rate: Zipf s=$ZIPF_S over $UNIVERSE keys (~3x what fits), value $VALUE B, cache-aside GET + SET on miss,"
    echo "    universe pre-filled, $ZIPF_WARMUP warm-up GETs, $ZIPF_OPS counted; oracle = the most popular <keys resident> keys cached"
    printf '%-20s | %8s | %13s | %9s | %15s | %10s\n' "server policy" "hit rate" "keys resident" "bytes/key" "oracle hit rate" "client op/s"
    printf -- '-%.0s' {1..88}; echo
    for l in "${HLABELS[@]}"; do
        printf '%-20s | %8s | %13s | %9s | %15s | %10s\n' "$l" "${HIT[$l]:--}" "${HKEYS[$l]:--}" \
            "$(per_key "${HUSED[$l]:-}" "${HKEYS[$l]:-0}")" "${HORACLE[$l]:--}" "$(fmt %.0f "${HOPS[$l]:-}")"
    done
    echo
    echo "Note: kvns 'lru' evicts the keys with the FEWEST HITS first (a per-key read counter, sampled, within the"
    echo "writing key's namespace); Redis 'allkeys-lru' evicts the least RECENTLY used (sampled). allkeys-lfu is Redis's"
    echo "frequency policy, shown for reference. used_memory: kvns counts the store's arena bytes, Redis its allocator's"
    echo "total (server overhead included). Client and servers share the host's $(nproc) CPU(s); load average"
    echo "$LOAD0 at the start, $LOAD1 at the end (a busy host makes the throughput figures noisy)."
    if (( FAILED )); then
        echo "$FAILED run(s) FAILED (left out of the medians):"
        for f in "${FAILNOTES[@]}"; do echo "  - $f"; done
    fi
} | tee "$TXT"

{
    echo "# kvns eviction benchmark"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)); kernel $(uname -r); ${elapsed}s; load average $LOAD0 at the start, $LOAD1 at the end."
    echo "kvns: \`$KVNS_EXE\`$(git rev-parse --short HEAD 2>/dev/null | sed 's/^/ at commit /') with KVNS_MEMORY_LIMIT=${LIMIT_MB}m KVNS_EVICTION_POLICY=lru$(env | grep -E '^KVNS_(WORKERS|THREADS|SHARD_COUNT)=' | tr '\n' ' ' | sed 's/^\(.\)/ \1/; s/ $//')."
    if (( HAVE_REDIS )); then
        echo "redis: $("$REDIS_EXE" --version | head -n 1) with \`--maxmemory ${LIMIT_MB}mb --maxmemory-policy allkeys-lru --save '' --appendonly no\`."
    else
        echo "redis-server is not installed: kvns figures only."
    fi
    echo
    echo "## SET throughput while evicting (working set 3x the limit)"
    echo
    echo "\`redis-benchmark -t set -d $VALUE -r $KEYS -n $N -P $PIPE -c $CLIENTS\`: one uncounted warm-up run per server (each counted run starts full), then $ROUNDS round(s), servers alternating; medians. CPU = utime+stime of the server's processes per request."
    echo
    echo "| server | SET rps | cpu us/req | evicted/run | keys resident | used_memory | maxmemory |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    echo "| kvns lru | $(fmt %.0f "$k_rps") | $(fmt %.3f "$k_cpu") | $(fmt %.0f "$k_ev") | ${RESIDENT[kvns]:--} | ${USED[kvns]:--} | ${MAXMEM[kvns]:--} |"
    if (( HAVE_REDIS )); then
        echo "| redis allkeys-lru | $(fmt %.0f "$r_rps") | $(fmt %.3f "$r_cpu") | $(fmt %.0f "$r_ev") | ${RESIDENT[redis]:--} | ${USED[redis]:--} | ${MAXMEM[redis]:--} |"
        echo
        echo "kvns/redis: SET rps **$(ratio "$k_rps" "$r_rps")**, CPU per request $(ratio "$k_cpu" "$r_cpu")."
    fi
    echo
    echo "## Hit rate of a skewed workload"
    echo
    echo "\`tools/zipf_client.c\`: Zipf s=$ZIPF_S over $UNIVERSE keys (~3x what fits), $VALUE-byte values; the universe is SET once in a scrambled order, then GET and, on a miss, SET (cache-aside), 64 per pipelined batch, one connection; $ZIPF_WARMUP warm-up GETs, hit rate over the next $ZIPF_OPS (same sequence of draws for every server). Oracle: the hit rate of a cache holding exactly the most popular *keys resident* keys."
    echo
    echo "| server policy | hit rate | keys resident | bytes/key | oracle hit rate | client op/s |"
    echo "|---|---:|---:|---:|---:|---:|"
    for l in "${HLABELS[@]}"; do
        echo "| $l | ${HIT[$l]:--} | ${HKEYS[$l]:--} | $(per_key "${HUSED[$l]:-}" "${HKEYS[$l]:-0}") | ${HORACLE[$l]:--} | $(fmt %.0f "${HOPS[$l]:-}") |"
    done
    echo
    echo "kvns \`lru\` evicts the keys with the **fewest hits** first (a per-key read counter; sampled; only within the writing key's namespace). Redis \`allkeys-lru\` evicts the least **recently** used keys (sampled). Redis \`allkeys-lfu\` (a decaying frequency counter) is shown for reference. The hit rates mix policy and memory efficiency: a server that fits more keys in the same limit has a higher ceiling (the oracle column). used_memory: kvns counts its store's arena bytes, Redis its allocator's total including server overhead."
    if (( FAILED )); then
        echo
        echo "$FAILED run(s) failed and are left out of the medians (\`$OUT/evict-client.err\`):"
        echo
        for f in "${FAILNOTES[@]}"; do echo "- $f"; done
    fi
} >"$MD"
log "written $MD"
if (( FAILED )) && [ "${EVICT_STRICT:-1}" = 1 ]; then
    log "$FAILED run(s) failed (exit 1; EVICT_STRICT=0 exits 0 anyway)"
    exit 1
fi
