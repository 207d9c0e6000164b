#   pause_check.py SHICD_PID ENDPOINT CLIENT_TIMEOUT_MS: the untimed lease
#   of a client that keeps pinging outlives a pause of shicd (SIGSTOP)
#   longer than client_timeout_ms, in each of 4 rounds (issue 15 point 10:
#   the daemon's timers used to run before the queued pings were read).
#   Uses the Python client (its keeper pings in the background).
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bindings", "python"))
import shic  # noqa: E402

pid, endpoint, timeout_ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
kept = 0
with shic.Client(endpoint, timeout_ms=5000, client_timeout_ms=timeout_ms) as client:
    for round in range(4):
        with client.ensure_endpoint("standin", "tiny", wait_ms=20000) as endpoint_:
            time.sleep(timeout_ms / 1000 / 2)
            os.kill(pid, signal.SIGSTOP)
            time.sleep(timeout_ms * 2.5 / 1000)
            os.kill(pid, signal.SIGCONT)
            time.sleep(timeout_ms * 1.5 / 1000)
            alive = endpoint_.lease_ref in [lease["lease_ref"] for lease in client.list_leases()]
            kept += 1 if alive and endpoint_.keeper_error is None else 0
print("pause_check: %d of 4 leases outlived the pause" % kept)
sys.exit(0 if kept == 4 else 1)
