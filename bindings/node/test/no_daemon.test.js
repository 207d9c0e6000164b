/*
 * With nobody listening, a call fails within about a second, naming the
 * endpoint (no shicd needed: this test runs without run_tests.sh too).
 */

"use strict"

const { it } = require("node:test")
const assert = require("node:assert/strict")
const net = require("node:net")
const shic = require("..")

function unusedEndpoint () {
    return new Promise((resolve) => {
        const server = net.createServer()
        server.listen(0, "127.0.0.1", () => {
            const port = server.address().port
            server.close(() => resolve(`tcp://127.0.0.1:${port}`))
        })
    })
}

it("no daemon: fails fast naming the endpoint", { timeout: 10000 }, async () => {
    const endpoint = await unusedEndpoint()
    const client = new shic.Client(endpoint)
    const started = Date.now()
    try {
        await assert.rejects(client.ensureEndpoint("llama_cpp", "tiny"), (error) => {
            assert.ok(error instanceof shic.NoReplyError)
            assert.equal(error.code, "no_reply")
            assert.ok(error.message.includes(endpoint), error.message)
            return true
        })
        assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
    } finally {
        client.close()
    }
})

it("a reply that cannot be decoded is an error, not silence", { timeout: 10000 }, async () => {
    const zmq = require("zeromq")
    const { encode, decode } = require("@msgpack/msgpack")
    const router = new zmq.Router({ linger: 0 })
    await router.bind("tcp://127.0.0.1:*")
    const answers = [Buffer.from([0xc1]), encode([1, 2])]     // not msgpack; not a map
    const serving = (async () => {
        for await (const frames of router) {
            const request = decode(frames[frames.length - 1])
            const body = request.op === "ping"
                ? encode({ v: 1, id: request.id, ok: true, result: { protocol: 1 } })
                : answers.shift()
            await router.send([...frames.slice(0, -1), body])
            if (!answers.length)
                break
        }
    })()
    const client = new shic.Client(router.lastEndpoint, { timeoutMs: 3000 })
    try {
        for (let i = 0; i < 2; i++) {
            const started = Date.now()
            await assert.rejects(client.listLeases(), (error) => {
                assert.ok(error instanceof shic.BadReplyError, String(error))
                assert.equal(error.code, "bad_reply")
                assert.ok(error.message.includes("cannot be decoded"), error.message)
                return true
            })
            assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`)
        }
        await serving
    } finally {
        client.close()
        router.close()
    }
})

it("an event that cannot be decoded is an error, not silence", { timeout: 10000 }, async () => {
    const zmq = require("zeromq")
    const { encode } = require("@msgpack/msgpack")
    const publisher = new zmq.Publisher({ linger: 0 })
    await publisher.bind("tcp://127.0.0.1:*")
    const stream = new shic.EventStream(publisher.lastEndpoint, "lease.", { timeoutMs: 100 })
    try {
        let caught = null
        const deadline = Date.now() + 5000
        while (!caught && Date.now() < deadline) {
            await publisher.send(["lease.granted", Buffer.from([0xc1])])     // until subscribed
            try {
                await stream.nextEvent()
            } catch (error) {
                caught = error
            }
        }
        assert.ok(caught instanceof shic.BadReplyError, String(caught))
        assert.ok(caught.message.includes("lease.granted"), caught.message)
        let event = null
        while (!event || event.body.at_ms !== 2) {        // the stream stays usable
            await publisher.send(["lease.granted", encode({ lease_ref: "l", at_ms: 2 })])
            try {
                event = await stream.nextEvent()
            } catch (error) {
                event = null
            }
        }
        assert.equal(event.body.lease_ref, "l")
    } finally {
        stream.close()
        publisher.close()
    }
})
