#!/usr/bin/python3
"""Chaos soak of a real shicd.

Starts shicd with a command backend of three models (the stand-in
llama-server), then for SOAK_SECONDS (default 300) runs 8 clients that each
loop: ensure_endpoint, one chat completion through the endpoint, release;
while a killer SIGKILLs a random service every 2 s and now and then SIGSTOPs
one instead (a hang: the liveness restart must catch it). At the end it
stops the clients, takes the daemon's figures, SIGTERMs it and looks for
what was left behind. Prints:

    requests, endpoints granted, typed errors by code, requests that got
    neither (target 0), chats ok / failed, kills and stops, restarts,
    orphan and zombie processes after shutdown (target 0), RSS and fd
    growth of the daemon (targets < 5 MB, 0 fds)

and exits non-zero when a target is missed.
Usage: tests/soak.py BUILD_DIR [SECONDS]
"""

import collections
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "bindings", "python"))
import shic  # noqa: E402
from shic.errors import NoReplyError, ShicError  # noqa: E402

CLIENTS = 8
MODELS = 3
KILL_PERIOD_S = 2.0
STOP_EVERY = 4                  # every 4th hit is a SIGSTOP instead of a SIGKILL
RSS_GROWTH_MAX_KB = 5 * 1024
CHAT_TIMEOUT_S = 3.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def processes_with(marker):
    """(pid, state, ppid) of every process whose command line holds marker."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmdline = f.read()
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if marker.encode() in cmdline:
            found.append((int(name), fields[0], int(fields[1])))
    return found


def zombie_children(pid):
    """Children of pid in state Z (their command lines are empty)."""
    zombies = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] == "Z" and int(fields[1]) == pid:
            zombies.append(int(name))
    return zombies


class Figures:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.granted = 0
        self.errors = collections.Counter()
        self.neither = 0
        self.neither_samples = []
        self.chats_ok = 0
        self.chats_failed = 0
        self.releases_failed = collections.Counter()


def client_loop(index, endpoint, models, figures, stop):
    rng = random.Random(index)
    client = shic.Client(endpoint, timeout_ms=15000)
    try:
        while not stop.is_set():
            model = rng.choice(models)
            with figures.lock:
                figures.requests += 1
            try:
                granted = client.ensure_endpoint("standin", model, ttl_ms=20000,
                                                 wait_ms=10000, keep_alive=False)
            except NoReplyError as error:
                with figures.lock:
                    figures.neither += 1
                    figures.neither_samples.append(str(error))
                continue
            except ShicError as error:
                with figures.lock:
                    figures.errors[error.code] += 1
                time.sleep(0.05)
                continue
            except Exception as error:   # anything else is neither
                with figures.lock:
                    figures.neither += 1
                    figures.neither_samples.append(repr(error))
                continue
            with figures.lock:
                figures.granted += 1
            body = json.dumps({"model": model, "messages": [{"role": "user",
                                                             "content": "hi"}]}).encode()
            request = urllib.request.Request(granted.base_url + "/chat/completions", data=body,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=CHAT_TIMEOUT_S) as reply:
                    ok = reply.status == 200 and b"choices" in reply.read()
            except Exception:
                ok = False           # the killer got there first: expected
            with figures.lock:
                if ok:
                    figures.chats_ok += 1
                else:
                    figures.chats_failed += 1
            try:
                granted.release()
            except ShicError as error:
                with figures.lock:
                    figures.releases_failed[error.code] += 1
    finally:
        client.close()


def killer_loop(endpoint, figures, stop, hits):
    rng = random.Random(7)
    client = shic.Client(endpoint, timeout_ms=5000)
    count = 0
    pending = {}              # SIGSTOPped pid -> when
    try:
        while not stop.wait(KILL_PERIOD_S):
            try:
                instances = client.list_instances("standin")
            except ShicError:
                continue
            now = time.monotonic()
            live = {i.get("pid") for i in instances}
            for pid, since in list(pending.items()):
                if pid not in live:
                    hits["hang_caught_s"].append(now - since)
                    del pending[pid]
            pids = [i["pid"] for i in instances if i.get("pid") and i["pid"] not in pending
                    and i.get("lifecycle_status") == "ready"]
            if not pids:
                continue
            pid = rng.choice(pids)
            count += 1
            how = signal.SIGSTOP if count % STOP_EVERY == 0 else signal.SIGKILL
            try:
                os.kill(pid, how)
                hits[how.name] += 1
                if how == signal.SIGSTOP:
                    hits["stopped_pids"].append(pid)
                    pending[pid] = time.monotonic()
            except ProcessLookupError:
                pass
    finally:
        client.close()


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    seconds = float(sys.argv[2] if len(sys.argv) > 2 else os.environ.get("SOAK_SECONDS", 300))
    work = tempfile.mkdtemp(prefix="shic-soak-")
    marker = "soak%d" % os.getpid()
    models = ["%s-m%d" % (marker, i) for i in range(MODELS)]
    gateway, events = free_port(), free_port()
    endpoint = "tcp://127.0.0.1:%d" % gateway
    config = os.path.join(work, "shicd.cfg")
    with open(config, "w") as f:
        f.write("shicd\n"
                "    gateway = %s\n"
                "    events = tcp://127.0.0.1:%d\n"
                "    liveness_failures = 2\n"
                "    restart_backoff_ms = 100\n"
                "    restart_backoff_max_ms = 1000\n"
                "    max_restarts = 1000\n"
                "    failed_cooldown_ms = 1000\n"
                "    start_failure_hold_ms = 200\n"
                "backends\n"
                "    standin\n"
                "        type = command\n"
                "        command = %s/shic_stand_in -m ${MODEL} -a ${MODEL} --host ${HOST} "
                "--port ${PORT} --load-ms 100\n"
                "        ready_pattern = server is listening on http://\n"
                "        health_interval_ms = 300\n"
                "        stop_timeout_ms = 1000\n"
                "        ready_timeout_ms = 10000\n"
                "        models\n" % (endpoint, events, build))
        for model in models:
            f.write("            %s = %s\n" % (model, model))
    out = open(os.path.join(work, "out"), "w")
    daemon = subprocess.Popen([os.path.join(build, "shicd"), "--config", config],
                              stdout=out, stderr=subprocess.STDOUT)
    failures = []
    try:
        probe = shic.Client(endpoint, timeout_ms=1000)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except NoReplyError:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise SystemExit("soak: shicd did not answer within 10 s")
        probe.close()
        #  Warm-up: every model once, so the baseline includes three services
        warm = shic.Client(endpoint, timeout_ms=15000)
        for model in models:
            warm.ensure_endpoint("standin", model, wait_ms=10000, keep_alive=False).release()
        warm.close()
        rss_base, fds_base = status_kb(daemon.pid, "VmRSS"), fd_count(daemon.pid)

        figures = Figures()
        hits = {"SIGKILL": 0, "SIGSTOP": 0, "stopped_pids": [], "hang_caught_s": []}
        stop = threading.Event()
        threads = [threading.Thread(target=client_loop, args=(i, endpoint, models, figures, stop))
                   for i in range(CLIENTS)]
        threads.append(threading.Thread(target=killer_loop, args=(endpoint, figures, stop, hits)))
        start = time.monotonic()
        for thread in threads:
            thread.start()
        stop.wait(seconds)
        stop.set()
        for thread in threads:
            thread.join(60)
            if thread.is_alive():
                failures.append("a client thread did not finish within 60 s")
        elapsed = time.monotonic() - start

        #  The daemon's own view, then the hung ones must have been replaced
        tail = shic.Client(endpoint, timeout_ms=5000)
        stats = tail.stats()
        instances = tail.list_instances()
        tail.close()
        restarts = stats.get("restarts", 0)
        live = {i.get("pid") for i in instances}
        still_stopped = [p for p in hits["stopped_pids"] if p in live]
        time.sleep(1.0)       # let the last restart settle before measuring
        rss_end, fds_end = status_kb(daemon.pid, "VmRSS"), fd_count(daemon.pid)
        zombies_before = zombie_children(daemon.pid)

        daemon.send_signal(signal.SIGTERM)
        try:
            rc = daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            rc = daemon.wait(10)
            failures.append("shicd did not stop within 30 s of SIGTERM")
        time.sleep(0.5)
        left = processes_with(marker)
        orphans = [p for p in left if p[1] != "Z"]
        zombies = [p for p in left if p[1] == "Z"]

        f = figures
        print("soak: %d s, %d clients, %d models, killer every %.0f s" %
              (elapsed, CLIENTS, MODELS, KILL_PERIOD_S))
        print("soak: requests %d, endpoints granted %d, typed errors %d %s, neither %d" %
              (f.requests, f.granted, sum(f.errors.values()), dict(f.errors), f.neither))
        for sample in f.neither_samples[:5]:
            print("soak:   neither: %s" % sample)
        print("soak: chats through the endpoint: %d ok, %d failed (killed under them); "
              "releases failed %s" % (f.chats_ok, f.chats_failed, dict(f.releases_failed)))
        caught = hits["hang_caught_s"]
        print("soak: SIGKILLs %d, SIGSTOPs %d (replaced within %s s at worst as seen every %.0f s; "
              "still in place at the end: %d); restarts %s" %
              (hits["SIGKILL"], hits["SIGSTOP"], "%.1f" % max(caught) if caught else "-",
               KILL_PERIOD_S, len(still_stopped), restarts))
        print("soak: shicd RSS %d kB after warm-up, %d kB at the end (growth %+d kB, limit %d); "
              "fds %d -> %d (growth %+d)" % (rss_base, rss_end, rss_end - rss_base,
                                              RSS_GROWTH_MAX_KB, fds_base, fds_end,
                                              fds_end - fds_base))
        print("soak: shutdown exit %s; zombie children before it %d; after it: orphans %d, "
              "zombies %d" % (rc, len(zombies_before), len(orphans), len(zombies)))
        if f.neither:
            failures.append("%d requests got neither an endpoint nor a typed error" % f.neither)
        if f.granted == 0:
            failures.append("no endpoint was granted")
        if still_stopped:
            failures.append("SIGSTOPped services still in place: %s" % still_stopped)
        if rss_end - rss_base >= RSS_GROWTH_MAX_KB:
            failures.append("RSS grew by %d kB" % (rss_end - rss_base))
        if fds_end > fds_base:
            failures.append("fds grew by %d" % (fds_end - fds_base))
        if rc != 0:
            failures.append("shicd exited %s" % rc)
        if orphans or zombies:
            failures.append("left behind: %s" % (orphans + zombies))
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)
        for pid, _, _ in processes_with(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        out.close()
        with open(os.path.join(work, "out"), errors="replace") as log:
            text = log.read()
        if "dangling" in text:
            failures.append("czmq reported dangling sockets")
        subprocess.run(["rm", "-rf", work])
    for failure in failures:
        print("soak: FAILED: %s" % failure)
    print("soak: %s" % ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
