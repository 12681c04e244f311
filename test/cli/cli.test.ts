/**
 * The `effect-lightning` command line as real processes (`node src/cli/bin.ts`): `start` runs
 * two daemons, and every client command talks to them over real HTTP with the token from the
 * data directory: its output (tables, `--json`; blinded invoices created and paid), bad arguments (exit 2), a wrong or missing
 * token (exit 4), a node that is down (exit 3), a request the node refuses (exit 1), `--help`
 * on every command, and a clean stop on SIGTERM.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const NODE = join(process.cwd(), "node_modules/.bin/node")
/** Each CLI run is a process start (~2 s of CPU); on a loaded machine the tests below take minutes. */
const SLOW = 240_000
const BIN = join(process.cwd(), "src/cli/bin.ts")

interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI once and waits for it. */
const cli = (args: ReadonlyArray<string>): Promise<Result> =>
  new Promise((resolve) => {
    execFile(NODE, [BIN, ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

interface Daemon {
  readonly child: ChildProcess
  readonly dataDir: string
  readonly api: string
  readonly output: () => string
  readonly exited: Promise<number | null>
  /** The client flags that reach this daemon. */
  readonly flags: ReadonlyArray<string>
}

const root = mkdtempSync(join(tmpdir(), "ln-cli-"))
const daemons: Array<Daemon> = []

const startDaemon = async (name: string): Promise<Daemon> => {
  const dataDir = join(root, name)
  const api = `127.0.0.1:${await freePort()}`
  const child = spawn(NODE, [BIN, "start", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--api", api], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const daemon: Daemon = { child, dataDir, api, output: () => output, exited, flags: ["--api", api, "--data-dir", dataDir] }
  daemons.push(daemon)
  // Up to 120 s: a loaded machine starts a node (a fresh process, type stripping, the seed) slowly.
  for (let i = 0; i < 1200 && !output.includes("control API on"); i++) {
    if (child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 100))
  }
  if (!output.includes("control API on")) throw new Error(`daemon did not start:\n${output}`)
  return daemon
}

let alice: Daemon
let bob: Daemon

beforeAll(async () => {
  ;[alice, bob] = await Promise.all([startDaemon("alice"), startDaemon("bob")])
}, SLOW)

afterAll(() => {
  for (const d of daemons) if (d.child.exitCode === null) d.child.kill("SIGKILL")
  rmSync(root, { recursive: true, force: true })
})

const jsonOf = (r: Result): unknown => JSON.parse(r.stdout)
const get = (u: unknown, key: string): unknown => (typeof u === "object" && u !== null ? Reflect.get(u, key) : undefined)

describe("effect-lightning CLI against running daemons", () => {
  it("start creates the API token (mode 0600) beside the seed", () => {
    const token = join(alice.dataDir, "api_token")
    expect(statSync(token).mode & 0o777).toBe(0o600)
    expect(readFileSync(token, "utf8")).toMatch(/^[0-9a-f]{64}\n$/)
    expect(alice.output()).toContain(`bearer token in ${token}`)
  })

  it("getinfo, connect, peers, disconnect: tables and --json", async () => {
    const info = await cli(["getinfo", ...bob.flags, "--json"])
    expect(info.code, info.stderr).toBe(0)
    const bobId = String(get(jsonOf(info), "nodeId"))
    const bobListen = String(get(jsonOf(info), "listenAddress"))
    expect(bobId).toMatch(/^0[23][0-9a-f]{64}$/)

    const human = await cli(["getinfo", ...alice.flags])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^node id: +0[23][0-9a-f]{64}$/m)
    expect(human.stdout).toMatch(/^network: +regtest$/m)

    const connected = await cli(["connect", `${bobId}@${bobListen}`, ...alice.flags])
    expect(connected.code, connected.stderr).toBe(0)
    expect(connected.stdout).toContain(`connected to ${bobId} at ${bobListen}`)

    const peers = await cli(["peers", ...alice.flags])
    expect(peers.stdout.split("\n")[0]).toMatch(/^NODE ID +ADDRESS +DIRECTION +FEATURES$/)
    expect(peers.stdout).toContain(bobId)
    const peersJson = await cli(["peers", ...alice.flags, "--json"])
    expect(jsonOf(peersJson)).toEqual([expect.objectContaining({ nodeId: bobId, direction: "outbound" })])

    const disconnected = await cli(["disconnect", bobId, ...alice.flags])
    expect(disconnected.code).toBe(0)
    const again = await cli(["disconnect", bobId, ...alice.flags])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^error: PeerNotFound: /m)
    expect((await cli(["peers", ...alice.flags])).stdout.trim()).toBe("(none)")
  }, SLOW)

  it("channels: open, list, get, force-close; refusals exit 1", async () => {
    const bobInfo = jsonOf(await cli(["getinfo", ...bob.flags, "--json"]))
    const bobId = String(get(bobInfo, "nodeId"))
    expect((await cli(["connect", `${bobId}@${String(get(bobInfo, "listenAddress"))}`, ...alice.flags])).code).toBe(0)

    const opened = await cli(["channels", "open", bobId, "100000", ...alice.flags, "--json"])
    expect(opened.code, opened.stderr).toBe(0)
    const channelId = String(get(jsonOf(opened), "channelId"))
    expect(get(jsonOf(opened), "phase")).toBe("WaitFundingTx")

    const list = await cli(["channels", "list", ...alice.flags])
    expect(list.stdout).toMatch(new RegExp(`^${channelId} +${bobId.slice(0, 16)}\\.\\.\\. +WaitFundingTx +100000 `, "m"))
    const one = await cli(["channels", "get", channelId, ...alice.flags])
    expect(one.stdout).toMatch(/^funding output: +100000 sat to 0020[0-9a-f]{64}$/m)

    const aborted = await cli(["channels", "force-close", channelId, ...alice.flags, "--json"])
    expect(get(jsonOf(aborted), "phase")).toBe("Closed")
    const refused = await cli(["channels", "close", channelId, ...alice.flags])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^error: ChannelCommandRejected: /m)
    const tooSmall = await cli(["channels", "open", bobId, "1", ...alice.flags])
    expect(tooSmall.code).toBe(1)
    expect(tooSmall.stderr).toMatch(/^error: (OpenChannelFailed|ChannelOpenRefused): /m)
  }, SLOW)

  it("invoices create and get, pay, keysend, payments list and get: a payment with no route fails with its reason (exit 1)", async () => {
    const bobId = String(get(jsonOf(await cli(["getinfo", ...bob.flags, "--json"])), "nodeId"))
    const created = await cli(["invoices", "create", "--amount-msat", "25000", "--description", "coffee", ...bob.flags, "--json"])
    expect(created.code, created.stderr).toBe(0)
    const invoice = String(get(jsonOf(created), "invoice"))
    const paymentHash = String(get(jsonOf(created), "paymentHash"))
    expect(invoice).toMatch(/^lnbcrt250n1/)
    const status = await cli(["invoices", "get", paymentHash, ...bob.flags])
    expect(status.stdout).toMatch(/^status: +open$/m)
    expect(status.stdout).toMatch(/^amount: +25000 msat$/m)
    const decoded = await cli(["invoices", "decode", invoice, ...alice.flags, "--json"])
    expect(get(jsonOf(decoded), "paymentHash")).toBe(paymentHash)

    const [paid, sent] = await Promise.all([
      cli(["pay", invoice, ...alice.flags]),
      cli(["keysend", bobId, "1000", "--no-wait", ...alice.flags, "--json"])
    ])
    expect(paid.code).toBe(1)
    expect(paid.stderr).toMatch(/^error: PaymentFailed: /m)
    expect(sent.code, sent.stderr).toBe(0)
    const keysendId = String(get(jsonOf(sent), "paymentId"))
    expect(get(jsonOf(sent), "amountMsat")).toBe("1000")

    const list = await cli(["payments", "list", ...alice.flags])
    expect(list.stdout.split("\n")[0]).toMatch(/^PAYMENT ID +STATUS +AMOUNT MSAT +FEE MSAT +ATTEMPTS +FAILURE$/)
    expect(list.stdout).toMatch(new RegExp(`^${paymentHash} +failed +25000 `, "m"))
    const one = await cli(["payments", "get", keysendId, ...alice.flags])
    expect(one.stdout).toMatch(/^amount: +1000 msat$/m)
    expect(one.stdout).toMatch(/^status: +(pending|failed)$/m)
    const missing = await cli(["payments", "get", "no-such-payment", ...alice.flags])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^error: PaymentNotFound: /m)
    const badAmount = await cli(["keysend", bobId, "12abc", ...alice.flags])
    expect(badAmount.code).toBe(2)
  }, SLOW)

  it("invoices create-blinded (table, --json) and pay-blinded with what it printed; refusals exit 1, a bad blinded invoice 2", async () => {
    const bobId = String(get(jsonOf(await cli(["getinfo", ...bob.flags, "--json"])), "nodeId"))
    // Bob has no channel: only a path he introduces himself (--hops 0) can be built.
    const [human, asJson, noPeer] = await Promise.all([
      cli(["invoices", "create-blinded", "--amount-msat", "30000", "--hops", "0", ...bob.flags]),
      cli(["invoices", "create-blinded", "--hops", "0", "--max-paths", "1", ...bob.flags, "--json"]),
      cli(["invoices", "create-blinded", ...bob.flags])
    ])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/^payment hash: +[0-9a-f]{64}$/m)
    expect(human.stdout).toMatch(/^amount: +30000 msat$/m)
    expect(human.stdout).toMatch(/^# +INTRODUCTION NODE +HOPS +FEE BASE MSAT +FEE PPM +CLTV DELTA +MIN MSAT +MAX MSAT$/m)
    expect(human.stdout).toMatch(new RegExp(`^0 +${bobId} +1 +0 +0 +18 `, "m"))
    const line = human.stdout.trim().split("\n").at(-1) ?? ""
    expect(get(JSON.parse(line), "amountMsat")).toBe("30000")
    expect(noPeer.code).toBe(1)
    expect(noPeer.stderr).toMatch(/^error: InvalidRequest: no channel can be the start of a 1-hop blinded path/m)

    expect(asJson.code, asJson.stderr).toBe(0)
    const blinded = jsonOf(asJson)
    expect(get(blinded, "amountMsat")).toBe(null)
    expect(get(blinded, "mpp")).toBe(true)
    const status = await cli(["invoices", "get", String(get(blinded, "paymentHash")), ...bob.flags, "--json"])
    expect(get(jsonOf(status), "status")).toBe("open")

    const [paid, noAmount, garbage, notJson] = await Promise.all([
      cli(["pay-blinded", line, ...alice.flags]),
      cli(["pay-blinded", asJson.stdout, ...alice.flags]),
      cli(["pay-blinded", JSON.stringify({ paymentHash: "00", paths: [] }), ...alice.flags]),
      cli(["pay-blinded", "not json", ...alice.flags])
    ])
    // Alice has no channel: the payment fails with its reason (no route), nothing is paid.
    expect(paid.code).toBe(1)
    expect(paid.stderr).toMatch(/^error: PaymentFailed: payment failed: NoRoute/m)
    expect(noAmount.code).toBe(1)
    expect(noAmount.stderr).toMatch(/^error: InvalidRequest: the blinded invoice names no amount/m)
    expect(garbage.code).toBe(2)
    expect(garbage.stderr).toMatch(/not a blinded invoice/)
    expect(notJson.code).toBe(2)
    expect(notJson.stderr).toMatch(/not JSON/)
    const list = await cli(["payments", "list", ...alice.flags, "--json"])
    const payment = (jsonOf(list) as Array<unknown>).find((p) => get(p, "paymentHash") === get(JSON.parse(line), "paymentHash"))
    expect(get(payment, "status")).toBe("failed")
    expect(get(payment, "amountMsat")).toBe("30000")
  }, SLOW)

  it("invoices decode: a bad invoice is refused with the reason", async () => {
    const r = await cli(["invoices", "decode", "lnbcrt1garbage", ...alice.flags])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^error: InvalidInvoice: /m)
  }, SLOW)

  it("bad arguments exit 2 with a message", async () => {
    const cases = [
      ["no-such-command"],
      ["connect", ...alice.flags],
      ["connect", "nonsense", ...alice.flags],
      ["channels", "open", "02ab", "abc", ...alice.flags],
      ["channels", "get", "00", ...alice.flags],
      ["getinfo", "--api", "not an address", "--data-dir", alice.dataDir],
      ["start", "--listen", "nonsense"],
      ["start", "--network", "litecoin"]
    ]
    const results = await Promise.all(cases.map((args) => cli(args)))
    results.forEach((r, i) => {
      expect(r.code, `${cases[i]?.join(" ")}: ${r.stdout}${r.stderr}`).toBe(2)
      expect(`${r.stdout}${r.stderr}`.length).toBeGreaterThan(0)
    })
  }, SLOW)

  it("a wrong or missing token exits 4", async () => {
    const wrong = join(root, "wrong_token")
    writeFileSync(wrong, "not-the-token-0123456789\n", { mode: 0o600 })
    const [refused, missing] = await Promise.all([
      cli(["getinfo", "--api", alice.api, "--api-token-file", wrong]),
      cli(["getinfo", "--api", alice.api, "--data-dir", join(root, "nowhere")])
    ])
    expect(refused.code).toBe(4)
    expect(refused.stderr).toContain("refused the API token (401)")
    expect(missing.code).toBe(4)
    expect(missing.stderr).toContain("cannot read the API token")
  }, SLOW)

  it("a node that is down exits 3", async () => {
    const r = await cli(["peers", "--api", `127.0.0.1:${await freePort()}`, "--data-dir", alice.dataDir])
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/cannot reach the node's control API at http:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED/)
  }, SLOW)

  it("--help on every command", async () => {
    const paths = [[], ["start"], ["getinfo"], ["connect"], ["disconnect"], ["peers"], ["channels"], ["channels", "open"], ["channels", "depth"], ["invoices", "decode"], ["invoices", "create"], ["invoices", "create-blinded"], ["pay"], ["pay-blinded"], ["keysend"], ["payments", "list"]]
    // Four processes at a time: sixteen at once on a loaded 2-core machine run past execFile's timeout.
    const results: Array<Result> = []
    for (let i = 0; i < paths.length; i += 4) results.push(...(await Promise.all(paths.slice(i, i + 4).map((path) => cli([...path, "--help"])))))
    results.forEach((r, i) => {
      const path = paths[i] ?? []
      expect(r.code, path.join(" ")).toBe(0)
      expect(r.stdout).toContain("USAGE")
      expect(r.stdout).toContain(["effect-lightning", ...path].join(" "))
    })
  }, SLOW)

  it("start stops cleanly on SIGTERM (exit 0)", async () => {
    bob.child.kill("SIGTERM")
    expect(await bob.exited).toBe(0)
    expect(bob.output()).toContain("stopped")
  })
})
