#!/usr/bin/env bash
#  make bench: every benchmark against a real shicd and the stand-ins (figure
#  11: the estimator against the real llama-server of ../shared/llama), then
#  bench/RESULTS.md (bench/report.py) and bench/latency.png (bench/plot.gp).
#  Bounded: each program runs under a timeout, and each of their waits has
#  its own deadline. Figures, not assertions: the exit code says whether
#  the benchmarks ran, never whether a target was met.
#  Usage: bench/run.sh [BUILD_DIR]
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
out="$build/bench"
rm -rf "$out"
mkdir -p "$out/samples"
started=$(date +%s)
rc=0

echo "bench: shic_bench_daemon (figures 1, 2, 5, 6, 7, 8)"
timeout -k 10 480 "$build/shic_bench_daemon" --build "$build" --json "$out/daemon.json" \
    --samples "$out/samples" > "$out/daemon.txt" 2> "$out/daemon.err" || rc=1
cat "$out/daemon.txt"

echo "bench: shic_bench_detect (figures 3, 4)"
timeout -k 10 300 "$build/shic_bench_detect" 50 --json "$out/detect.json" \
    --samples "$out/samples" > "$out/detect.txt" 2> "$out/detect.err" || rc=1
cat "$out/detect.txt"

echo "bench: shic_bench_placement (figures 9, 10)"
timeout -k 10 240 "$build/shic_bench_placement" --build "$build" --json "$out/placement.json" \
    --samples "$out/samples" > "$out/placement.txt" 2> "$out/placement.err" || rc=1
cat "$out/placement.txt"

#  Figure 11 needs ../shared/llama: exit 2 means it is not there (the report
#  says skipped), 1 that a row missed its target (a figure, not a failure)
echo "bench: shic_bench_footprint (figure 11)"
timeout -k 10 300 "$build/shic_bench_footprint" --json "$out/footprint.json" \
    > "$out/footprint.txt" 2> "$out/footprint.err"
case $? in
    0|1) ;;
    2) rm -f "$out/footprint.json" ;;
    *) rc=1 ;;
esac
cat "$out/footprint.txt"

#  Figures 12 and 13 need etcd: exit 2 means it is not installed (the
#  report says skipped)
echo "bench: shic_bench_cluster (figures 12, 13)"
timeout -k 10 300 "$build/shic_bench_cluster" --build "$build" --json "$out/cluster.json" \
    --samples "$out/samples" > "$out/cluster.txt" 2> "$out/cluster.err"
case $? in
    0) ;;
    2) rm -f "$out/cluster.json" ;;
    *) rc=1 ;;
esac
cat "$out/cluster.txt"

echo "bench: http_scrape (the HTTP face: idle, and scraped every second)"
timeout -k 10 120 bash "$here/http_scrape.sh" "$build" > "$out/http.txt" 2> "$out/http.err" || rc=1
cat "$out/http.txt"

if [ $rc -ne 0 ]; then
    echo "bench: a benchmark failed; see $out/*.err" >&2
    tail -5 "$out"/*.err >&2
    exit 1
fi
/usr/bin/python3 "$here/report.py" "$out/daemon.json" "$out/detect.json" \
    "$here/RESULTS.md" "$(( $(date +%s) - started ))" \
    "$out/placement.json" "$out/footprint.json" "$out/cluster.json" || exit 1
if command -v gnuplot > /dev/null; then
    gnuplot -e "samples='$out/samples'; output='$here/latency.png'" "$here/plot.gp" || exit 1
else
    echo "bench: gnuplot not installed (make bench-deps), no latency.png" >&2
fi
echo "bench: wrote $here/RESULTS.md and $here/latency.png in $(( $(date +%s) - started )) s"
