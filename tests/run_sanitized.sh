#!/usr/bin/env bash
#  Runs every self test of a sanitizer build, one process per test, and
#  fails on any test failure, leak, UB report or czmq "dangling socket"
#  line (czmq exits 0 even then). Prints "N passed, N failed".
set -u
build=${1:-build-asan}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
passed=0
failed=0
skipped=0
logs=$(mktemp -d)
for t in $("$build/shic_selftest" --list); do
    timeout 300 "$build/shic_selftest" --test "$t" >"$logs/$t.log" 2>&1
    rc=$?
    if [ $rc -eq 77 ] && ! grep -qE "dangling|AddressSanitizer|LeakSanitizer|runtime error" "$logs/$t.log"; then
        echo "sanitized $t: skipped ($(grep -o 'skipped (.*)' "$logs/$t.log" | head -1))"
        skipped=$((skipped + 1))
        continue
    fi
    if [ $rc -ne 0 ] || grep -qE "dangling|AddressSanitizer|LeakSanitizer|runtime error" "$logs/$t.log"; then
        echo "sanitized $t: FAILED (exit $rc)"
        sed -n '1,60p' "$logs/$t.log"
        failed=$((failed + 1))
    else
        echo "sanitized $t: ok"
        passed=$((passed + 1))
    fi
done
rm -rf "$logs"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
