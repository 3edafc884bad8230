#!/bin/sh
# Runs the cmocka test binaries of one build and sums their results.
#
#   sh tools/run-tests.sh BUILD_DIR
#       Runs BUILD_DIR/tests/unit_* (first), then BUILD_DIR/tests/it_*, each with
#       KVNS_BIN=BUILD_DIR/kvns (absolute path) and a per-binary time limit
#       (KVNS_TEST_TIMEOUT seconds, default 300). Output is shown live and kept in
#       BUILD_DIR/test-logs/NAME.log. Counts come from cmocka's summary lines
#       ("[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s), listed below:");
#       a binary that crashes, times out or exits non-zero without reporting a
#       failed test counts as 1 failed. Skipped cases (cmocka's "[  SKIPPED ]") are
#       counted apart, with the reasons the harness prints ("harness: N case(s)
#       skipped: ..."; harness.h, "skipped cases"). Writes "P F S" to
#       BUILD_DIR/test-summary.txt, prints the skipped cases and their reasons, then
#       "N passed, N failed" as its last line; exits 1 if anything failed.
#       KVNS_TESTS="it_zset unit_list" runs only those binaries (a name with no binary
#       counts as 1 failed); KVNS_TEST_FILTER='*zadd*' (read by the harness) runs only
#       the matching cases of each.
#
#   sh tools/run-tests.sh --summary DIR1 [DIR2 ...]
#       Adds up DIR/test-summary.txt of each build and prints the combined
#       "N passed, N failed" line last (after "N skipped" when any were); exits 1 if any test failed or a summary
#       is missing.
set -u

usage() {
    echo "usage: sh tools/run-tests.sh BUILD_DIR | --summary DIR..." >&2
    exit 2
}

# ---------------------------------------------------------------- --summary mode
if [ "${1:-}" = "--summary" ]; then
    shift
    [ $# -ge 1 ] || usage
    total_p=0 total_f=0 total_s=0 bad=0
    for dir in "$@"; do
        f="$dir/test-summary.txt"
        if [ ! -r "$f" ]; then
            echo "run-tests: $f is missing (tests of $dir did not run to the end)" >&2
            bad=1
            continue
        fi
        p="" f_="" s=""
        read -r p f_ s _rest <"$f" || true
        s=${s:-0}
        case "$p$f_$s" in
            ''|*[!0-9]*)
                echo "run-tests: $f is malformed: '$(cat "$f")'" >&2
                bad=1
                continue ;;
        esac
        echo "$dir: $p passed, $f_ failed, $s skipped"
        total_p=$((total_p + p))
        total_f=$((total_f + f_))
        total_s=$((total_s + s))
    done
    if [ "$total_s" -gt 0 ]; then
        echo "$total_s skipped:"
        for dir in "$@"; do
            [ -r "$dir/test-skips.txt" ] && sed "s|^|  $dir: |" "$dir/test-skips.txt"
        done
    fi
    echo "$total_p passed, $total_f failed"
    [ "$bad" -eq 0 ] && [ "$total_f" -eq 0 ]
    exit $?
fi

# ---------------------------------------------------------------- run mode
[ $# -eq 1 ] || usage
case "$1" in -*) usage ;; esac
build=$1
[ -d "$build" ] || { echo "run-tests: no such build directory: $build" >&2; exit 2; }
build_abs=$(cd "$build" && pwd)
tests_dir="$build_abs/tests"
logs="$build_abs/test-logs"
summary="$build_abs/test-summary.txt"
skips="$build_abs/test-skips.txt"
limit=${KVNS_TEST_TIMEOUT:-300}

mkdir -p "$logs"
rm -f "$summary"   # never leave a stale summary behind if this run is cut short
: >"$skips"

export KVNS_BIN="$build_abs/kvns"
# Sanitizer settings (harmless for non-sanitized binaries); caller's options win.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# cmocka must print its plain-text summary (CMOCKA_MESSAGE_OUTPUT=xml/tap would hide it).
export CMOCKA_MESSAGE_OUTPUT=stdout
unset CMOCKA_XML_FILE 2>/dev/null || true

[ -x "$KVNS_BIN" ] || echo "run-tests: warning: $KVNS_BIN is missing; integration tests may fail" >&2

run_pid="" tail_pid=""
on_signal() {
    [ -n "$run_pid" ] && kill -TERM "$run_pid" 2>/dev/null
    [ -n "$tail_pid" ] && kill -TERM "$tail_pid" 2>/dev/null
    echo "run-tests: interrupted" >&2
    exit 130
}
trap on_signal INT TERM HUP

# Sums the N of every line matching "$2" (an ERE whose first number is N) in file $1.
sum_matches() {
    awk -v re="$2" '
        $0 ~ re { s = substr($0, match($0, re)); if (match(s, /[0-9]+/)) n += substr(s, RSTART, RLENGTH) }
        END { print n + 0 }' "$1"
}

total_p=0 total_f=0 total_s=0 nbin=0 failed_bins=""
for name in ${KVNS_TESTS:-}; do
    if [ ! -x "$tests_dir/$name" ]; then
        echo "--- FAIL $name: no such test binary in $tests_dir"
        total_f=$((total_f + 1))
        failed_bins="$failed_bins $name"
    fi
done
for kind in unit it; do
    for bin in "$tests_dir"/"$kind"_*; do
        if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then continue; fi
        name=${bin##*/}
        case " ${KVNS_TESTS:-$name} " in *" $name "*) ;; *) continue ;; esac
        log="$logs/$name.log"
        nbin=$((nbin + 1))
        echo "=== $name"
        start=$(date +%s)
        # The binary writes straight to its log (no pipe: a stray child process that
        # keeps stdout open cannot stall us); tail shows it live until the binary ends.
        : >"$log"
        timeout -k 10 "$limit" "$bin" >"$log" 2>&1 </dev/null &
        run_pid=$!
        tail -n +1 -s 0.2 --pid="$run_pid" -f "$log" &
        tail_pid=$!
        wait "$run_pid"
        rc=$?
        run_pid=""
        wait "$tail_pid" 2>/dev/null
        tail_pid=""
        secs=$(( $(date +%s) - start ))

        p=$(sum_matches "$log" '\[  PASSED  \] [0-9]+ test\(s\)\.')
        f=$(sum_matches "$log" '\[  FAILED  \] [0-9]+ test\(s\), listed below:')
        s=$(sum_matches "$log" '\[  SKIPPED \] [0-9]+ test\(s\), listed below:')
        has_summary=0
        grep -Eq '\[  (PASSED|FAILED)  \] [0-9]+ test\(s\)' "$log" && has_summary=1

        note=""
        case $rc in
            0) ;;
            124|137) note="timed out after ${limit}s" ;;
            *) if [ "$rc" -gt 128 ]; then note="killed by signal $((rc - 128))"; else note="exit status $rc"; fi ;;
        esac
        if [ "$has_summary" -eq 0 ]; then
            note="${note:+$note, }no cmocka summary"
            [ "$f" -eq 0 ] && f=1
        elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            f=1   # e.g. crash after a passing group, sanitizer report at exit, timeout
        fi

        status=PASS
        [ "$f" -gt 0 ] && { status=FAIL; failed_bins="$failed_bins $name"; }
        extra=""
        if [ "$s" -gt 0 ]; then
            extra=", $s skipped"
            why=$(sed -n 's/^harness: [0-9]* case(s) skipped: //p' "$log" | tail -n 1)
            echo "$name: $s skipped: ${why:-(no reason printed)}" >>"$skips"
        fi
        echo "--- $status $name: $p passed, $f failed$extra (${secs}s${note:+; $note}) log: $log"
        total_p=$((total_p + p))
        total_f=$((total_f + f))
        total_s=$((total_s + s))
    done
done

[ "$nbin" -eq 0 ] && echo "run-tests: warning: no test binaries in $tests_dir" >&2
echo "$total_p $total_f $total_s" >"$summary"
echo
echo "$build: $nbin test binaries${failed_bins:+, failing:$failed_bins}"
if [ "$total_s" -gt 0 ]; then
    echo "$total_s skipped:"
    sed 's/^/  /' "$skips"
fi
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
