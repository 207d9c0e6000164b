#!/usr/bin/env bash
#  shicd end to end over TCP, driven by the shic command line: start with a
#  configuration, ensure an endpoint of a config-only command backend (the
#  stand-in llama-server), a chat completion through it, release, ps, a bad
#  configuration naming file/line/key, SIGTERM: exit 0 and nothing left.
#  Usage: tests/daemon_test.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
test_name=daemon
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"
daemon_pid=""
cleanup () {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null
    [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
gw=$(port); ev=$(port)
standin="$build/shic_stand_in -m \${MODEL} -a \${MODEL} --host \${HOST} --port \${PORT}"
cat > "$work/shicd.cfg" <<CFG
shicd
    gateway = tcp://127.0.0.1:$gw
    events = tcp://127.0.0.1:$ev
    client_timeout_ms = 30000
    control = ipc://$work/control.sock
backends
    standin
        type = command
        command = $build/shic_stand_in -m \${MODEL} -a \${MODEL} --host \${HOST} --port \${PORT}
        ready_pattern = server is listening on http://
        models
            tiny = tiny
        idle_shutdown_ms = 60000
    slow
        type = command
        command = $build/shic_stand_in -m \${MODEL} -a \${MODEL} --host \${HOST} --port \${PORT} --load-ms 30000
        ready_pattern = server is listening on http://
        needs = 8MiB
        models
            tiny = tiny
        idle_shutdown_ms = 60000
CFG
#  Lifecycle lines: an idle stop, a crash, a start that fails
for backend in "brief|idle_shutdown_ms = 300" "crashy|" "broken|"; do
    name=${backend%%|*}
    flags=$( [ $name = crashy ] && echo "--crash-after 1"; [ $name = broken ] && echo "--exit-before-ready 3")
    printf '    %s\n        type = command\n        command = %s %s\n' "$name" "$standin" "$flags"
    printf '        ready_pattern = server is listening on http://\n        models\n            small = small\n'
    [ -n "${backend#*|}" ] && printf '        %s\n' "${backend#*|}"
done >> "$work/shicd.cfg"
#  SHICD_WRAPPER runs the daemon under a tool, e.g. valgrind memcheck
${SHICD_WRAPPER:-} "$build/shicd" --config "$work/shicd.cfg" > "$work/out" 2> "$work/err" &
daemon_pid=$!
for i in $(seq 1 600); do grep -q "shicd ready" "$work/out" && break; sleep 0.05; done
check "daemon ready" grep -q "shicd ready" "$work/out"
export SHIC_ENDPOINT=tcp://127.0.0.1:$gw SHIC_EVENTS=tcp://127.0.0.1:$ev
check "ping" "$build/shic" ping
check "backends lists standin" bash -c "'$build/shic' backends | grep -q standin"
check "backends shows each backend's models" bash -c "'$build/shic' backends | grep -Eq '^standin .* tiny$'"
check "models lists a command backend's model and its \${MODEL}" \
    bash -c "'$build/shic' models | grep -Eq '^standin +tiny +- +- +no +tiny$'"
check "models shows a declared footprint" \
    bash -c "'$build/shic' models --backend slow | grep -Eq '^slow +tiny +- +8.0 MiB \(declared\) +no +tiny$'"
check "models of an unknown backend exits 1" bash -c "! '$build/shic' models --backend nope 2>/dev/null"
"$build/shic" --json ensure standin tiny --ttl 60s > "$work/ensure.json"
check "ensure" grep -q '"base_url":"http://127.0.0.1:' "$work/ensure.json"
base=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"]["base_url"])' "$work/ensure.json")
lease=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lease"]["lease_ref"])' "$work/ensure.json")
check "chat through the endpoint" bash -c "curl -sf -H 'Content-Type: application/json' \
    -d '{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}' '$base/chat/completions' | grep -q 'Hello from the stand-in'"
check "models says where a model is loaded" \
    bash -c "'$build/shic' --json models --backend standin | grep -q '\"loaded\":true,\"instance\":{\"instance_id\":\"standin:tiny:'"
check "ps shows it ready" bash -c "'$build/shic' ps | grep -q ready"
check "ps has a model column" bash -c "'$build/shic' ps | grep -Eq '^INSTANCE +BACKEND +MODEL' && '$build/shic' ps | grep -Eq 'standin +tiny +ready'"
check "ps --wide shows whole ids" bash -c "'$build/shic' ps --wide | grep -q \"\$('$build/shic' --json ps | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"instances\"][0][\"instance_id\"])')\""
control=ipc://$work/control.sock
#  A lease ref is a capability: another connection sees the lease without
#  it; the control socket (the operator's, mode 0600) sees every ref
check "leases of another client hide the ref" bash -c "'$build/shic' leases | grep -v '$lease' | grep -q '^- '"
check "the control socket is private" test "$(stat -c %a "$work/control.sock")" = 600
check "leases lists the lease" bash -c "'$build/shic' -E $control leases | grep -q '$lease'"
check "leases says when it expires" bash -c "'$build/shic' -E $control leases | grep '$lease' | grep -Eq ' 1m +in ([0-9]+s|1m)$'"
check "release says it released" bash -c "'$build/shic' release '$lease' | grep -q '^released $lease'"
check "release again: idempotent, says nothing was live" \
    bash -c "'$build/shic' release '$lease' | grep -q 'no live lease' && '$build/shic' --json release '$lease' | grep -q '\"released\":false'"
check "release of an unknown lease exits 0 and says so" bash -c "'$build/shic' release nope | grep -q 'no live lease nope'"
#  Logs: the instance's own lines, one shicd line per lifecycle step
check "logs by model shows the service's lines" \
    bash -c "'$build/shic' logs tiny | grep -q 'server is listening on http://'"
check "logs --json numbers the lines" bash -c "'$build/shic' --json logs tiny --lines 1 | grep -q '\"next\":[1-9]'"
timeout --preserve-status -s INT 1.2 "$build/shic" logs tiny -f > "$work/follow.out" 2>&1
rc=$?
check "logs -f follows until Ctrl-C (exit $rc)" bash -c "[ $rc -eq 130 ] && grep -q 'server is listening' '$work/follow.out'"
check "shicd logs a start" grep -q "shicd: start: standin:tiny" "$work/err"
check "shicd logs a ready" grep -Eq "shicd: ready: standin:tiny:.* at http://127.0.0.1:" "$work/err"
"$build/shic" ensure brief small --ttl 100ms > /dev/null
for i in $(seq 1 60); do grep -q "idle stop: brief:small" "$work/err" && break; sleep 0.05; done
check "shicd logs an idle stop" grep -q "shicd: idle stop: brief:small" "$work/err"
"$build/shic" ensure broken small > /dev/null 2> "$work/broken.err"
check "a failed start shows the service's last lines as lines" \
    bash -c "grep -q \"the service's last lines:\" '$work/broken.err' && grep -q '^    | ' '$work/broken.err' && ! grep -q 'stderr_tail' '$work/broken.err'"
check "shicd logs a failed start" grep -q "shicd: failed: broken:small" "$work/err"
"$build/shic" ensure crashy small --wait 3s > /dev/null 2>&1
for i in $(seq 1 100); do grep -q "shicd: crash: crashy:small" "$work/err" && break; sleep 0.05; done
check "shicd logs a crash and its restart" grep -Eq "shicd: crash: crashy:small:.* \(signal 6\); restart 1 in" "$work/err"
check "logs of a failed instance: its last exit's lines" \
    bash -c "'$build/shic' --json logs broken:small | grep -q '\"source\":\"last_exit\"'"
check "logs --lines 1 of a failed instance: its last line alone (shicd lives on)" \
    bash -c "[ \$('$build/shic' logs broken:small | wc -l) -gt 1 ] && [ \$('$build/shic' logs broken:small --lines 1 | wc -l) -eq 1 ] \
    && kill -0 $daemon_pid"
#  stop: forbidden to network clients, done on the control socket
instance=$("$build/shic" --json ps --backend standin | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["instance_id"])')
"$build/shic" stop "$instance" > /dev/null 2> "$work/stop.err"
check "stop over TCP is forbidden (exit 1)" bash -c "[ $? -eq 1 ] && grep -q forbidden '$work/stop.err' && grep -q 'control socket' '$work/stop.err'"
check "stop by model name on the control socket" bash -c "'$build/shic' -E $control stop tiny | grep -Eq '^standin:.* standin tiny: stopping$'"
for i in $(seq 1 100); do "$build/shic" ps | grep -q stopping || break; sleep 0.05; done
check "shicd logs a requested stop" bash -c "for i in \$(seq 1 60); do grep -q 'shicd: stopped: standin:tiny.* (requested)' '$work/err' && exit 0; sleep 0.05; done; exit 1"
check "the instance stopped" bash -c "'$build/shic' ps | grep -Eq 'standin +tiny +stopped'"
check "stop of a stopped instance says so" bash -c "'$build/shic' -E $control stop standin: | grep -q 'already ended'"
"$build/shic" ensure standin tiny --ttl 60s > /dev/null
#  examples/chat.c: typed endpoint, one chat completion with libcurl, release
if [ -x "$build/shic_chat" ]; then
    "$build/shic_chat" standin tiny "hi" > "$work/chat.out" 2> "$work/chat.err"
    check "examples/chat.c exits 0" test $? -eq 0
    check "examples/chat.c prints the answer" grep -q "Hello from the stand-in" "$work/chat.out"
    chat_lease=$(sed -n 's/.*(lease \([^,]*\),.*/\1/p' "$work/chat.err")
    check "examples/chat.c released its lease ($chat_lease)" \
        bash -c "[ -n '$chat_lease' ] && ! '$build/shic' -E $control leases | grep -q '^$chat_lease '"
    SHIC_ENDPOINT=tcp://127.0.0.1:$(port) "$build/shic_chat" standin tiny > /dev/null 2>&1
    check "examples/chat.c with no daemon exits 3" test $? -eq 3
fi
#  stop: by model, by prefix, unknown (not_found, exit 1), ambiguous (lists), --all
"$build/shic" -E "$control" stop nosuch > /dev/null 2> "$work/stop.err"
check "stop of an unknown instance exits 1 with not_found" \
    bash -c "[ $? -eq 1 ] && grep -q 'not_found' '$work/stop.err'"
"$build/shic" --json ensure slow tiny --wait 100ms > /dev/null 2>&1
"$build/shic" -E "$control" stop s > /dev/null 2> "$work/stop.err"
check "stop of an ambiguous prefix exits 1 and lists the matches" \
    bash -c "[ $? -eq 1 ] && grep -q ambiguous '$work/stop.err' && grep -q '^  slow:' '$work/stop.err' && grep -q '^  standin:' '$work/stop.err'"
check "stop by id prefix says what it stopped" bash -c "'$build/shic' -E $control stop slow: | grep -Eq '^slow:.* slow tiny: stopping$'"
for i in $(seq 1 100); do "$build/shic" ps --backend slow | grep -q stopping || break; sleep 0.05; done
"$build/shic" ensure nope tiny > /dev/null 2>&1
check "unknown backend exits 1" test $? -eq 1
"$build/shic" --endpoint tcp://127.0.0.1:1 --timeout 300ms ping > /dev/null 2>&1
check "no daemon exits 3" test $? -eq 3
#  No daemon: an ensure (which may wait minutes for a cold start) fails
#  within 3 s, naming the endpoint
nobody=tcp://127.0.0.1:$(port)
start=$(date +%s%N)
"$build/shic" --endpoint "$nobody" ensure standin tiny 2> "$work/nobody.err"
rc=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
check "no daemon: ensure exits 3" test $rc -eq 3
check "no daemon: ensure fails within 3 s (${elapsed} ms)" test $elapsed -lt 3000
check "no daemon: the error names the endpoint" grep -q "no daemon answers at $nobody" "$work/nobody.err"
"$build/shic" bogus > /dev/null 2>&1
check "usage exits 2" test $? -eq 2
check "a typo gets a suggestion" bash -c "'$build/shic' pss 2>&1 | grep -q \"did you mean 'ps'\""
check "--version" bash -c "'$build/shic' --version | grep -q '^shic [0-9]'"
check "shicd --version" bash -c "'$build/shicd' --version | grep -q '^shicd [0-9]'"
#  packaging/shic.bash-completion knows every command and option of --help
completion=$(dirname "$0")/../packaging/shic.bash-completion
missing=""
for word in $("$build/shic" --help | sed -n '/^Commands:/,/^Options:/p' | grep -oE '^  [a-z]+' ) \
            $("$build/shic" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
    grep -qE -- "(^|[ \"|(])$word([ \")|]|\$)" "$completion" || missing="$missing $word"
done
check "bash completion covers shic --help${missing:+ (missing:$missing)}" test -z "$missing"
#  The progress line (on a terminal: script gives one) shows the requested
#  instance's phase, time and the service's last line
#  (not under valgrind, where shicd is too slow for the 2.5 s this allows)
if command -v script > /dev/null && [ -z "${SHICD_WRAPPER:-}" ]; then
    "$build/shic" ensure standin tiny --ttl 60s > /dev/null     #  (another instance, ready)
    script -qfc "'$build/shic' ensure slow tiny --wait 2500ms" /dev/null > "$work/progress.out" 2>&1
    check "ensure's progress shows loading, elapsed time and the last log line" \
        grep -Eq 'slow/tiny: loading, [0-9.]+ s \| (main|srv) ' "$work/progress.out"
    "$build/shic" -E "$control" stop slow: > /dev/null
fi
#  Ctrl-C and SIGTERM end a waiting ensure at once (the slow backend's
#  service takes 30 s to load)
for sig in INT TERM; do
    start=$(date +%s%N)
    timeout --preserve-status -s $sig 1.5 "$build/shic" ensure slow tiny --wait 60s > /dev/null 2> "$work/sig.err"
    rc=$?
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    want=$([ $sig = INT ] && echo 130 || echo 143)
    check "SIG$sig ends a waiting ensure at once (exit $rc, ${elapsed} ms)" \
        bash -c "[ $rc -eq $want ] && [ $elapsed -lt 2500 ]"
done
#  SIGHUP reloads: brief removed (its leased instance stops), extra added,
#  slow changed (registered anew), standin unchanged (its service keeps running); a bad file changes nothing
"$build/shic" ensure standin tiny --ttl 60s > /dev/null
"$build/shic" ensure brief small --ttl 60s > /dev/null
kept=$("$build/shic" --json ps --backend standin | /usr/bin/python3 -c 'import json,sys; print([i["pid"] for i in json.load(sys.stdin)["instances"] if i["lifecycle_status"]=="ready"][0])')
awk '/^    [^ ]/ { skip = ($1 == "brief") } !skip' "$work/shicd.cfg" | sed 's/needs = 8MiB/needs = 9MiB/' > "$work/next.cfg"
printf '    extra\n        type = command\n        command = %s\n        models\n            e = e\n' "$standin" >> "$work/next.cfg"
cp "$work/shicd.cfg" "$work/first.cfg"
cp "$work/next.cfg" "$work/shicd.cfg"
kill -HUP "$daemon_pid"
for i in $(seq 1 100); do grep -q "reload: applied" "$work/err" && break; sleep 0.05; done
check "SIGHUP reloads and shicd lives on" bash -c "grep -q 'reload: applied (2 backend' '$work/err' && kill -0 $daemon_pid"
check "reload: a changed backend is registered anew" bash -c "grep -q 'reload: backend slow changed' '$work/err' \
    && '$build/shic' models --backend slow | grep -q '9.0 MiB (declared)'"
check "reload: the added backend is there" bash -c "'$build/shic' backends | grep -q '^extra '"
check "reload: the removed one is gone" bash -c "! '$build/shic' backends | grep -q '^brief '"
check "reload: its instance stopped" bash -c "for i in \$(seq 1 60); do grep -q 'stopped: brief:small.* (backend_removed)' '$work/err' && exit 0; sleep 0.05; done; exit 1"
check "reload: an unchanged backend's service runs on (pid $kept)" \
    bash -c "kill -0 $kept && '$build/shic' --json ps --backend standin | grep -q '\"pid\":$kept'"
printf 'backends\n    standin\n        type = nonsense\n' > "$work/shicd.cfg"
kill -HUP "$daemon_pid"
for i in $(seq 1 100); do grep -q "reload refused" "$work/err" && break; sleep 0.05; done
check "a bad file is refused, says why, changes nothing" bash -c "grep -q 'reload refused, keeping the configuration running: .*nonsense' '$work/err' \
    && kill -0 $daemon_pid && '$build/shic' backends | grep -q '^extra ' && kill -0 $kept"
cp "$work/next.cfg" "$work/shicd.cfg"
#  The reload op does what SIGHUP does, for the control socket only, and
#  answers what it did, or why it did nothing
cp "$work/next.cfg" "$work/op.cfg"
printf '    viaop\n        type = command\n        command = %s\n        ready_pattern = server is listening on http://\n        models\n            v = v\n' \
    "$standin" >> "$work/op.cfg"
cp "$work/op.cfg" "$work/shicd.cfg"
"$build/shic" reload > /dev/null 2> "$work/reload.err"
check "reload over TCP is forbidden (exit $?), and says where to go" bash -c "[ $? -eq 1 ] \
    && grep -q 'forbidden: network clients may not reload' '$work/reload.err' && grep -q 'control socket' '$work/reload.err'"
check "reload over TCP changed nothing" bash -c "! '$build/shic' backends | grep -q '^viaop '"
"$build/shic" -E "$control" reload > "$work/reload.out" 2>&1
check "reload by op (exit $?) says what it did" bash -c "[ $? -eq 0 ] && grep -q '^reloaded .*shicd.cfg$' '$work/reload.out' \
    && grep -Eq '^  added +viaop$' '$work/reload.out' && grep -Eq '^  unchanged +.*standin' '$work/reload.out'"
check "reload by op: the new backend and its model are there" \
    bash -c "'$build/shic' models --backend viaop | grep -Eq '^viaop +v '"
check "reload by op: the new backend serves" bash -c "'$build/shic' --json ensure viaop v --ttl 60s | grep -q '\"base_url\":\"http://127.0.0.1:'"
check "reload by op: an unchanged backend's service runs on (pid $kept)" \
    bash -c "kill -0 $kept && '$build/shic' --json ps --backend standin | grep -q '\"pid\":$kept'"
printf 'backends\n    standin\n        type = nonsense\n' > "$work/shicd.cfg"
"$build/shic" -E "$control" reload > /dev/null 2> "$work/reload.err"
check "reload by op of a bad file is refused (exit $?), with its reason" bash -c "[ $? -eq 1 ] \
    && grep -q 'reload refused: .*nonsense' '$work/reload.err' && grep -q 'running configuration stays' '$work/reload.err'"
check "reload --json says reloaded false and why" bash -c "! '$build/shic' -E $control --json reload > '$work/reload.json' \
    && grep -q '\"reloaded\":false' '$work/reload.json' && grep -q '\"problem\":\".*nonsense' '$work/reload.json'"
check "after a refused reload the old configuration serves" bash -c "'$build/shic' backends | grep -q '^viaop ' \
    && '$build/shic' --json ensure viaop v --ttl 60s | grep -q '\"reused\":true' && kill -0 $kept"
printf 'shicd\n    bogus = 1\n' > "$work/shicd.cfg"
check "a refused reload names the file, line and key" \
    bash -c "'$build/shic' -E $control reload 2>&1 | grep -q 'reload refused: .*shicd.cfg:2: shicd/bogus: unknown key'"
cp "$work/op.cfg" "$work/shicd.cfg"
"$build/shic" ensure slow tiny --wait 100ms > /dev/null 2>&1     #  (the reload stopped it)
"$build/shic" -E "$control" stop tiny > /dev/null 2> "$work/stop.err"
check "stop by a model two instances serve is ambiguous" \
    bash -c "[ $? -eq 1 ] && grep -q ambiguous '$work/stop.err'"
"$build/shic" -E "$control" stop --all > "$work/stop.out"
check "stop --all stops every live instance" \
    bash -c "[ \$(grep -c ': stopping$' '$work/stop.out') -ge 2 ]"
for i in $(seq 1 100); do "$build/shic" ps | grep -Eq 'stopping|starting' || break; sleep 0.05; done
"$build/shic" ensure standin tiny --ttl 60s > /dev/null
service=$("$build/shic" --json ps --backend standin | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["pid"])')
kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
daemon_pid=""
check "SIGTERM exits 0" test $rc -eq 0
check "service stopped with the daemon" bash -c "! kill -0 $service 2>/dev/null"
check "no dangling sockets" bash -c "! grep -q dangling '$work/err'"
if [ -n "${SHICD_WRAPPER:-}" ]; then
    check "memcheck: no errors, no leaks" bash -c "grep -q 'ERROR SUMMARY: 0 errors' '$work/err' && ! grep -q 'definitely lost: [1-9]' '$work/err'"
    grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$work/err" | sed 's/^/  /'
fi
#  shicd --check: 0 for a configuration that can run, 2 naming each problem
"$build/shicd" --check --config "$work/shicd.cfg" > "$work/check.out" 2>&1
check "--check of a good configuration exits 0" \
    bash -c "[ $? -eq 0 ] && grep -q 'backends/standin/command: .*shic_stand_in is executable' '$work/check.out'"
printf 'backends\n    llama_cpp\n        binary = /bin/false\n        models\n            a = %s\n    c\n        type = command\n        command = /nope/x --y\n' \
    "$work/shicd.cfg" > "$work/unfit.cfg"
"$build/shicd" --check --config "$work/unfit.cfg" > "$work/check.out" 2>&1
check "--check exits 2 naming each problem" bash -c "[ $? -eq 2 ] \
    && grep -q 'problem backends/llama_cpp/binary: /bin/false --version failed (exit 1)' '$work/check.out' \
    && grep -q 'problem backends/llama_cpp/models/a: .*shicd.cfg: .*not usable' '$work/check.out' \
    && grep -q \"problem backends/c/command: '/nope/x' is not an executable file\" '$work/check.out'"
#  A pause of the daemon longer than client_timeout_ms (SIGSTOP) is not
#  its clients' silence: their queued pings are read before leases expire
pgw=$(port); pev=$(port)
sed -e "s|tcp://127.0.0.1:$gw|tcp://127.0.0.1:$pgw|; s|tcp://127.0.0.1:$ev|tcp://127.0.0.1:$pev|" \
    -e "s|client_timeout_ms = 30000|client_timeout_ms = 1000|; s|control = .*|verbose = 0|" \
    "$work/shicd.cfg" > "$work/pause.cfg"
"$build/shicd" --config "$work/pause.cfg" > "$work/pause.out" 2> "$work/pause.err" &
pause_pid=$!
for i in $(seq 1 200); do grep -q "shicd ready" "$work/pause.out" && break; sleep 0.05; done
check "a pause is not the clients' silence" /usr/bin/python3 "$(dirname "$0")/pause_check.py" \
    "$pause_pid" "tcp://127.0.0.1:$pgw" 1000
kill -TERM "$pause_pid"; wait "$pause_pid"
#  A control socket left by a shicd that was killed is taken over by the
#  next one; a live shicd's is refused, and keeps answering
sgw=$(port); sev=$(port)
printf 'shicd\n    gateway = tcp://127.0.0.1:%s\n    events = tcp://127.0.0.1:%s\n    http =\n    control = ipc://%s/stale.sock\n' \
    "$sgw" "$sev" "$work" > "$work/stale.cfg"
"$build/shicd" --config "$work/stale.cfg" > "$work/stale1.out" 2>&1 &
stale_pid=$!
for i in $(seq 1 200); do grep -q "shicd ready" "$work/stale1.out" && break; sleep 0.05; done
kill -KILL "$stale_pid"; wait "$stale_pid" 2>/dev/null
check "a killed shicd leaves its control socket file" test -S "$work/stale.sock"
"$build/shicd" --config "$work/stale.cfg" > "$work/stale2.out" 2>&1 &
stale_pid=$!
for i in $(seq 1 200); do grep -q "shicd ready" "$work/stale2.out" && break; sleep 0.05; done
check "the next shicd removes the stale socket and binds it" bash -c "grep -q 'removed the stale control socket' '$work/stale2.out' \
    && '$build/shic' -E ipc://$work/stale.sock ping | grep -q '^shicd '"
"$build/shicd" --config "$work/stale.cfg" > "$work/stale3.out" 2>&1
rc=$?
check "a live shicd's control socket is refused (exit $rc)" bash -c "[ $rc -eq 1 ] \
    && grep -q 'stale.cfg:5: shicd/control: .*stale.sock is in use: a live process listens on it' '$work/stale3.out'"
check "and the live one still answers on it" bash -c "'$build/shic' -E ipc://$work/stale.sock ping | grep -q '^shicd '"
"$build/shicd" --check --config "$work/stale.cfg" > /dev/null 2>&1
check "shicd --check leaves a live control socket alone" bash -c "[ $? -eq 0 ] && '$build/shic' -E ipc://$work/stale.sock ping > /dev/null"
kill -TERM "$stale_pid"; wait "$stale_pid"
printf 'shicd\n    client_timeout_ms = soon\n' > "$work/bad.cfg"
"$build/shicd" --config "$work/bad.cfg" 2> "$work/bad.err"
check "bad config exits 2" test $? -eq 2
check "bad config names file, line and key" grep -q "bad.cfg:2: shicd/client_timeout_ms" "$work/bad.err"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
