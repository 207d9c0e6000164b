#  Sourced by tests/http_test.sh and bench/http_scrape.sh: a shicd with the
#  HTTP face on free loopback ports, a ram pool of 8 GiB and two stand-in
#  backends (standin: ready at once, needs 1 GiB; slow: ready after 1.5 s,
#  needs 2 GiB).
#  http_daemon_start WORK BUILD [TOKEN] sets gw, ev, hp and daemon_pid and
#  waits for "shicd ready" (SHICD_WRAPPER runs it under a tool).
#  (port: a free loopback port; defined here when the caller has not
#  sourced tests/test_lib.sh)
declare -F port > /dev/null || source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"
http_daemon_start () {
    local work=$1 build=$2 token=${3:-}
    gw=$(port); ev=$(port); hp=$(port)
    cat > "$work/shicd.cfg" <<CFG
shicd
    gateway = tcp://127.0.0.1:$gw
    events = tcp://127.0.0.1:$ev
    http = 127.0.0.1:$hp
${token:+    http_token = $token}
    resources
        ram = 8GiB
backends
    standin
        type = command
        command = $build/shic_stand_in -m \${MODEL} -a \${MODEL} --host \${HOST} --port \${PORT}
        ready_pattern = server is listening on http://
        needs = 1GiB
        models
            tiny = tiny
    slow
        type = command
        command = $build/shic_stand_in -m \${MODEL} -a \${MODEL} --host \${HOST} --port \${PORT} --load-ms 1500
        ready_pattern = server is listening on http://
        needs = 2GiB
        models
            tiny = tiny
CFG
    ${SHICD_WRAPPER:-} "$build/shicd" --config "$work/shicd.cfg" > "$work/out" 2> "$work/err" &
    daemon_pid=$!
    for i in $(seq 1 600); do grep -q "shicd ready" "$work/out" && break; sleep 0.05; done
}
