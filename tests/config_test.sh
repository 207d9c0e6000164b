#!/usr/bin/env bash
#  Configurations shicd must refuse, each with "FILE:LINE: KEY: reason" on
#  stderr and exit 2 before it binds anything; and ones it must accept (a
#  second llama.cpp backend by type, memory pools in shicd/resources).
#  Usage: tests/config_test.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
test_name=config
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"
trap 'rm -rf "$work"' EXIT
gw=$(port); ev=$(port)
model="$work/tiny.gguf"
echo "not really a model" > "$model"

#  refuse NAME EXPECTED [SHICD ARGS...]: the configuration on stdin is
#  refused with exit 2 and a line on stderr containing EXPECTED
refuse () {
    local name=$1 expected=$2; shift 2
    cat > "$work/$name.cfg"
    local config="$work/$name.cfg"
    [ "$name" = directory ] && config="$work"
    #  FD_LIMIT: a hard descriptor limit for this shicd
    ( [ -n "${FD_LIMIT:-}" ] && ulimit -n "$FD_LIMIT"
      exec timeout 20 "$build/shicd" --config "$config" --gateway "tcp://127.0.0.1:$gw" \
        --events "tcp://127.0.0.1:$ev" "$@" ) > "$work/out" 2> "$work/err"
    local rc=$?
    if [ "$rc" = 2 ] && grep -qF -- "$expected" "$work/err"; then
        passed=$((passed + 1)); echo "config: $name: ok"
    else
        failed=$((failed + 1))
        echo "config: $name: FAILED (exit $rc; expected '$expected' in:)"; cat "$work/err"
    fi
}
C="$work"
refuse syntax "$C/syntax.cfg:2: ZPL: missing \"" <<'CFG'
shicd
    gateway = "tcp://127.0.0.1:1
CFG
refuse directory "$C:0: --config: not a file (a directory)" < /dev/null
refuse duplicate "$C/duplicate.cfg:3: shicd/max_leases: given twice" <<'CFG'
shicd
    max_leases = 5
    max_leases = 6
CFG
refuse negative "$C/negative.cfg:2: shicd/client_timeout_ms: '-5' is not a whole number from 1 to" <<'CFG'
shicd
    client_timeout_ms = -5
CFG
refuse max_frame "$C/max_frame.cfg:3: runtime/max_frame: '1' is not a whole number from 1024 to" <<'CFG'
# a comment
runtime
    max_frame = 1
CFG
refuse huge "$C/huge.cfg:2: shicd/max_leases: '99999999999999999999' is not a whole number" <<'CFG'
shicd
    max_leases = 99999999999999999999
CFG
refuse control "$C/control.cfg:3: shicd/control: 'tcp://0.0.0.0:5599' is not ipc://PATH" <<'CFG'
shicd
    allow_network_stop = 1
    control = tcp://0.0.0.0:5599
CFG
refuse allow_network_stop "$C/allow_network_stop.cfg:2: shicd/allow_network_stop: 'yes' is not a whole number from 0 to 1" <<'CFG'
shicd
    allow_network_stop = yes
CFG
#  Limits that cannot fit the descriptor limit (hard 2048 here): refused
#  at start, not an abort under load
FD_LIMIT=2048 refuse descriptors "$C/descriptors.cfg:3: shicd/max_leases: max_leases 4000, lease_spare 32 and max_instances 256 need" <<'CFG'
shicd
    max_instances = 256
    max_leases = 4000
CFG
FD_LIMIT=2048 refuse spare "$C/spare.cfg:2: shicd/lease_spare: " <<'CFG'
shicd
    lease_spare = 60000
CFG
refuse port "$C/port.cfg:3: shicd/events: port '99999' is not 0 .. 65535 or *" <<'CFG'
shicd
    gateway = tcp://127.0.0.1:0
    events = tcp://127.0.0.1:99999
CFG
refuse cli_port "shicd: --gateway: port '99999' is not 0 .. 65535 or *" \
    --gateway tcp://127.0.0.1:99999 <<'CFG'
shicd
CFG
refuse ollama_typo "$C/ollama_typo.cfg:3: backends/ollama/rooturl: ollama: unknown configuration key 'rooturl'" <<'CFG'
backends
    ollama
        rooturl = http://10.0.0.1:11434
CFG
refuse ollama_scheme "$C/ollama_scheme.cfg:4: backends/local/root_url: ollama: root_url 'ftp://10.0.0.1' is not http:// or https://" <<'CFG'
backends
    local
        type = ollama
        root_url = ftp://10.0.0.1
CFG
refuse timing "$C/timing.cfg:3: backends/ollama/idle_shutdown_ms: backends/ollama: idle_shutdown_ms must be a whole number from 0 to 1099511627776" <<'CFG'
backends
    ollama
        idle_shutdown_ms = 9223372036854775807
CFG
refuse model_missing "$C/model_missing.cfg:6: backends/small/models/tiny/path: model file $C/none.gguf: No such file or directory" <<CFG
backends
    small
        type = llama_cpp
        models
            tiny
                path = $C/none.gguf
CFG
refuse model_dir "$C/model_dir.cfg:4: backends/llama_cpp/models/tiny: model file $C is not a file" <<CFG
backends
    llama_cpp
        models
            tiny = $C
CFG
refuse resources "$C/resources.cfg:4: shicd/resources/ram:" <<'CFG'
shicd
    resources
        gpu0 = 1GiB
        ram = lots
CFG

#  The cluster section (issue 13)
refuse cluster_etcd "$C/cluster_etcd.cfg:1: cluster: etcd is required" <<'CFG'
cluster
    node = a
CFG
refuse cluster_url "$C/cluster_url.cfg:2: cluster/etcd: 'ftp://127.0.0.1:2379' is not an etcd URL" <<'CFG'
cluster
    etcd = http://127.0.0.1:2379,ftp://127.0.0.1:2379
CFG
refuse cluster_node "$C/cluster_node.cfg:3: cluster/node: 'gpu1.example' is not a node name" <<'CFG'
cluster
    etcd = http://127.0.0.1:2379
    node = gpu1.example
CFG
refuse cluster_peer "$C/cluster_peer.cfg:3: cluster/peer: 'ipc:///tmp/x' is not a tcp endpoint" <<'CFG'
cluster
    etcd = http://127.0.0.1:2379
    peer = ipc:///tmp/x
CFG
refuse cluster_ttl "$C/cluster_ttl.cfg:3: cluster/ttl_ms: '500' is not a whole number from 1000 to 600000" <<'CFG'
cluster
    etcd = http://127.0.0.1:2379
    ttl_ms = 500
CFG
refuse cluster_prefix "$C/cluster_prefix.cfg:3: cluster/prefix: '/shic/' is not a key prefix" <<'CFG'
cluster
    etcd = http://127.0.0.1:2379
    prefix = /shic/
CFG
refuse cluster_key "$C/cluster_key.cfg:3: cluster/lease: unknown key" <<'CFG'
cluster
    etcd = http://127.0.0.1:2379
    lease = 5
CFG
#  etcd unreachable at start: shicd starts, serves, and ping says degraded
cat > "$work/degraded.cfg" <<CFG
cluster
    etcd = http://127.0.0.1:$(port)
    node = lonely
    peer = tcp://127.0.0.1:$(port)
    ttl_ms = 2000
CFG
"$build/shicd" --config "$work/degraded.cfg" --gateway "tcp://127.0.0.1:$gw" \
    --events "tcp://127.0.0.1:$ev" > "$work/degraded.out" 2> "$work/degraded.err" &
pid=$!
for _ in $(seq 1 100); do
    grep -q "shicd ready" "$work/degraded.out" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
pinged=$(timeout 10 "$build/shic" --json --endpoint "tcp://127.0.0.1:$gw" ping 2>&1)
kill -TERM $pid 2>/dev/null; wait $pid; rc=$?
if [ "$rc" = 0 ] && echo "$pinged" | grep -q '"state":"degraded"' \
&& echo "$pinged" | grep -q '"node":"lonely"'; then
    passed=$((passed + 1)); echo "config: cluster_degraded: ok"
else
    failed=$((failed + 1)); echo "config: cluster_degraded: FAILED (exit $rc)"
    echo "$pinged"; cat "$work/degraded.err"
fi

#  Accepted: a second llama.cpp backend by type, and memory pools
cat > "$work/good.cfg" <<CFG
shicd
    gateway = tcp://127.0.0.1:$gw
    events = tcp://127.0.0.1:$ev
    resources
        ram = 1GiB
        reserve.ram = 100MiB
backends
    llama_cpp
        binary = $build/shic_stand_in
        models
            tiny = $model
    small
        type = llama_cpp
        binary = $build/shic_stand_in
        models
            tiny
                path = $model
CFG
"$build/shicd" --config "$work/good.cfg" > "$work/good.out" 2> "$work/good.err" &
pid=$!
ready=no
for _ in $(seq 1 100); do
    grep -q "shicd ready" "$work/good.out" 2>/dev/null && { ready=yes; break; }
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
backends=$(timeout 10 "$build/shic" --endpoint "tcp://127.0.0.1:$gw" backends 2>&1)
kill -TERM $pid 2>/dev/null; wait $pid; rc=$?
if [ "$ready" = yes ] && [ "$rc" = 0 ] && echo "$backends" | grep -q small \
&& echo "$backends" | grep -q llama_cpp; then
    passed=$((passed + 1)); echo "config: good: ok"
else
    failed=$((failed + 1)); echo "config: good: FAILED (ready $ready, exit $rc)"
    cat "$work/good.err"; echo "$backends"
fi
#  A max_leases left to its default is lowered to what fits (hard limit
#  4096), with a warning
printf 'shicd\n    verbose = 0\n' > "$work/lowered.cfg"
( ulimit -n 4096; exec "$build/shicd" --config "$work/lowered.cfg" --gateway "tcp://127.0.0.1:$gw" \
    --events "tcp://127.0.0.1:$ev" ) > "$work/lowered.out" 2> "$work/lowered.err" &
pid=$!
for _ in $(seq 1 100); do
    grep -q "shicd ready" "$work/lowered.out" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
kill -TERM $pid 2>/dev/null; wait $pid; rc=$?
if [ "$rc" = 0 ] && grep -q "max_leases lowered from 4096 to" "$work/lowered.err"; then
    passed=$((passed + 1)); echo "config: lowered: ok"
else
    failed=$((failed + 1)); echo "config: lowered: FAILED (exit $rc)"; cat "$work/lowered.err"
fi
echo "config: $passed passed, $failed failed"
[ "$failed" = 0 ]
