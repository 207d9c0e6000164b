#!/usr/bin/env bash
#  The cluster (issue 13) end to end: a real etcd (tests/etcd_lib.sh) and
#  three shicd nodes on loopback with the stand-in llama-server and declared
#  memory pools (a: 1 GiB of ram, b and c: 8 GiB), a 2 s etcd lease, driven
#  by the shic command line and the Python client. Scenarios:
#    50 concurrent ensures of one model over the three nodes: one start
#    a lease relayed by the entry node, released there by its client: gone
#      on its node; another client's release still decided by its node
#    a model too big for a lands on b or c
#    SIGKILL of the node holding it: its records gone within TTL + margin,
#      the holders told (instance.lost, lease.released node_lost), the next
#      ensure served by another node
#    a claimant killed mid-start: its claim expires, a waiter takes over
#    a failing model: its failure answered cluster-wide during the
#      cooldown, one start only; started again after it
#    SIGSTOP of a node for twice the TTL, then SIGCONT: it registers anew
#    an etcd restart: the nodes say degraded, then ok, leases survived
#    a forced compaction: a node's watch resyncs
#  Exit 77 (ctest: skipped) when etcd is not installed. SHICD_WRAPPER runs
#  the nodes under a tool (e.g. valgrind); every wait has a deadline.
#  Usage: tests/cluster_test.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/tests/etcd_lib.sh"
etcd_start_for cluster
work=$(mktemp -d)
ttl=2000
cooldown=4000
prefix=/shic-test-$$
nodes="a b c"
#  Under a wrapper (valgrind) everything is slower: the deadlines stretch
slow=1
[ -n "${SHICD_WRAPPER:-}" ] && slow=${CLUSTER_SLOW:-6}
py=/usr/bin/python3
test_name=cluster
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"
export PYTHONPATH="$src/bindings/python"

cleanup () {
    for n in $nodes; do
        local pid; pid=$(cat "$work/$n.pid" 2>/dev/null)
        [ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done
    for n in $nodes; do
        local pid; pid=$(cat "$work/$n.pid" 2>/dev/null)
        for _ in $(seq 1 $((100 * slow))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    done
    #  Background commands run under timeout: TERM, which timeout passes on
    #  to its command (a KILL of timeout would leave the command running)
    for pid in $(cat "$work/bg.pids" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
    sleep 0.2
    for pid in $(cat "$work/bg.pids" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    etcd_cleanup
    [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
etcdctl_ () { ETCDCTL_API=3 timeout 10 etcdctl --endpoints "$etcd_url" "$@"; }
keys () { etcdctl_ get --prefix "$prefix/$1" --keys-only 2>/dev/null | grep -v '^$'; }
has_node () { keys nodes/ | grep -qx "$prefix/nodes/$1"; }
gone_node () { ! has_node "$1"; }
boot_of () { etcdctl_ get "$prefix/nodes/$1" --print-value-only 2>/dev/null \
             | $py -c 'import json,sys; print(json.load(sys.stdin)["boot_id"])' 2>/dev/null; }
gw () { echo "tcp://127.0.0.1:$(cut -d' ' -f1 "$work/$1.ports")"; }
ev () { echo "tcp://127.0.0.1:$(cut -d' ' -f2 "$work/$1.ports")"; }
shic_ () { local n=$1; shift; timeout $((20 * slow)) "$build/shic" -E "$(gw $n)" --timeout $((5 * slow))s "$@"; }
starts () { cat "$work"/*.err | grep -c "shicd: start: [a-z]*\.$1" ; }
state_is () { shic_ "$1" --json ping 2>/dev/null | grep -q "\"state\":\"$2\""; }

#  A node: its ports are chosen once and kept across restarts
node_start () {
    local n=$1
    [ -f "$work/$n.ports" ] || echo "$(port) $(port) $(port)" > "$work/$n.ports"
    local ram=8GiB; [ "$n" = a ] && ram=1GiB
    local standin="$build/shic_stand_in -m \${MODEL} -a \${MODEL} --host \${HOST} --port \${PORT}"
    cat > "$work/$n.cfg" <<CFG
shicd
    gateway = $(gw $n)
    events = $(ev $n)
    http =
    control = ipc://$work/$n.sock
    client_timeout_ms = 60000
    resources
        ram = $ram
cluster
    etcd = $etcd_url
    node = $n
    peer = tcp://127.0.0.1:$(cut -d' ' -f3 "$work/$n.ports")
    ttl_ms = $ttl
    cooldown_ms = $cooldown
    prefix = $prefix
backends
    standin
        type = command
        command = $standin --load-ms 300
        ready_pattern = server is listening on http://
        models
            tiny = tiny
    big
        type = command
        command = $standin
        ready_pattern = server is listening on http://
        needs = 2GiB
        models
            huge = huge
            vast = vast
    slow
        type = command
        command = $standin --load-ms 5000
        ready_pattern = server is listening on http://
        models
            tiny = tiny
    dup
        type = command
        command = $standin
        ready_pattern = server is listening on http://
        models
            one = one
    broken
        type = command
        command = $standin --exit-before-ready 3
        ready_pattern = server is listening on http://
        models
            small = small
CFG
    ${SHICD_WRAPPER:-} "$build/shicd" --config "$work/$n.cfg" >> "$work/$n.out" 2>> "$work/$n.err" &
    echo $! > "$work/$n.pid"
    within 30 grep -q "shicd ready" "$work/$n.out"
}
node_pid () { cat "$work/$1.pid"; }

for n in $nodes; do node_start $n; done
check "three nodes ready" within 20 bash -c "[ \$(grep -l 'shicd ready' '$work'/*.out | wc -l) = 3 ]"
check "three node records in etcd" within 10 bash -c "[ \$(ETCDCTL_API=3 etcdctl --endpoints $etcd_url get --prefix $prefix/nodes/ --keys-only | grep -c nodes) = 3 ]"
check "each node sees the three" within 10 bash -c "for n in a b c; do timeout 5 '$build/shic' -E \$(echo tcp://127.0.0.1:\$(cut -d' ' -f1 '$work'/\$n.ports)) --json ping | grep -q '\"nodes\":3' || exit 1; done"

#  50 concurrent ensures of one model spread over the three nodes: one start
cat > "$work/herd.py" <<'PY'
import json, sys, threading
from shic.client import Client, ensure_args
endpoints = sys.argv[1:4]
results = [None] * 50
def one (i):
    client = Client (endpoints [i % 3], timeout_ms=30000)
    try:
        result = client.call ("ensure_endpoint", ensure_args ("standin", "tiny", ttl_ms=60000,
                                                             wait_ms=20000))
        results [i] = {"ok": True, "instance_id": result ["instance_id"],
                       "lease_ref": result ["lease"]["lease_ref"],
                       "base_url": result ["endpoint"]["base_url"]}
    except Exception as error:
        results [i] = {"ok": False, "error": str (error)}
    finally:
        client.close ()
threads = [threading.Thread (target=one, args=(i,)) for i in range (50)]
for thread in threads: thread.start ()
for thread in threads: thread.join (60)
print (json.dumps (results))
PY
timeout $((60 * slow)) $py "$work/herd.py" "$(gw a)" "$(gw b)" "$(gw c)" > "$work/herd.json" 2> "$work/herd.err"
herd () { $py -c "import json,sys; r=json.load(open('$work/herd.json')); $1"; }
check "50 concurrent ensures over three nodes all answered" herd "sys.exit(0 if all(x and x['ok'] for x in r) else 1)"
check "... by one instance" herd "sys.exit(0 if len(set(x['instance_id'] for x in r))==1 else 1)"
check "... started once cluster-wide ($(starts standin:tiny) start)" test "$(starts standin:tiny)" = 1
herd_node=$(herd "print(r[0]['instance_id'].split('.')[0])")
check "ps --cluster shows it once, on $herd_node" bash -c "[ \$(timeout 10 '$build/shic' -E $(gw c) ps --cluster | grep -c 'standin:tiny') = 1 ]"
check "leases --cluster lists the 50 leases" bash -c "[ \$(timeout 10 '$build/shic' -E ipc://$work/$herd_node.sock --json leases --cluster | $py -c 'import json,sys; print(len(json.load(sys.stdin)[\"leases\"]))') -ge 50 ]"
#  A lease of another node: renewed and released through any node
lease=$(herd "print(r[1]['lease_ref'])")
other=$(for n in $nodes; do [ "$n" != "$herd_node" ] && echo $n && break; done)
check "renew through node $other reaches node $herd_node" bash -c "timeout 10 '$build/shic' -E $(gw $other) renew '$lease' --ttl 30s | grep -q ok"
check "lookup of the instance through node $other" bash -c "timeout 10 '$build/shic' -E $(gw $other) --json logs '$(herd "print(r[1]['instance_id'])")' --lines 1 | grep -q '\"source\"'"
check "release through node $other" bash -c "timeout 10 '$build/shic' -E $(gw $other) release '$lease' | grep -q '^released'"
check "release again: nothing live" bash -c "timeout 10 '$build/shic' -E $(gw $other) release '$lease' | grep -q 'no live lease'"
#  A lease relayed by node $other to a client is released at $other by that
#  client (answered there, sent on one-way): really gone on its node, its
#  instance's lease count down; another client's release of a relayed
#  lease still goes to the lease's node, which decides (refs are
#  capabilities), and the entry node then no longer answers for it
cat > "$work/relayed.py" <<'PY'
import json, sys, time
from shic.client import Client, ensure_args
entry, entry_node, owner_ctl = sys.argv[1:4]
holder = Client (entry, timeout_ms=10000)
other = Client (entry, timeout_ms=10000)
ctl = Client (owner_ctl, timeout_ms=10000)
args = ensure_args ("standin", "tiny", wait_ms=20000)
def live (ref, iid):
    return any (l.get ("lease_ref") == ref
                for l in ctl.call ("list_leases", {"instance_id": iid}) ["leases"])
def count (iid):
    return ctl.call ("lookup_instance", {"instance_id": iid}) ["lease_count"]
def until (what):
    deadline = time.time () + 5
    while time.time () < deadline:
        if what ():
            return True
        time.sleep (0.05)
    return False
out = {}
r = holder.call ("ensure_endpoint", args)
ref, iid = r ["lease"] ["lease_ref"], r ["instance_id"]
out ["relayed"] = not iid.startswith (entry_node + ".") and live (ref, iid)
before = count (iid)
out ["released"] = holder.call ("release_lease", {"lease_ref": ref}) ["released"]
out ["gone_on_owner"] = until (lambda: not live (ref, iid))
out ["count_down"] = until (lambda: count (iid) == before - 1)
out ["again_by_other"] = other.call ("release_lease", {"lease_ref": ref}) ["released"]
r = holder.call ("ensure_endpoint", args)
ref2 = r ["lease"] ["lease_ref"]
out ["other_client_release"] = other.call ("release_lease", {"lease_ref": ref2}) ["released"]
out ["other_gone"] = not live (ref2, iid)
out ["holder_after_other"] = holder.call ("release_lease", {"lease_ref": ref2}) ["released"]
#  A release at the entry node waits there for the next message to the
#  lease's node: released then ensured again, the release rides after the
#  ensure, and the old lease is gone while the new one lives
ref3 = holder.call ("ensure_endpoint", args) ["lease"] ["lease_ref"]
released3 = holder.call ("release_lease", {"lease_ref": ref3}) ["released"]
ref4 = holder.call ("ensure_endpoint", args) ["lease"] ["lease_ref"]
out ["release_then_ensure"] = released3 is True and ref4 != ref3 and live (ref4, iid) \
                              and until (lambda: not live (ref3, iid))
out ["last_released"] = holder.call ("release_lease", {"lease_ref": ref4}) ["released"] is True \
                        and until (lambda: not live (ref4, iid))
print (json.dumps (out))
PY
timeout $((30 * slow)) $py "$work/relayed.py" "$(gw $other)" "$other" "ipc://$work/$herd_node.sock" > "$work/relayed.json" 2> "$work/relayed.err"
relayed () { $py -c "import json,sys; r=json.load(open('$work/relayed.json')); sys.exit(0 if $1 else 1)" 2>/dev/null; }
check "a lease relayed by $other: released there by its client" relayed "r['relayed'] and r['released'] is True"
check "... gone on node $herd_node (list_leases)" relayed "r['gone_on_owner']"
check "... its instance's lease count down by one" relayed "r['count_down']"
check "... released again by another client: nothing live" relayed "r['again_by_other'] is False"
check "another client's release of a relayed lease reaches node $herd_node" relayed "r['other_client_release'] is True and r['other_gone']"
check "... and its holder's release after it: nothing live" relayed "r['holder_after_other'] is False"
check "released and ensured again at once: the old lease gone, the new one live" relayed "r['release_then_ensure']"
check "... and the last release, held alone, reaches node $herd_node" relayed "r['last_released']"
check "no refused one-way message in the logs" bash -c "! grep -q 'refused a one-way' '$work'/*.err"
#  A node that stops sends the releases it holds first: released at the
#  entry node, which is stopped (SIGTERM) at once, within the 20 ms hold
cat > "$work/held.py" <<'PY'
import json, os, signal, sys, time
from shic.client import Client, ensure_args
entry, entry_pid, owner_ctl = sys.argv[1], int (sys.argv[2]), sys.argv[3]
holder = Client (entry, timeout_ms=10000)
ctl = Client (owner_ctl, timeout_ms=10000)
r = holder.call ("ensure_endpoint", ensure_args ("standin", "tiny", wait_ms=20000))
ref, iid = r ["lease"] ["lease_ref"], r ["instance_id"]
released = holder.call ("release_lease", {"lease_ref": ref}) ["released"]
os.kill (entry_pid, signal.SIGTERM)
def live ():
    return any (l.get ("lease_ref") == ref
                for l in ctl.call ("list_leases", {"instance_id": iid}) ["leases"])
deadline = time.time () + 5
while time.time () < deadline and live ():
    time.sleep (0.05)
print (json.dumps ({"released": released is True, "gone": not live ()}))
PY
timeout $((30 * slow)) $py "$work/held.py" "$(gw $other)" "$(node_pid $other)" "ipc://$work/$herd_node.sock" > "$work/held.json" 2> "$work/held.err"
check "a release held at node $other, stopped at once: sent first, gone on node $herd_node" \
    $py -c "import json,sys; r=json.load(open('$work/held.json')); sys.exit(0 if r['released'] and r['gone'] else 1)"
for _ in $(seq 1 $((100 * slow))); do kill -0 "$(node_pid $other)" 2>/dev/null || break; sleep 0.1; done
node_start $other
check "node $other back" within 10 has_node $other
check "a ref of an unknown node: lease_not_found" bash -c "timeout 10 '$build/shic' -E $(gw a) renew zz.lease-00 2>&1 | grep -q lease_not_found"

#  A model too big for a lands on b or c
shic_ a --json ensure big huge --ttl 60s > "$work/big.json" 2> "$work/big.err"
big_id=$($py -c "import json; print(json.load(open('$work/big.json'))['instance_id'])" 2>/dev/null)
big_lease=$($py -c "import json; print(json.load(open('$work/big.json'))['lease']['lease_ref'])" 2>/dev/null)
big_node=${big_id%%.*}
check "a model too big for a lands on another node ($big_node)" bash -c "[ '$big_node' = b ] || [ '$big_node' = c ]"

#  SIGKILL of the node holding it
timeout $((30 * slow)) "$build/shic" --events "$(ev a)" watch > "$work/a.events" 2>&1 &
echo $! >> "$work/bg.pids"
sleep 0.5
killed_at=$(date +%s%N)
kill -KILL "$(node_pid $big_node)"
within $(( (ttl + 3000) / 1000 )) gone_node $big_node
gone_ms=$(( ($(date +%s%N) - killed_at) / 1000000 ))
check "node $big_node's records gone within TTL + 1.5 s ($gone_ms ms)" bash -c "gone_node () { ! ETCDCTL_API=3 etcdctl --endpoints $etcd_url get --prefix $prefix/ --keys-only | grep -q '/$big_node\$'; }; gone_node && [ $gone_ms -le $((ttl + 1500)) ]"
check "node a publishes instance.lost for $big_id" within 5 grep -q "instance.lost .*\"$big_id\".*\"node_lost\"" "$work/a.events"
check "... and lease.released node_lost for the lease it relayed" within 5 grep -q "lease.released .*\"$big_lease\".*\"node_lost\"" "$work/a.events"
shic_ a --json ensure big huge --ttl 60s > "$work/big2.json" 2> "$work/big2.err"
big2_node=$($py -c "import json; print(json.load(open('$work/big2.json'))['instance_id'].split('.')[0])" 2>/dev/null)
check "the next ensure is served by a live node ($big2_node)" bash -c "[ -n '$big2_node' ] && [ '$big2_node' != '$big_node' ] && [ '$big2_node' != a ]"
#  Its record follows its leases: leased while the lease is held, idle
#  (leased false) once it is released (the gateway tells the cluster actor
#  when an instance gets its first lease and loses its last)
big2_lease=$($py -c "import json; print(json.load(open('$work/big2.json'))['lease']['lease_ref'])" 2>/dev/null)
record_of () { etcdctl_ get --prefix "$prefix/instances/" --print-value-only 2>/dev/null | grep "\"instance_id\":\"$1\""; }
big2_id=$($py -c "import json; print(json.load(open('$work/big2.json'))['instance_id'])" 2>/dev/null)
check "its record says leased" within 5 bash -c "$(declare -f etcdctl_ record_of); etcd_url=$etcd_url prefix=$prefix; record_of '$big2_id' | grep -q '\"leased\":true'"
shic_ a release "$big2_lease" > /dev/null 2>&1
check "... and idle once the lease is released" within 5 bash -c "$(declare -f etcdctl_ record_of); etcd_url=$etcd_url prefix=$prefix; record_of '$big2_id' | grep -q '\"leased\":false'"
node_start $big_node
check "node $big_node back" within 10 has_node $big_node

#  A claimant killed mid-start: its claim expires and a waiter takes over
claimant=c; waiter=a
( shic_ $claimant --json ensure slow tiny --wait 30s > /dev/null 2>&1 ) &
echo $! >> "$work/bg.pids"
check "node $claimant claims the slow start" within 5 bash -c "ETCDCTL_API=3 etcdctl --endpoints $etcd_url get --prefix $prefix/claims/ --print-value-only | grep -q '\"node\":\"$claimant\"'"
( shic_ $waiter --json ensure slow tiny --wait 30s --ttl 60s > "$work/waiter.json" 2> "$work/waiter.err" ) &
waiter_pid=$!
sleep 0.5
kill -KILL "$(node_pid $claimant)"
wait $waiter_pid
taken=$($py -c "import json; print(json.load(open('$work/waiter.json'))['instance_id'].split('.')[0])" 2>/dev/null)
check "the waiter on $waiter took over the start (instance on ${taken:-none})" bash -c "[ -n '$taken' ] && [ '$taken' != '$claimant' ]"
check "the dead claimant's claim is gone" bash -c "! ETCDCTL_API=3 etcdctl --endpoints $etcd_url get --prefix $prefix/claims/ --print-value-only | grep -q '\"node\":\"$claimant\"'"
node_start $claimant
check "node $claimant back" within 10 has_node $claimant

#  A failing model: the failure is answered everywhere during the cooldown;
#  one start only
before=$(starts broken:small)
shic_ a ensure broken small > /dev/null 2> "$work/broken.err"
check "a failing start answers backend_exit" grep -q backend_exit "$work/broken.err"
storm_ok=yes
for i in $(seq 1 3); do for n in $nodes; do
    shic_ $n --json ensure broken small --wait 2s > "$work/storm.err" 2>&1
    grep -q backend_exit "$work/storm.err" || { storm_ok=no; echo "  node $n: $(head -c 300 "$work/storm.err")"; }
done; done
check "9 more ensures during the cooldown all answer its failure" test $storm_ok = yes
check "... and start nothing ($(( $(starts broken:small) - before )) start)" test $(( $(starts broken:small) - before )) = 1
check "the failure names its node and the cooldown" bash -c "timeout 10 '$build/shic' -E $(gw c) --json ensure broken small --wait 2s 2>&1 | grep -q cooldown_ms"
sleep $(( cooldown / 1000 + 1 ))
shic_ b ensure broken small > /dev/null 2>&1
check "after the cooldown it is started again" test $(( $(starts broken:small) - before )) = 2

#  A node that finds no room answers so, and the next is tried: a fake
#  node whose record shows the most free memory answers every forward
#  no_room; a model too big for a goes there first, then to b or c
cat > "$work/no_room.py" <<'PY'
import msgpack, sys, zmq
ctx = zmq.Context ()
router = ctx.socket (zmq.ROUTER)
router.setsockopt (zmq.LINGER, 0)
port = router.bind_to_random_port ("tcp://127.0.0.1")
print (port, flush=True)
asked = 0
while router.poll (int (sys.argv [1]) * 1000):
    frames = router.recv_multipart ()
    header = msgpack.unpackb (frames [2])
    asked += 1
    router.send_multipart ([frames [0], b"REP", msgpack.packb (
        {"ticket": header ["ticket"], "outcome": "no_room"}), b""])
    print ("asked", header ["mode"], flush=True)
PY
$py "$work/no_room.py" 15 > "$work/no_room.out" 2>&1 &
echo $! >> "$work/bg.pids"
within 5 test -s "$work/no_room.out"
fake_port=$(head -1 "$work/no_room.out")
etcdctl_ put "$prefix/nodes/zz" "{\"boot_id\":\"f\",\"peer\":\"tcp://127.0.0.1:$fake_port\",\"queue\":0,\"pools\":{\"ram\":{\"capacity\":68719476736,\"free\":68719476736,\"idle\":0}}}" > /dev/null
check "the fake node is seen" within 5 bash -c "timeout 5 '$build/shic' -E $(gw a) --json ping | grep -q '\"nodes\":4'"
shic_ a --json ensure big vast --ttl 10s > "$work/vast.json" 2>&1
vast_node=$($py -c "import json; print(json.load(open('$work/vast.json'))['instance_id'].split('.')[0])" 2>/dev/null)
check "the node with the most room was asked first and said no_room" grep -q "asked place" "$work/no_room.out"
check "... then the next one started it (${vast_node:-none})" bash -c "[ '$vast_node' = b ] || [ '$vast_node' = c ]"
etcdctl_ del "$prefix/nodes/zz" > /dev/null
check "the fake node is gone again" within 5 bash -c "timeout 5 '$build/shic' -E $(gw a) --json ping | grep -q '\"nodes\":3'"

#  SIGSTOP of a node for twice the TTL: it registers anew (a new boot id),
#  and an idle instance it runs that another node started meanwhile is its
#  duplicate: it stops it
shic_ b --json ensure dup one --ttl 1s > "$work/dup_b.json" 2>&1
check "dup one runs on b" grep -q '"instance_id":"b.dup:one' "$work/dup_b.json"
check "... and is idle (its lease expired)" within 5 bash -c "timeout 5 '$build/shic' -E $(gw b) --json ps | grep -q '\"lease_count\":0'"
boot=$(boot_of b)
kill -STOP "$(node_pid b)"
check "a stopped node's record goes" within $(( 2 * ttl / 1000 + 2 )) gone_node b
shic_ a --json ensure dup one --ttl 60s > "$work/dup_a.json" 2>&1
check "meanwhile dup one starts on a" grep -q '"instance_id":"a.dup:one' "$work/dup_a.json"
sleep $(( 2 * ttl / 1000 ))
kill -CONT "$(node_pid b)"
check "after SIGCONT it registers anew" within 10 bash -c "b=\$(ETCDCTL_API=3 etcdctl --endpoints $etcd_url get $prefix/nodes/b --print-value-only | $py -c 'import json,sys; print(json.load(sys.stdin)[\"boot_id\"])' 2>/dev/null); [ -n \"\$b\" ] && [ \"\$b\" != '$boot' ]"
check "... its log says so" grep -q "registered anew" "$work/b.err"
check "... and it serves again" within 10 state_is b ok
check "... and stops its idle duplicate of dup one" within 10 grep -q "b.dup:one.* runs on node a too: stopping this idle duplicate" "$work/b.err"
check "dup one then runs on a alone" within 10 bash -c "[ \$(timeout 5 '$build/shic' -E $(gw c) ps --cluster | grep 'dup:one' | grep -c ready) = 1 ]"

#  An etcd restart: degraded meanwhile, then ok; the leases survived
boots_before=$(for n in $nodes; do boot_of $n; done | tr '\n' ' ')
etcd_stop
check "etcd away: ping says degraded" within 5 state_is a degraded
check "... and the node serves what it has" bash -c "timeout 10 '$build/shic' -E $(gw $herd_node) --json ensure standin tiny --ttl 10s > '$work/away.json'"
#  A lease taken now: the herd's may have died with their node (the
#  SIGKILL scenarios above kill b or c, and the herd may have run there)
held=$($py -c "import json; print(json.load(open('$work/away.json'))['lease']['lease_ref'])" 2>/dev/null)
check "... renewals work: on the lease's node" bash -c "timeout 10 '$build/shic' -E $(gw $herd_node) renew '$held' --ttl 60s | grep -q ok"
check "... and through another node" bash -c "timeout 10 '$build/shic' -E $(gw $other) renew '$held' --ttl 60s | grep -q ok"
etcd_restart
check "etcd back: every node says ok" within 15 bash -c "for n in a b c; do timeout 5 '$build/shic' -E \$(echo tcp://127.0.0.1:\$(cut -d' ' -f1 '$work'/\$n.ports)) --json ping | grep -q '\"state\":\"ok\"' || exit 1; done"
boots_after=$(for n in $nodes; do boot_of $n; done | tr '\n' ' ')
check "... with the same registrations (leases survived the restart)" test "$boots_before" = "$boots_after"
shic_ b --json ensure big huge --ttl 10s > "$work/big3.json" 2>&1
check "... and ensures work" grep -q '"instance_id"' "$work/big3.json"

#  A forced compaction: a node whose watch was down resumes from an old
#  revision, is told it was compacted, and reads the prefix again
kill -STOP "$(node_pid c)"
etcd_stop
etcd_restart
for i in $(seq 1 5); do etcdctl_ put "$prefix/junk/$i" "x" > /dev/null; done
revision=$(etcdctl_ get "$prefix/junk/5" -w json | $py -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
etcdctl_ compact "$revision" > /dev/null
etcdctl_ del --prefix "$prefix/junk/" > /dev/null
kill -CONT "$(node_pid c)"
check "node c's watch is told it was compacted" within 10 grep -q "the watch was compacted" "$work/c.err"
check "... it reads the prefix again and serves" within 10 bash -c "timeout 5 '$build/shic' -E $(gw c) --json ping | grep -q '\"state\":\"ok\".*\"nodes\":3'"
check "... and its view is whole (ps --cluster)" bash -c "timeout 10 '$build/shic' -E $(gw c) ps --cluster | grep -q 'standin:tiny'"

#  Bad input: garbage on a peer door and in etcd is refused, the node serves
cat > "$work/garbage.py" <<'PY'
import msgpack, sys, zmq
ctx = zmq.Context ()
s = ctx.socket (zmq.DEALER)
s.setsockopt (zmq.LINGER, 0)
s.connect (sys.argv [1])
request = msgpack.packb ({"v": 1, "id": 1, "op": "ping"})
good = {"ticket": 1, "hop": 1, "mode": "call", "holder": "x/y", "from": "x"}
frames = [
    [b"REQ"], [b"NOPE", b"", b""], [b"REQ", b"\xc1", request],
    [b"REQ", msgpack.packb ([1, 2]), request],
    [b"REQ", msgpack.packb (dict (good, hop=7)), request],
    [b"REQ", msgpack.packb (dict (good, mode="evil")), request],
    [b"REQ", msgpack.packb (dict (good, holder="nohalf")), request],
    [b"REQ", msgpack.packb (dict (good, ticket="1")), request],
    [b"REQ", msgpack.packb (dict (good, holder="x/" + "y" * 5000)), request],
    [b"REQ", msgpack.packb (good), b"\xff\xfe"],
    [b"REQ", msgpack.packb (good), request, b"extra"],
]
for message in frames:
    s.send_multipart (message)
#  A good one after the garbage is still answered (ping, as a network client)
s.send_multipart ([b"REQ", msgpack.packb (dict (good, ticket=9)), request])
replies = []
while s.poll (3000):
    replies.append (s.recv_multipart ())
ok = [r for r in replies if r [0] == b"REP" and msgpack.unpackb (r [1]).get ("ticket") == 9]
bad = [r for r in replies if r [0] == b"REP" and msgpack.unpackb (r [1]).get ("ticket") == 1]
print ("answered", len (ok), "garbage answered", len (bad))
sys.exit (0 if len (ok) == 1 else 1)
PY
peer_a=$(etcdctl_ get "$prefix/nodes/a" --print-value-only | $py -c 'import json,sys; print(json.load(sys.stdin)["peer"])')
check "garbage on a peer door is refused, a good request after it answered" \
    timeout 20 $py "$work/garbage.py" "$peer_a"
check "... each logged" bash -c "[ \$(grep -c 'refused a malformed message on the peer door' '$work/a.err') -ge 9 ]"
etcdctl_ put "$prefix/nodes/zz" "not json" > /dev/null
etcdctl_ put "$prefix/claims/0123456789abcdef0123456789abcdef" '{"node":7}' > /dev/null
check "garbage records in etcd are refused" within 5 bash -c "grep -q 'refused the record at $prefix/nodes/zz' '$work/a.err' && grep -q 'refused the record at $prefix/claims/' '$work/a.err'"
check "... and the nodes serve" bash -c "timeout 10 '$build/shic' -E $(gw a) --json ensure standin tiny --ttl 5s | grep -q instance_id"
etcdctl_ del "$prefix/nodes/zz" > /dev/null
etcdctl_ del --prefix "$prefix/claims/0123456789abcdef" > /dev/null

#  Leaving: SIGTERM, exit 0, and the node's records go at once
for n in $nodes; do kill -TERM "$(node_pid $n)"; done
for n in $nodes; do
    pid=$(node_pid $n)
    for _ in $(seq 1 $((150 * slow))); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    wait $pid; rc=$?
    check "node $n stops with exit 0" test $rc = 0
done
check "their records are gone" bash -c "[ -z \"\$(ETCDCTL_API=3 etcdctl --endpoints $etcd_url get --prefix $prefix/ --keys-only)\" ]"
check "no dangling sockets" bash -c "! grep -l 'dangling' '$work'/*.err"
if [ -n "${SHICD_WRAPPER:-}" ]; then
    check "no leak or error under the wrapper" bash -c "! grep -E 'definitely lost: [1-9]|ERROR SUMMARY: [1-9]' '$work'/*.err"
fi
echo "cluster: $passed passed, $failed failed"
[ $failed -eq 0 ]
