/*
 * shic - the Node client of shicd, the shic control plane daemon.
 *
 *     const shic = require("shic")
 *     const client = new shic.Client("tcp://127.0.0.1:5590")
 *     await shic.withEndpoint(client, { backend: "llama_cpp", model: "tiny" }, async (endpoint) => {
 *         // talk OpenAI to endpoint.baseUrl with endpoint.headers
 *     })                                     // the lease is released here
 *     client.close()
 *
 * Speaks the wire protocol of shic (wire.md, version 1): msgpack maps over a
 * ZeroMQ DEALER socket, lifecycle events over a SUB socket. Needs the npm
 * packages zeromq (v6) and @msgpack/msgpack only. Requests are pipelined:
 * each gets an integer id and its promise is settled by the reply with that
 * id. Every error reply rejects with the ShicError subclass named after its
 * code (UnknownBackendIdError, LeaseNotFoundError, ...).
 */

"use strict"

const zmq = require("zeromq")
const { encode, decode } = require("@msgpack/msgpack")

const DEFAULT_ENDPOINT = "tcp://127.0.0.1:5590"
const DEFAULT_EVENTS = "tcp://127.0.0.1:5591"
const DEFAULT_WAIT_MS = 120000          // the daemon's default wait_ms of ensure_endpoint
const DEFAULT_CLIENT_TIMEOUT_MS = 30000 // the daemon's default client_timeout_ms
const DEFAULT_PROBE_MS = 1000           // how long the first ping may take
const WIRE_VERSION = 1

// ---------------------------------------------------------------------------
// Errors

/** An error reply of the daemon: code, message, details (wire.md). */
class ShicError extends Error {
    constructor (code, message, details) {
        super(message ? `${code}: ${message}` : String(code))
        this.name = new.target.name
        this.code = code
        this.details = details === undefined ? null : details
        this.description = message || ""
    }
}

/** No reply came back within the call's time limit (is shicd running?). */
class NoReplyError extends ShicError {
    constructor (message, details) {
        super("no_reply", message, details)
    }
}

/**
 * A reply or event came back that the client cannot decode (not msgpack, or
 * not a map): raised instead of waiting in silence.
 */
class BadReplyError extends ShicError {
    constructor (message, details) {
        super("bad_reply", message, details)
    }
}

/** The map in frame, or a BadReplyError saying why there is none. */
function unpack (frame, what) {
    let body
    try {
        body = decode(frame)
    } catch (error) {
        return new BadReplyError(`${what} cannot be decoded: ${error.message}`)
    }
    if (!body || typeof body !== "object" || Array.isArray(body) || body instanceof Uint8Array)
        return new BadReplyError(`${what} cannot be decoded: not a map`)
    return body
}

// Wire codes, in the order of wire.md
const CODES = [
    "malformed", "unsupported_version", "unknown_op", "invalid_args", "invalid_request",
    "invalid_consumer_manifest", "missing_request_field", "invalid_target_preference",
    "missing_target_preference", "unknown_backend_id", "invalid_startup_kind", "incompatible",
    "invalid_startup_plan", "invalid_backend_options", "forbidden", "readiness_timeout",
    "await_timeout", "transport_start_failed", "backend_exit", "instance_unavailable",
    "instance_failed", "capacity", "not_found", "lease_not_found", "shutting_down", "internal",
    "instance_stopped",
]

/** code -> error class (MalformedError, ..., InternalError) */
const ERRORS = {}
const errorClasses = {}
for (const code of CODES) {
    const name = code.split("_").map((part) => part[0].toUpperCase() + part.slice(1)).join("") + "Error"
    // A named class per code, all subclasses of ShicError
    const cls = ({ [name]: class extends ShicError {
        constructor (message, details) { super(code, message, details) }
    } })[name]
    cls.code = code
    ERRORS[code] = cls
    errorClasses[name] = cls
}

/** The error for the error map of a reply ({code, message, details}). */
function errorFor (error) {
    if (!error || typeof error !== "object")
        return new ShicError("internal", "error reply without an error map", error)
    const cls = ERRORS[error.code]
    if (cls)
        return new cls(error.message || "", error.details)
    return new ShicError(typeof error.code === "string" ? error.code : "internal",
                         error.message || "", error.details)
}

// ---------------------------------------------------------------------------
// Requests

/**
 * The args of ensure_endpoint, as shic_client_ensure_args builds them.
 * options is merged into request.target_preference.backend_options; model
 * becomes backend_options.model_identity unless options has one.
 */
function ensureArgs (backend, model, { ttlMs = 0, waitMs, ownerRef, options, consumer, context } = {}) {
    const backendOptions = Object.assign({}, options || {})
    if (model !== undefined && model !== null && !("model_identity" in backendOptions))
        backendOptions.model_identity = model
    const args = {
        request: { target_preference: { backend, backend_options: backendOptions } },
        consumer: consumer || {
            consumer: "shic_node",
            accepted_management_modes: ["jido_managed", "externally_managed"],
        },
    }
    if (context !== undefined && context !== null)
        args.context = context
    if (ownerRef !== undefined && ownerRef !== null)
        args.owner_ref = ownerRef
    if (ttlMs)
        args.ttl_ms = Math.trunc(ttlMs)
    if (waitMs !== undefined && waitMs !== null)
        args.wait_ms = Math.trunc(waitMs)
    return args
}

/**
 * A connection to shicd's gateway: one DEALER socket.
 *
 *   endpoint                 the gateway, e.g. "tcp://127.0.0.1:5590"; when
 *                            omitted $SHIC_ENDPOINT, else DEFAULT_ENDPOINT
 *   options.eventsEndpoint   the events PUB; when omitted $SHIC_EVENTS, else
 *                            DEFAULT_EVENTS
 *   options.timeoutMs        how long a call waits for its reply beyond the
 *                            request's own wait_ms (default 10000)
 *   options.clientTimeoutMs  the daemon's client_timeout_ms: held untimed
 *                            leases are kept alive by a ping every third of it
 *   options.probeMs          until the daemon has answered once, a call first
 *                            pings with this deadline (default 1000), so that
 *                            with nobody listening it rejects with
 *                            NoReplyError naming the endpoint within about a
 *                            second, not after an ensure's whole wait
 */
class Client {
    constructor (endpoint, { eventsEndpoint, timeoutMs = 10000,
                             clientTimeoutMs = DEFAULT_CLIENT_TIMEOUT_MS,
                             probeMs = DEFAULT_PROBE_MS } = {}) {
        endpoint = endpoint || process.env.SHIC_ENDPOINT || DEFAULT_ENDPOINT
        this.endpoint = endpoint
        this.eventsEndpoint = eventsEndpoint || process.env.SHIC_EVENTS || DEFAULT_EVENTS
        this.timeoutMs = timeoutMs
        this.clientTimeoutMs = clientTimeoutMs
        this.probeMs = probeMs
        this._answered = false          // the daemon answered since the last silence
        this._sock = new zmq.Dealer({ linger: 0 })
        this._sock.connect(endpoint)
        this._nextId = 1
        this._pending = new Map()       // id (number or null) -> {resolve, reject, timer}
        this._sending = Promise.resolve() // zeromq v6 allows one send at a time
        this._endpoints = new Set()     // Endpoints whose keepers run
        this._closed = false
        this._reader = this._read()
    }

    /** Stops the keepers, fails the calls in flight and closes the socket. */
    close () {
        if (this._closed)
            return
        this._closed = true
        for (const endpoint of this._endpoints)
            endpoint._stopKeeper()
        for (const [, pending] of this._pending) {
            clearTimeout(pending.timer)
            pending.reject(new ShicError("internal", "the client is closed"))
        }
        this._pending.clear()
        this._sock.close()
    }

    async _read () {
        try {
            for await (const frames of this._sock) {
                const reply = unpack(frames[frames.length - 1], "the reply")
                if (reply instanceof BadReplyError) {
                    // Nobody can tell whose it was: every call in flight
                    // learns of it, none waits in silence
                    for (const [, pending] of this._pending) {
                        clearTimeout(pending.timer)
                        pending.reject(reply)
                    }
                    this._pending.clear()
                    continue
                }
                const id = reply.id === undefined ? null : reply.id
                this._answered = true
                const pending = this._pending.get(id)
                if (!pending)
                    continue                // a late reply to a call that timed out
                this._pending.delete(id)
                clearTimeout(pending.timer)
                if (reply.ok)
                    pending.resolve(reply.result || {})
                else
                    pending.reject(errorFor(reply.error))
            }
        } catch (error) {
            // The socket was closed
        }
    }

    _request (id, body, timeoutMs) {
        if (this._closed)
            return Promise.reject(new ShicError("internal", "the client is closed"))
        if (this._pending.has(id))
            return Promise.reject(new ShicError("internal", `a request with id ${id} is in flight`))
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this._pending.delete(id)
                this._answered = false  // probe again before the next call
                reject(new NoReplyError(`no reply from ${this.endpoint} within ${timeoutMs} ms`))
            }, timeoutMs)
            this._pending.set(id, { resolve, reject, timer })
            this._sending = this._sending
                .then(() => this._sock.send(body))
                .catch((error) => {
                    if (this._pending.get(id)) {
                        this._pending.delete(id)
                        clearTimeout(timer)
                        reject(new NoReplyError(`cannot send the request: ${error.message}`))
                    }
                })
        })
    }

    /**
     * Pings with the probeMs deadline; rejects with NoReplyError naming the
     * endpoint when nobody answers. call() does this by itself until the
     * daemon has answered once.
     */
    async probe () {
        const id = this._nextId++
        try {
            await this._request(id, encode({ v: WIRE_VERSION, id, op: "ping", args: {} }), this.probeMs)
        } catch (error) {
            if (error instanceof NoReplyError)
                throw new NoReplyError(`no daemon answers at ${this.endpoint} (no reply to a ping ` +
                                       `within ${this.probeMs} ms; is shicd running?)`)
            throw error
        }
    }

    /**
     * Sends op with args; resolves to the reply's result map, rejects with
     * the ShicError subclass of an error reply or NoReplyError.
     * timeoutMs defaults to the client's timeoutMs plus args.wait_ms (or the
     * daemon's default wait for ensure_endpoint).
     */
    async call (op, args = {}, { timeoutMs } = {}) {
        if (!this._answered)
            await this.probe()
        if (timeoutMs === undefined) {
            let waitMs = args.wait_ms
            if (!Number.isInteger(waitMs))
                waitMs = op === "ensure_endpoint" ? DEFAULT_WAIT_MS : 0
            timeoutMs = waitMs + this.timeoutMs
        }
        const id = this._nextId++
        const body = encode({ v: WIRE_VERSION, id, op, args })
        return this._request(id, body, timeoutMs)
    }

    /**
     * Sends body (a Buffer or Uint8Array, as is: any frame, even an invalid
     * one) and resolves to the result of the reply whose id is expectId
     * (null: the nil id of a request too broken to read one). For tests.
     */
    callRaw (body, { expectId = null, timeoutMs } = {}) {
        return this._request(expectId, body, timeoutMs === undefined ? this.timeoutMs : timeoutMs)
    }

    /** {version, protocol, node, uptime_ms} */
    ping () { return this.call("ping") }

    /** The BackendManifest maps, sorted by backend id. */
    async listBackends () { return (await this.call("list_backends")).backends || [] }

    /** The CompatibilityResult of backend for a consumer manifest. */
    compatibility (backend, consumer) { return this.call("compatibility", { backend, consumer }) }

    /**
     * Gets an endpoint of backend serving model (starting it when needed);
     * resolves to an Endpoint holding its lease.
     *   options: { ttlMs = 0, waitMs, ownerRef, options, consumer, context, keepAlive = true }
     * ttlMs 0 is an untimed lease, kept while this client is alive. With
     * keepAlive a timer renews a timed lease every ttlMs/3, or pings every
     * clientTimeoutMs/3 for an untimed one, until the Endpoint is released.
     */
    async ensureEndpoint (backend, model, options = {}) {
        const args = ensureArgs(backend, model, options)
        const result = await this.call("ensure_endpoint", args)
        const endpoint = new Endpoint(this, result)
        if (options.keepAlive !== false)
            endpoint._startKeeper()
        return endpoint
    }

    /** Extends a lease; resolves to the lease map with its new expires_at_ms. */
    async renewLease (leaseRef, ttlMs) {
        const args = { lease_ref: leaseRef }
        if (ttlMs !== undefined && ttlMs !== null)
            args.ttl_ms = Math.trunc(ttlMs)
        return (await this.call("renew_lease", args)).lease || {}
    }

    /** Ends a lease (idempotent). */
    async releaseLease (leaseRef) { await this.call("release_lease", { lease_ref: leaseRef }) }

    /** The RuntimeSnapshot maps, sorted by instance id. */
    async listInstances (backend) {
        return (await this.call("list_instances", backend ? { backend } : {})).instances || []
    }

    /** The RuntimeSnapshot of an instance; NotFoundError when unknown. */
    lookupInstance (instanceId) { return this.call("lookup_instance", { instance_id: instanceId }) }

    /** The live LeaseRef maps. */
    async listLeases (instanceId) {
        return (await this.call("list_leases", instanceId ? { instance_id: instanceId } : {})).leases || []
    }

    /** Stops an instance (idempotent; never an externally managed one). */
    async stopInstance (instanceId) { await this.call("stop_instance", { instance_id: instanceId }) }

    /** Counters and gauges of the daemon. */
    stats () { return this.call("stats") }

    /**
     * An EventStream (async iterator of {topic, body}) over the events PUB,
     * filtered by topic prefix. The subscription starts at once. With
     * timeoutMs the iteration ends when no event came for that long.
     */
    events (prefix = "", { timeoutMs } = {}) {
        return new EventStream(this.eventsEndpoint, prefix, { timeoutMs })
    }
}

/**
 * An endpoint handed out by ensureEndpoint, holding one lease.
 *   baseUrl (OpenAI root, ends in /v1), headers, model, leaseRef,
 *   instanceId, reused, lease (LeaseRef map), raw (the full result)
 */
class Endpoint {
    constructor (client, result) {
        const descriptor = result.endpoint || {}
        this.client = client
        this.raw = result
        this.descriptor = descriptor
        this.baseUrl = descriptor.base_url
        this.headers = Object.assign({}, descriptor.headers || {})
        this.model = descriptor.model_identity
        this.lease = Object.assign({}, result.lease || {})
        this.leaseRef = this.lease.lease_ref || descriptor.lease_ref
        this.instanceId = result.instance_id
        this.reused = Boolean(result.reused)
        this.ttlMs = this.lease.ttl_ms || 0
        this.released = false
        this.keeperError = null         // the error that stopped the keeper, if any
        this._timer = null
    }

    get expiresAtMs () { return this.lease.expires_at_ms }

    /** Extends the lease; resolves to the new lease map. */
    async renew (ttlMs) {
        Object.assign(this.lease, await this.client.renewLease(this.leaseRef, ttlMs))
        if (ttlMs)
            this.ttlMs = ttlMs
        return this.lease
    }

    /** Stops the keeper and releases the lease (idempotent). */
    async release () {
        this._stopKeeper()
        if (this.released)
            return
        this.released = true
        await this.client.releaseLease(this.leaseRef)
    }

    /** The same as release(): what a `finally` calls. */
    close () { return this.release() }

    _startKeeper () {
        const periodMs = Math.max((this.ttlMs > 0 ? this.ttlMs : this.client.clientTimeoutMs) / 3, 50)
        this.client._endpoints.add(this)
        this._timer = setInterval(async () => {
            try {
                if (this.ttlMs > 0)
                    Object.assign(this.lease, await this.client.renewLease(this.leaseRef))
                else
                    await this.client.ping()
            } catch (error) {
                if (error instanceof NoReplyError)
                    return              // the daemon may be busy: try again next period
                this.keeperError = error // lease_not_found, shutting_down...: give up
                this._stopKeeper()
            }
        }, periodMs)
        this._timer.unref()             // a held lease does not keep the process alive
    }

    _stopKeeper () {
        if (this._timer)
            clearInterval(this._timer)
        this._timer = null
        this.client._endpoints.delete(this)
    }
}

/**
 * Ensures an endpoint, runs fn(endpoint), and releases the lease whatever
 * fn does; resolves to what fn resolves to.
 *   args: { backend, model, ttlMs, waitMs, ownerRef, options, consumer, context }
 */
async function withEndpoint (client, args, fn) {
    const endpoint = await client.ensureEndpoint(args.backend, args.model, args)
    try {
        return await fn(endpoint)
    } finally {
        await endpoint.release()
    }
}

/**
 * A SUB socket on the events PUB: an async iterator of {topic, body}.
 * next() resolves to {done: true} after timeoutMs without an event (when
 * set) and once closed. close() ends it.
 */
class EventStream {
    constructor (endpoint, prefix = "", { timeoutMs } = {}) {
        this._sock = new zmq.Subscriber({ linger: 0 })
        if (timeoutMs !== undefined && timeoutMs !== null)
            this._sock.receiveTimeout = timeoutMs
        this._sock.subscribe(prefix)
        this._sock.connect(endpoint)
        this._closed = false
    }

    /**
     * The next event, or null on timeout or when closed; an event that
     * cannot be decoded rejects with BadReplyError.
     */
    async nextEvent () {
        while (!this._closed) {
            let frames
            try {
                frames = await this._sock.receive()
            } catch (error) {
                return null             // timeout (EAGAIN) or closed
            }
            if (frames.length !== 2)
                continue
            const topic = frames[0].toString("utf8")
            const body = unpack(frames[1], `an event on ${topic}`)
            if (body instanceof BadReplyError)
                throw body              // the stream stays usable
            return { topic, body }
        }
        return null
    }

    async next () {
        const event = await this.nextEvent()
        return event ? { value: event, done: false } : { value: undefined, done: true }
    }

    async return () {
        this.close()
        return { value: undefined, done: true }
    }

    [Symbol.asyncIterator] () { return this }

    close () {
        if (!this._closed) {
            this._closed = true
            this._sock.close()
        }
    }
}

module.exports = Object.assign({
    Client, Endpoint, EventStream, withEndpoint, ensureArgs, errorFor,
    ShicError, NoReplyError, BadReplyError, ERRORS, CODES,
    DEFAULT_ENDPOINT, DEFAULT_EVENTS, DEFAULT_WAIT_MS, WIRE_VERSION,
}, errorClasses)
