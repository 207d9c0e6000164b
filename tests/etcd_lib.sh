#  A real etcd (3.4) for the shell tests: sourced, or run as
#  "bash tests/etcd_lib.sh check" to try it once.
#
#    etcd_start [NAME]  starts etcd NAME (default n0) on free loopback ports
#                       in a fresh temporary data dir, and waits until it
#                       answers; sets etcd_url, etcd_pid, etcd_dir. Returns
#                       77 when no etcd is installed, 1 when it did not come
#                       up in ETCD_START_S seconds (20; its log is printed).
#    etcd_stop          stops it (TERM, then KILL), keeping data and ports
#    etcd_restart       starts it again on the same data and ports
#    etcd_cleanup       stops it and removes its dir (run on EXIT as well)
#    etcd_start_for TEST  etcd_start for the shell test TEST: exits 77
#                       (ctest: skipped) when no etcd is installed, 1 when
#                       it did not come up, saying so as "TEST: ..."
#
#  etcd runs under timeout (ETCD_LIFETIME_S, 600), and every wait here is
#  bounded. The flags make a lease of 2 s workable (--election-timeout 500:
#  the minimum TTL is ceil(1.5 x 500 ms)), skip fsync, and compact every
#  minute, as the placement-and-cluster reference (B4) advises. etcd_start
#  sets an EXIT trap (etcd_cleanup): a script with its own calls it there.

etcd_bin=${ETCD_BIN:-$(command -v etcd || true)}
etcd_url=""
etcd_pid=""
etcd_dir=""
etcd_name=""
etcd_client_port=""
etcd_peer_port=""

#  A free loopback port, port (there is a window before etcd binds it):
#  tests/test_lib.sh's, unless the caller has it already
declare -F port > /dev/null || source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"

#  True when etcd at etcd_url answers /health with a leader
etcd_healthy () {
    curl -s --max-time 1 "$etcd_url/health" 2>/dev/null | grep -q '"health":"true"'
}

#  Starts the process on etcd_dir and the ports chosen, and waits for it
etcd_launch () {
    local peer="http://127.0.0.1:$etcd_peer_port"
    timeout --signal=KILL "${ETCD_LIFETIME_S:-600}" "$etcd_bin" --name "$etcd_name" \
        --data-dir "$etcd_dir/data" \
        --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
        --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
        --initial-cluster "$etcd_name=$peer" \
        --heartbeat-interval 50 --election-timeout 500 --unsafe-no-fsync \
        --auto-compaction-mode periodic --auto-compaction-retention 1m \
        --logger zap --log-level warn >> "$etcd_dir/log" 2>&1 &
    etcd_pid=$!
    local deadline=$((SECONDS + ${ETCD_START_S:-20}))
    while [ $SECONDS -lt $deadline ]; do
        etcd_healthy && return 0
        if ! kill -0 "$etcd_pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "etcd did not come up at $etcd_url; its log:" >&2
    tail -20 "$etcd_dir/log" >&2
    etcd_stop
    return 1
}

etcd_start () {
    if [ -z "$etcd_bin" ] || [ ! -x "$etcd_bin" ]; then
        echo "etcd is not installed (apt-get install etcd-server etcd-client)" >&2
        return 77
    fi
    etcd_name=${1:-n0}
    etcd_dir=$(mktemp -d "${TMPDIR:-/tmp}/shic-etcd.XXXXXX")
    etcd_client_port=$(port)
    etcd_peer_port=$(port)
    etcd_url="http://127.0.0.1:$etcd_client_port"
    trap etcd_cleanup EXIT
    etcd_launch
}

etcd_stop () {
    [ -n "$etcd_pid" ] || return 0
    kill -TERM "$etcd_pid" 2>/dev/null
    local i
    for i in $(seq 1 50); do
        kill -0 "$etcd_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$etcd_pid" 2>/dev/null
    wait "$etcd_pid" 2>/dev/null
    etcd_pid=""
}

etcd_restart () {
    etcd_stop
    etcd_launch
}

etcd_cleanup () {
    etcd_stop
    [ -n "$etcd_dir" ] && rm -rf "$etcd_dir"
    etcd_dir=""
}

etcd_start_for () {
    etcd_start
    local rc=$?
    [ $rc = 77 ] && { echo "$1: skipped (no etcd)"; exit 77; }
    [ $rc != 0 ] && { echo "$1: etcd did not start"; exit 1; }
    return 0
}

#  bash tests/etcd_lib.sh check: start, write, restart, read, clean up
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "${1:-}" = check ]; then
    etcd_start
    rc=$?
    [ $rc -eq 0 ] || exit $rc
    export ETCDCTL_API=3
    timeout 10 etcdctl --endpoints "$etcd_url" put /shic/check yes >/dev/null || exit 1
    etcd_restart || exit 1
    got=$(timeout 10 etcdctl --endpoints "$etcd_url" get --print-value-only /shic/check)
    [ "$got" = yes ] || { echo "etcd check: read '$got' after a restart" >&2; exit 1; }
    echo "etcd check: $etcd_url answered before and after a restart"
fi
