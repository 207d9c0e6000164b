#!/usr/bin/env bash
#   run_tests.sh - the conformance suites of the Python and Node clients
#
#   Usage: bindings/run_tests.sh [BUILD_DIR]      (default: build)
#
#   Starts BUILD_DIR/shicd on two free loopback ports with a generated
#   configuration: one command backend ("stand_in") that spawns the stand-in
#   llama-server (BUILD_DIR/shic_stand_in) for the model "tiny". Then runs
#       /usr/bin/python3 -m pytest -q bindings/python/tests
#       node --test bindings/node/test/
#   with SHIC_ENDPOINT, SHIC_EVENTS, SHIC_BACKEND, SHIC_MODEL and
#   SHIC_CLIENT_TIMEOUT_MS exported, stops shicd (and with it every service
#   it spawned), prints "N passed, N failed" and exits 1 on any failure.
#   The Node suite is reported as skipped when its npm packages cannot be
#   installed (no network and no node_modules).

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
PYTHON=${SHIC_PYTHON:-/usr/bin/python3}
READY_DEADLINE_S=15
SUITE_DEADLINE_S=300
CLIENT_TIMEOUT_MS=2000

for binary in shicd shic_stand_in; do
    if [ ! -x "$BUILD/$binary" ]; then
        echo "run_tests.sh: $BUILD/$binary not found (build first: cd build && cmake .. && make)" >&2
        exit 2
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shic-bindings.XXXXXX")
SHICD_PID=

cleanup () {
    if [ -n "$SHICD_PID" ] && kill -0 "$SHICD_PID" 2>/dev/null; then
        kill -TERM "$SHICD_PID" 2>/dev/null
        for _ in $(seq 1 100); do              # up to 10 s for an orderly stop
            kill -0 "$SHICD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SHICD_PID" 2>/dev/null
        wait "$SHICD_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

#   Two free loopback ports (the kernel picks them; shicd binds them right away)
free_port () {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
GATEWAY_PORT=$(free_port)
EVENTS_PORT=$(free_port)
while [ "$EVENTS_PORT" = "$GATEWAY_PORT" ]; do EVENTS_PORT=$(free_port); done
export SHIC_ENDPOINT="tcp://127.0.0.1:$GATEWAY_PORT"
export SHIC_EVENTS="tcp://127.0.0.1:$EVENTS_PORT"
export SHIC_BACKEND=stand_in
export SHIC_MODEL=tiny
export SHIC_CLIENT_TIMEOUT_MS=$CLIENT_TIMEOUT_MS
export PYTHONDONTWRITEBYTECODE=1          # no __pycache__ in the tree

#   The configuration (ZPL: 4 spaces per level); see include/shic_command.h
cat > "$WORK/shicd.cfg" <<EOF
shicd
    client_timeout_ms = $CLIENT_TIMEOUT_MS
    allow_network_stop = 1
backends
    stand_in
        type = command
        command = "$BUILD/shic_stand_in --host \${HOST} --port \${PORT} --alias \${MODEL}"
        host = 127.0.0.1
        health_path = /health
        ready_pattern = "starting the main loop"
        port_pattern = "port:"
        ready_timeout_ms = 15000
        idle_shutdown_ms = 60000
        models
            tiny = tiny
EOF

"$BUILD/shicd" --config "$WORK/shicd.cfg" --gateway "$SHIC_ENDPOINT" --events "$SHIC_EVENTS" \
    > "$WORK/shicd.out" 2> "$WORK/shicd.err" &
SHICD_PID=$!

deadline=$((SECONDS + READY_DEADLINE_S))
until grep -q "shicd ready" "$WORK/shicd.out" 2>/dev/null; do
    if ! kill -0 "$SHICD_PID" 2>/dev/null; then
        echo "run_tests.sh: shicd exited before it was ready:" >&2
        cat "$WORK/shicd.err" >&2
        exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
        echo "run_tests.sh: shicd not ready within ${READY_DEADLINE_S} s:" >&2
        cat "$WORK/shicd.err" >&2
        exit 1
    fi
    sleep 0.05
done
echo "shicd (pid $SHICD_PID): gateway $SHIC_ENDPOINT, events $SHIC_EVENTS"

PASSED=0
FAILED=0
SKIPPED_SUITES=

#   Adds the counts of a summary line: "N passed", "N failed", "N error(s)"
count_pytest () {
    local line n
    line=$(grep -E '[0-9]+ (passed|failed|errors?|skipped).* in [0-9.]+s' "$1" | tail -1)
    for n in $(grep -Eo '[0-9]+ passed' <<< "$line" | grep -Eo '[0-9]+'); do PASSED=$((PASSED + n)); done
    for n in $(grep -Eo '[0-9]+ (failed|errors?)' <<< "$line" | grep -Eo '[0-9]+'); do FAILED=$((FAILED + n)); done
    [ -n "$line" ]
}
#   Adds the counts of node --test's closing lines ("ℹ pass N", "ℹ fail N", "ℹ cancelled N")
count_node () {
    local n
    n=$(grep -E '^(ℹ|#) pass [0-9]+' "$1" | tail -1 | grep -Eo '[0-9]+')
    PASSED=$((PASSED + ${n:-0}))
    for what in fail cancelled; do
        n=$(grep -E "^(ℹ|#) $what [0-9]+" "$1" | tail -1 | grep -Eo '[0-9]+')
        FAILED=$((FAILED + ${n:-0}))
    done
    grep -Eq '^(ℹ|#) pass [0-9]+' "$1"
}

cd "$ROOT" || exit 2

#   Python
echo "== python: $PYTHON -m pytest -q bindings/python/tests"
timeout "$SUITE_DEADLINE_S" "$PYTHON" -m pytest -q -p no:cacheprovider bindings/python/tests \
    2>&1 | tee "$WORK/python.out"
status=${PIPESTATUS[0]}
before=$FAILED
if ! count_pytest "$WORK/python.out" || { [ "$status" -ne 0 ] && [ "$FAILED" -eq "$before" ]; }; then
    FAILED=$((FAILED + 1))             # crashed, timed out or collected nothing
fi

#   Node
echo "== node: node --test bindings/node/test/"
node_ready=yes
if [ ! -d bindings/node/node_modules/zeromq ] || [ ! -d bindings/node/node_modules/@msgpack/msgpack ]; then
    if [ -f bindings/node/package-lock.json ]; then
        install="npm ci --no-audit --no-fund"
    else
        install="npm install --no-audit --no-fund"
    fi
    (cd bindings/node && timeout 300 $install) > "$WORK/npm.out" 2>&1 || node_ready=no
fi
if [ "$node_ready" = yes ] && ! (cd bindings/node && node -e 'require("zeromq"); require("@msgpack/msgpack")') \
        > "$WORK/npm.out" 2>&1; then
    node_ready=no
fi
if [ "$node_ready" = yes ]; then
    timeout "$SUITE_DEADLINE_S" node --test --test-reporter=spec bindings/node/test/ \
        2>&1 | tee "$WORK/node.out"
    status=${PIPESTATUS[0]}
    before=$FAILED
    if ! count_node "$WORK/node.out" || { [ "$status" -ne 0 ] && [ "$FAILED" -eq "$before" ]; }; then
        FAILED=$((FAILED + 1))         # crashed or timed out without a summary
    fi
else
    echo "node: SKIPPED: the npm packages zeromq and @msgpack/msgpack could not be installed:"
    tail -5 "$WORK/npm.out"
    SKIPPED_SUITES="node"
fi

if ! kill -0 "$SHICD_PID" 2>/dev/null; then
    echo "run_tests.sh: shicd died during the tests:" >&2
    tail -20 "$WORK/shicd.err" >&2
    FAILED=$((FAILED + 1))
fi

if [ -n "$SKIPPED_SUITES" ]; then
    echo "$PASSED passed, $FAILED failed ($SKIPPED_SUITES skipped)"
else
    echo "$PASSED passed, $FAILED failed"
fi
[ "$FAILED" -eq 0 ]
