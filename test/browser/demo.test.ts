/**
 * The demo page in a real browser: headless Chromium (Debian's `chromium` at /usr/bin/chromium)
 * driven by playwright-core. The page is built (`browser/build.ts`) and served by the demo
 * server (`browser/demo/server.ts`), which also runs a node under Node behind the
 * WebSocket-to-TCP bridge. Checked: the page loads; the IndexedDB store keeps its guarantees in
 * this browser; two nodes in the tab open a channel and pay each other; their channels and
 * payments survive a reload (IndexedDB); a node in the tab pays the Node node through the bridge.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { type DemoServer, startDemoServer } from "../../browser/demo/server.ts"
import { fromHex } from "../../src/protocol/bytes.ts"

const CHROMIUM = "/usr/bin/chromium"
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

let scope: Scope.Closeable
let server: DemoServer
let context: BrowserContext
let page: Page
let profile: string
const consoleErrors: Array<string> = []

const ready = async () => {
  await page.goto(server.url)
  await page.waitForFunction("document.body.dataset.ready === '1'", undefined, { timeout: 20_000 })
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (see README, Install)`)
  execFileSync(process.execPath, ["browser/build.ts"], { stdio: "pipe" })
  scope = await Effect.runPromise(Scope.make())
  server = await Effect.runPromise(Scope.provide(scope)(startDemoServer()))
  profile = mkdtempSync(join(tmpdir(), "effect-lightning-chromium-"))
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true })
  page = context.pages()[0] ?? (await context.newPage())
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text())
  })
  page.on("pageerror", (e) => consoleErrors.push(e.message))
  await ready()
}, 60_000)

afterAll(async () => {
  await context?.close()
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true })
})

describe("the demo page in headless Chromium", () => {
  it("loads, finds the demo server, and has no errors", async () => {
    assert.strictEqual(await page.title(), "effect-lightning in a browser tab")
    assert.strictEqual(await page.textContent("#status"), "ready")
    assert.isFalse(await page.isDisabled("#run-bridge"))
    assert.deepStrictEqual(consoleErrors, [])
  })

  it("the IndexedDB store keeps every Store guarantee in this browser", async () => {
    const results: Array<{ check: string; ok: boolean }> = await page.evaluate("demo.storeChecks()")
    assert.isAtLeast(results.length, 14)
    assert.deepStrictEqual(results.filter((r) => !r.ok).map((r) => r.check), [])
  })

  it("two nodes in the tab open a channel and pay each other; IndexedDB keeps them across a reload", async () => {
    await page.evaluate("demo.reset()")
    const run: { channelId: string; toBob: string; toAlice: string } = await page.evaluate("demo.runLocal()")
    assert.match(run.toBob, /^[0-9a-f]{64}$/)
    assert.match(run.toAlice, /^[0-9a-f]{64}$/)
    const lines: Array<string> = await page.evaluate("demo.lines")
    assert.isTrue(lines.some((l) => l.startsWith("bob: PaymentReceived")), lines.join("\n"))
    assert.isTrue(lines.some((l) => l.startsWith("alice: ChannelReady")), lines.join("\n"))
    // The events were shown on the page as they happened.
    assert.include(await page.textContent("#log"), "bob: PaymentReceived")

    await page.evaluate("demo.stop()")
    await page.reload()
    await page.waitForFunction("document.body.dataset.ready === '1'")
    const restored: {
      alice: { channels: Array<{ channelId: string; phase: string }>; payments: Array<{ status: string }> }
      bob: { channels: Array<{ channelId: string; phase: string }>; payments: Array<{ status: string }> }
    } = await page.evaluate("demo.restore()")
    assert.deepStrictEqual(restored.alice.channels, [{ channelId: run.channelId, phase: "Normal" }])
    assert.deepStrictEqual(restored.bob.channels, [{ channelId: run.channelId, phase: "Normal" }])
    assert.deepStrictEqual(restored.alice.payments.map((p) => p.status), ["succeeded"])
    assert.deepStrictEqual(restored.bob.payments.map((p) => p.status), ["succeeded"])
    await page.evaluate("demo.stop()")
  })

  it("a node in the tab pays the node under Node through the WebSocket bridge", async () => {
    const result: { preimage: string } = await page.evaluate("demo.runBridge()")
    const status = await Effect.runPromise(server.node.payments.invoice(sha256(fromHex(result.preimage))))
    assert.strictEqual(status?.status, "paid")
    assert.strictEqual(await Effect.runPromise(server.bridge.connections), 1)
    await page.evaluate("demo.stop()")
  })
})
