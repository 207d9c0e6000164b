#   disconnect_check.py GATEWAY EVENTS: a client that is gone is seen at
#   once, not after client_timeout_ms (issue 15 point 10, issue 12 point 4).
#   Each client is a child process killed with SIGKILL (its kernel closes
#   the TCP connection; libzmq's socket monitor tells shicd). The daemon's
#   client_timeout_ms is 60 s: anything within 5 s is the disconnect.
#   1. An untimed lease of a killed client ends (lease.expired, reason
#      client_gone).
#   2. A killed client's ensure waiting in the memory queue leaves it: the
#      queue is empty, and when the memory frees no start is made for it.
#   3. A client that is alive keeps its untimed lease through all this.
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bindings", "python"))
import shic  # noqa: E402

gateway, events = sys.argv[1], sys.argv[2]
failed = 0


def check(name, ok):
    global failed
    print("disconnect: %s: %s" % (name, "ok" if ok else "FAILED"))
    failed += 0 if ok else 1


def child(code):
    """A client in a child process, killed by the caller"""
    prelude = ("import sys, time; sys.path.insert(0, %r); import shic\n"
               "c = shic.Client(%r, timeout_ms=60000)\n"
               % (os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"),
                  gateway))
    return subprocess.Popen([sys.executable, "-c", prelude + code], stdout=subprocess.PIPE, text=True)


def wait_event(stream, predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        event = stream.next(timeout=max(0.01, deadline - time.monotonic()))
        if event is not None and predicate(event):
            return event
    return None


with shic.Client(gateway, timeout_ms=10000) as client, \
        shic.EventStream(events, timeout=1000) as stream:
    time.sleep(0.3)                         # the subscription is in place
    keeper = client.ensure_endpoint("a", "model", ttl_ms=0, wait_ms=20000)

    # 1. An untimed lease of a client that dies
    proc = child("e = c.ensure_endpoint('a', 'model', ttl_ms=0, wait_ms=20000)\n"
                 "print(e.lease_ref, flush=True)\ntime.sleep(600)\n")
    ref = proc.stdout.readline().strip()
    check("the child holds an untimed lease", ref.startswith("lease-"))
    killed = time.monotonic()
    proc.kill()
    proc.wait()
    event = wait_event(stream, lambda e: e.topic == "lease.expired" and e.body.get("lease_ref") == ref, 5)
    check("its lease ends when it dies (client_gone)", event is not None and event.body.get("reason") == "client_gone")
    if event is not None:
        print("disconnect: seen %.0f ms after the kill" % ((time.monotonic() - killed) * 1000))
    refs = [lease.get("lease_ref") for lease in client.list_leases()]
    check("a live client keeps its untimed lease", keeper.lease_ref in refs and ref not in refs)

    # 2. A queued ensure of a client that dies. Model 'a' holds the pool
    # (keeper's lease); 'b' cannot fit until it is released.
    proc = child("c.ensure_endpoint('b', 'model', ttl_ms=0, wait_ms=60000)\nprint('granted', flush=True)\n")
    queued = wait_event(stream, lambda e: e.topic == "ensure.queued", 10)
    check("the child's ensure waits in the queue", queued is not None)
    queue = client.call("resources").get("queue", [])
    check("resources shows it queued", len(queue) == 1)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and client.call("resources").get("queue"):
        time.sleep(0.05)
    check("it leaves the queue when it dies", not client.call("resources").get("queue"))
    keeper.release()
    started = wait_event(stream, lambda e: e.topic == "instance.starting", 2)
    check("no start is made for it once memory is free", started is None)
    check("the daemon still answers", "version" in client.ping())

sys.exit(1 if failed else 0)
