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
