"""shic: the Python client of shicd, the shic control plane daemon.

    import shic

    client = shic.Client("tcp://127.0.0.1:5590")
    with client.ensure_endpoint("llama_cpp", "tiny", ttl_ms=60000) as endpoint:
        ...  # talk OpenAI to endpoint.base_url with endpoint.headers
    # the lease is released here

Speaks the wire protocol of shic (wire.md, version 1): msgpack maps over a
ZeroMQ DEALER socket, lifecycle events over a SUB socket. Needs pyzmq and
msgpack only. Every error reply raises the ShicError subclass named after
its code (UnknownBackendIdError, LeaseNotFoundError, ...).
"""

from .errors import *  # noqa: F401,F403  (ShicError, NoReplyError, one class per code)
from .errors import __all__ as _errors_all
from .client import (Client, Endpoint, Event, EventStream, ensure_args,  # noqa: F401
                     DEFAULT_ENDPOINT, DEFAULT_EVENTS, DEFAULT_WAIT_MS, WIRE_VERSION)

__version__ = "0.1.0"

__all__ = ["Client", "Endpoint", "Event", "EventStream", "ensure_args", "DEFAULT_ENDPOINT",
           "DEFAULT_EVENTS", "DEFAULT_WAIT_MS", "WIRE_VERSION"] + list(_errors_all)
