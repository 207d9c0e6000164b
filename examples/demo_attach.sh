#!/usr/bin/env bash
#  The attach path, one command: an Ollama daemon (the real one at
#  SHIC_OLLAMA_URL with SHIC_OLLAMA_MODEL, else the stand-in of tests/) is
#  attached to, an endpoint ensured, a chat completion answered through
#  Ollama's OpenAI-compatible root, the lease released, shicd stopped; the
#  Ollama daemon keeps running (shic never stops what it did not start).
#  Usage: examples/demo_attach.sh [BUILD_DIR]
. "$(dirname "$0")/demo_common.sh"
gateway=$(free_port); events=$(free_port)
SHIC_ENDPOINT=tcp://127.0.0.1:$gateway; SHIC_EVENTS=tcp://127.0.0.1:$events
model=${SHIC_OLLAMA_MODEL:-llama3.2}
if [ -n "${SHIC_OLLAMA_URL:-}" ]; then
    root=$SHIC_OLLAMA_URL
else
    port=$(free_port)
    root=http://127.0.0.1:$port
    step "stand-in Ollama on $root with model $model"
    "$build/shic_stand_in_ollama" --port "$port" --loaded "$model" 2> "$work/ollama.err" &
    ollama=$!; pids="$ollama"
    wait_for "$work/ollama.err" "listening" 10 || exit 1
fi
cat > "$work/shicd.cfg" <<CFG
shicd
    gateway = $SHIC_ENDPOINT
    events = $SHIC_EVENTS
backends
    ollama
        root_url = $root
CFG
step "shicd --config (ollama backend at $root)"
"$build/shicd" --config "$work/shicd.cfg" > "$work/shicd.out" 2> "$work/shicd.err" &
daemon=$!; pids="$daemon $pids"
wait_for "$work/shicd.out" "shicd ready" 10 || exit 1
run_demo ollama "$model" || { cat "$work/shicd.err"; exit 1; }
stop_daemon "$daemon" || exit 1
step "the Ollama daemon still answers"
curl -sS --max-time 5 "$root/api/version"; echo
echo; echo "demo: attach path OK"
