#  Latency distributions of figures 1, 3 and 4 beside their baselines, as
#  cumulative distributions on a log time axis. Called by bench/run.sh:
#  gnuplot -e "samples='DIR'; output='FILE'" bench/plot.gp
#  DIR holds the one-value-a-line files that shic_bench_daemon and
#  shic_bench_detect write with --samples.

if (!exists ("samples")) samples = "build/bench"
if (!exists ("output")) output = "bench/latency.png"
set terminal pngcairo size 1500,480 font ",10"
set output output
set multiplot layout 1,3
set logscale x
set grid xtics ytics mxtics
set ylabel "fraction of samples at or below"
set yrange [0:1]
set key bottom right

set title "fig 1: warm ensure+release, 1 client, TCP"
set xlabel "round trip (us)"
plot samples."/fig1_shic_us.txt" using 1:(1) smooth cnormal lw 2 title "shicd", \
     samples."/fig1_echo_us.txt" using 1:(1) smooth cnormal lw 2 dt 2 title "DEALER/ROUTER echo (baseline)"

set title "fig 3: readiness, ready line -> ensure reply"
set xlabel "detection latency (ms)"
plot samples."/readiness_shic_ms.txt" using 1:(1) smooth cnormal lw 2 title "shic (log line)", \
     samples."/readiness_poll_250ms_ms.txt" using 1:(1) smooth cnormal lw 2 dt 2 title "250 ms poll (Ollama)", \
     samples."/readiness_poll_1s_ms.txt" using 1:(1) smooth cnormal lw 2 dt 3 title "1 s poll (llama-swap)"

set title "fig 4: crash, SIGKILL -> instance.restarting"
set xlabel "detection latency (ms)"
plot samples."/crash_shic_ms.txt" using 1:(1) smooth cnormal lw 2 title "shic", \
     samples."/crash_poll_250ms_ms.txt" using 1:(1) smooth cnormal lw 2 dt 2 title "250 ms poll (Ollama)", \
     samples."/crash_poll_1s_ms.txt" using 1:(1) smooth cnormal lw 2 dt 3 title "1 s poll (llama-swap)"

unset multiplot
