#!/usr/bin/env bash
#  The spawned path, one command: shicd starts a llama-server (the real one
#  when SHIC_LLAMA_SERVER and SHIC_TEST_MODEL are set, else the stand-in of
#  tests/), an endpoint is ensured, a chat completion answered through it,
#  the lease released, and the daemon stopped with everything it started.
#  Usage: examples/demo_spawned.sh [BUILD_DIR]
. "$(dirname "$0")/demo_common.sh"
gateway=$(free_port); events=$(free_port)
SHIC_ENDPOINT=tcp://127.0.0.1:$gateway; SHIC_EVENTS=tcp://127.0.0.1:$events
binary=${SHIC_LLAMA_SERVER:-$build/shic_stand_in}
model=${SHIC_TEST_MODEL:-/etc/hostname}
cat > "$work/shicd.cfg" <<CFG
shicd
    gateway = $SHIC_ENDPOINT
    events = $SHIC_EVENTS
backends
    llama_cpp
        binary = $binary
        models
            tiny = $model
CFG
step "shicd --config (llama_cpp backend, binary $binary)"
cat "$work/shicd.cfg"
"$build/shicd" --config "$work/shicd.cfg" > "$work/shicd.out" 2> "$work/shicd.err" &
daemon=$!; pids=$daemon
wait_for "$work/shicd.out" "shicd ready" 10 || exit 1
run_demo llama_cpp tiny || { cat "$work/shicd.err"; exit 1; }
stop_daemon "$daemon" || exit 1
pids=""
pgrep -f "$binary" > /dev/null && { echo "demo: a service is still running"; exit 1; }
echo; echo "demo: spawned path OK"
