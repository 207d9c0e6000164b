#!/usr/bin/env bash
#  shicd end to end over TCP, driven by the shic command line: start with a
#  configuration, ensure an endpoint of a config-only command backend (the
#  stand-in llama-server), a chat completion through it, release, ps, a bad
#  configuration naming file/line/key, SIGTERM: exit 0 and nothing left.
#  Usage: tests/daemon_test.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
passed=0
failed=0
daemon_pid=""
cleanup () {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
check () {                      #  check NAME COMMAND...
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "daemon: $name: ok"
    else failed=$((failed + 1)); echo "daemon: $name: FAILED"; fi
}
port () { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gw=$(port); ev=$(port)
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
        models
            tiny = tiny
        idle_shutdown_ms = 60000
CFG
#  SHICD_WRAPPER runs the daemon under a tool, e.g. valgrind memcheck
${SHICD_WRAPPER:-} "$build/shicd" --config "$work/shicd.cfg" > "$work/out" 2> "$work/err" &
daemon_pid=$!
for i in $(seq 1 600); do grep -q "shicd ready" "$work/out" && break; sleep 0.05; done
check "daemon ready" grep -q "shicd ready" "$work/out"
export SHIC_ENDPOINT=tcp://127.0.0.1:$gw SHIC_EVENTS=tcp://127.0.0.1:$ev
check "ping" "$build/shic" ping
check "backends lists standin" bash -c "'$build/shic' backends | grep -q standin"
"$build/shic" --json ensure standin tiny --ttl 60s > "$work/ensure.json"
check "ensure" grep -q '"base_url":"http://127.0.0.1:' "$work/ensure.json"
base=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"]["base_url"])' "$work/ensure.json")
lease=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lease"]["lease_ref"])' "$work/ensure.json")
check "chat through the endpoint" bash -c "curl -sf -H 'Content-Type: application/json' \
    -d '{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}' '$base/chat/completions' | grep -q 'Hello from the stand-in'"
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
check "release" "$build/shic" release "$lease"
#  stop: forbidden to network clients, done on the control socket
instance=$("$build/shic" --json ps --backend standin | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"][0]["instance_id"])')
"$build/shic" stop "$instance" > /dev/null 2> "$work/stop.err"
check "stop over TCP is forbidden (exit 1)" bash -c "[ $? -eq 1 ] && grep -q forbidden '$work/stop.err' && grep -q 'control socket' '$work/stop.err'"
check "stop on the control socket" "$build/shic" -E "$control" stop "$instance"
for i in $(seq 1 100); do "$build/shic" ps | grep -q 'standin.*stopped' && break; sleep 0.05; done
check "the instance stopped" bash -c "'$build/shic' ps | grep -Eq 'standin +tiny +stopped'"
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
printf 'shicd\n    client_timeout_ms = soon\n' > "$work/bad.cfg"
"$build/shicd" --config "$work/bad.cfg" 2> "$work/bad.err"
check "bad config exits 2" test $? -eq 2
check "bad config names file, line and key" grep -q "bad.cfg:2: shicd/client_timeout_ms" "$work/bad.err"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
