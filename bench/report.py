#!/usr/bin/python3
"""Writes bench/RESULTS.md from the JSON of shic_bench_daemon,
shic_bench_detect, shic_bench_placement and shic_bench_footprint.
Usage: report.py DAEMON_JSON DETECT_JSON RESULTS_MD SECONDS [PLACEMENT_JSON [FOOTPRINT_JSON
       [CLUSTER_JSON]]]
A missing PLACEMENT_JSON says figures 9 and 10 did not run; a missing
FOOTPRINT_JSON says figure 11 was skipped (no ../shared/llama); a missing
CLUSTER_JSON says figures 12 and 13 were skipped (no etcd)."""

import json
import os
import platform
import sys
import time


def num(x, digits=1):
    return f"{x:,.{digits}f}"


def met(ok):
    return "**met**" if ok else "**missed**"


def table(rows):
    head = "| series | median | p99 | min - max | baseline | ratio | target | result |"
    lines = [head, "|" + "---|" * 8]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def load_optional(index):
    """The JSON of argument index, or None when it is not given or not there"""
    if len(sys.argv) <= index or not os.path.exists(sys.argv[index]):
        return None
    return json.load(open(sys.argv[index]))


def stats_row(label, s, digits=3, baseline="-", ratio="-", target="-", result="-"):
    return [label, num(s["p50"], digits), num(s["p99"], digits),
            f"{num(s['min'], digits)} - {num(s['max'], digits)}", baseline, ratio, target, result]


def fig12(md, f):
    l, r, e = f["local"], f["forwarded"], f["echo"]
    e2 = f.get("echo_process", e)
    extra = r["p50"] - l["p50"]
    rows = [
        stats_row("local: client on node a (us)", l, 1),
        stats_row("forwarded: client on node b (us)", r, 1, baseline=f"local {num(l['p50'])}",
                  ratio=f"+{num(extra)}",
                  target=f"<= local + two-process echo ({num(l['p50'] + e2['p50'])})",
                  result=met(r["p50"] <= l["p50"] + e2["p50"])),
        stats_row("echo of the same two frames, another process (us)", e2, 1),
        stats_row("echo of the same two frames, this process (us)", e, 1,
                  target=f"(local + this echo: {num(l['p50'] + e['p50'])})",
                  result="within" if r["p50"] <= l["p50"] + e["p50"] else "beyond"),
    ]
    for part in ("ensure", "release"):
        if f"forwarded_{part}" in f:
            fp, lp = f[f"forwarded_{part}"], f[f"local_{part}"]
            rows.append(stats_row(f"its {part} alone, forwarded (us)", fp, 1,
                                  baseline=f"local {num(lp['p50'])}",
                                  ratio=f"+{num(fp['p50'] - lp['p50'])}"))
    if "relay_process" in f:
        rp = f["relay_process"]
        rows.append(stats_row("the two-process echo through a bare relay process (us)", rp, 1,
                              baseline=f"two-process echo {num(e2['p50'])}",
                              ratio=f"+{num(rp['p50'] - e2['p50'])}"))
    md.append(f"## 12. A warm ensure+release forwarded to another node, {f['pairs']} pairs\n")
    md.append(table(rows))
    md.append(f"\nTwo shicd nodes on one etcd (etcd lease {f['ttl_ms']} ms), the stand-in ready on "
              f"node a with a lease held; one C client on a (local) and one on b, whose gateway "
              f"forwards the ensure straight to a's peer door (the route its cluster actor "
              f"published) and relays a's reply; b answers the release itself (a lease it relayed "
              f"for this client) and sends it on to a one-way with its next message to a (20 ms at "
              f"most; here, after the next forwarded ensure). The echoes are a bare "
              f"DEALER/ROUTER sending the same two frames back: in a process of its own (the "
              f"baseline of the target: the nodes are two processes) and inside this process (as "
              f"in figure 1, reported beside it). The last row sends the echo's two frames through "
              f"a bare relay process (a ROUTER passing each message to the echo process over a "
              f"DEALER and the answer back, ZeroMQ alone, no shic code): what relaying both "
              f"messages through a third process costs on this machine. The series alternate in "
              f"blocks of 100 after a warm-up block; {f['errors']} errors.\n")
    cpu = [(path, f.get(f"{path}_cpu_us")) for path in ("local", "forwarded")]
    if all(c for _, c in cpu):
        md.append("The CPU time a pair took, summed over every thread of each process (from "
                  "/proc/<pid>/task/*/schedstat around the blocks): " +
                  "; ".join(f"{path}: node a {num(c['a'])} us, node b {num(c['b'])} us, "
                            f"the client {num(c['client'])} us" for path, c in cpu) + ".\n")


def fig13(md, f):
    fo, c = f["failover"], f["cold"]
    bound = f["ttl_ms"] + c["p50"]
    rows = [
        stats_row("SIGKILL of the node holding it -> the next ensure answered (ms)", fo, 1,
                  baseline=f"TTL + cold {num(bound)}", ratio=f"x{fo['p50'] / bound:.2f}",
                  target="p50 <= TTL + cold start", result=met(fo["p50"] <= bound)),
        stats_row("the model's cold start alone (ms)", c, 1),
    ]
    md.append(f"## 13. Failover: SIGKILL of the node holding the model, {f['rounds']} rounds\n")
    md.append(table(rows))
    md.append(f"\nNode a and a node b<round>, each round a fresh one; the model (the stand-in, "
              f"`--load-ms {f['load_ms']}`) is started on b (the cold start alone is that ensure, "
              f"timed), b is SIGKILLed at a random moment of its keep-alive period and an "
              f"ensure is sent to a at once: a's view still has the "
              f"model ready on b, so it is forwarded there and waits until b's records vanish with "
              f"its etcd lease (TTL {f['ttl_ms']} ms, kept alive every third of it; etcd revokes "
              f"expired leases every 500 ms), then a claims the start and starts the model "
              f"itself.\n")


def fig9(md, f):
    o = f["overhead"]
    rows = [stats_row("overhead = total - stop-to-reap - alone (ms)", o, target="p50 < 5 ms",
                      result=met(o["p50"] < 5))]
    for period, label in ((1000, "1 s poll, llama-swap (ms)"), (250, "250 ms settle poll, Ollama (ms)")):
        # The overhead is a difference of two cold starts and may sit at 0
        # +- noise; the daemon's own two steps are the stable comparison
        steps = f["decisions"]["p50"]
        ratio = f"x{period / 2 / steps:.0f} the daemon's steps" if steps > 0 else "-"
        rows.append([label, num(period / 2, 1), num(period * 0.99, 1), f"0.0 - {num(period, 1)}",
                     "computed", ratio, "-", "-"])
    rows += [
        stats_row("swap total: ensure B -> reply (ms)", f["total"]),
        stats_row("A stop-to-reap: evicting -> stopped (ms)", f["stop_to_reap"]),
        stats_row("B alone: cold ensure -> reply (ms)", f["alone"]),
        stats_row("swap: ensure -> A evicting (ms)", f["ensure_to_evicting"]),
        stats_row("swap: A stopped -> B starting (ms)", f["reap_to_starting"]),
        stats_row("swap: the daemon's two steps, the sum of the two above (ms)", f["decisions"]),
        stats_row("swap: B starting -> reply (ms)", f["starting_to_reply"],
                  baseline=f"alone {num(f['alone_starting_to_reply']['p50'], 3)}"),
        stats_row("swap: B ready -> reply (ms)", f["ready_to_reply"],
                  baseline=f"alone {num(f['alone_ready_to_reply']['p50'], 3)}"),
    ]
    md.append(f"## 9. Swap: model A idle fills the pool, ensure B, {f['rounds']} rounds\n")
    md.append(table(rows))
    md.append(f"\nA pool `ram` of {f['pool_mib']} MiB (overhead and margin 0) and two stand-in "
              f"llama-servers (the llama_cpp backend, `--load-ms {f['load_ms']}`) that each declare "
              f"`needs = {f['needs_mib']}MiB`, so B only fits once A is gone. Each round times, on "
              f"one clock, the swap (ensure B while A is idle: the reply, and the receipt of "
              f"`instance.evicting` and `instance.stopped` of A and `instance.starting` of B on the "
              f"events socket), then stops B and times a cold ensure of B with nothing to evict "
              f"(\"alone\"). The overhead of a round is its swap less A's stop-to-reap less B "
              f"alone; it can be slightly negative when the cold start alone was the slower one. "
              f"The pollers are computed: a swap that waits for a poll of period P adds a uniform "
              f"[0, P) (median P/2), set against the median of the daemon's own two steps.\n")


def fig10(md, f):
    answered_all = f["answered"] == f["sent"] and f["no_reply"] == 0
    errors = ", ".join(f"{code} {n}" for code, n in f["errors"].items()) or "none"
    swaps, changes = f["evictions"], max(f["minimum_starts"] - 1, 0)
    rows = [
        ["requests answered / sent", f"{f['answered']:,} / {f['sent']:,}", "-", "-", "-", "-",
         "every request answered", met(answered_all)],
        ["granted, refused by code", f"{f['granted']:,}; {errors}", "-", "-", "-", "-", "report", "-"],
        stats_row("wait: ensure -> reply (ms)", f["wait"], digits=1, target="report"),
        ["swaps (evictions); starts", f"{swaps}; {f['starts']}", "-", "-",
         f"minimum {changes}; {f['minimum_starts']}",
         f"x{swaps / changes:.2f}" if changes else "-", "report", "-"],
        ["arrival order: swaps a strict FIFO would make", f"{f['arrival_order_starts'] - 1:,}", "-", "-",
         f"made {swaps}", f"x{(f['arrival_order_starts'] - 1) / swaps:.1f} more" if swaps else "-",
         "-", "-"],
    ]
    md.append(f"## 10. Contention: {f['models']} models, room for 1, {f['clients']} clients "
              f"for {f['run_ms'] / 1000:.0f} s\n")
    md.append(table(rows))
    md.append(f"\n{f['models']} stand-ins declaring {f['needs_mib']} MiB each (load "
              f"{f['load_ms']} ms) in a pool of {f['pool_mib']} MiB. {f['clients']} client threads "
              f"(one `shic_client` each, loopback) loop until the time is up: ensure a random "
              f"model (ttl 60 s, wait 60 s), hold it 1-{f['hold_ms_max']} ms, release. Answered "
              f"counts replies, granted or refused; {f['no_reply']} requests had no reply and "
              f"{f['release_errors']} releases failed. Starts come from `stats` "
              f"(`instances_started`, {f['starts_seen']} `instance.starting` events seen). The "
              f"minimum is computed from the daemon's own order of grants (the "
              f"{f['grant_events']:,} `lease.granted` events, an instance id standing for its "
              f"model): with room for one model every change of model between consecutive grants "
              f"is a swap, so swaps = changes means no start was wasted. The FIFO line counts the "
              f"changes of model in the order the requests were sent, what a server that served "
              f"them strictly in arrival order would have swapped.\n")


def fig11(md, f):
    md.append("## 11. Footprint estimator error: estimate from the GGUF header against "
              "llama-server's own buffers\n")
    if f is None:
        md.append("skipped: no `../shared/llama` (llama-server and models) on this machine.\n")
        return
    rows = []
    for buffer in ("model", "kv", "compute"):
        picked = [r for r in f["rows"] if r["buffer"] == buffer]
        if not picked:
            continue
        pct = sorted(abs(r["error_pct"]) for r in picked)
        mib = sorted(abs(r["error_mib"]) for r in picked)
        ok = all(r["target_met"] for r in picked)
        rows.append([f"{buffer}: abs error % ({len(picked)} rows)", f"{pct[len(pct) // 2]:.2f}%", "-",
                     f"{pct[0]:.2f}% - {pct[-1]:.2f}%", f"max {mib[-1]:.2f} MiB", "-",
                     "10% or 2 MiB", met(ok)])
    md.append(table(rows))
    md.append("\n| model | -c | buffer | estimate MiB | actual MiB | error MiB | error % |")
    md.append("|---|---|---|---|---|---|---|")
    for r in f["rows"]:
        md.append(f"| {r['model']} | {r['ctx']} | {r['buffer']} | {r['estimate_mib']:.2f} | "
                  f"{r['actual_mib']:.2f} | {r['error_mib']:+.2f} | {r['error_pct']:+.2f}% |")
    md.append(f"\nEvery model of `../shared/llama` at `-c 512` and `-c 4096`, `-np 1`, CPU: the "
              f"estimate (placement/shic_footprint) against the buffer lines the real llama-server "
              f"prints when it loads the model. {f['failed']} failed to load or to estimate.\n")


def main():
    daemon = json.load(open(sys.argv[1]))
    detect = json.load(open(sys.argv[2]))
    out_path = sys.argv[3]
    seconds = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    md = []
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    md.append("# shic benchmark results\n")
    md.append(f"Generated by `make bench` (bench/run.sh) on {time.strftime('%Y-%m-%d')}, "
              f"{daemon['cores']} cores ({cpu}), {platform.system()} {platform.release()}; "
              f"the whole run took {seconds} s. Every figure is measured against a real "
              "`shicd` process started with a generated configuration (figures 3 and 4: the "
              "same kernel embedded, see below; figure 11: the estimator against the real "
              "llama-server) and the stand-ins of `tests/`; every "
              "baseline is measured (or, for the pollers, computed) in the same run. The "
              "machine is small and shared, so read medians and spreads, not single numbers. "
              "Benchmarks are programs that report; nothing here is asserted by a test.\n")
    md.append("![latency distributions of figures 1, 3 and 4](latency.png)\n")
    md.append("*Cumulative distributions on a log time axis: figure 1 beside the bare "
              "DEALER/ROUTER echo, figures 3 and 4 beside the 1 s and 250 ms pollers.*\n")

    # Figure 1
    f1 = daemon["fig1"]
    s, e = f1["shic"], f1["echo"]
    r50, r99 = s["p50"] / e["p50"], s["p99"] / e["p99"]
    md.append("## 1. Warm ensure+release round trip over the TCP gateway, 1 client\n")
    md.append(table([
        ["shicd ensure+release (us)", num(s["p50"]), num(s["p99"]), f"{num(s['min'])} - {num(s['max'])}",
         f"echo p50 {num(e['p50'])}", f"x{r50:.2f}", "p50 <= 2x", met(r50 <= 2)],
        ["", "", "", "", f"echo p99 {num(e['p99'])}", f"x{r99:.2f}", "p99 <= 3x", met(r99 <= 3)],
        ["echo baseline (us)", num(e["p50"]), num(e["p99"]), f"{num(e['min'])} - {num(e['max'])}",
         "-", "-", "-", "-"],
    ]))
    md.append(f"\n{s['n']} round trips each, in interleaved blocks of 500; the echo sends frames "
              f"of the same sizes ({f1['ensure_bytes']} + {f1['release_bytes']} bytes) to a "
              f"ROUTER thread of the benchmark process over TCP. {f1['errors']} errors.\n")

    # Figure 2
    f2 = daemon["fig2"]
    s, e = f2["shic"], f2["echo"]
    ratio = s["median"] / e["median"]
    md.append(f"## 2. Warm ensure+release throughput, {f2['clients']} clients pipelining\n")
    md.append(table([
        ["shicd (pairs/s)", num(s["median"], 0), "-", f"{num(s['min'], 0)} - {num(s['max'], 0)}",
         f"echo {num(e['median'], 0)}", f"{100 * ratio:.1f}%", ">= 40% of echo", met(ratio >= 0.4)],
        ["echo baseline (pairs/s)", num(e["median"], 0), "-", f"{num(e['min'], 0)} - {num(e['max'], 0)}",
         "-", "-", "-", "-"],
    ]))
    md.append(f"\n{len(s['runs'])} runs of {f2['run_ms']} ms each side (after a warm-up of a "
              f"quarter of that), {f2['clients']} DEALER clients x {f2['depth']} ensure->release "
              f"chains in flight, driven by one polling thread. {f2['errors']} errors.\n")

    # Figures 3 and 4
    for number, key, title in ((3, "readiness", "Readiness detection: stand-in ready line -> ensure reply"),
                               (4, "crash", "Crash detection: SIGKILL -> instance.restarting")):
        f = detect[key]
        s = f["shic"]
        rows = [[f"shic (ms)", num(s["p50_ms"], 3), num(s["p99_ms"], 3),
                 f"{num(s['min_ms'], 3)} - {num(s['max_ms'], 3)}", "-", "-", "p50 <= 2 ms",
                 met(s["p50_ms"] <= 2.0)]]
        for name, label in (("poll_1s", "1 s poll, llama-swap (ms)"), ("poll_250ms", "250 ms poll, Ollama (ms)")):
            b = f[name]
            rows.append([label, num(b["p50_ms"], 1), num(b["p99_ms"], 1),
                         f"{num(b['min_ms'], 1)} - {num(b['max_ms'], 1)}", "computed",
                         f"p50 x{b['p50_ratio']:.0f} slower", "-", "-"])
        md.append(f"## {number}. {title}, {f['runs']} runs\n")
        md.append(table(rows))
        md.append("")
    md.append(f"Figures 3 and 4 come from `shic_bench_detect`, which embeds the same kernel "
              f"(the `shicd` actors without the TCP hop) so that it can time the stand-in's "
              f"ready moment and the kill from the same clock. The pollers are computed: "
              f"uniform phase in [0, period) plus one measured GET /health "
              f"({detect['probe_get_ms']:.3f} ms), seeded PRNG.\n")

    # Figure 5
    f5 = daemon["fig5"]
    trials = f5["trials"]
    s = f5["reply_after_ready"]
    lasts = sorted(t["last_after_ready_ms"] for t in trials)
    spawns = [t["spawns"] for t in trials]
    one = all(t["spawns"] == 1 and t["instances"] == 1 for t in trials)
    md.append(f"## 5. Thundering herd: {f5['requests']} concurrent cold ensures of one model "
              f"from {f5['clients']} clients, {len(trials)} trials\n")
    md.append(table([
        ["spawns per trial", "/".join(map(str, spawns)), "-", "-", "-", "-", "exactly 1", met(one)],
        ["last reply after ready (ms)", num(lasts[len(lasts) // 2], 2), "-",
         f"{num(lasts[0], 2)} - {num(lasts[-1], 2)}", "-", "-", "<= 50 ms", met(lasts[-1] <= 50)],
        ["every reply after ready (ms)", num(s["p50"], 2), num(s["p99"], 2),
         f"{num(s['min'], 2)} - {num(s['max'], 2)}", "-", "-", "-", "-"],
    ]))
    md.append(f"\nThe stand-in loads for {f5['load_ms']} ms, so all {f5['requests']} requests "
              f"are in before it is ready (ready "
              f"{', '.join(num(t['ready_after_first_send_ms'], 0) for t in trials)} ms after the "
              f"first send); spawns are counted from `instance.starting` events, errors "
              f"{'/'.join(str(t['errors']) for t in trials)}. Each trial is a fresh model on the "
              f"same daemon.\n")

    # Figure 6
    f6 = daemon["fig6"]
    idle = f6["idle"]
    rows = [["idle daemon", f"{idle['cpu_pct']:.2f}% CPU", "-", "-", "-", "-", "-", "-"]]
    for step in f6["steps"]:
        w = step["window"]
        rows.append([f"{step['instances']} instances: CPU", f"{w['cpu_pct']:.1f}% of one core", "-", "-",
                     f"idle {idle['cpu_pct']:.2f}%", f"+{w['cpu_pct'] - idle['cpu_pct']:.1f} points",
                     "<= 10% of one core" if step["instances"] >= 1000 else "(step)",
                     met(w["cpu_pct"] <= 10) if step["instances"] >= 1000 else "-"])
        rows.append([f"{step['instances']} instances: RSS", f"{w['rss_kb'] / 1024:.1f} MB", "-", "-",
                     f"idle {idle['rss_kb'] / 1024:.1f} MB", f"{step['kb_per_instance']:.1f} KB/instance",
                     "report", "-"])
        rows.append([f"{step['instances']} instances: threads, wake-ups",
                     f"{w['threads']} threads, {w['wakeups_per_s']:.0f}/s", "-", "-",
                     f"idle {idle['threads']}, {idle['wakeups_per_s']:.1f}/s", "-", "report", "-"])
    md.append("## 6. Attached instances, health every 1 s: daemon CPU and RSS\n")
    md.append(table(rows))
    md.append(f"\nAttached to {f6['standins']} `shic_stand_in_ollama` processes (the stand-in "
              f"holds at most 64 models, so 50 each, one `ollama` backend section per "
              f"stand-in), models installed and loaded, leases released after attaching "
              f"(attached instances have no idle shutdown). Each figure is one "
              f"{daemon['window_ms'] / 1000:.0f} s window of /proc/<pid>/stat utime+stime, taken "
              f"2 s after the step was attached; attach rates: "
              f"{', '.join(num(s['attach_per_s'], 0) + '/s' for s in f6['steps'])}.\n")

    # Figure 7
    f7 = daemon["fig7"]
    base = f7["baseline"]
    rows = []
    for i, r in enumerate(f7["rounds"]):
        label = "round 1, lease pool grows" if i == 0 else "round 2, lease actors reused"
        rows.append([f"{label}: RSS per lease", f"{r['kb_per_lease']:.1f} KB", "-", "-",
                     f"idle {base['rss_kb'] / 1024:.1f} MB", f"{r['rss_held_kb'] / 1024:.1f} MB held",
                     "<= 40 KB per lease", met(r["kb_per_lease"] <= 40)])
        rows.append([f"{label}: grant, release", f"{num(r['grant_per_s'], 0)}/s, {num(r['release_per_s'], 0)}/s",
                     "-", "-", "-", "-", "report", "-"])
        rows.append([f"{label}: threads", f"{r['threads_held']}", "-", "-", f"idle {base['threads']}",
                     "-", "report", "-"])
        if "settle_ms" in r:
            rows.append([f"{label}: every lease on its actor", f"{r['settle_ms'] / 1000:.1f} s after the last grant",
                         "-", "-", "-", "-", "report", "-"])
    md.append(f"## 7. {f7['leases']} concurrent leases\n")
    md.append(table(rows))
    md.append(f"\n{f7['clients']} clients, 100 requests in flight each, ttl 10 min, one warm "
              f"instance; the baseline is the same fresh daemon with the instance warm and no "
              f"lease. Leases are granted at once and bound to lease actors as the pool starts "
              f"them; RSS is sampled once the daemon's thread count has been steady for 1 s "
              f"(every lease on its actor). Errors: "
              f"{'/'.join(str(r['errors']) for r in f7['rounds'])}.\n")

    # Figure 8
    f8 = daemon["fig8"]
    md.append("## 8. Idle daemon\n")
    md.append(table([
        ["CPU", f"{f8['cpu_pct']:.2f}% of one core", "-", "-", "-", "-", "~0% (no busy loop)",
         met(f8["cpu_pct"] < 0.5)],
        ["RSS", f"{f8['rss_kb'] / 1024:.1f} MB", "-", "-", "-", "-", "report", "-"],
        ["threads", str(f8["threads"]), "-", "-", "-", "-", "report", "-"],
        ["wake-ups (context switches, all threads)", f"{f8['wakeups_per_s']:.1f}/s", "-", "-", "-", "-",
         "report", "-"],
    ]))
    md.append(f"\nOne {f8['seconds']:.0f} s window, 1 s after start, two backends configured and "
              "nothing started.\n")

    placement = load_optional(5)
    for number, key, render in ((9, "fig9", fig9), (10, "fig10", fig10)):
        if placement and key in placement:
            render(md, placement[key])
        else:
            md.append(f"## {number}. not run (shic_bench_placement failed or was not run)\n")
    fig11(md, load_optional(6))
    cluster = load_optional(7)
    for number, key, render in ((12, "fig12", fig12), (13, "fig13", fig13)):
        if cluster and key in cluster:
            render(md, cluster[key])
        else:
            md.append(f"## {number}. skipped (no etcd, or shic_bench_cluster failed)\n")

    reading = os.path.join(os.path.dirname(out_path), "READING.md")
    if os.path.exists(reading):
        md.append("## Reading\n")
        md.append(open(reading).read().strip() + "\n")
    open(out_path, "w").write("\n".join(md))


if __name__ == "__main__":
    main()
