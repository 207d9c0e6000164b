#!/usr/bin/env bash
#  A client that is gone is seen at once (issue 15 point 10, issue 12
#  point 4): a real shicd with one memory pool that holds one model, driven
#  by tests/disconnect_check.py (clients in child processes, killed).
#  Usage: tests/disconnect_test.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
test_name=disconnect
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"
daemon_pid=""
cleanup () {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid"
    rm -rf "$work"
}
trap cleanup EXIT
gw=$(port); ev=$(port)
{
    printf 'shicd\n    gateway = tcp://127.0.0.1:%s\n    events = tcp://127.0.0.1:%s\n' "$gw" "$ev"
    printf '    http =\n    client_timeout_ms = 60000\n    resources\n        ram = 100MiB\nbackends\n'
    for name in a b; do
        printf '    %s\n        type = command\n' "$name"
        printf '        command = %s -m ${MODEL} -a ${MODEL} --host ${HOST} --port ${PORT}\n' "$build/shic_stand_in"
        printf '        ready_pattern = server is listening on http://\n        needs = 60MiB\n'
        printf '        models\n            model = model\n'
    done
} > "$work/shicd.cfg"
${SHICD_WRAPPER:-} "$build/shicd" --config "$work/shicd.cfg" > "$work/out" 2> "$work/err" &
daemon_pid=$!
for i in $(seq 1 600); do grep -q "shicd ready" "$work/out" && break; sleep 0.05; done
if ! grep -q "shicd ready" "$work/out"; then
    echo "disconnect: shicd did not start"; cat "$work/err"; exit 1
fi
timeout -k 5 120 /usr/bin/python3 "$(dirname "$0")/disconnect_check.py" "tcp://127.0.0.1:$gw" "tcp://127.0.0.1:$ev"
rc=$?
kill -TERM "$daemon_pid"
wait "$daemon_pid"
code=$?
daemon_pid=""
[ $code -eq 0 ] || { echo "disconnect: shicd exited $code"; tail -20 "$work/err"; rc=1; }
exit $rc
