#!/usr/bin/env bash
#  Builds the libFuzzer targets of fuzz/ with clang (-fsanitize=fuzzer,
#  address,undefined) into build-fuzz/ and runs each for SECONDS_PER_TARGET
#  seconds (default 60) on a copy of its seed corpus (fuzz/corpus/<target>;
#  new inputs go to build-fuzz/corpus/<target>, the seeds stay as they are).
#  Prints executions and findings per target; exits non-zero on any crash,
#  leak, sanitizer report or timeout. Artifacts: build-fuzz/artifacts/.
#  Usage: [SECONDS_PER_TARGET=60] [TARGETS="val gateway config json gguf etcd"] bash fuzz/run.sh
set -u
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_TARGET:-60}
targets=${TARGETS:-"val gateway config json gguf etcd"}
out=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-2}
command -v clang >/dev/null || { echo "fuzz: clang is not installed (apt-get install clang)"; exit 1; }

sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S . -B "$out" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS="$sanitize -fsanitize=fuzzer-no-link" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null || exit 1
cmake --build "$out" -j "$jobs" --target shic_static shic_stand_in >/dev/null || exit 1
libs="$out/libshic.a $(pkg-config --libs libczmq libzmq libcurl jansson libmicrohttpd) -lmsgpackc -lpthread -ldl"
includes="-Iinclude -Imessages -Ikernel -Iplacement -Icluster -Iactors -Ibackends -Itests"
flags="-g -O1 -Wall -Wextra -std=gnu11 -D_GNU_SOURCE $sanitize -fsanitize=fuzzer"
for t in $targets; do
    extra=""
    [ "$t" = gateway ] && extra="tests/shic_test_backends.c -DSHIC_STAND_IN=\"$PWD/$out/shic_stand_in\""
    #  fuzz_config runs shicd's own main, which needs shicd's other files
    [ "$t" = config ] && extra="apps/shicd_check.c apps/shicd_log.c apps/shicd_reload.c"
    # shellcheck disable=SC2086
    clang $flags $includes "fuzz/fuzz_$t.c" $extra $libs -o "$out/fuzz_$t" || exit 1
done

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$out/artifacts"
failed=0
for t in $targets; do
    mkdir -p "$out/corpus/$t"
    log="$out/fuzz_$t.log"
    #  The outer timeout is a backstop: libFuzzer stops itself at max_total_time
    timeout --signal=KILL $((seconds + 120)) "$out/fuzz_$t" -max_total_time="$seconds" \
        -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 -max_len=4096 \
        -artifact_prefix="$out/artifacts/$t-" "$out/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    crashes=$(grep -cE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|==[0-9]+==ERROR" "$log")
    leaks=$(grep -c "ERROR: LeakSanitizer" "$log")
    echo "fuzz $t: ${execs:-?} executions in ${seconds} s, exit $rc, $crashes crash(es), $leaks leak(s)"
    grep -h "got no reply" "$log" | sed "s/^/fuzz $t: /"
    if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=$((failed + 1))
        grep -nE "ERROR|SUMMARY|runtime error|#[0-9]+ 0x" "$log" | head -40
        ls "$out/artifacts" | grep "^$t-" | sed "s|^|fuzz $t: artifact $out/artifacts/|"
    fi
done
[ $failed -eq 0 ]
