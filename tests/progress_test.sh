#!/usr/bin/env bash
#  shic ensure's progress line, phase by phase, against a real shicd (on a
#  terminal: script(1) gives the CLI one):
#  - pulling, with bytes and percent, while an Ollama pull runs (the
#    stand-in Ollama spreads its pull over 3 s, a line at a time);
#  - queued for memory behind a held lease, then evicting the idle
#    instance that holds the memory, with a declared pool of 100 MiB and
#    two models of 60 MiB each.
#  Usage: tests/progress_test.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
test_name=progress
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"
daemon_pid=""
ollama_pid=""
cleanup () {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$ollama_pid" ] && kill -TERM "$ollama_pid" 2>/dev/null
    [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
if ! command -v script > /dev/null; then
    echo "progress: script(1) is missing: skipped"
    exit 77
fi
#  Waits up to $2 deciseconds for file $1 to hold pattern $3
wait_for () {
    for i in $(seq 1 "$2"); do grep -q "$3" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
gw=$(port); ev=$(port); op=$(port)
"$build/shic_stand_in_ollama" --port "$op" --pullable slow --pull-ms 3000 --pull-steps 10 \
    2> "$work/ollama.err" &
ollama_pid=$!
wait_for "$work/ollama.err" 50 "listening on port"
standin="$build/shic_stand_in -m \${MODEL} -a \${MODEL} --host \${HOST} --port \${PORT}"
cat > "$work/shicd.cfg" <<CFG
shicd
    gateway = tcp://127.0.0.1:$gw
    events = tcp://127.0.0.1:$ev
    http =
    control = ipc://$work/control.sock
    resources
        mem = 100MiB
backends
    ollama
        root_url = http://127.0.0.1:$op
        pull_missing = 1
        readiness_interval_ms = 100
    a
        type = command
        command = $standin
        ready_pattern = server is listening on http://
        needs = 60MiB
        device = mem
        models
            m = m
    b
        type = command
        command = $standin
        ready_pattern = server is listening on http://
        needs = 60MiB
        device = mem
        models
            m = m
CFG
${SHICD_WRAPPER:-} "$build/shicd" --config "$work/shicd.cfg" > "$work/out" 2> "$work/err" &
daemon_pid=$!
wait_for "$work/out" 600 "shicd ready"
check "daemon ready" grep -q "shicd ready" "$work/out"
export SHIC_ENDPOINT=tcp://127.0.0.1:$gw SHIC_EVENTS=tcp://127.0.0.1:$ev
control=ipc://$work/control.sock

#  Pulling: the phase with bytes and percent, redrawn as the pull goes
script -qfc "'$build/shic' ensure ollama slow --wait 20s" /dev/null > "$work/pull.out" 2>&1
rc=$?
#  The line is redrawn in place: one line per redraw for grep
tr '\r' '\n' < "$work/pull.out" > "$work/pull.lines"
percents=$(grep -oE 'ollama/slow: pulling [0-9.]+ [KMG]?i?B of 1\.9 GiB \([0-9]+%\)' "$work/pull.lines" \
           | grep -oE '\([0-9]+%\)' | sort -u | grep -vc '(100%)')
check "ensure of a model Ollama must pull succeeds (exit $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q 'endpoint   http://127.0.0.1:$op/v1' '$work/pull.lines'"
check "its progress line shows the pull's bytes and percent as it grows ($percents steps below 100%)" \
    test "$percents" -ge 3
check "the pull's phase shows while it runs, with the time" \
    grep -Eq 'ollama/slow: pulling [0-9.]+ [KMG]?i?B of 1\.9 GiB \([1-9][0-9]?%\), [0-9.]+ s' "$work/pull.lines"

#  Queued: b waits for memory while a holds it with a lease
"$build/shic" --json ensure a m --ttl 60s > "$work/a.json"
lease=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lease"]["lease_ref"])' "$work/a.json")
check "a holds 60 MiB of mem" bash -c "'$build/shic' resources | grep -q '^mem '"
script -qfc "'$build/shic' ensure b m --wait 20s" /dev/null > "$work/queued.out" 2>&1 &
queued_pid=$!
wait_for "$work/queued.out" 100 "queued for memory"
check "ensure of b waits, queued behind a's lease" grep -q 'b/m: queued for memory (position 1)' "$work/queued.out"
#  The lease goes: a is idle, so it is evicted to make room for b
"$build/shic" release "$lease" > /dev/null
wait "$queued_pid"
rc=$?
tr '\r' '\n' < "$work/queued.out" > "$work/queued.lines"
check "then b starts (exit $rc)" bash -c "[ $rc -eq 0 ] && grep -q '^instance   b:m:' '$work/queued.lines'"
check "its progress line showed evicting a to make room" \
    grep -Eq 'b/m: evicting a:m:[^ ]* to make room, [0-9.]+ s' "$work/queued.lines"
check "the phases came in order: queued, evicting, loading" bash -c "
    q=\$(grep -n 'queued for memory' '$work/queued.lines' | head -1 | cut -d: -f1)
    e=\$(grep -n 'evicting a:m:' '$work/queued.lines' | head -1 | cut -d: -f1)
    l=\$(grep -n 'b/m: loading' '$work/queued.lines' | tail -1 | cut -d: -f1)
    [ -n \"\$q\" ] && [ -n \"\$e\" ] && [ -n \"\$l\" ] && [ \$q -lt \$e ] && [ \$e -lt \$l ]"

#  Evicting without a wait: b's lease (the queued ensure's) released, a
#  asks for the memory idle b holds: b is evicted at once
lease=$(sed -n 's/^lease      \(lease-[0-9a-f]*\) .*/\1/p' "$work/queued.lines")
check "the queued ensure printed its lease ($lease)" test -n "$lease"
"$build/shic" release "$lease" > /dev/null
start=$(date +%s%N)
script -qfc "'$build/shic' ensure a m --wait 20s" /dev/null > "$work/evict.out" 2>&1
rc=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
tr '\r' '\n' < "$work/evict.out" > "$work/evict.lines"
#  (its start waits, queued, only until b's process is reaped)
check "ensure of a evicts idle b at once (exit $rc, ${elapsed} ms)" bash -c "[ $rc -eq 0 ] \
    && grep -Eq 'a/m: evicting b:m:[^ ]* to make room, [0-9.]+ s' '$work/evict.lines' && [ $elapsed -lt 5000 ]"
check "shicd logged both evictions" bash -c "grep -q 'shicd: evict: a:m:.* (make_room, for b:m:' '$work/err' \
    && grep -q 'shicd: evict: b:m:.* (make_room, for a:m:' '$work/err'"

kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
daemon_pid=""
check "SIGTERM exits 0" test $rc -eq 0
check "no dangling sockets" bash -c "! grep -q dangling '$work/err'"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
