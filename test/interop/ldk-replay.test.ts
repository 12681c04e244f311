/**
 * Trace and replay with a real implementation (issue 11, "Traces and replay"): our node (built
 * from a recipe by `src/trace/node.ts`, over TCP, OS randomness and the real clock, each wrapped
 * by the recording layers) opens a channel to LDK (rust-lightning, WASM) over real TCP on
 * 127.0.0.1, pays LDK's invoice, is paid by LDK, and closes the channel cooperatively. Every
 * input of our node is recorded; LDK is then stopped and the trace, written to a JSON-lines
 * file and read back, is replayed offline (no LDK, no socket: the replay layers serve the
 * entropy, clock, connections and persister answers from the trace): the replayed node writes
 * every record of the trace again, byte for byte (the bytes it sent LDK, each persisted write,
 * each event and broadcast). A copy with one written chunk changed is reported as diverging at
 * exactly that record.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Layer, Scheduler, type Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { randomBytes } from "node:crypto"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import { createInvoice } from "../../src/invoices/createInvoice.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import * as OsEntropy from "../../src/layers/node/OsEntropy.ts"
import { makeTcpTransport } from "../../src/layers/node/TcpTransport.ts"
import { makeMemoryPersister } from "../../src/layers/persister/MemoryPersister.ts"
import { secretFromSeed } from "../../src/layers/test/SeededNodeSigner.ts"
import * as SeededNodeSigner from "../../src/layers/test/SeededNodeSigner.ts"
import { readTraceFile, writeTraceFile } from "../../src/layers/trace/FileTrace.ts"
import { numberField, stringField } from "../../src/layers/trace/records.ts"
import { equalBytes, toHex } from "../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { decodeInvoice } from "../../src/protocol/invoice/invoice.ts"
import { buildPaymentOnion, processPaymentOnion } from "../../src/protocol/onion/paymentOnion.ts"
import { ecdhWithSecret } from "../../src/protocol/onion/sphinx.ts"
import { msat } from "../../src/protocol/units.ts"
import type { TraceRecord } from "../../src/services/Trace.ts"
import { buildNode, type NodeCommand, type NodeRecipe, type TracedNode } from "../../src/trace/node.ts"
import { makeRecording, type NodeRecorder } from "../../src/trace/record.ts"
import { formatReport, replayTrace } from "../../src/trace/replay.ts"
import { fundingTransaction } from "./ldk/fundingTx.ts"
import { type LdkEvent, LdkNode } from "./ldk/LdkNode.ts"

const HOST = "127.0.0.1"
const secp = wasmSecp256k1
const recipe: NodeRecipe = { name: "ours", seed: "ldk-replay", listen: { host: HOST, port: 0 }, feerateEstimatePerKw: 253, secp: "wasm" }

type OurEvent = NodeChannelEvent["event"]

const startLdk = (): Effect.Effect<LdkNode, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => LdkNode.start({ anchors: false })),
    (ldk, exit) =>
      Effect.promise(async () => {
        if (exit._tag === "Failure") process.stderr.write(`---- LDK log ----\n${ldk.peer.logText("DEBUG")}\n`)
        await ldk.stop()
      })
  )

/** Polls `check` every 10 ms on the real clock (pumping LDK); dies with `what` after `timeoutMs`. */
const waitFor = <A>(what: string, ldk: LdkNode, check: () => A | undefined, timeoutMs = 15_000): Effect.Effect<A> =>
  Effect.gen(function*() {
    for (let waited = 0; waited <= timeoutMs; waited += 10) {
      ldk.pump()
      const v = check()
      if (v !== undefined) return v
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`timed out waiting for ${what}`))
  })

const ours = <T extends OurEvent["_tag"]>(node: TracedNode, tag: T, from = 0) =>
  node.events.slice(from).map((e) => e.event).find((e): e is Extract<OurEvent, { _tag: T }> => e._tag === tag)

const ldkEvent = <T extends LdkEvent["_tag"]>(ldk: LdkNode, tag: T, from = 0) =>
  ldk.events.slice(from).find((e): e is Extract<LdkEvent, { _tag: T }> => e._tag === tag)

const ok = (exit: Exit.Exit<unknown, unknown>): unknown => {
  if (Exit.isFailure(exit)) throw new Error(`command failed: ${String(exit.cause)}`)
  return exit.value
}

/** The recorded session: open, pay LDK, be paid by LDK, cooperative close. Returns our node's trace. */
const recordSession = Effect.gen(function*() {
  const recording = makeRecording()
  return yield* Effect.gen(function*() {
    const ldk = yield* startLdk()
    const recorder: NodeRecorder = recording.node(recipe.name)
    const { persister } = yield* makeMemoryPersister()
    const node = yield* buildNode(recipe, recorder.world({
      entropy: { randomBytes: (n) => Effect.sync(() => new Uint8Array(randomBytes(n))) },
      clock: yield* Clock.Clock,
      transport: makeTcpTransport(),
      persister
    })).pipe(Effect.orDie)
    const run = (command: NodeCommand) => Effect.map(recorder.command(node, command), ok)

    // Connect and open (we fund), confirm on both sides.
    yield* run({ _tag: "Connect", nodeId: toHex(ldk.nodeId), host: HOST, port: ldk.port })
    yield* waitFor("LDK to list us", ldk, () => ldk.peer.peer(toHex(node.nodeId)))
    yield* run({
      _tag: "OpenChannel",
      nodeId: toHex(ldk.nodeId),
      amountSat: "200000",
      pushMsat: "50000000",
      channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false }
    })
    const needed = yield* waitFor("our FundingNeeded", ldk, () => ours(node, "FundingNeeded"))
    const funding = fundingTransaction(needed.scriptPubKey, needed.amount)
    yield* run({ _tag: "FundChannel", temporaryChannelId: needed.temporaryChannelId, tx: toHex(funding.bytes) })
    const pending = yield* waitFor("our ChannelPending", ldk, () => ours(node, "ChannelPending"))
    const channelId = pending.channelId
    yield* waitFor("LDK ChannelPending", ldk, () => ldkEvent(ldk, "ChannelPending"))
    const height = ldk.mine([funding.bytes], 5)
    yield* run({ _tag: "FundingDepth", channelId, depth: 6, shortChannelId: shortChannelIdFromParts(height, 1, 0) })
    yield* waitFor("LDK ChannelReady", ldk, () => ldkEvent(ldk, "ChannelReady"))
    yield* waitFor("our ChannelReady", ldk, () => ours(node, "ChannelReady"))
    yield* waitFor("LDK's channel usable", ldk, () => ldk.listChannels().find((c) => c.get_is_usable()))

    // We pay LDK's invoice over the channel (a real one-hop onion).
    const invoice = decodeInvoice(ldk.createInvoice(3_000_000n), secp)
    if (invoice._tag === "Failure") return yield* Effect.die(invoice.failure)
    const inv = invoice.success
    const cltvExpiry = ldk.height + inv.minFinalCltvExpiryDelta + 12
    const onion = buildPaymentOnion(secp, sha256(new TextEncoder().encode("ldk-replay/session")), [{
      publicKey: ldk.nodeId,
      payload: { amtToForward: msat(3_000_000n), outgoingCltvValue: cltvExpiry, paymentData: { paymentSecret: inv.paymentSecret, totalMsat: msat(3_000_000n) } }
    }], inv.paymentHash)
    if (onion._tag === "Failure") return yield* Effect.die(onion.failure)
    yield* run({ _tag: "AddHtlc", channelId, amountMsat: "3000000", paymentHash: toHex(inv.paymentHash), cltvExpiry, onion: toHex(onion.success.onion) })
    const resolved = yield* waitFor("our HtlcResolved", ldk, () => ours(node, "HtlcResolved"))
    assert.strictEqual(resolved.result._tag, "Fulfilled")
    yield* waitFor("LDK PaymentClaimed", ldk, () => ldkEvent(ldk, "PaymentClaimed"))

    // LDK pays our invoice; we check the onion and fulfill.
    const from = node.events.length
    const created = yield* createInvoice({ amountMsat: msat(2_000_000n), description: { text: "replay" } }).pipe(
      Effect.provide(Layer.mergeAll(SeededNodeSigner.layer(recipe.seed, secp), OsEntropy.layer)),
      Effect.orDie
    )
    ldk.payInvoice(created.invoice)
    const received = yield* waitFor("our HtlcReceived", ldk, () => ours(node, "HtlcReceived", from))
    const payload = processPaymentOnion(secp, ecdhWithSecret(secp, secretFromSeed(recipe.seed, secp)), {
      onion: received.onion,
      paymentHash: received.paymentHash,
      amountMsat: received.amount,
      cltvExpiry: received.cltvExpiry
    })
    assert.strictEqual(payload._tag, "Success")
    if (created.preimage === undefined) return yield* Effect.die(new Error("no preimage"))
    yield* run({ _tag: "FulfillHtlc", channelId, htlcId: received.htlcId.toString(), preimage: toHex(created.preimage) })
    const sent = yield* waitFor("LDK PaymentSent", ldk, () => ldkEvent(ldk, "PaymentSent"))
    assert.isTrue(equalBytes(sent.preimage, created.preimage))

    // We close; both sides hold the same closing transaction.
    yield* run({ _tag: "CloseChannel", channelId })
    yield* waitFor("LDK ChannelClosed", ldk, () => ldkEvent(ldk, "ChannelClosed"), 20_000)
    const close = yield* waitFor("our mutual-close Broadcast", ldk, () =>
      node.events.map((e) => e.event).find((e) => e._tag === "Broadcast" && e.label === "mutual-close"))
    if (close._tag === "Broadcast") assert.isTrue(ldk.broadcasts.some((t) => equalBytes(t, close.tx)), "LDK broadcast the same closing tx")
    return yield* recording.stop
  }).pipe(Effect.scoped, Effect.provideService(Scheduler.Scheduler, recording.scheduler))
})

describe("an LDK session, recorded and replayed offline", () => {
  it.live("replays bit for bit; a changed record is reported where it is", () =>
    Effect.gen(function*() {
      const trace = yield* recordSession // LDK is stopped when this returns
      const count = (kind: TraceRecord["kind"]) => trace.filter((r) => r.kind === kind).length
      assert.isAtLeast(count("read"), 5)
      assert.isAtLeast(count("write"), 5)
      assert.isAbove(count("persist"), 5)
      assert.isAbove(count("mailbox"), 10)
      assert.strictEqual(count("command"), 7)

      const dir = mkdtempSync(join(tmpdir(), "ldk-replay-"))
      try {
        const file = join(dir, "ours.jsonl")
        yield* writeTraceFile(file, trace)
        const fromFile = yield* readTraceFile(file)
        assert.deepStrictEqual(fromFile, trace)
        const report = yield* replayTrace(fromFile)
        assert.deepStrictEqual(report, { _tag: "Identical", node: "ours", records: trace.length }, formatReport(report))

        // One written chunk changed (its last byte): the divergence is reported at that record.
        const at = trace.findIndex((r, i) => i > trace.length / 2 && r.kind === "write")
        const original = trace[at]
        assert.isDefined(original)
        if (original === undefined) return
        const hex = stringField(original.data, "hex") ?? ""
        const conn = numberField(original.data, "conn") ?? -1
        const changed: TraceRecord = { ...original, data: { conn, hex: hex.slice(0, -2) + (hex.endsWith("00") ? "01" : "00") } }
        const tampered = trace.map((r, i) => (i === at ? changed : r))
        const diverged = yield* replayTrace(tampered)
        assert.strictEqual(diverged._tag, "Diverged")
        if (diverged._tag === "Diverged") {
          assert.strictEqual(diverged.index, at)
          assert.deepStrictEqual(diverged.expected, changed)
          assert.deepStrictEqual(diverged.actual?.data, original.data)
        }
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }), 90_000)
})
