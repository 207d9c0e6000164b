#!/usr/bin/env bash
#  The HTTP face's cost (issue 14): a shicd with one ready instance, idle
#  for 10 s with nobody looking (context switches of all its threads, and
#  of the whole daemon's CPU), then /metrics scraped every second for 20 s
#  (shicd's CPU over that time from /proc/PID/stat, and the scrape times).
#  Figures, not assertions. Usage: bench/http_scrape.sh [BUILD_DIR]
set -u
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
daemon_pid=""
cleanup () {
    if [ -n "$daemon_pid" ]; then
        kill -TERM "$daemon_pid" 2> /dev/null
        wait "$daemon_pid" 2> /dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/../tests/http_lib.sh"
http_daemon_start "$work" "$build"
switches () { cat /proc/$daemon_pid/task/*/status 2> /dev/null \
              | awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }'; }
ticks () { awk '{ print $14 + $15 }' /proc/$daemon_pid/stat; }
hz=$(getconf CLK_TCK)

sleep 1
before=$(switches); sleep 10; after=$(switches)
echo "http_scrape: idle shicd, no instance, nobody looking: $(( after - before )) context switches in 10 s"

SHIC_ENDPOINT=tcp://127.0.0.1:$gw "$build/shic" ensure standin tiny > /dev/null
cpu0=$(ticks); t0=$(date +%s.%N)
for i in $(seq 1 20); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$hp/metrics" >> "$work/times"
    sleep 1
done
cpu1=$(ticks); t1=$(date +%s.%N)
/usr/bin/python3 - "$cpu0" "$cpu1" "$t0" "$t1" "$hz" "$work/times" <<'PY'
import sys
cpu0, cpu1, t0, t1, hz = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
times = sorted(float(x) * 1e3 for x in open(sys.argv[6]))
print("http_scrape: /metrics every second for %.0f s with one ready instance: shicd CPU %.2f%% "
      "(%d ticks of 1/%d s); scrape p50 %.2f ms, max %.2f ms"
      % (t1 - t0, 100.0 * (cpu1 - cpu0) / hz / (t1 - t0), cpu1 - cpu0, hz,
         times[len(times) // 2], times[-1]))
PY
