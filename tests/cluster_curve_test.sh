#!/usr/bin/env bash
#  The cluster with CURVE (issue 13, point 1): two shicd nodes on a real etcd
#  (tests/etcd_lib.sh), each with a server certificate and one allow-list
#  (curve_clients) holding both nodes' and the client's public certificates.
#  Checks: an ensure sent to b is forwarded to a over the authenticated
#  peer sockets and answered from a's instance; a list of the whole cluster
#  reaches a; a's peer door answers neither a plain DEALER nor a CURVE one
#  whose certificate is not allowed. Certificates are made with pyzmq
#  (czmq's format). Exit 77 (ctest: skipped) when etcd is not installed;
#  every wait has a deadline.
#  Usage: tests/cluster_curve_test.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/tests/etcd_lib.sh"
etcd_start_for cluster_curve
work=$(mktemp -d)
test_name=cluster_curve
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"
py=/usr/bin/python3

cleanup () {
    for n in a b; do
        local pid; pid=$(cat "$work/$n.pid" 2>/dev/null)
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    done
    for n in a b; do
        local pid; pid=$(cat "$work/$n.pid" 2>/dev/null)
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    done
    etcd_cleanup
    [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

#  The certificates: a, b and the client allowed; a stranger not
mkdir -p "$work/clients" "$work/keys"
$py - "$work" <<'PY' || { echo "cluster_curve: cannot make certificates"; exit 1; }
import os, shutil, sys, zmq.auth
work = sys.argv [1]
for name in ("a", "b", "client", "stranger"):
    public, secret = zmq.auth.create_certificates (os.path.join (work, "keys"), name)
    if name != "stranger":
        shutil.copy (public, os.path.join (work, "clients"))
PY
key_of () { sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$work/keys/$1.key"; }

for n in a b; do
    echo "$(port) $(port) $(port)" > "$work/$n.ports"
    read -r gateway events peer < "$work/$n.ports"
    cat > "$work/$n.cfg" <<CFG
shicd
    gateway = tcp://127.0.0.1:$gateway
    events = tcp://127.0.0.1:$events
    http =
    control = ipc://$work/$n.sock
    curve_server_cert = $work/keys/$n.key_secret
    curve_clients = $work/clients
backends
    standin
        type = command
        command = $build/shic_stand_in -m \${MODEL} -a \${MODEL} --host \${HOST} --port \${PORT}
        ready_pattern = server is listening on http://
        models
            tiny = tiny
cluster
    etcd = $etcd_url
    node = $n
    peer = tcp://127.0.0.1:$peer
    ttl_ms = 2000
    prefix = /shic-curve-$$
CFG
    "$build/shicd" --config "$work/$n.cfg" > "$work/$n.out" 2> "$work/$n.err" &
    echo $! > "$work/$n.pid"
done
shic_ () {                      #  shic_ NODE ARGS...: the CLI over CURVE
    local n=$1; shift
    timeout 30 "$build/shic" -E "tcp://127.0.0.1:$(cut -d' ' -f1 "$work/$n.ports")" \
        --server-key "$(key_of $n)" --client-cert "$work/keys/client.key_secret" --timeout 10s "$@"
}
up () { shic_ "$1" --json ping 2>/dev/null | grep -q '"cluster"'; }
both_up () { up a && up b; }
routed () {                     #  b's view has a's ready instance
    shic_ b --json ps --cluster 2>/dev/null | grep -q '"instance_id":"a\.standin:tiny'
}
if ! within 20 both_up; then
    echo "cluster_curve: the nodes did not come up"; tail -5 "$work"/*.err; exit 1
fi

shic_ a --json ensure standin tiny --ttl 60s > "$work/on_a.json"
check "ensure on a starts the model there" \
    grep -q '"instance_id":"a\.standin:tiny' "$work/on_a.json"
check "b lists a's instance (a fan-out over the peer sockets)" within 20 routed
shic_ b --json ensure standin tiny --ttl 60s > "$work/via_b.json"
check "ensure on b is forwarded to a and served by a's instance" \
    $py -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not (r["instance_id"].startswith("a.standin:tiny") and r["lease"]["lease_ref"].startswith("a.lease-") and r["reused"]))' "$work/via_b.json"

#  a's peer door: no answer to a plain DEALER, nor to a certificate that
#  is not in its allow-list (a REQ that would otherwise get a REP)
peer_silent () {                #  peer_silent plain|stranger
    $py - "$1" "127.0.0.1:$(cut -d' ' -f3 "$work/a.ports")" "$(key_of a)" "$work/keys/stranger.key_secret" <<'PY'
import sys, zmq, zmq.auth
mode, endpoint, server_key, stranger = sys.argv [1:]
ctx = zmq.Context ()
dealer = ctx.socket (zmq.DEALER)
dealer.linger = 0
if mode == "stranger":
    public, secret = zmq.auth.load_certificate (stranger)
    dealer.curve_publickey, dealer.curve_secretkey = public, secret
    dealer.curve_serverkey = server_key.encode ()
dealer.connect ("tcp://" + endpoint)
#  REQ [header {ticket 1, hop 1, mode call, holder b/x, from b}] [ping]
header = b"\x85\xa6ticket\x01\xa3hop\x01\xa4mode\xa4call\xa6holder\xa3b/x\xa4from\xa1b"
body = b"\x83\xa1v\x01\xa2id\x01\xa2op\xa4ping"
dealer.send_multipart ([b"REQ", header, body])
sys.exit (1 if dealer.poll (1500) else 0)
PY
}
check "a's peer door is silent to a plain DEALER" peer_silent plain
check "a's peer door is silent to a certificate it does not allow" peer_silent stranger

echo "cluster_curve: $passed passed, $failed failed"
[ $failed = 0 ]
