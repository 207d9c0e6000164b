#  Shared by the demos: free ports, waiting with a deadline, cleanup.
set -u
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
pids=""
cleanup () {
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
free_port () { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
#  wait_for FILE TEXT SECONDS
wait_for () {
    local deadline=$((SECONDS + $3))
    until grep -q "$2" "$1" 2>/dev/null; do
        [ $SECONDS -ge $deadline ] && { echo "demo: timed out waiting for '$2' in $1"; cat "$1"; return 1; }
        sleep 0.05
    done
}
step () { printf '\n== %s\n' "$*"; }
#  run_demo BACKEND MODEL: ensure, chat, release, stop the daemon
run_demo () {
    export SHIC_ENDPOINT SHIC_EVENTS
    step "shic ping"
    "$build/shic" ping || return 1
    step "shic backends"
    "$build/shic" backends || return 1
    step "shic ensure $1 $2"
    "$build/shic" ensure "$1" "$2" --ttl 60s | tee "$work/first.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || return 1
    "$build/shic" --json ensure "$1" "$2" --ttl 60s > "$work/ensure.json" || return 1
    local base lease first
    first=$(awk '$1 == "lease" { print $2 }' "$work/first.txt")
    base=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"]["base_url"])' "$work/ensure.json")
    lease=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lease"]["lease_ref"])' "$work/ensure.json")
    step "POST $base/chat/completions (the client talks to the endpoint itself)"
    curl -sS --max-time 10 -H 'Content-Type: application/json' \
        -d "{\"model\":\"$2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":8}" \
        "$base/chat/completions" | tee "$work/chat.json"
    echo
    grep -q '"choices"' "$work/chat.json" || return 1
    step "shic ps"
    "$build/shic" ps
    #  Each lease is released by its ref (shic leases shows other clients'
    #  leases without their refs: a ref is the capability to release)
    step "shic release $lease $first (both leases)"
    "$build/shic" release "$lease" || return 1
    "$build/shic" release "$first" || return 1
    "$build/shic" leases
}
#  stop_daemon PID: SIGTERM, exit 0 expected
stop_daemon () {
    step "SIGTERM shicd"
    kill -TERM "$1"
    wait "$1"
    local rc=$?
    echo "shicd exited with $rc"
    return $rc
}
