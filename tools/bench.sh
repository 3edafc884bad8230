#!/usr/bin/env bash
# bench.sh - kvns vs redis-server, side by side (`make bench`; not part of the tests).
#
# Starts build/kvns and, when installed, redis-server on 127.0.0.1 (free ports, no
# persistence), runs the same redis-benchmark profiles against both, alternating
# between the servers, for several rounds, and reports the medians:
#   - requests per second (redis-benchmark --csv),
#   - server CPU time per request: utime+stime (+cutime+cstime, i.e. reaped
#     children) from /proc/<pid>/stat summed over the server's process and all its
#     descendants, sampled before and after each run,
#   - memory per key: exactly BENCH_MEM_KEYS distinct keys (SET key:%012d val:%012d,
#     16-byte keys and values) loaded with `redis-cli --pipe` after FLUSHALL;
#     (used_memory after - before) / DBSIZE, plus PSS/RSS of the server processes.
# Output: a table on stdout and build/bench/results.md (logs in build/bench/).
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS [3]          rounds; each profile runs once per server per round
#   BENCH_N_P1 [200000]       requests per run at pipeline 1
#   BENCH_N_P16 [1000000]     requests per run at pipeline > 1
#   BENCH_CLIENTS [50]        redis-benchmark -c (connections; txn_client -c too)
#   BENCH_KEYSPACE [100000]   redis-benchmark -r
#   BENCH_PROFILES            space-separated "name:test:pipeline[:requests]" entries
#                             (test = a redis-benchmark -t name or one of the tests
#                             below), replacing the default SET/GET/INCR at P1 and P16
#   BENCH_EXTRA [0]           1 adds list/set/hash/zset, EVALSHA and MULTI/EXEC profiles
#                             at P16 (EXTRA_PROFILES)
#   BENCH_MEM_KEYS [1000000]  keys for the memory test; 0 skips it
#   BENCH_RUN_TIMEOUT [300]   seconds before one redis-benchmark run is abandoned
#   BENCH_START_TIMEOUT [20]  seconds a server gets to answer PING after start
#   BENCH_KVNS_BIN [build/kvns]   kvns binary
#   BENCH_TXN_CLIENT [build/txn_client]  the multi3 load generator (make build/txn_client)
#   BENCH_REDIS_SERVER [redis-server]  redis binary; BENCH_NO_REDIS=1 skips redis
#   BENCH_OUT [build/bench]   output directory
#   KVNS_WORKERS, KVNS_THREADS, KVNS_SHARD_COUNT, KVNS_MEMORY_LIMIT, KVNS_LOG_LEVEL
#                             passed through to kvns (KVNS_PERSIST_PATH is removed)
#
# Tests besides redis-benchmark's -t names:
#   evalsha2  redis-benchmark with the command EVALSHA <sha> 2 k1:__rand_int__ k2:__rand_int__
#             of a script doing INCR KEYS[1] and returning INCR KEYS[2], SCRIPT LOADed into
#             each server before the first round (COMMAND_TESTS, TEST_SCRIPTS)
#   multi3    tools/txn_client.c: MULTI, INCR tx:a:<r>, INCR tx:b:<r>, GET tx:a:<r>, EXEC;
#             pipeline = transactions in flight per connection, requests = transactions,
#             so rps is transactions/s and CPU is per transaction; any EXEC reply that is
#             not an array of 3 without errors fails the run

# `make bench` runs this with sh: continue in bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# ---------------------------------------------------------------- settings
BASE_PROFILES="set_p1:set:1 get_p1:get:1 incr_p1:incr:1 set_p16:set:16 get_p16:get:16 incr_p16:incr:16"
# Enabled with BENCH_EXTRA=1 (redis-benchmark -t names; lrange_100 runs its own LPUSH first).
EXTRA_PROFILES="lpush_p16:lpush:16 lpop_p16:lpop:16 lrange_100_p16:lrange_100:16 sadd_p16:sadd:16 spop_p16:spop:16 hset_p16:hset:16 zadd_p16:zadd:16 zpopmin_p16:zpopmin:16 evalsha2_p16:evalsha2:16:200000 multi3_p16:multi3:16:200000"

# Tests run as a redis-benchmark command line (words split on spaces), and the script
# each needs in the servers' script cache (its SHA1 is computed here and checked
# against SCRIPT LOAD's reply).
SCRIPT_INCR2="redis.call('INCR', KEYS[1]) return redis.call('INCR', KEYS[2])"
declare -A TEST_SCRIPTS=([evalsha2]=$SCRIPT_INCR2)
declare -A COMMAND_TESTS=(
    [evalsha2]="EVALSHA $(printf %s "$SCRIPT_INCR2" | sha1sum | cut -d' ' -f1) 2 k1:__rand_int__ k2:__rand_int__"
)
# Tests run by a load generator of tools/ (built by the GNUmakefile).
TXN_TEST=multi3

ROUNDS=${BENCH_ROUNDS:-3}
N_P1=${BENCH_N_P1:-200000}
N_PIPE=${BENCH_N_P16:-1000000}
CLIENTS=${BENCH_CLIENTS:-50}
KEYSPACE=${BENCH_KEYSPACE:-100000}
MEM_KEYS=${BENCH_MEM_KEYS:-1000000}
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
START_TIMEOUT=${BENCH_START_TIMEOUT:-20}
KVNS_EXE=${BENCH_KVNS_BIN:-build/kvns}
REDIS_EXE=${BENCH_REDIS_SERVER:-redis-server}
TXN_CLIENT=${BENCH_TXN_CLIENT:-build/txn_client}
OUT=${BENCH_OUT:-build/bench}

PROFILES=${BENCH_PROFILES:-$BASE_PROFILES}
if [ "${BENCH_EXTRA:-0}" = 1 ]; then PROFILES="$PROFILES $EXTRA_PROFILES"; fi

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*"; }

for v in ROUNDS N_P1 N_PIPE CLIENTS KEYSPACE MEM_KEYS RUN_TIMEOUT START_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
(( ROUNDS >= 1 )) || die "BENCH_ROUNDS must be >= 1"
for p in $PROFILES; do
    [[ $p =~ ^[A-Za-z0-9_]+:[a-z0-9_]+:[0-9]+(:[0-9]+)?$ ]] \
        || die "bad profile '$p' (expected name:test:pipeline[:requests])"
done

if ! command -v redis-benchmark >/dev/null || ! command -v redis-cli >/dev/null; then
    log "redis-benchmark/redis-cli missing: installing redis-tools"
    sh tools/ensure-packages.sh redis-tools || die "redis-benchmark and redis-cli (Debian package redis-tools) are required"
fi
[ -x "$KVNS_EXE" ] || die "$KVNS_EXE not found or not executable (run make first)"
if [[ " $PROFILES" == *":$TXN_TEST:"* ]]; then
    [ -x "$TXN_CLIENT" ] || die "$TXN_CLIENT not found or not executable (run make build/txn_client)"
fi
HAVE_REDIS=0
if [ "${BENCH_NO_REDIS:-0}" != 1 ] && command -v "$REDIS_EXE" >/dev/null; then HAVE_REDIS=1; fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CLK_TCK=$(getconf CLK_TCK)
SERVERS=(kvns)
if (( HAVE_REDIS )); then SERVERS+=(redis); fi

# ---------------------------------------------------------------- process bookkeeping
declare -A PID=() PORT=()
BG_PID=""
declare -A RPS=() CPU=() RAW=()
FAILED_RUNS=0

# Prints the ppid of every process as "pid ppid" lines (fallback when the kernel has
# no /proc/<pid>/task/<tid>/children, i.e. CONFIG_PROC_CHILDREN is off).
ppid_table() {
    local f line rest pid
    for f in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$f" || continue
        pid=${line%% *}
        rest=${line##*) }           # fields from 3 on: state ppid ...
        rest=${rest#* }
        echo "$pid ${rest%% *}"
    done
}

# Prints PID $1 and all its descendants, one per line (by PID, never by name).
server_pids() {
    local root=$1 queue=("$1") p t c
    [ -d "/proc/$root" ] || return 0
    if [ -r "/proc/$root/task/$root/children" ]; then
        while ((${#queue[@]})); do
            p=${queue[0]}; queue=("${queue[@]:1}")
            echo "$p"
            for t in /proc/"$p"/task/*/children; do
                [ -r "$t" ] || continue
                read -r -a c 2>/dev/null <"$t" || true
                queue+=("${c[@]}")
            done
        done
    else
        local -A kids=()
        local a b
        while read -r a b; do kids[$b]+="$a "; done < <(ppid_table)
        while ((${#queue[@]})); do
            p=${queue[0]}; queue=("${queue[@]:1}")
            echo "$p"
            # shellcheck disable=SC2206
            if [ -n "${kids[$p]:-}" ]; then queue+=(${kids[$p]}); fi
        done
    fi
}

# CPU clock ticks used so far by server $1's process tree (utime+stime+cutime+cstime).
cpu_ticks() {
    local total=0 p line f
    for p in $(server_pids "$1"); do
        read -r line 2>/dev/null <"/proc/$p/stat" || continue
        read -r -a f <<<"${line##*) }"      # f[0] is field 3 (state)
        total=$(( total + f[11] + f[12] + f[13] + f[14] ))
    done
    echo "$total"
}

# "PSS_kB RSS_kB NPROC" summed over server $1's process tree (smaps_rollup).
mem_kb() {
    local pss=0 rss=0 n=0 p k v _
    for p in $(server_pids "$1"); do
        [ -r "/proc/$p/smaps_rollup" ] || continue
        n=$((n + 1))
        { while read -r k v _; do
            case $k in Pss:) pss=$((pss + v)) ;; Rss:) rss=$((rss + v)) ;; esac
          done <"/proc/$p/smaps_rollup"; } 2>/dev/null || true
    done
    echo "$pss $rss $n"
}

alive() {   # running and not a zombie
    local line
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    line=${line##*) }
    [ "${line%% *}" != Z ]
}

port_in_use() {
    local hex
    hex=$(printf ':%04X ' "$1")
    grep -qi -- "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if [ "$p" = "${PORT[kvns]:-}" ]; then continue; fi
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "no free TCP port found"
}

rcli() { redis-cli -h 127.0.0.1 -p "${PORT[$1]}" "${@:2}"; }

start_server() {   # $1 = kvns | redis
    local s=$1 port pid i logf="$OUT/$1.log"
    port=$(free_port)
    if [ "$s" = kvns ]; then
        # setsid: own session and process group, so stragglers can be killed by its id.
        env -u KVNS_PERSIST_PATH KVNS_HOST=127.0.0.1 KVNS_PORT="$port" KVNS_METRICS_PORT=0 \
            setsid "$KVNS_EXE" </dev/null >"$logf" 2>&1 &
    else
        mkdir -p "$OUT/redis-dir"
        setsid "$REDIS_EXE" --port "$port" --save "" --appendonly no --bind 127.0.0.1 \
            --dir "$OUT/redis-dir" --daemonize no </dev/null >"$logf" 2>&1 &
    fi
    pid=$!
    PID[$s]=$pid PORT[$s]=$port
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        if ! alive "$pid"; then
            tail -n 20 "$logf" >&2 || true
            die "$s failed to start (exited; log: $logf)"
        fi
        if [ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ]; then
            log "$s ready: pid $pid, port $port, $(server_pids "$pid" | wc -l) process(es)"
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$logf" >&2 || true
    die "$s did not answer PING on 127.0.0.1:$port within ${START_TIMEOUT}s (log: $logf)"
}

stop_server() {   # SIGTERM to the main process, then SIGKILL whatever is left, by PID
    local s=$1 pid=${PID[$1]:-} pids p i
    [ -n "$pid" ] || return 0
    unset "PID[$s]"
    pids=$(server_pids "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
    for p in $pids; do if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi; done
    kill -KILL -- "-$pid" 2>/dev/null || true   # the process group setsid created
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? s
    trap - EXIT INT TERM
    if [ -n "$BG_PID" ]; then kill -TERM "$BG_PID" 2>/dev/null || true; wait "$BG_PID" 2>/dev/null || true; fi
    for s in "${!PID[@]}"; do stop_server "$s"; done
    rm -f "$OUT/run.csv"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- statistics helpers
median() {   # numbers as arguments -> median, or "nan"
    printf '%s\n' "$@" | { grep -E '^[0-9.eE+-]+$' || true; } | sort -g | awk '
        { a[NR] = $1 }
        END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fmt() {   # fmt PRINTF_FORMAT VALUE: "-" for missing values
    if [[ $2 == nan || $2 == - || -z $2 ]]; then echo "-"; else awk -v f="$1" -v v="$2" 'BEGIN { printf f, v }'; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

# SCRIPT LOADs into server $1 the scripts the profiles' tests call; dies when one fails
# or its SHA1 is not the one the test's command line uses.
load_scripts() {
    local s=$1 p test sha want
    for p in $PROFILES; do
        test=$(cut -d: -f2 <<<"$p")
        [ -n "${TEST_SCRIPTS[$test]:-}" ] || continue
        sha=$(rcli "$s" SCRIPT LOAD "${TEST_SCRIPTS[$test]}" 2>&1 | tr -d '\r')
        want=$(printf %s "${TEST_SCRIPTS[$test]}" | sha1sum | cut -d' ' -f1)
        [ "$sha" = "$want" ] || die "$s: SCRIPT LOAD for $test answered '$sha', expected $want"
    done
}

# Sets BENCH_CMD to the client command line of one run: test $1 at pipeline $2, $3
# requests, against server $4.
BENCH_CMD=()
bench_command() {
    local test=$1 pipe=$2 n=$3 port=${PORT[$4]} words
    if [ "$test" = "$TXN_TEST" ]; then
        BENCH_CMD=("$TXN_CLIENT" -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" -r "$KEYSPACE" -P "$pipe")
        return 0
    fi
    BENCH_CMD=(redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" -r "$KEYSPACE" -P "$pipe" --csv)
    if [ -n "${COMMAND_TESTS[$test]:-}" ]; then
        read -r -a words <<<"${COMMAND_TESTS[$test]}"
        BENCH_CMD+=("${words[@]}")
    else
        BENCH_CMD+=(-t "$test")
    fi
}

# ---------------------------------------------------------------- one benchmark run
run_one() {   # $1 server, $2 profile entry, $3 round
    local s=$1 name test pipe n extra out rc before after lines rps cpu_us
    IFS=: read -r name test pipe extra <<<"$2"
    if [ -n "$extra" ]; then n=$extra; elif (( pipe > 1 )); then n=$N_PIPE; else n=$N_P1; fi
    bench_command "$test" "$pipe" "$n" "$s"
    before=$(cpu_ticks "${PID[$s]}")
    # In the background + wait, so a signal to this script is handled at once (cleanup kills BG_PID).
    timeout --foreground -k 5 "$RUN_TIMEOUT" "${BENCH_CMD[@]}" \
        </dev/null >"$OUT/run.csv" 2>>"$OUT/redis-benchmark.err" &
    BG_PID=$!
    rc=0
    wait "$BG_PID" || rc=$?
    BG_PID=""
    out=$(cat "$OUT/run.csv")
    after=$(cpu_ticks "${PID[$s]}")
    alive "${PID[$s]}" || die "$s (pid ${PID[$s]}) died during $name; log: $OUT/$s.log"
    # Data lines: one per test; lrange_* adds its LPUSH fill run, whose requests (and CPU) count too.
    lines=$(grep -c '^"[A-Z]' <<<"$out" || true)
    rps=$({ grep '^"[A-Z]' <<<"$out" || true; } | tail -n 1 | awk -F'","' '{ print $2 }')
    if (( rc != 0 )) || (( lines == 0 )) || [ -z "$rps" ]; then
        FAILED_RUNS=$((FAILED_RUNS + 1))
        printf '  round %d/%d  %-16s %-5s FAILED (exit %d; see %s)\n' "$3" "$ROUNDS" "$name" "$s" "$rc" "$OUT/redis-benchmark.err"
        RAW[$s|$name]+="FAILED "
        return 0
    fi
    cpu_us=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n=$((n * lines)) 'BEGIN { printf "%.3f", t * 1e6 / hz / n }')
    RPS[$s|$name]+="$rps "
    CPU[$s|$name]+="$cpu_us "
    RAW[$s|$name]+="$(fmt %.0f "$rps")/$cpu_us "
    printf '  round %d/%d  %-16s %-5s %12s rps  %8s cpu us/req\n' "$3" "$ROUNDS" "$name" "$s" "$(fmt %.0f "$rps")" "$cpu_us"
}

# ---------------------------------------------------------------- memory per key
declare -A MEM=()
info_used() { { rcli "$1" INFO 2>/dev/null || true; } | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }
mem_test() {   # $1 server
    local s=$1 used0 used1 keys pss0 pss1 rss1 np out rc errs _
    alive "${PID[$s]}" || die "$s (pid ${PID[$s]}) is no longer running; log: $OUT/$s.log"
    [ "$(rcli "$s" FLUSHALL 2>&1)" = OK ] || { echo "  $s: FLUSHALL failed"; return 0; }
    sleep 0.5
    used0=$(info_used "$s"); read -r pss0 _ <<<"$(mem_kb "${PID[$s]}")"
    rc=0
    out=$(awk -v n="$MEM_KEYS" 'BEGIN {
            for (i = 0; i < n; i++)
                printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\nval:%012d\r\n", i, i }' |
          timeout --foreground -k 5 "$RUN_TIMEOUT" redis-cli -h 127.0.0.1 -p "${PORT[$s]}" --pipe 2>&1) || rc=$?
    errs=$(sed -n 's/.*errors: \([0-9]*\), replies: .*/\1/p' <<<"$out")
    if (( rc != 0 )) || [ "${errs:-x}" != 0 ]; then
        echo "  $s: loading keys failed (exit $rc): $(tail -n 1 <<<"$out")"
    fi
    sleep 0.5
    used1=$(info_used "$s"); keys=$({ rcli "$s" DBSIZE 2>/dev/null || true; } | tr -d '\r')
    read -r pss1 rss1 np <<<"$(mem_kb "${PID[$s]}")"
    [[ $keys =~ ^[0-9]+$ ]] || keys=0
    MEM[$s|keys]=$keys MEM[$s|used0]=${used0:-nan} MEM[$s|used1]=${used1:-nan}
    MEM[$s|pss1]=$pss1 MEM[$s|rss1]=$rss1 MEM[$s|nproc]=$np
    MEM[$s|perkey]=$(awk -v a="${used0:-x}" -v b="${used1:-x}" -v k="$keys" 'BEGIN {
        if (k == 0 || a !~ /^[0-9]+$/ || b !~ /^[0-9]+$/) print "nan"; else printf "%.1f", (b - a) / k }')
    MEM[$s|psskey]=$(awk -v a="$pss0" -v b="$pss1" -v k="$keys" 'BEGIN { if (k == 0) print "nan"; else printf "%.1f", (b - a) * 1024 / k }')
    printf '  %-5s %d keys: used_memory %s -> %s = %s bytes/key; PSS %s MiB (%s bytes/key), RSS sum %s MiB over %d process(es)\n' \
        "$s" "$keys" "${used0:-?}" "${used1:-?}" "${MEM[$s|perkey]}" "$(fmt %.1f "$(awk -v k="$pss1" 'BEGIN{print k/1024}')")" \
        "${MEM[$s|psskey]}" "$(fmt %.1f "$(awk -v k="$rss1" 'BEGIN{print k/1024}')")" "$np"
    if (( keys != MEM_KEYS )); then echo "  $s: warning: DBSIZE is $keys, expected $MEM_KEYS"; fi
    rcli "$s" FLUSHALL >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- main
: >"$OUT/redis-benchmark.err"
nprof=$(wc -w <<<"$PROFILES")
log "kvns: $KVNS_EXE; rounds: $ROUNDS; profiles: $nprof; clients: $CLIENTS; -n $N_P1 (P1) / $N_PIPE (pipelined); -r $KEYSPACE"
if (( HAVE_REDIS )); then
    log "redis: $("$REDIS_EXE" --version | head -n 1)"
else
    log "redis-server is not installed (or BENCH_NO_REDIS=1): reporting kvns figures alone"
fi
for s in "${SERVERS[@]}"; do start_server "$s"; load_scripts "$s"; done

start_ts=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r/$ROUNDS ($(( $(date +%s) - start_ts ))s elapsed)"
    for p in $PROFILES; do
        # Alternate which server goes first, so neither always runs on a warmer machine.
        if (( r % 2 )); then order=("${SERVERS[@]}"); else order=(); for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SERVERS[i]}"); done; fi
        for s in "${order[@]}"; do run_one "$s" "$p" "$r"; done
    done
done

if (( MEM_KEYS > 0 )); then
    log "memory per key: loading $MEM_KEYS distinct keys (16-byte keys and values) into each server"
    for s in "${SERVERS[@]}"; do mem_test "$s"; done
fi
elapsed=$(( $(date +%s) - start_ts ))

# ---------------------------------------------------------------- report
TXT="$OUT/results.txt" MD="$OUT/results.md"
{
    echo
    if (( HAVE_REDIS )); then
        printf '%-18s | %10s | %10s | %5s | %15s | %16s | %9s\n' profile "kvns rps" "redis rps" ratio \
            "kvns cpu us/req" "redis cpu us/req" "cpu ratio"
        printf -- '-%.0s' {1..102}; echo
    else
        printf '%-18s | %10s | %15s\n' profile "kvns rps" "kvns cpu us/req"
        printf -- '-%.0s' {1..50}; echo
    fi
} >"$TXT"
{
    echo "# kvns benchmark"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)); kernel $(uname -r)."
    echo "kvns: \`$KVNS_EXE\`$(git rev-parse --short HEAD 2>/dev/null | sed 's/^/ at commit /')$(env | grep -E '^KVNS_(WORKERS|THREADS|SHARD_COUNT|MEMORY_LIMIT)=' | tr '\n' ' ' | sed 's/^\(.\)/ with \1/; s/ $//')."
    if (( HAVE_REDIS )); then
        echo "redis: $("$REDIS_EXE" --version | head -n 1) (\`--save \"\" --appendonly no\`)."
    else
        echo "redis-server is not installed: kvns figures only."
    fi
    echo "redis-benchmark -c $CLIENTS -r $KEYSPACE, -n $N_P1 at P1 and $N_PIPE pipelined; median of $ROUNDS round(s)$( ((HAVE_REDIS)) && echo ", servers alternating"); ${elapsed}s."
    echo "CPU = utime+stime (+ reaped children) of all server processes per request; ratio = kvns/redis (rps: higher is better for kvns; cpu: lower is better)."
    for t in "${!COMMAND_TESTS[@]}"; do
        if [[ " $PROFILES" == *":$t:"* ]]; then echo "$t: \`redis-benchmark ... ${COMMAND_TESTS[$t]}\`${TEST_SCRIPTS[$t]:+, script \`${TEST_SCRIPTS[$t]}\` loaded first}."; fi
    done
    if [[ " $PROFILES" == *":$TXN_TEST:"* ]]; then
        echo "$TXN_TEST: \`$TXN_CLIENT\` (tools/txn_client.c), transactions MULTI, INCR tx:a:<r>, INCR tx:b:<r>, GET tx:a:<r>, EXEC; pipeline = transactions per batch per connection; a request is a transaction (5 commands): rps = transactions/s, CPU per transaction."
    fi
    echo
    if (( HAVE_REDIS )); then
        echo "| profile | kvns rps | redis rps | ratio | kvns cpu us/req | redis cpu us/req | cpu ratio |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
    else
        echo "| profile | kvns rps | kvns cpu us/req |"
        echo "|---|---:|---:|"
    fi
} >"$MD"

for p in $PROFILES; do
    name=${p%%:*}
    # shellcheck disable=SC2086
    kr=$(median ${RPS[kvns|$name]:-})
    # shellcheck disable=SC2086
    kc=$(median ${CPU[kvns|$name]:-})
    if (( HAVE_REDIS )); then
        # shellcheck disable=SC2086
        rr=$(median ${RPS[redis|$name]:-})
        # shellcheck disable=SC2086
        rc_=$(median ${CPU[redis|$name]:-})
        row=("$name" "$(fmt %.0f "$kr")" "$(fmt %.0f "$rr")" "$(ratio "$kr" "$rr")" \
             "$(fmt %.3f "$kc")" "$(fmt %.3f "$rc_")" "$(ratio "$kc" "$rc_")")
        printf '%-18s | %10s | %10s | %5s | %15s | %16s | %9s\n' "${row[@]}" >>"$TXT"
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${row[@]}" >>"$MD"
    else
        row=("$name" "$(fmt %.0f "$kr")" "$(fmt %.3f "$kc")")
        printf '%-18s | %10s | %15s\n' "${row[@]}" >>"$TXT"
        printf '| %s | %s | %s |\n' "${row[@]}" >>"$MD"
    fi
done

if (( MEM_KEYS > 0 )); then
    {
        echo
        echo "memory per key ($MEM_KEYS x SET key:%012d val:%012d; (used_memory after - before) / DBSIZE):"
        for s in "${SERVERS[@]}"; do
            printf '  %-5s %8s bytes/key (used_memory), %8s bytes/key (PSS); keys %s; PSS %s MiB, RSS sum %s MiB, %s process(es)\n' \
                "$s" "${MEM[$s|perkey]:-nan}" "${MEM[$s|psskey]:-nan}" "${MEM[$s|keys]:-0}" \
                "$(fmt %.1f "$(awk -v k="${MEM[$s|pss1]:-0}" 'BEGIN{print k/1024}')")" \
                "$(fmt %.1f "$(awk -v k="${MEM[$s|rss1]:-0}" 'BEGIN{print k/1024}')")" "${MEM[$s|nproc]:-0}"
        done
        if (( HAVE_REDIS )); then
            echo "  ratio kvns/redis: $(ratio "${MEM[kvns|perkey]:-nan}" "${MEM[redis|perkey]:-nan}") (used_memory), $(ratio "${MEM[kvns|psskey]:-nan}" "${MEM[redis|psskey]:-nan}") (PSS)"
        fi
        echo "  (RSS summed over kvns processes counts the shared arena once per process; PSS is the fair figure)"
    } >>"$TXT"
    {
        echo
        echo "## Memory per key"
        echo
        echo "$MEM_KEYS distinct keys \`SET key:%012d val:%012d\` (16-byte keys and values) loaded with \`redis-cli --pipe\` after FLUSHALL."
        echo "PSS/RSS are summed over all the server's processes after loading (kvns: supervisor, workers, housekeeper; RSS counts the shared arena once per process, PSS shares it out)."
        echo
        echo "| server | keys | used_memory before | used_memory after | bytes/key | PSS delta bytes/key | PSS MiB | RSS sum MiB | processes |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        for s in "${SERVERS[@]}"; do
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$s" "${MEM[$s|keys]:-0}" "${MEM[$s|used0]:--}" \
                "${MEM[$s|used1]:--}" "${MEM[$s|perkey]:--}" "${MEM[$s|psskey]:--}" \
                "$(fmt %.1f "$(awk -v k="${MEM[$s|pss1]:-0}" 'BEGIN{print k/1024}')")" \
                "$(fmt %.1f "$(awk -v k="${MEM[$s|rss1]:-0}" 'BEGIN{print k/1024}')")" "${MEM[$s|nproc]:-0}"
        done
        if (( HAVE_REDIS )); then
            echo
            echo "bytes/key ratio kvns/redis: $(ratio "${MEM[kvns|perkey]:-nan}" "${MEM[redis|perkey]:-nan}") (used_memory), $(ratio "${MEM[kvns|psskey]:-nan}" "${MEM[redis|psskey]:-nan}") (PSS)."
        fi
    } >>"$MD"
fi

{
    echo
    echo "## Raw runs (rps/cpu us per request, per round)"
    echo
    echo "| profile | server | runs |"
    echo "|---|---|---|"
    for p in $PROFILES; do
        for s in "${SERVERS[@]}"; do echo "| ${p%%:*} | $s | ${RAW[$s|${p%%:*}]:-} |"; done
    done
} >>"$MD"

cat "$TXT"
if (( ! HAVE_REDIS )); then echo "(redis-server is not installed: kvns figures only)"; fi
echo
log "done in ${elapsed}s; written $MD"
if (( FAILED_RUNS > 0 )); then
    die "$FAILED_RUNS benchmark run(s) failed (see $OUT/redis-benchmark.err)"
fi
