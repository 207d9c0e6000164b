/*
 * Tests of the shic Node client against a real shicd (node:test).
 *
 * bindings/run_tests.sh starts shicd with a command backend spawning the
 * stand-in llama-server and exports SHIC_ENDPOINT, SHIC_EVENTS,
 * SHIC_BACKEND (default "stand_in"), SHIC_MODEL (default "tiny") and
 * SHIC_CLIENT_TIMEOUT_MS. Without SHIC_ENDPOINT the tests are skipped.
 * Every test has a timeout; every lease taken is released.
 */

"use strict"

const { describe, it, before, after } = require("node:test")
const assert = require("node:assert/strict")
const { encode } = require("@msgpack/msgpack")
const shic = require("..")

const ENDPOINT = process.env.SHIC_ENDPOINT
const EVENTS = process.env.SHIC_EVENTS
const BACKEND = process.env.SHIC_BACKEND || "stand_in"
const MODEL = process.env.SHIC_MODEL || "tiny"
const CLIENT_TIMEOUT_MS = Number(process.env.SHIC_CLIENT_TIMEOUT_MS || 30000)
const WAIT_MS = 20000
const T = { timeout: 20000 }

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const live = (instance) => !["stopped", "failed"].includes(instance.lifecycle_status)

describe("shic", { skip: ENDPOINT ? false : "SHIC_ENDPOINT is not set (see run_tests.sh)" }, () => {
    let client

    before(() => {
        client = new shic.Client(ENDPOINT, { eventsEndpoint: EVENTS, timeoutMs: 5000,
                                             clientTimeoutMs: CLIENT_TIMEOUT_MS })
    })
    after(() => client.close())

    async function stopAll () {
        for (const instance of await client.listInstances(BACKEND))
            if (live(instance))
                await client.stopInstance(instance.instance_id)
        const deadline = Date.now() + 10000
        while ((await client.listInstances(BACKEND)).some(live)) {
            assert.ok(Date.now() < deadline, "instances did not stop")
            await sleep(50)
        }
    }

    it("ping", T, async () => {
        const result = await client.ping()
        assert.equal(result.protocol, 1)
        assert.ok("version" in result && "uptime_ms" in result)
    })

    it("list_backends has the command backend", T, async () => {
        const backends = await client.listBackends()
        assert.ok(backends.map((b) => b.backend).includes(BACKEND))
    })

    it("compatibility", T, async () => {
        const consumer = { consumer: "t", accepted_management_modes: ["jido_managed"] }
        assert.equal((await client.compatibility(BACKEND, consumer))["compatible?"], true)
        const result = await client.compatibility("no_such_backend", consumer)
        assert.equal(result["compatible?"], false)
        assert.equal(result.reason, "backend_unregistered")
    })

    it("ensure cold then warm", T, async () => {
        await stopAll()
        const first = await client.ensureEndpoint(BACKEND, MODEL, { waitMs: WAIT_MS })
        try {
            assert.equal(first.reused, false)
            assert.match(first.baseUrl, /^http:\/\/.*\/v1$/)
            assert.ok(first.leaseRef && first.instanceId)
            assert.equal(first.raw.endpoint.lease_ref, first.leaseRef)
            const second = await client.ensureEndpoint(BACKEND, MODEL, { waitMs: WAIT_MS })
            try {
                assert.equal(second.reused, true)
                assert.equal(second.instanceId, first.instanceId)
                assert.notEqual(second.leaseRef, first.leaseRef)
                const snapshot = await client.lookupInstance(first.instanceId)
                assert.equal(snapshot.lifecycle_status, "ready")
                assert.ok(snapshot.lease_count >= 2)
            } finally {
                await second.release()
            }
        } finally {
            await first.release()
        }
    })

    it("a chat completion through baseUrl", T, async () => {
        await shic.withEndpoint(client, { backend: BACKEND, model: MODEL, waitMs: WAIT_MS }, async (endpoint) => {
            const response = await fetch(endpoint.baseUrl + "/chat/completions", {
                method: "POST",
                headers: Object.assign({ "content-type": "application/json" }, endpoint.headers),
                body: JSON.stringify({ model: endpoint.model || MODEL,
                                       messages: [{ role: "user", content: "Say hi" }] }),
                signal: AbortSignal.timeout(10000),
            })
            assert.equal(response.status, 200)
            const reply = await response.json()
            assert.ok(reply.choices[0].message.content)
        })
    })

    it("withEndpoint releases the lease", T, async () => {
        let leaseRef
        const value = await shic.withEndpoint(client, { backend: BACKEND, model: MODEL, ttlMs: 60000, waitMs: WAIT_MS },
                                              async (endpoint) => {
            leaseRef = endpoint.leaseRef
            assert.ok((await client.listLeases()).map((l) => l.lease_ref).includes(leaseRef))
            return 42
        })
        assert.equal(value, 42)
        assert.deepEqual(await client.listLeases(), [])
    })

    it("withEndpoint releases the lease when fn throws", T, async () => {
        await assert.rejects(shic.withEndpoint(client, { backend: BACKEND, model: MODEL, waitMs: WAIT_MS }, async () => {
            throw new Error("boom")
        }), /boom/)
        assert.deepEqual(await client.listLeases(), [])
    })

    it("an untimed lease is kept alive by background pings", T, async () => {
        // The runner sets the daemon's client_timeout_ms to CLIENT_TIMEOUT_MS:
        // the lease outlives it only because the keeper pings
        const holder = new shic.Client(ENDPOINT, { timeoutMs: 5000, clientTimeoutMs: CLIENT_TIMEOUT_MS })
        try {
            const endpoint = await holder.ensureEndpoint(BACKEND, MODEL, { waitMs: WAIT_MS })
            try {
                await sleep(CLIENT_TIMEOUT_MS * 1.5)
                assert.equal(endpoint.keeperError, null)
                assert.ok((await holder.listLeases()).map((l) => l.lease_ref).includes(endpoint.leaseRef))
                // Another client sees the lease, not its ref (a capability)
                assert.ok((await client.listLeases(endpoint.instanceId)).some((l) => l.lease_ref === null))
            } finally {
                await endpoint.close()
            }
        } finally {
            holder.close()
        }
    })

    it("renew extends expires_at_ms", T, async () => {
        const endpoint = await client.ensureEndpoint(BACKEND, MODEL, { ttlMs: 60000, waitMs: WAIT_MS, keepAlive: false })
        try {
            const before = endpoint.expiresAtMs
            await sleep(20)
            const lease = await endpoint.renew(120000)
            assert.ok(lease.expires_at_ms > before)
            assert.equal(endpoint.expiresAtMs, lease.expires_at_ms)
        } finally {
            await endpoint.close()
        }
    })

    it("a timed lease is renewed in the background", T, async () => {
        const endpoint = await client.ensureEndpoint(BACKEND, MODEL, { ttlMs: 600, waitMs: WAIT_MS })
        try {
            const first = endpoint.expiresAtMs
            await sleep(1000)
            assert.equal(endpoint.keeperError, null)
            assert.ok(endpoint.expiresAtMs > first)
            assert.ok((await client.listLeases()).map((l) => l.lease_ref).includes(endpoint.leaseRef))
        } finally {
            await endpoint.close()
        }
    })

    it("owner_ref is echoed", T, async () => {
        await shic.withEndpoint(client, { backend: BACKEND, model: MODEL, waitMs: WAIT_MS, ownerRef: "node-owner" },
                                async (endpoint) => {
            const leases = (await client.listLeases(endpoint.instanceId)).filter((l) => l.lease_ref === endpoint.leaseRef)
            assert.equal(leases[0].owner_ref, "node-owner")
        })
    })

    it("unknown_backend_id", T, async () => {
        await assert.rejects(client.ensureEndpoint("no_such_backend", MODEL, { waitMs: WAIT_MS }), (error) => {
            assert.ok(error instanceof shic.UnknownBackendIdError)
            assert.ok(error instanceof shic.ShicError)
            assert.equal(error.code, "unknown_backend_id")
            return true
        })
    })

    it("invalid_backend_options", T, async () => {
        await assert.rejects(client.ensureEndpoint(BACKEND, "no_such_model", { waitMs: WAIT_MS }),
                             shic.InvalidBackendOptionsError)
    })

    it("incompatible", T, async () => {
        const consumer = { consumer: "t", accepted_management_modes: ["jido_managed", "externally_managed"],
                           accepted_protocols: ["carrier_pigeon"] }
        await assert.rejects(client.ensureEndpoint(BACKEND, MODEL, { waitMs: WAIT_MS, consumer }), (error) => {
            assert.ok(error instanceof shic.IncompatibleError)
            assert.equal(error.details["compatible?"], false)
            return true
        })
    })

    it("lease_not_found", T, async () => {
        const endpoint = await client.ensureEndpoint(BACKEND, MODEL, { waitMs: WAIT_MS })
        await endpoint.release()
        await endpoint.release()        // idempotent
        await assert.rejects(endpoint.renew(), shic.LeaseNotFoundError)
    })

    it("not_found", T, async () => {
        await assert.rejects(client.lookupInstance("bogus-instance-id"), shic.NotFoundError)
    })

    it("unknown_op", T, async () => {
        await assert.rejects(client.call("no_such_op"), shic.UnknownOpError)
    })

    it("unsupported_version", T, async () => {
        const body = encode({ v: 2, id: 424242, op: "ping", args: {} })
        await assert.rejects(client.callRaw(body, { expectId: 424242 }), shic.UnsupportedVersionError)
    })

    it("malformed", T, async () => {
        const body = Buffer.concat([Buffer.from([0xc1]), Buffer.from(" this is not msgpack")])
        await assert.rejects(client.callRaw(body, { expectId: null }), shic.MalformedError)
    })

    it("no reply rejects with NoReplyError", T, async () => {
        const nobody = new shic.Client("tcp://127.0.0.1:9", { timeoutMs: 200 })
        try {
            await assert.rejects(nobody.ping(), shic.NoReplyError)
        } finally {
            nobody.close()
        }
    })

    it("events() yields lease.granted", T, async () => {
        const events = client.events("lease.", { timeoutMs: 5000 })
        try {
            await sleep(300)            // let the subscription reach the PUB
            await shic.withEndpoint(client, { backend: BACKEND, model: MODEL, waitMs: WAIT_MS }, async (endpoint) => {
                let seen = null
                for await (const event of events) {
                    if (event.topic === "lease.granted" && event.body.lease_ref === endpoint.leaseRef) {
                        seen = event
                        break
                    }
                }
                assert.ok(seen, "no lease.granted event for the lease")
                assert.equal(seen.body.instance_id, endpoint.instanceId)
                assert.ok("at_ms" in seen.body)
            })
        } finally {
            events.close()
        }
    })

    it("no lease left behind", T, async () => {
        assert.deepEqual(await client.listLeases(), [])
    })
})
