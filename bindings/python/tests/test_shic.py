"""Tests of the shic Python client against a real shicd.

bindings/run_tests.sh starts shicd with a command backend spawning the
stand-in llama-server and exports:
    SHIC_ENDPOINT   the gateway (tcp://127.0.0.1:N)
    SHIC_EVENTS     the events PUB
    SHIC_BACKEND    the backend id (default "stand_in")
    SHIC_MODEL      a configured model (default "tiny")
    SHIC_CLIENT_TIMEOUT_MS  the daemon's client_timeout_ms (default 30000)
Without SHIC_ENDPOINT the tests are skipped. Every call is bounded by the
client's timeout; every lease taken is released.
"""

import json
import os
import sys
import time
import urllib.request

import msgpack
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import shic  # noqa: E402

ENDPOINT = os.environ.get("SHIC_ENDPOINT")
EVENTS = os.environ.get("SHIC_EVENTS")
BACKEND = os.environ.get("SHIC_BACKEND", "stand_in")
MODEL = os.environ.get("SHIC_MODEL", "tiny")
CLIENT_TIMEOUT_MS = int(os.environ.get("SHIC_CLIENT_TIMEOUT_MS", "30000"))
WAIT_MS = 20000                    # cold starts of the stand-in take well under a second

pytestmark = pytest.mark.skipif(not ENDPOINT, reason="SHIC_ENDPOINT is not set (see run_tests.sh)")


@pytest.fixture
def client():
    with shic.Client(ENDPOINT, events_endpoint=EVENTS, timeout_ms=5000,
                     client_timeout_ms=CLIENT_TIMEOUT_MS) as client:
        yield client


def _live(instance):
    return instance.get("lifecycle_status") not in ("stopped", "failed")


def _stop_all(client, deadline_s=10):
    """Stops every live instance of BACKEND and waits until none is live."""
    for instance in client.list_instances(BACKEND):
        if _live(instance):
            client.stop_instance(instance["instance_id"])
    deadline = time.monotonic() + deadline_s
    while any(_live(i) for i in client.list_instances(BACKEND)):
        assert time.monotonic() < deadline, "instances did not stop"
        time.sleep(0.05)


def test_ping(client):
    result = client.ping()
    assert result["protocol"] == 1
    assert "version" in result and "uptime_ms" in result


def test_list_backends_has_the_command_backend(client):
    backends = client.list_backends()
    assert BACKEND in [b["backend"] for b in backends]


def test_compatibility(client):
    consumer = {"consumer": "t", "accepted_management_modes": ["jido_managed"]}
    assert client.compatibility(BACKEND, consumer)["compatible?"] is True
    result = client.compatibility("no_such_backend", consumer)
    assert result["compatible?"] is False
    assert result["reason"] == "backend_unregistered"


def test_ensure_cold_then_warm(client):
    _stop_all(client)
    first = client.ensure_endpoint(BACKEND, MODEL, wait_ms=WAIT_MS)
    try:
        assert first.reused is False
        assert first.base_url.startswith("http://") and first.base_url.endswith("/v1")
        assert first.lease_ref and first.instance_id
        assert first.raw["endpoint"]["lease_ref"] == first.lease_ref
        second = client.ensure_endpoint(BACKEND, MODEL, wait_ms=WAIT_MS)
        try:
            assert second.reused is True
            assert second.instance_id == first.instance_id
            assert second.lease_ref != first.lease_ref
            snapshot = client.lookup_instance(first.instance_id)
            assert snapshot["lifecycle_status"] == "ready"
            assert snapshot["lease_count"] >= 2
        finally:
            second.release()
    finally:
        first.release()


def test_chat_completion_through_base_url(client):
    with client.ensure_endpoint(BACKEND, MODEL, wait_ms=WAIT_MS) as endpoint:
        body = json.dumps({"model": endpoint.model or MODEL,
                           "messages": [{"role": "user", "content": "Say hi"}]}).encode()
        headers = {"content-type": "application/json"}
        headers.update(endpoint.headers)
        request = urllib.request.Request(endpoint.base_url + "/chat/completions", data=body,
                                         headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            reply = json.loads(response.read())
        assert reply["choices"][0]["message"]["content"]


def test_context_manager_releases(client):
    with client.ensure_endpoint(BACKEND, MODEL, ttl_ms=60000, wait_ms=WAIT_MS) as endpoint:
        refs = [lease["lease_ref"] for lease in client.list_leases()]
        assert endpoint.lease_ref in refs
    assert endpoint.released
    assert client.list_leases() == []


def test_untimed_lease_is_kept_alive_in_the_background(client):
    #  The runner sets the daemon's client_timeout_ms to CLIENT_TIMEOUT_MS:
    #  an untimed lease outlives it only because the keeper pings
    with shic.Client(ENDPOINT, timeout_ms=5000, client_timeout_ms=CLIENT_TIMEOUT_MS) as holder:
        with holder.ensure_endpoint(BACKEND, MODEL, wait_ms=WAIT_MS) as endpoint:
            time.sleep(CLIENT_TIMEOUT_MS * 1.5 / 1000)
            assert endpoint.keeper_error is None
            assert endpoint.lease_ref in [l["lease_ref"] for l in holder.list_leases()]
            #  Another client sees the lease, not its ref (a capability)
            assert [l for l in client.list_leases(endpoint.instance_id) if l["lease_ref"] is None]


def test_renew_extends_expires_at(client):
    with client.ensure_endpoint(BACKEND, MODEL, ttl_ms=60000, wait_ms=WAIT_MS,
                                keep_alive=False) as endpoint:
        before = endpoint.expires_at_ms
        time.sleep(0.02)
        lease = endpoint.renew(ttl_ms=120000)
        assert lease["expires_at_ms"] > before
        assert endpoint.expires_at_ms == lease["expires_at_ms"]


def test_background_renewal_of_a_timed_lease(client):
    with client.ensure_endpoint(BACKEND, MODEL, ttl_ms=600, wait_ms=WAIT_MS) as endpoint:
        first = endpoint.expires_at_ms
        time.sleep(1.0)                 # past the ttl: alive only if renewed
        assert endpoint.keeper_error is None
        assert endpoint.expires_at_ms > first
        assert endpoint.lease_ref in [l["lease_ref"] for l in client.list_leases()]


def test_owner_ref_is_echoed(client):
    with client.ensure_endpoint(BACKEND, MODEL, wait_ms=WAIT_MS, owner_ref="py-owner") as endpoint:
        leases = [l for l in client.list_leases(endpoint.instance_id)
                  if l["lease_ref"] == endpoint.lease_ref]
        assert leases and leases[0]["owner_ref"] == "py-owner"


def test_error_unknown_backend_id(client):
    with pytest.raises(shic.UnknownBackendIdError) as info:
        client.ensure_endpoint("no_such_backend", MODEL, wait_ms=WAIT_MS)
    assert info.value.code == "unknown_backend_id"
    assert isinstance(info.value, shic.ShicError)


def test_error_invalid_backend_options(client):
    with pytest.raises(shic.InvalidBackendOptionsError):
        client.ensure_endpoint(BACKEND, "no_such_model", wait_ms=WAIT_MS)


def test_error_incompatible(client):
    consumer = {"consumer": "t", "accepted_management_modes": ["jido_managed", "externally_managed"],
                "accepted_protocols": ["carrier_pigeon"]}
    with pytest.raises(shic.IncompatibleError) as info:
        client.ensure_endpoint(BACKEND, MODEL, wait_ms=WAIT_MS, consumer=consumer)
    assert info.value.details["compatible?"] is False


def test_error_lease_not_found(client):
    endpoint = client.ensure_endpoint(BACKEND, MODEL, wait_ms=WAIT_MS)
    endpoint.release()
    endpoint.release()                 # idempotent
    with pytest.raises(shic.LeaseNotFoundError):
        endpoint.renew()


def test_error_not_found(client):
    with pytest.raises(shic.NotFoundError):
        client.lookup_instance("bogus-instance-id")


def test_error_unknown_op(client):
    with pytest.raises(shic.UnknownOpError):
        client.call("no_such_op")


def test_error_unsupported_version(client):
    with pytest.raises(shic.UnsupportedVersionError):
        client.call_raw(msgpack.packb({"v": 2, "id": 424242, "op": "ping", "args": {}}),
                        expect_id=424242)


def test_error_malformed(client):
    with pytest.raises(shic.MalformedError):
        client.call_raw(b"\xc1 this is not msgpack", expect_id=None)


def test_no_reply_raises_a_timeout():
    with shic.Client("tcp://127.0.0.1:9", timeout_ms=200) as nobody:
        with pytest.raises(shic.NoReplyError) as info:
            nobody.ping()
    assert isinstance(info.value, TimeoutError)


def test_events_yield_lease_granted(client):
    with client.events("lease.", timeout=5) as events:
        time.sleep(0.3)                 # let the subscription reach the PUB
        with client.ensure_endpoint(BACKEND, MODEL, wait_ms=WAIT_MS) as endpoint:
            for event in events:
                if event.topic == "lease.granted" and \
                        event.body.get("lease_ref") == endpoint.lease_ref:
                    assert event.body["instance_id"] == endpoint.instance_id
                    assert "at_ms" in event.body
                    break
            else:
                pytest.fail("no lease.granted event for the lease")


def test_no_lease_left_behind(client):
    assert client.list_leases() == []
