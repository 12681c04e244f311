/**
 * `src/main.ts` as a real process: started with `node src/main.ts`, queried over HTTP, stopped
 * with SIGTERM (clean exit 0), restarted on the same data directory (same node id, same
 * channels), and its failure exits: bad flags (2), corrupt seed (1).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fromHex, toHex } from "../src/protocol/bytes.ts"
import { fundingTransaction } from "./interop/ldk/fundingTx.ts"

const NODE = join(process.cwd(), "node_modules/.bin/node")
const MAIN = join(process.cwd(), "src/main.ts")

interface Running {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

/** Every daemon here reads the control API's bearer token from this file (`--api-token-file`). */
const TOKEN = "main-test-token-0123456789abcdef"
const TOKEN_FILE = join(mkdtempSync(join(tmpdir(), "ln-main-token-")), "api_token")
writeFileSync(TOKEN_FILE, `${TOKEN}\n`, { mode: 0o600 })
const auth = { authorization: `Bearer ${TOKEN}` }

const start = (args: ReadonlyArray<string>): Running => {
  const child = spawn(NODE, [MAIN, ...args, "--api-token-file", TOKEN_FILE], { stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, output: () => output, exited }
}

/** Starts a process for the test and kills it (SIGKILL) if the test leaves it running. */
const startScoped = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(Effect.sync(() => start(args)), (r) =>
    Effect.sync(() => {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL")
    }))

const waitExit = (r: Running) =>
  Effect.promise(() => r.exited).pipe(
    Effect.timeoutOrElse({
      duration: "30 seconds",
      orElse: () => Effect.die(new Error(`process did not exit; output:\n${r.output()}`))
    })
  )

const freePort = Effect.promise(
  () =>
    new Promise<number>((resolve, reject) => {
      const server = Net.createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        server.close(() => resolve(port))
      })
    })
)

const getJson = (url: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(url, { headers: auth, signal: AbortSignal.timeout(10_000) })
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  })

const postJson = (url: string, body: unknown) =>
  Effect.tryPromise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(40_000)
    })
    const text = await response.text()
    return { status: response.status, body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown> }
  })

/** Polls until the API answers (the process needs a moment to start). */
const waitForApi = (url: string, r: Running) =>
  getJson(`${url}/v1/info`).pipe(
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 300 }),
    Effect.catch(() => Effect.die(new Error(`API did not come up; output:\n${r.output()}`)))
  )

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "ln-main-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("main.ts (child process)", () => {
  it.live("serves the API, stops cleanly on SIGTERM, keeps its node id across restarts", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const dataDir = join(dir, "data")
      const apiPort = yield* freePort
      const url = `http://127.0.0.1:${apiPort}`
      const args = ["--data-dir", dataDir, "--listen", "127.0.0.1:0", "--api", `127.0.0.1:${apiPort}`]

      const first = yield* startScoped(args)
      const info = yield* waitForApi(url, first)
      assert.strictEqual(info.status, 200)
      const nodeId = info.body["nodeId"]
      assert.match(String(nodeId), /^0[23][0-9a-f]{64}$/)
      assert.match(String(info.body["listenAddress"]), /^127\.0\.0\.1:\d+$/)
      assert.notStrictEqual(info.body["listenAddress"], "127.0.0.1:0")
      assert.strictEqual(statSync(join(dataDir, "node_seed")).mode & 0o777, 0o600)

      const peers = yield* getJson(`${url}/v1/peers`)
      assert.deepStrictEqual(peers, { status: 200, body: [] as unknown as Record<string, unknown> })
      const openapi = yield* getJson(`${url}/openapi.json`)
      assert.strictEqual(openapi.status, 200)
      assert.property(openapi.body["paths"], "/v1/peers")

      // A second node process; the first connects to it through its API, over TCP.
      const otherPort = yield* freePort
      const otherUrl = `http://127.0.0.1:${otherPort}`
      const other = yield* startScoped([
        "--data-dir", join(dir, "other"), "--listen", "127.0.0.1:0", "--api", `127.0.0.1:${otherPort}`
      ])
      const otherInfo = yield* waitForApi(otherUrl, other)
      const [host, port] = String(otherInfo.body["listenAddress"]).split(":")
      const connected = yield* Effect.tryPromise(async () => {
        const response = await fetch(`${url}/v1/peers`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ nodeId: otherInfo.body["nodeId"], host, port: Number(port) }),
          signal: AbortSignal.timeout(20_000)
        })
        return { status: response.status, body: (await response.json()) as Record<string, unknown> }
      })
      assert.strictEqual(connected.status, 200, JSON.stringify(connected.body))
      assert.strictEqual(connected.body["nodeId"], otherInfo.body["nodeId"])
      const listed = yield* getJson(`${url}/v1/peers`)
      assert.deepStrictEqual((listed.body as unknown as Array<Record<string, unknown>>).map((p) => p["nodeId"]), [
        otherInfo.body["nodeId"]
      ])

      // SIGTERM with a live peer connection: both stop cleanly.
      other.child.kill("SIGTERM")
      assert.strictEqual(yield* waitExit(other), 0, other.output())
      first.child.kill("SIGTERM")
      assert.strictEqual(yield* waitExit(first), 0, first.output())
      assert.include(first.output(), "stopped")
      assert.include(first.output(), String(nodeId))

      // Same data directory: same seed, same node id.
      const second = yield* startScoped(args)
      const again = yield* waitForApi(url, second)
      assert.strictEqual(again.body["nodeId"], nodeId)
      second.child.kill("SIGINT")
      assert.strictEqual(yield* waitExit(second), 0, second.output())
    }))

  it.live("channels between two daemons: open, fund, depth, Normal; a restarted daemon restores the channel from its store", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const daemon = (name: string) =>
        Effect.gen(function*() {
          const apiPort = yield* freePort
          const url = `http://127.0.0.1:${apiPort}`
          const args = ["--data-dir", join(dir, name), "--listen", "127.0.0.1:0", "--api", `127.0.0.1:${apiPort}`]
          const r = yield* startScoped(args)
          const info = yield* waitForApi(url, r)
          return { r, url, args, info: info.body }
        })
      const a = yield* daemon("a")
      const b = yield* daemon("b")
      const bId = String(b.info["nodeId"])
      const [host, port] = String(b.info["listenAddress"]).split(":")
      assert.strictEqual((yield* postJson(`${a.url}/v1/peers`, { nodeId: bId, host, port: Number(port) })).status, 200)

      const opened = yield* postJson(`${a.url}/v1/channels`, { nodeId: bId, amountSat: 150_000 })
      assert.strictEqual(opened.status, 200, JSON.stringify(opened.body))
      const output = opened.body["fundingOutput"] as Record<string, unknown>
      const funding = fundingTransaction(fromHex(String(output["scriptPubKey"])), 150_000n)
      const funded = yield* postJson(`${a.url}/v1/channels/${String(opened.body["channelId"])}/fund`, { tx: toHex(funding.bytes) })
      assert.strictEqual(funded.status, 200, JSON.stringify(funded.body))
      const channelId = String(funded.body["channelId"])
      for (const url of [a.url, b.url]) {
        const fed = yield* Effect.gen(function*() {
          for (let i = 0; i < 200; i++) {
            const reply = yield* postJson(`${url}/v1/channels/${channelId}/chain`, { depth: 6, shortChannelId: "500x2x0" })
            if (reply.status !== 404) return reply.status
            yield* Effect.sleep("20 millis") // B learns of the funding on its own time
          }
          return 404
        })
        assert.strictEqual(fed, 202)
      }
      const phaseOn = (url: string) =>
        getJson(`${url}/v1/channels/${channelId}`).pipe(Effect.map((r) => r.body["phase"]))
      const waitPhase = (url: string, phase: string) =>
        phaseOn(url).pipe(
          Effect.filterOrFail((p) => p === phase, () => new Error(`not ${phase}`)),
          Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 })
        )
      yield* waitPhase(a.url, "Normal")
      yield* waitPhase(b.url, "Normal")

      b.r.child.kill("SIGTERM")
      assert.strictEqual(yield* waitExit(b.r), 0, b.r.output())
      const again = yield* startScoped(b.args)
      yield* waitForApi(b.url, again)
      assert.include(again.output(), "1 channel restored")
      const listed = yield* getJson(`${b.url}/v1/channels`)
      const channels = listed.body as unknown as Array<Record<string, unknown>>
      assert.deepStrictEqual(channels.map((c) => [c["channelId"], c["nodeId"], c["capacitySat"]]), [[channelId, a.info["nodeId"], 150_000]])
      for (const r of [again, a.r]) {
        r.child.kill("SIGTERM")
        assert.strictEqual(yield* waitExit(r), 0, r.output())
      }
    }), { timeout: 90_000 })

  it.live("bad flags print the usage and exit with code 2", () =>
    Effect.gen(function*() {
      for (const args of [["--bogus"], ["--listen", "nonsense"], ["--api", "127.0.0.1:99999"], ["--network", "litecoin"]]) {
        const r = yield* startScoped(args)
        assert.strictEqual(yield* waitExit(r), 2, r.output())
        assert.include(r.output(), "Usage:")
        assert.include(r.output(), "error:")
      }
      const help = yield* startScoped(["--help"])
      assert.strictEqual(yield* waitExit(help), 0)
      assert.include(help.output(), "--data-dir")
    }))

  it.live("--network mainnet: /v1/info shows it and init advertises the mainnet chain hash", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const mainnet = "6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000"
      const daemon = (name: string, port: number) =>
        startScoped(["--data-dir", join(dir, name), "--listen", "127.0.0.1:0", "--api", `127.0.0.1:${port}`, "--network", "mainnet"])
      const portA = yield* freePort
      const portB = yield* freePort
      const a = yield* daemon("a", portA)
      const b = yield* daemon("b", portB)
      const infoA = yield* waitForApi(`http://127.0.0.1:${portA}`, a)
      const infoB = yield* waitForApi(`http://127.0.0.1:${portB}`, b)
      assert.strictEqual(infoA.body["network"], "mainnet")
      assert.strictEqual(infoA.body["chainHash"], mainnet)
      assert.include(a.output(), "starting node on mainnet")

      // A connects to B: each side's view of the other's init `networks` is the mainnet hash.
      const [host, port] = String(infoB.body["listenAddress"]).split(":")
      const connected = yield* Effect.tryPromise(async () => {
        const response = await fetch(`http://127.0.0.1:${portA}/v1/peers`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ nodeId: infoB.body["nodeId"], host, port: Number(port) }),
          signal: AbortSignal.timeout(20_000)
        })
        return { status: response.status, body: (await response.json()) as Record<string, unknown> }
      })
      assert.strictEqual(connected.status, 200, JSON.stringify(connected.body))
      assert.deepStrictEqual(connected.body["remoteNetworks"], [mainnet])
      const seenByB = yield* getJson(`http://127.0.0.1:${portB}/v1/peers`).pipe(
        Effect.flatMap((r) => {
          const peers = r.body as unknown as Array<Record<string, unknown>>
          return peers.length === 1 ? Effect.succeed(peers) : Effect.fail(new Error("not yet"))
        }),
        Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 })
      )
      assert.deepStrictEqual(seenByB[0]?.["remoteNetworks"], [mainnet])
      for (const r of [a, b]) {
        r.child.kill("SIGTERM")
        assert.strictEqual(yield* waitExit(r), 0, r.output())
      }
    }))

  it.live("a corrupt seed file stops the start with exit code 1 and a message; the file is kept", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const garbage = new TextEncoder().encode("this is not a seed")
      writeFileSync(join(dir, "node_seed"), garbage, { mode: 0o600 })
      const apiPort = yield* freePort
      const r = yield* startScoped(["--data-dir", dir, "--listen", "127.0.0.1:0", "--api", `127.0.0.1:${apiPort}`])
      assert.strictEqual(yield* waitExit(r), 1, r.output())
      assert.match(r.output(), /SeedFileCorrupt: seed file .*node_seed is corrupt: expected 44 bytes, found 18/)
      assert.strictEqual(statSync(join(dir, "node_seed")).size, garbage.length)
    }))

  it.live("a damaged channel store stops the start with exit code 1 and a message; nothing is deleted", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      mkdirSync(join(dir, "channels"), { recursive: true })
      const damaged = join(dir, "channels", "0000000000000001.batch")
      writeFileSync(damaged, new TextEncoder().encode("not a store file"))
      const apiPort = yield* freePort
      const r = yield* startScoped(["--data-dir", dir, "--listen", "127.0.0.1:0", "--api", `127.0.0.1:${apiPort}`])
      assert.strictEqual(yield* waitExit(r), 1, r.output())
      assert.match(r.output(), /node stopped: StoreCorrupt/)
      assert.strictEqual(statSync(damaged).size, 16)
    }))

  it.live("an API address already in use stops the start with exit code 1", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const blocker = Net.createServer()
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()))),
        () => Effect.promise(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
      )
      const address = blocker.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const r = yield* startScoped(["--data-dir", dir, "--listen", "127.0.0.1:0", "--api", `127.0.0.1:${port}`])
      assert.strictEqual(yield* waitExit(r), 1, r.output())
      assert.match(r.output(), /EADDRINUSE/)
    }))
})
