#!/usr/bin/env bash
#  shicd's HTTP face end to end (issue 14). Usage: tests/http_test.sh BUILD_DIR MODE
#    daemon   /metrics (promtool check metrics; a real Prometheus scrape when
#             installed), /api/v1/status, /api/v1/events, the stop action
#             with and without the token, a bad shicd/http
#    browser  the dashboard in headless Chromium (tests/browser_test.js);
#             SCREENSHOT=FILE saves a picture of it
#    abuse    ping latency of the gateway with and without HTTP abuse
#             (tests/http_abuse.py)
#  What is not installed (promtool, prometheus, chromium) is skipped, saying so.
set -u
build=$(cd "${1:-build}" && pwd)
mode=${2:-daemon}
source=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
test_name=http
source "$source/tests/test_lib.sh"
daemon_pid=""
prom_pid=""
cleanup () {
    [ -n "$prom_pid" ] && kill -TERM "$prom_pid" 2>/dev/null
    if [ -n "$daemon_pid" ]; then
        kill -TERM "$daemon_pid" 2>/dev/null
        for i in $(seq 1 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
source "$source/tests/http_lib.sh"
token=0123456789abcdef0123
http_daemon_start "$work" "$build" "$token"
check "daemon ready with http $hp" grep -q "shicd ready: .* http $hp" "$work/out"
export SHIC_ENDPOINT=tcp://127.0.0.1:$gw
url=http://127.0.0.1:$hp

case $mode in
daemon)
    curl -sN "$url/api/v1/events" > "$work/events" &
    sse_pid=$!
    sleep 0.3
    "$build/shic" ensure standin tiny --ttl 60s > /dev/null
    check "ensure" test $? -eq 0
    curl -sf "$url/metrics" > "$work/metrics"
    check "metrics answer" test -s "$work/metrics"
    check "instances by backend and status" grep -q '^shic_instances{backend="standin",status="ready"} 1$' "$work/metrics"
    check "ensure histogram" grep -q '^shic_ensure_duration_seconds_bucket{le="+Inf"} 1$' "$work/metrics"
    check "pool capacity" grep -q '^shic_pool_capacity_bytes{pool="ram"} 8589934592$' "$work/metrics"
    check "footprint" grep -Eq '^shic_instance_footprint_bytes\{instance_id="standin:tiny:[^"]+",pool="ram",source="declared"\} 1073741824$' "$work/metrics"
    check "leases" grep -q '^shic_leases 1$' "$work/metrics"
    check "queue" grep -q '^shic_queue_length 0$' "$work/metrics"
    check "event streams" grep -q '^shic_http_event_streams 1$' "$work/metrics"
    if command -v promtool > /dev/null; then
        check "promtool check metrics" bash -c "promtool check metrics < '$work/metrics'"
    else
        echo "http: promtool check metrics: skipped (no promtool: apt-get install prometheus)"
    fi
    if command -v prometheus > /dev/null; then
        pp=$(port)
        printf 'global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shicd\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' "$hp" > "$work/prometheus.yml"
        prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
            --web.listen-address="127.0.0.1:$pp" > "$work/prometheus.log" 2>&1 &
        prom_pid=$!
        scraped=""
        for i in $(seq 1 100); do
            curl -s "http://127.0.0.1:$pp/api/v1/query?query=shic_pool_capacity_bytes" 2> /dev/null \
                | grep -q '"8589934592"' && { scraped=yes; break; }
            sleep 0.2
        done
        check "a real Prometheus scrapes it" test -n "$scraped"
        check "the scrape is up" bash -c "curl -s 'http://127.0.0.1:$pp/api/v1/query?query=up' | grep -q '\"1\"\\]'"
        kill -TERM "$prom_pid"; wait "$prom_pid" 2> /dev/null; prom_pid=""
    else
        echo "http: a real Prometheus scrapes it: skipped (no prometheus)"
    fi
    curl -sf "$url/api/v1/status" > "$work/status"
    check "status is JSON with instances, leases, pools, queue, backends" /usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["instances"][0]["lifecycle_status"] == "ready"
assert len(s["leases"]) == 1 and s["pools"][0]["pool"] == "ram" and s["queue"] == []
assert sorted(b["backend"] for b in s["backends"]) == ["slow", "standin"]
assert s["actions"] is True' "$work/status"
    id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["instances"][0]["instance_id"])' "$work/status")
    check "stop without a token: 401" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/api/v1/instances/$id/stop")" = 401
    check "stop with a wrong token: 401" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer ${token}x" "$url/api/v1/instances/$id/stop")" = 401
    check "stop with the token: 200" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" "$url/api/v1/instances/$id/stop")" = 200
    for i in $(seq 1 100); do grep -q '"instance.stopped"' "$work/events" && break; sleep 0.05; done
    kill "$sse_pid" 2> /dev/null; wait "$sse_pid" 2> /dev/null
    for topic in instance.starting instance.ready lease.granted instance.stopped; do
        check "the event stream relays $topic" grep -q "^data: {\"topic\":\"$topic\"" "$work/events"
    done
    check "page served" bash -c "curl -sf '$url/' | grep -q '<title>shic</title>'"
    check "unknown path: 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")" = 404
    check "huge header: refused, daemon serving" bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' -H \"X-Big: \$(head -c 100000 /dev/zero | tr '\\0' a)\" '$url/metrics')\" != 200 && '$build/shic' ping > /dev/null"
    #  A bad address is refused at start with file:line:key
    printf 'shicd\n    http = 127.0.0.1:99999\n' > "$work/bad.cfg"
    "$build/shicd" --config "$work/bad.cfg" > /dev/null 2> "$work/bad.err"
    check "bad shicd/http: exit 2 naming the line" bash -c "grep -q 'bad.cfg:2: shicd/http: port' '$work/bad.err'"
    ;;
browser)
    if ! command -v chromium > /dev/null || ! command -v node > /dev/null; then
        echo "http: browser: skipped (no chromium or node: apt-get install chromium nodejs)"
        exit 0
    fi
    timeout 120 node "$source/tests/browser_test.js" "$url/" "$build/shic" "tcp://127.0.0.1:$gw" > "$work/browser" 2>&1
    rc=$?
    cat "$work/browser"
    check "browser test" test $rc -eq 0
    ;;
abuse)
    /usr/bin/python3 "$source/tests/http_abuse.py" "tcp://127.0.0.1:$gw" "$hp"
    check "pings answered while HTTP is abused" test $? -eq 0
    check "metrics answer after the abuse" bash -c "curl -sf --max-time 15 '$url/metrics' | grep -q shic_requests_total"
    ;;
esac
kill -TERM "$daemon_pid"
wait "$daemon_pid"
check "shicd exits 0" test $? -eq 0
daemon_pid=""
check "no dangling sockets" bash -c "! grep -q dangling '$work/err'"
echo "http $mode: $passed passed, $failed failed"
[ $failed -eq 0 ]
