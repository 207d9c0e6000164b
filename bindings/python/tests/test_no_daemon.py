"""With nobody listening, a call fails within about a second, naming the
endpoint (no shicd needed: this test runs without run_tests.sh too)."""

import os
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import shic  # noqa: E402


def _unused_endpoint():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return "tcp://127.0.0.1:%d" % sock.getsockname()[1]


def test_no_daemon_fails_fast_naming_the_endpoint():
    endpoint = _unused_endpoint()
    with shic.Client(endpoint) as client:
        started = time.monotonic()
        with pytest.raises(shic.NoReplyError) as caught:
            client.ensure_endpoint("llama_cpp", "tiny")     # would wait 120 s + 10 s
        assert time.monotonic() - started < 3
        assert caught.value.code == "no_reply"
        assert endpoint in str(caught.value)


def _fake_gateway(answers):
    """A ROUTER on a free port that answers a ping properly and each other
    request with the next of answers (a function of the request id giving
    the reply frame). Returns (endpoint, thread)."""
    import threading
    import msgpack
    import zmq
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    pending = list(answers)

    def serve():
        try:
            while pending and router.poll(5000):
                frames = router.recv_multipart()
                request = msgpack.unpackb(frames[-1], raw=False)
                if request["op"] == "ping":
                    body = msgpack.packb({"v": 1, "id": request["id"], "ok": True,
                                          "result": {"protocol": 1}})
                else:
                    body = pending.pop(0)(request["id"])
                router.send_multipart(frames[:-1] + [body])
        finally:
            router.close(0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return "tcp://127.0.0.1:%d" % port, thread


def test_a_reply_that_cannot_be_decoded_is_an_error_not_silence():
    import msgpack
    answers = [
        # A str that is not UTF-8, as a daemon before issue 15 echoed it
        lambda rid: msgpack.packb({"v": 1, "id": rid, "ok": True,
                                   "result": {"leases": [{"owner_ref": b"\xc3\x28"}]}},
                                  use_bin_type=False),
        # Not msgpack at all: nobody can tell whose it is
        lambda rid: b"\xc1",
        # msgpack, but not a map
        lambda rid: msgpack.packb([1, 2]),
    ]
    endpoint, thread = _fake_gateway(answers)
    with shic.Client(endpoint, timeout_ms=3000) as client:
        for _ in answers:
            started = time.monotonic()
            with pytest.raises(shic.BadReplyError) as caught:
                client.list_leases()
            assert caught.value.code == "bad_reply"
            assert "cannot be decoded" in str(caught.value)
            assert time.monotonic() - started < 2      # not the 3 s timeout
    thread.join(5)


def test_an_event_that_cannot_be_decoded_is_an_error_not_silence():
    import msgpack
    import zmq
    publisher = zmq.Context.instance().socket(zmq.PUB)
    publisher.setsockopt(zmq.LINGER, 0)
    port = publisher.bind_to_random_port("tcp://127.0.0.1")
    try:
        with shic.EventStream("tcp://127.0.0.1:%d" % port, "lease.", timeout=0.1) as stream:
            bad = msgpack.packb({"owner_ref": b"\xff", "at_ms": 1}, use_bin_type=False)
            deadline = time.monotonic() + 5
            caught = None
            while caught is None and time.monotonic() < deadline:
                publisher.send_multipart([b"lease.granted", bad])    # until subscribed
                try:
                    stream.next()
                except shic.BadReplyError as exc:
                    caught = exc
            assert caught is not None and "lease.granted" in str(caught)
            good = msgpack.packb({"lease_ref": "l", "at_ms": 2})
            publisher.send_multipart([b"lease.granted", good])
            event = stream.next(timeout=2)
            while event is None or event.body.get("at_ms") != 2:   # the stream stays usable
                try:
                    event = stream.next(timeout=2)
                except shic.BadReplyError:
                    event = None
            assert event.body["lease_ref"] == "l"
    finally:
        publisher.close(0)
