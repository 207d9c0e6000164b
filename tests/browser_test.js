//  The dashboard in a real browser: headless Chromium driven through the
//  DevTools protocol over --remote-debugging-pipe (fds 3 and 4, JSON
//  messages ended by NUL), so nothing beyond node and chromium is needed.
//  Checks what a person would see: the live marker, a pool bar, the
//  instance row appearing as starting and turning ready after an ensure,
//  without a reload; the detail of an instance on click. Saves a
//  screenshot when SCREENSHOT is set.
//  Usage: node tests/browser_test.js URL SHIC_BINARY GATEWAY_ENDPOINT
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const [url, shic, gateway] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "shic-chromium-"));
const browser = spawn("chromium", [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--user-data-dir=" + profile, "--remote-debugging-pipe", "--window-size=1280,900",
  "about:blank"], { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] });

let failed = 0;
function check (name, ok, detail) {
  console.log("browser: " + name + ": " + (ok ? "ok" : "FAILED" + (detail ? " (" + detail + ")" : "")));
  if (!ok) failed++;
}

let nextId = 1, buffered = "";
const waiting = new Map();
browser.stdio[4].on("data", (chunk) => {
  buffered += chunk.toString();
  let end;
  while ((end = buffered.indexOf("\0")) >= 0) {
    const message = JSON.parse(buffered.slice(0, end));
    buffered = buffered.slice(end + 1);
    if (message.id && waiting.has(message.id)) {
      waiting.get(message.id)(message);
      waiting.delete(message.id);
    }
  }
});
function send (method, params, sessionId) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(method + ": no answer")), 15000);
    waiting.set(id, (m) => { clearTimeout(timer); m.error ? reject(new Error(m.error.message)) : resolve(m.result); });
    browser.stdio[3].write(JSON.stringify({ id, method, params: params || {}, sessionId }) + "\0");
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let session;
async function evaluate (expression) {
  const r = await send("Runtime.evaluate", { expression, returnByValue: true }, session);
  return r.result.value;
}
//  Polls expression until it is truthy or the deadline passes
async function until (expression, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await evaluate(expression);
    if (value || Date.now() > deadline) return value;
    await sleep(100);
  }
}

async function main () {
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  ({ sessionId: session } = await send("Target.attachToTarget", { targetId, flatten: true }));
  await send("Page.enable", {}, session);
  await send("Page.navigate", { url }, session);
  check("the page connects to the event stream",
        await until("document.getElementById('live') && document.getElementById('live').textContent === 'live'", 10000));
  check("a pool bar for ram", await until("document.querySelector('.pool[data-pool=\"ram\"] .bar')", 5000));
  check("no instance yet", await evaluate("document.querySelectorAll('tr.instance').length === 0"));
  await evaluate("window.notReloaded = true");

  const ensure = spawn(shic, ["ensure", "slow", "tiny", "--ttl", "60s"],
                       { env: { ...process.env, SHIC_ENDPOINT: gateway }, stdio: "ignore" });
  const row = "document.querySelector('tr.instance')";
  check("the instance row appears as starting",
        await until(row + " && " + row + ".querySelector('.status').textContent === 'starting'", 10000));
  check("its status turns ready",
        await until(row + " && " + row + ".querySelector('.status').textContent === 'ready'", 20000));
  check("seen starting, then ready", (await evaluate(row + ".dataset.seen")) === "starting ready",
        await evaluate(row + ".dataset.seen"));
  check("without a reload", await evaluate("window.notReloaded === true"));
  check("the pool bar shows memory used",
        await until("parseFloat(document.querySelector('.pool[data-pool=\"ram\"] .used').style.width) > 0", 5000));
  check("the lease is listed", await until("document.querySelectorAll('tr.lease').length === 1", 5000));
  check("recent events list instance.ready",
        await until("document.getElementById('events').textContent.includes('instance.ready')", 5000));
  await evaluate(row + ".click()");
  check("a click shows the instance's snapshot",
        await until("!document.getElementById('detail').hidden && document.getElementById('detail-snapshot').textContent.includes('\"lifecycle_status\": \"ready\"')", 5000));
  check("and the last lines its service wrote",
        await until("document.getElementById('detail-logs').textContent.includes('server is listening')", 5000));
  if (process.env.SCREENSHOT) {
    const shot = await send("Page.captureScreenshot", { format: "png" }, session);
    fs.writeFileSync(process.env.SCREENSHOT, Buffer.from(shot.data, "base64"));
    console.log("browser: screenshot " + process.env.SCREENSHOT);
  }
  await new Promise((r) => (ensure.exitCode !== null ? r() : ensure.on("exit", r)));
}

const guard = setTimeout(() => { console.log("browser: FAILED (deadline)"); finish(1); }, 90000);
function finish (code) {
  clearTimeout(guard);
  send("Browser.close").catch(() => {}).finally(() => {
    setTimeout(() => { try { browser.kill("SIGKILL"); } catch (e) { /* gone */ } }, 2000).unref();
  });
  browser.on("exit", () => {
    fs.rmSync(profile, { recursive: true, force: true });
    process.exit(code);
  });
}
main().then(() => finish(failed ? 1 : 0), (e) => { console.log("browser: FAILED " + e.message); finish(1); });
