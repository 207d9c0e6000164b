"""Ping latency of shicd's gateway with and without abuse of its HTTP face.

Usage: http_abuse.py GATEWAY_ENDPOINT HTTP_PORT

Prints p50/p99 of 300 pings quiet, then of 300 pings while the HTTP side
gets 3000 connections held open, 100 slow clients sending a header byte at
a time, 50 requests with 1 MB of headers and 8 event streams never read.
Asserts only that every ping is answered within a generous deadline (2 s):
latency figures on a shared machine are for reading, not for failing.
"""
import resource
import socket
import sys
import threading
import time

import msgpack
import zmq

DEADLINE_S = 2.0


def pings(endpoint, count):
    context = zmq.Context.instance()
    dealer = context.socket(zmq.DEALER)
    dealer.linger = 0
    dealer.connect(endpoint)
    times = []
    missed = 0
    for i in range(count):
        started = time.monotonic()
        dealer.send(msgpack.packb({"v": 1, "id": i, "op": "ping"}))
        if dealer.poll(int(DEADLINE_S * 1000)):
            reply = msgpack.unpackb(dealer.recv(), raw=False)
            assert reply["id"] == i and reply["ok"], reply
            times.append(time.monotonic() - started)
        else:
            missed += 1
        time.sleep(0.005)
    dealer.close()
    times.sort()
    return times, missed


def report(name, times, missed):
    p50 = times[len(times) // 2] * 1e3 if times else float("nan")
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1e3 if times else float("nan")
    print("abuse: %-22s p50 %.3f ms, p99 %.3f ms, %d answered, %d missed"
          % (name, p50, p99, len(times), missed))


def abuse(port, stop, held):
    address = ("127.0.0.1", port)

    def connect():
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(address)
        return s

    for _ in range(3000):                   # thousands of idle connections
        held.append(connect())
    slow = []
    for _ in range(100):                    # slowloris
        s = socket.create_connection(address)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        slow.append(s)
    for _ in range(50):                     # huge headers
        try:
            s = socket.create_connection(address, timeout=2)
            held.append(s)
            s.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
        except OSError:
            pass                            # the server closed it: as it should
    for _ in range(8):                      # event streams never read
        s = socket.socket()
        held.append(s)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            s.connect(address)
            s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass
    while not stop.is_set():
        for s in slow:
            try:
                s.send(b"X")
            except OSError:
                pass
        stop.wait(0.2)
    for s in slow:
        s.close()


def main():
    endpoint, port = sys.argv[1], int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    quiet, quiet_missed = pings(endpoint, 300)
    report("quiet", quiet, quiet_missed)
    stop = threading.Event()
    held = []
    thread = threading.Thread(target=abuse, args=(port, stop, held))
    thread.start()
    time.sleep(1.0)
    abused, abused_missed = pings(endpoint, 300)
    stop.set()
    thread.join()
    report("while HTTP is abused", abused, abused_missed)
    for s in held:
        s.close()
    ok = quiet_missed == 0 and abused_missed == 0 and abused[-1] < DEADLINE_S
    print("abuse: every ping answered within %.0f s: %s" % (DEADLINE_S, "yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
