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
