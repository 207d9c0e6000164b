"""The client of shicd's wire protocol (wire.md, version 1).

One Client is one ZeroMQ DEALER socket connected to the gateway. Requests are
single msgpack maps ``{v: 1, id, op, args}``; replies echo the integer ``id``.
Calls block until their reply comes or their time limit passes. A Client may
be shared by threads (the background keepers of Endpoints do): socket access
is serialised by a lock and replies are paired with callers by id.
"""

import itertools
import os
import threading
import time

import msgpack
import zmq

from .errors import BadReplyError, NoReplyError, ShicError, error_for

__all__ = ["Client", "Endpoint", "EventStream", "Event", "ensure_args",
           "DEFAULT_ENDPOINT", "DEFAULT_EVENTS", "DEFAULT_WAIT_MS"]

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5590"
DEFAULT_EVENTS = "tcp://127.0.0.1:5591"
DEFAULT_WAIT_MS = 120000          # the daemon's default wait_ms of ensure_endpoint
DEFAULT_CLIENT_TIMEOUT_MS = 30000  # the daemon's default client_timeout_ms
DEFAULT_PROBE_MS = 1000           # how long the first ping may take
WIRE_VERSION = 1

#  How long one thread holds the socket while it waits for a reply (ms)
_SLICE_MS = 50


def ensure_args(backend, model=None, ttl_ms=0, wait_ms=None, owner_ref=None,
                options=None, consumer=None, context=None):
    """The args map of ensure_endpoint, as shic_client_ensure_args builds it.

    options is merged into request.target_preference.backend_options; model
    becomes backend_options.model_identity unless options has one. consumer
    defaults to a manifest accepting both management modes and the
    openai_chat_completions protocol.
    """
    backend_options = dict(options or {})
    if model is not None and "model_identity" not in backend_options:
        backend_options["model_identity"] = model
    args = {
        "request": {"target_preference": {"backend": backend,
                                          "backend_options": backend_options}},
        "consumer": consumer if consumer is not None else {
            "consumer": "shic_python",
            "accepted_management_modes": ["jido_managed", "externally_managed"],
        },
    }
    if context is not None:
        args["context"] = context
    if owner_ref is not None:
        args["owner_ref"] = owner_ref
    if ttl_ms:
        args["ttl_ms"] = int(ttl_ms)
    if wait_ms is not None:
        args["wait_ms"] = int(wait_ms)
    return args


class Client:
    """A connection to shicd's gateway.

    endpoint         the gateway (ROUTER), e.g. "tcp://127.0.0.1:5590";
                     None: $SHIC_ENDPOINT, else DEFAULT_ENDPOINT
    events_endpoint  the events PUB, used by events(); None: $SHIC_EVENTS,
                     else DEFAULT_EVENTS
    timeout_ms       how long a call waits for its reply, beyond the
                     request's own wait_ms (ensure_endpoint)
    client_timeout_ms  the daemon's client_timeout_ms: held untimed leases
                     are kept alive by a ping every third of it
    """

    def __init__(self, endpoint=None, events_endpoint=None, timeout_ms=10000,
                 client_timeout_ms=DEFAULT_CLIENT_TIMEOUT_MS, context=None,
                 probe_ms=DEFAULT_PROBE_MS):
        endpoint = endpoint or os.environ.get("SHIC_ENDPOINT") or DEFAULT_ENDPOINT
        self.endpoint = endpoint
        self.events_endpoint = (events_endpoint or os.environ.get("SHIC_EVENTS")
                                or DEFAULT_EVENTS)
        self.timeout_ms = int(timeout_ms)
        self.client_timeout_ms = int(client_timeout_ms)
        self.probe_ms = int(probe_ms)
        self._answered = False              # the daemon answered since the last silence
        self._context = context or zmq.Context.instance()
        self._sock = self._context.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SNDTIMEO, 5000)
        self._sock.connect(endpoint)
        self._lock = threading.Lock()       # guards the socket and the maps below
        self._ids = itertools.count(1)
        self._waiting = set()               # ids of calls in flight
        self._replies = {}                  # id -> reply read by another thread
        self._endpoints = set()             # Endpoints whose keepers run
        self._closed = False

    # -- plumbing ------------------------------------------------------------

    def close(self):
        """Stops the keepers and closes the socket (the daemon then ends this
        client's untimed leases). Held leases are not released explicitly."""
        for endpoint in list(self._endpoints):
            endpoint._stop_keeper()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _send(self, body):
        with self._lock:
            if self._closed:
                raise ShicError("internal", "the client is closed")
            self._sock.send(body)

    def _wait(self, request_id, timeout_ms):
        """The reply map with id request_id, or NoReplyError after timeout_ms."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        try:
            while True:
                with self._lock:
                    if request_id in self._replies:
                        return self._replies.pop(request_id)
                    if self._closed:
                        raise ShicError("internal", "the client is closed")
                    left = int((deadline - time.monotonic()) * 1000)
                    if left <= 0:
                        self._answered = False      # probe again before the next call
                        raise NoReplyError("no_reply", "no reply from %s within %d ms"
                                           % (self.endpoint, timeout_ms))
                    if self._sock.poll(min(left, _SLICE_MS), zmq.POLLIN):
                        frames = self._sock.recv_multipart()
                        reply = self._decode(frames)
                        if reply.get("bad_reply") and reply.get("id") not in self._waiting:
                            # Nobody can tell whose it was: every call in
                            # flight learns of it, none waits in silence
                            for rid in self._waiting:
                                self._replies[rid] = reply
                            return reply
                        rid = reply.get("id")
                        self._answered = True
                        if rid == request_id:
                            return reply
                        if rid in self._waiting:
                            self._replies[rid] = reply
                        # else: a late reply to a call that timed out; dropped
                        continue
                # Another thread may hold the lock now; let it run
                time.sleep(0)
        finally:
            with self._lock:
                self._waiting.discard(request_id)
                self._replies.pop(request_id, None)

    @staticmethod
    def _decode(frames):
        """The reply map of frames; a reply that cannot be decoded becomes an
        error reply (code bad_reply) for its id when one can be read, else
        for id None with "bad_reply" set."""
        #  The body is the last frame (a REQ-style envelope may precede it)
        reply, why = _unpack(frames[-1])
        if why is None:
            return reply
        rid = None
        try:
            # Only to learn whose reply it was
            lenient = msgpack.unpackb(frames[-1], raw=False, unicode_errors="surrogateescape")
            if isinstance(lenient, dict) and isinstance(lenient.get("id"), (int, str)):
                rid = lenient["id"]
        except Exception:
            pass
        return {"id": rid, "ok": False, "bad_reply": rid is None,
                "error": {"code": "bad_reply",
                          "message": "the reply cannot be decoded: %s" % why}}

    @staticmethod
    def _result(reply):
        if reply.get("ok"):
            result = reply.get("result")
            return result if result is not None else {}
        raise error_for(reply.get("error"))

    def probe(self):
        """Pings with the probe_ms deadline; NoReplyError naming the
        endpoint when nobody answers. call() does this by itself until the
        daemon has answered once."""
        try:
            self._call("ping", {}, self.probe_ms)
        except NoReplyError:
            raise NoReplyError("no_reply", "no daemon answers at %s (no reply to a ping "
                               "within %d ms; is shicd running?)"
                               % (self.endpoint, self.probe_ms)) from None

    def call(self, op, args=None, timeout_ms=None):
        """Sends op with args and returns the reply's result map; an error
        reply raises its ShicError subclass, no reply NoReplyError.

        timeout_ms defaults to the client's timeout_ms plus args' wait_ms
        (or DEFAULT_WAIT_MS for ensure_endpoint).
        """
        if not self._answered:
            self.probe()
        return self._call(op, args, timeout_ms)

    def _call(self, op, args, timeout_ms):
        args = args or {}
        if timeout_ms is None:
            wait_ms = args.get("wait_ms")
            if not isinstance(wait_ms, int):
                wait_ms = DEFAULT_WAIT_MS if op == "ensure_endpoint" else 0
            timeout_ms = wait_ms + self.timeout_ms
        with self._lock:
            request_id = next(self._ids)
            self._waiting.add(request_id)
        try:
            self._send(msgpack.packb({"v": WIRE_VERSION, "id": request_id, "op": op,
                                      "args": args}, use_bin_type=True))
        except zmq.ZMQError as exc:
            with self._lock:
                self._waiting.discard(request_id)
            raise NoReplyError("no_reply", "cannot send the request: %s" % exc)
        except BaseException:
            with self._lock:
                self._waiting.discard(request_id)
            raise
        return self._result(self._wait(request_id, timeout_ms))

    def call_raw(self, body, expect_id=None, timeout_ms=None):
        """Sends body (bytes, sent as is: any frame, even an invalid one) and
        returns the result of the first reply whose id equals expect_id
        (None matches the nil id of a request too broken to read one).
        Error replies raise like call(). For tests and diagnostics."""
        timeout_ms = self.timeout_ms if timeout_ms is None else timeout_ms
        with self._lock:
            self._waiting.add(expect_id)
        try:
            self._send(body)
        except BaseException:
            with self._lock:
                self._waiting.discard(expect_id)
            raise
        return self._result(self._wait(expect_id, timeout_ms))

    # -- operations (wire.md) -------------------------------------------------

    def ping(self):
        """{version, protocol, node, uptime_ms}"""
        return self.call("ping")

    def list_backends(self):
        """The list of BackendManifest maps, sorted by backend id."""
        return self.call("list_backends").get("backends", [])

    def compatibility(self, backend, consumer):
        """The CompatibilityResult of backend for a consumer manifest."""
        return self.call("compatibility", {"backend": backend, "consumer": consumer})

    def ensure_endpoint(self, backend, model=None, *, ttl_ms=0, wait_ms=None, owner_ref=None,
                        options=None, consumer=None, context=None, keep_alive=True):
        """Gets an endpoint of backend serving model (starting it when needed)
        and returns an Endpoint holding its lease.

        ttl_ms 0 means an untimed lease, kept while this client is alive.
        With keep_alive (the default) a background thread renews a timed
        lease every ttl_ms/3, or pings every client_timeout_ms/3 for an
        untimed one, until the Endpoint is released or closed.
        """
        args = ensure_args(backend, model, ttl_ms, wait_ms, owner_ref, options, consumer,
                           context)
        result = self.call("ensure_endpoint", args)
        endpoint = Endpoint(self, result)
        if keep_alive:
            endpoint._start_keeper()
        return endpoint

    def renew_lease(self, lease_ref, ttl_ms=None):
        """Extends a lease; returns the lease map with its new expires_at_ms."""
        args = {"lease_ref": lease_ref}
        if ttl_ms is not None:
            args["ttl_ms"] = int(ttl_ms)
        return self.call("renew_lease", args).get("lease", {})

    def release_lease(self, lease_ref):
        """Ends a lease (idempotent)."""
        self.call("release_lease", {"lease_ref": lease_ref})

    def list_instances(self, backend=None, cluster=False):
        """The list of RuntimeSnapshot maps, sorted by instance id. With
        cluster, every node's of a cluster, each naming its node."""
        args = {"backend": backend} if backend is not None else {}
        if cluster:
            args["cluster"] = True
        return self.call("list_instances", args).get("instances", [])

    def lookup_instance(self, instance_id):
        """The RuntimeSnapshot of an instance; NotFoundError when unknown."""
        return self.call("lookup_instance", {"instance_id": instance_id})

    def list_leases(self, instance_id=None, cluster=False):
        """The list of live LeaseRef maps. With cluster, every node's of a
        cluster, each naming its node."""
        args = {"instance_id": instance_id} if instance_id is not None else {}
        if cluster:
            args["cluster"] = True
        return self.call("list_leases", args).get("leases", [])

    def stop_instance(self, instance_id):
        """Stops an instance (idempotent; never an externally managed one)."""
        self.call("stop_instance", {"instance_id": instance_id})

    def stats(self):
        """Counters and gauges of the daemon."""
        return self.call("stats")

    def events(self, prefix="", timeout=None):
        """An EventStream over the events PUB, filtered by topic prefix.

        The subscription starts at once (not on the first next()). Iterating
        yields Event(topic, body); with timeout (seconds) the iteration ends
        when no event came for that long. Close it (or use it in a with)."""
        return EventStream(self.events_endpoint, prefix, timeout, self._context)


class Endpoint:
    """An endpoint handed out by ensure_endpoint, holding one lease.

    base_url     the OpenAI root of the service (ends in /v1)
    headers      what requests to base_url must carry (dict)
    model        the model identity
    lease_ref    the lease; instance_id the instance; reused whether the
                 instance was already running
    lease        the LeaseRef map (expires_at_ms is updated by renew)
    raw          the full result of ensure_endpoint

    As a context manager it releases the lease on exit.
    """

    def __init__(self, client, result):
        self.client = client
        self.raw = result
        descriptor = result.get("endpoint") or {}
        self.descriptor = descriptor
        self.base_url = descriptor.get("base_url")
        self.headers = dict(descriptor.get("headers") or {})
        self.model = descriptor.get("model_identity")
        self.lease = dict(result.get("lease") or {})
        self.lease_ref = self.lease.get("lease_ref") or descriptor.get("lease_ref")
        self.instance_id = result.get("instance_id")
        self.reused = bool(result.get("reused"))
        self.ttl_ms = self.lease.get("ttl_ms") or 0
        self.released = False
        self.keeper_error = None       # the error that stopped the keeper, if any
        self._stop = threading.Event()
        self._keeper = None

    @property
    def expires_at_ms(self):
        return self.lease.get("expires_at_ms")

    def renew(self, ttl_ms=None):
        """Extends the lease; returns the new lease map."""
        lease = self.client.renew_lease(self.lease_ref, ttl_ms)
        self.lease.update(lease)
        if ttl_ms:
            self.ttl_ms = ttl_ms
        return self.lease

    def release(self):
        """Stops the keeper and releases the lease (idempotent)."""
        self._stop_keeper()
        if not self.released:
            self.released = True
            self.client.release_lease(self.lease_ref)

    close = release

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        return "Endpoint(base_url=%r, model=%r, lease_ref=%r, instance_id=%r, reused=%r)" % (
            self.base_url, self.model, self.lease_ref, self.instance_id, self.reused)

    # -- background keeper ----------------------------------------------------

    def _period_s(self):
        if self.ttl_ms and self.ttl_ms > 0:
            return max(self.ttl_ms / 3.0, 50) / 1000.0
        return max(self.client.client_timeout_ms / 3.0, 50) / 1000.0

    def _start_keeper(self):
        self.client._endpoints.add(self)
        self._keeper = threading.Thread(target=self._keep, name="shic-keeper", daemon=True)
        self._keeper.start()

    def _stop_keeper(self):
        self._stop.set()
        self.client._endpoints.discard(self)
        keeper = self._keeper
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join(timeout=self.client.timeout_ms / 1000.0 + 1)
        self._keeper = None

    def _keep(self):
        while not self._stop.wait(self._period_s()):
            try:
                if self.ttl_ms and self.ttl_ms > 0:
                    self.lease.update(self.client.renew_lease(self.lease_ref))
                else:
                    self.client.ping()
            except NoReplyError:
                continue                # the daemon may be busy: try again next period
            except ShicError as exc:
                self.keeper_error = exc  # lease_not_found, shutting_down...: give up
                return
            except Exception as exc:     # the client was closed under us
                self.keeper_error = exc
                return


class Event:
    """One event: topic (str) and body (dict)."""

    __slots__ = ("topic", "body")

    def __init__(self, topic, body):
        self.topic = topic
        self.body = body

    def __iter__(self):
        return iter((self.topic, self.body))

    def __repr__(self):
        return "Event(%r, %r)" % (self.topic, self.body)


def _unpack(frame):
    """(map, None) for a frame holding one msgpack map of valid strings, else
    (None, why)."""
    try:
        body = msgpack.unpackb(frame, raw=False)
    except Exception as exc:
        return None, "%s: %s" % (type(exc).__name__, exc)
    if not isinstance(body, dict):
        return None, "a %s, not a map" % type(body).__name__
    return body, None


class EventStream:
    """A SUB socket on the events PUB: an iterator of Event.

    next(timeout=None) waits for one event (seconds; None = the stream's
    timeout) and returns None on timeout; iteration stops on timeout. An
    event that cannot be decoded raises BadReplyError (the stream stays
    usable), rather than being skipped in silence.
    """

    def __init__(self, endpoint, prefix="", timeout=None, context=None):
        self.timeout = timeout
        self._sock = (context or zmq.Context.instance()).socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SUBSCRIBE, prefix.encode("utf-8"))
        self._sock.connect(endpoint)

    def next(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not self._sock.poll(left, zmq.POLLIN):
                return None
            frames = self._sock.recv_multipart()
            if len(frames) != 2:
                continue
            body, why = _unpack(frames[1])
            if why is not None:
                raise BadReplyError("bad_reply", "an event on %r cannot be decoded: %s"
                                    % (frames[0].decode("utf-8", "replace"), why))
            return Event(frames[0].decode("utf-8", "replace"), body)

    def __iter__(self):
        return self

    def __next__(self):
        event = self.next()
        if event is None:
            raise StopIteration
        return event

    def close(self):
        self._sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
