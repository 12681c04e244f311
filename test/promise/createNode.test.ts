/**
 * The Promise API (`src/promise`): the README's example (`examples/promise-node.ts`) runs in a
 * child process against the sources; and the node's methods, typed errors, events (EventEmitter
 * and async iterator) and close, over two real nodes on 127.0.0.1.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import {
  ChannelError,
  createNode,
  InvalidArgumentError,
  LightningError,
  type LightningNode,
  type NodeEvent,
  NodeClosedError,
  PaymentError,
  PeerError
} from "../../src/promise/index.ts"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"
import { fundingTransaction } from "../interop/ldk/fundingTx.ts"

const NODE = join(process.cwd(), "node_modules/.bin/node")
const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "ln-promise-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** The example with its package import pointed at the sources, in a temporary file. */
export const exampleAgainstSources = (): string => {
  const source = readFileSync("examples/promise-node.ts", "utf8")
  const file = join(tempDir(), "promise-node.ts")
  writeFileSync(file, source.replace(`from "effect-lightning/promise"`, `from ${JSON.stringify(join(process.cwd(), "src/promise/index.ts"))}`))
  return file
}

describe("README Promise example", () => {
  it("runs: connect, events, open then abort, a typed error", async () => {
    const { stdout } = await promisify(execFile)(NODE, [exampleAgainstSources()], { timeout: 60_000 })
    const lines = stdout.trim().split("\n")
    expect(lines).toContain("bob: peer connected (inbound)")
    expect(lines.some((l) => /^alice -> bob [0-9a-f]{16}\.\.\., negotiated features: \d/.test(l))).toBe(true)
    expect(lines.some((l) => /^channel WaitFundingTx: fund 100000 sat to 0020[0-9a-f]{64}$/.test(l))).toBe(true)
    expect(lines).toContain("channel Closed (FundingAborted)")
    expect(lines.some((l) => l.startsWith("ChannelNotFound: no channel "))).toBe(true)
  })
})

const next = (events: AsyncGenerator<NodeEvent>, match: (e: NodeEvent) => boolean) =>
  (async () => {
    for await (const e of events) if (match(e)) return e
    throw new Error("events ended")
  })()

describe("createNode", () => {
  it("peers, invoices, channels, events and errors over two real nodes", async () => {
    const alice: LightningNode = await createNode({ dataDir: tempDir() })
    const bob = await createNode({ dataDir: tempDir(), listen: "127.0.0.1:0" })
    try {
      const info = await alice.info()
      expect(info.nodeId).toBe(alice.nodeId)
      expect(info.network).toBe("regtest")
      expect(alice.listenAddress).toMatch(/^127\.0\.0\.1:\d+$/)

      const seen: Array<NodeEvent> = []
      bob.on("event", (e: NodeEvent) => seen.push(e))
      const bobConnected = next(bob.events(), (e) => e.type === "PeerConnected")
      const peer = await alice.connect(bob.nodeId, bob.listenAddress ?? "")
      expect(peer).toMatchObject({ nodeId: bob.nodeId, direction: "outbound" })
      const event = await bobConnected
      expect(event).toMatchObject({ kind: "peer", type: "PeerConnected", peer: { nodeId: alice.nodeId, direction: "inbound" } })
      expect(seen.map((e) => e.type)).toContain("PeerConnected")
      expect((await alice.peers()).map((p) => p.nodeId)).toEqual([bob.nodeId])

      // Typed errors, with the API's tag as code.
      const notPoint = `02${"00".repeat(32)}`
      await expect(alice.connect(notPoint, "127.0.0.1:9")).rejects.toBeInstanceOf(InvalidArgumentError)
      await expect(alice.connect(bob.nodeId, "nowhere")).rejects.toMatchObject({ code: "InvalidRequest" })
      const unreachable = await createNode({ dataDir: tempDir(), listen: false })
      expect(unreachable.listenAddress).toBeUndefined()
      const refused = await alice.connect(unreachable.nodeId, "127.0.0.1:1").catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(PeerError)
      expect(refused).toMatchObject({ code: "PeerConnectFailed" })
      await unreachable.close()
      await expect(alice.decodeInvoice("lnbc1garbage")).rejects.toMatchObject({ code: "InvalidInvoice" })
      await expect(alice.channel("ab".repeat(32))).rejects.toBeInstanceOf(ChannelError)

      // A channel: open, FundingNeeded on the event stream, abort.
      const aliceEvents = alice.events()
      const opened = await alice.openChannel(bob.nodeId, 100_000)
      expect(opened).toMatchObject({ phase: "WaitFundingTx", funder: true, capacitySat: 100_000 })
      const needed = await next(aliceEvents, (e) => e.kind === "channel" && e.type === "FundingNeeded")
      expect(needed).toMatchObject({ kind: "channel", channelId: opened.channelId, nodeId: bob.nodeId })
      expect((await alice.channels()).map((c) => c.channelId)).toEqual([opened.channelId])
      const aborted = await alice.forceClose(opened.channelId)
      expect(aborted).toMatchObject({ phase: "Closed", closed: { reason: "FundingAborted" } })
      await aliceEvents.return(undefined)

      await alice.disconnect(bob.nodeId)
      await expect(alice.disconnect(bob.nodeId)).rejects.toMatchObject({ code: "PeerNotFound" })
    } finally {
      await alice.close()
      await bob.close()
    }
    // Closed: idempotent, and methods reject with NodeClosedError.
    await alice.close()
    const closed = await alice.peers().catch((e: unknown) => e)
    expect(closed).toBeInstanceOf(NodeClosedError)
    expect(closed).toBeInstanceOf(LightningError)
  })

  it("payments: a channel funded by hand, then an invoice, a keysend and a blinded invoice paid; typed payment errors", async () => {
    const alice = await createNode({ dataDir: tempDir() })
    const bob = await createNode({ dataDir: tempDir(), listen: "127.0.0.1:0" })
    try {
      await alice.connect(bob.nodeId, bob.listenAddress ?? "")
      const aliceEvents = alice.events()
      const bobEvents = bob.events()
      const opened = await alice.openChannel(bob.nodeId, 200_000, { pushMsat: 10_000_000 })
      const output = opened.fundingOutput
      if (output === null) throw new Error("no funding output")
      const funding = fundingTransaction(fromHex(output.scriptPubKey), BigInt(output.amountSat))
      const funded = await alice.fundChannel(opened.channelId, toHex(funding.bytes))
      const aliceReady = next(aliceEvents, (e) => e.type === "ChannelReady")
      const bobReady = next(bobEvents, (e) => e.type === "ChannelReady")
      await alice.reportFundingDepth(funded.channelId, 6, "500x1x0")
      await bob.reportFundingDepth(funded.channelId, 6, "500x1x0")
      await Promise.all([aliceReady, bobReady])
      await aliceEvents.return(undefined)
      await bobEvents.return(undefined)

      const invoice = await bob.createInvoice({ amountMsat: 50_000n, description: "tea" })
      expect((await bob.invoice(invoice.paymentHash)).status).toBe("open")
      const paid = await alice.pay(invoice.invoice)
      expect(paid).toMatchObject({ status: "succeeded", amountMsat: "50000", feePaidMsat: "0", paymentHash: invoice.paymentHash })
      expect(paid.preimage).toMatch(/^[0-9a-f]{64}$/)
      expect(await bob.invoice(invoice.paymentHash)).toMatchObject({ status: "paid", receivedMsat: "50000" })

      const sent = await alice.keysend(bob.nodeId, 7_000n)
      expect(sent).toMatchObject({ status: "succeeded", amountMsat: "7000" })
      expect(await bob.invoice(sent.paymentHash)).toMatchObject({ keysend: true, receivedMsat: "7000" })
      expect((await alice.payments()).map((p) => p.status).sort()).toEqual(["succeeded", "succeeded"])
      expect(await alice.payment(paid.paymentId)).toEqual(paid)

      const tooMuch = await alice.keysend(bob.nodeId, 500_000_000n).catch((e: unknown) => e)
      expect(tooMuch).toBeInstanceOf(PaymentError)
      expect(tooMuch).toMatchObject({ code: "PaymentFailed" })
      await expect(alice.payment("no-such-payment")).rejects.toMatchObject({ code: "PaymentNotFound" })
      const channel = await alice.channel(funded.channelId)
      expect(channel.balance?.localMsat).toBe(200_000_000 - 10_000_000 - 57_000)

      // Blinded: Bob's paths (he is their introduction node: his only peer is the payer), paid as they are.
      const blinded = await bob.createBlindedInvoice({ amountMsat: 20_000n, hops: 0 })
      expect(blinded).toMatchObject({ amountMsat: "20000", mpp: true })
      expect(blinded.paths).toHaveLength(1)
      expect(blinded.paths[0]?.path.startsWith(bob.nodeId)).toBe(true)
      const paidBlinded = await alice.payBlinded(blinded)
      expect(paidBlinded).toMatchObject({ status: "succeeded", amountMsat: "20000", feePaidMsat: "0", paymentHash: blinded.paymentHash })
      expect(await bob.invoice(blinded.paymentHash)).toMatchObject({ status: "paid", receivedMsat: "20000", invoice: null })
      const anyAmount = await bob.createBlindedInvoice({ hops: 0 })
      await expect(alice.payBlinded(anyAmount)).rejects.toMatchObject({ code: "InvalidRequest" })
      await expect(bob.createBlindedInvoice({ hops: 0, dummyHops: 5 })).rejects.toBeInstanceOf(InvalidArgumentError)
      expect((await alice.channel(funded.channelId)).balance?.localMsat).toBe(200_000_000 - 10_000_000 - 77_000)
    } finally {
      await alice.close()
      await bob.close()
    }
  })

  it("the same data directory gives the same node id; a corrupt seed rejects the start", async () => {
    const dir = tempDir()
    const first = await createNode({ dataDir: dir, listen: false })
    const id = first.nodeId
    await first.close()
    const again = await createNode({ dataDir: dir, listen: false })
    expect(again.nodeId).toBe(id)
    await again.close()
    const corrupt = tempDir()
    writeFileSync(join(corrupt, "node_seed"), "not a seed")
    await expect(createNode({ dataDir: corrupt })).rejects.toMatchObject({ code: "SeedFileCorrupt" })
    await expect(createNode({ dataDir: dir, listen: "nonsense" })).rejects.toBeInstanceOf(InvalidArgumentError)
  })
})
