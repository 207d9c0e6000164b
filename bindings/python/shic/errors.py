"""The exceptions of the shic client: one class per error code of wire.md.

Every error reply of the daemon is raised as the subclass of ShicError named
after its code (``unknown_backend_id`` -> UnknownBackendIdError). A code this
version does not know is raised as ShicError itself. A call that gets no
reply in time raises NoReplyError, which is also a builtin TimeoutError.
"""

__all__ = ["ShicError", "NoReplyError", "BadReplyError", "ERRORS", "error_for"]


class ShicError(Exception):
    """An error reply of the daemon.

    code     the wire error code ("unknown_backend_id", ...)
    message  one sentence for a person
    details  the structured reason (any msgpack value, often a dict)
    """

    code = None

    def __init__(self, code=None, message="", details=None):
        code = code or type(self).code or "internal"
        Exception.__init__(self, code, message, details)
        self.code = code
        self.message = message or ""
        self.details = details

    def __str__(self):
        return "%s: %s" % (self.code, self.message) if self.message else str(self.code)

    def __repr__(self):
        return "%s(%r, %r, %r)" % (type(self).__name__, self.code, self.message, self.details)


class NoReplyError(ShicError, TimeoutError):
    """No reply came back within the call's time limit (is shicd running?)."""

    code = "no_reply"

    def __init__(self, code=None, message="", details=None):
        ShicError.__init__(self, code, message, details)

    def __str__(self):
        return ShicError.__str__(self)


class BadReplyError(ShicError):
    """A reply or event came back that the client cannot decode (not
    msgpack, not a map, or strings that are not UTF-8): raised instead of
    waiting in silence. The message says what was wrong."""

    code = "bad_reply"


#  Wire codes, in the order of wire.md
_CODES = [
    "malformed", "unsupported_version", "unknown_op", "invalid_args", "invalid_request",
    "invalid_consumer_manifest", "missing_request_field", "invalid_target_preference",
    "missing_target_preference", "unknown_backend_id", "invalid_startup_kind", "incompatible",
    "invalid_startup_plan", "invalid_backend_options", "forbidden", "readiness_timeout",
    "await_timeout", "transport_start_failed", "backend_exit", "instance_unavailable",
    "instance_failed", "capacity", "not_found", "lease_not_found", "shutting_down", "internal",
    "instance_stopped",
]

#  code -> exception class
ERRORS = {}


def _class_name(code):
    return "".join(part.capitalize() for part in code.split("_")) + "Error"


for _code in _CODES:
    _name = _class_name(_code)
    _cls = type(_name, (ShicError,), {
        "code": _code,
        "__doc__": "Error reply with code %r (see wire.md)." % _code,
        "__module__": __name__,
    })
    globals()[_name] = _cls
    ERRORS[_code] = _cls
    __all__.append(_name)
del _code, _name, _cls
ERRORS["bad_reply"] = BadReplyError


def error_for(error):
    """The exception for an ``error`` map of a reply ({code, message, details})."""
    if not isinstance(error, dict):
        return ShicError("internal", "error reply without an error map", error)
    code = error.get("code")
    cls = ERRORS.get(code, ShicError)
    return cls(code if isinstance(code, str) else "internal",
               error.get("message") or "", error.get("details"))
