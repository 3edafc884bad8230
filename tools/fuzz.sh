#!/bin/sh
# Runs the fuzzers of make fuzz (README.md, "Fuzzing"); make fuzz builds them first.
#
#   FUZZ_SECONDS=120 sh tools/fuzz.sh
#
# Each libFuzzer harness of build-fuzz/fuzz/ runs for FUZZ_SECONDS (the snapshot
# loader twice: with KVNS_FUZZ_FIX_CRC=1 for FUZZ_SECONDS, on raw bytes for a quarter
# of it) on the corpus build-fuzz/corpus/NAME, seeded from tests/fuzz/corpus/NAME;
# crashes land in build-fuzz/artifacts/NAME/, logs in build-fuzz/logs/. Then the
# differential fuzzer (build-asan/difffuzz against build-asan/kvns and redis-server)
# runs for 3 x FUZZ_SECONDS on seeds starting from FUZZ_SEED (default: the time),
# going on after failures. Prints a summary; exits 1 when any harness crashed or any
# seed diverged.
set -u
secs=${FUZZ_SECONDS:-120}
seed=${FUZZ_SEED:-$(date +%s)}
root=$(pwd)
out="$root/build-fuzz"
mkdir -p "$out/logs"
status=0
summary=""

# run_harness NAME LOGNAME SECONDS: one libFuzzer harness, its figures in the summary.
run_harness() {
    name=$1 logname=$2 t=$3
    corpus="$out/corpus/$name" artifacts="$out/artifacts/$logname"
    mkdir -p "$corpus" "$artifacts"
    cp -n "$root/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
    log="$out/logs/$logname.log"
    echo "=== $logname: ${t}s"
    "$out/fuzz/fuzz_$name" -max_total_time="$t" -print_final_stats=1 -max_len=16384 \
        -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    crashes=$(ls "$artifacts" | wc -l)
    line="$logname: ${t}s, ${execs:-?} executions (${rate:-?}/s), exit $rc, $crashes crash file(s) in $artifacts"
    echo "$line"
    summary="$summary$line
"
    [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] || status=1
}

run_harness resp resp "$secs"
run_harness http http "$secs"
KVNS_FUZZ_FIX_CRC=1 run_harness snapshot snapshot-fixcrc "$secs"
run_harness snapshot snapshot-raw $(( secs / 4 > 10 ? secs / 4 : 10 ))

# run_diff LOGNAME SECONDS: the differential fuzzer on many seeds.
run_diff() {
    logname=$1 t=$2
    log="$out/logs/$logname.log"
    echo "=== $logname: ${t}s from seed $seed"
    KVNS_BIN="$root/build-asan/kvns" ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
        "$root/build-asan/difffuzz" --seed "$seed" --seeds 1000000 --commands 20000 --seconds "$t" \
        --minimise-seconds 60 --keep-going >"$log" 2>&1
    rc=$?
    line="$logname: $(grep "^difffuzz: [0-9]* commands" "$log" | tail -n 1 | sed "s/^difffuzz: //"), exit $rc (log $log)"
    echo "$line"
    summary="$summary$line
"
    [ "$rc" -eq 0 ] || status=1
}

run_diff difffuzz $(( 3 * secs ))

echo
echo "fuzz summary:"
printf '%s' "$summary"
exit $status
