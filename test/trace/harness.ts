/** Two of our nodes recorded over the in-memory network: a channel, an HTLC each way, a cooperative close. */
import { Clock, Effect, Exit, Scheduler } from "effect"
import type { NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { makeSeededEntropy } from "../../src/layers/test/SeededEntropy.ts"
import { makeMemoryPersister } from "../../src/layers/persister/MemoryPersister.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { sha256 } from "@noble/hashes/sha2.js"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { serializeTransaction } from "../../src/protocol/tx/bitcoin/transaction.ts"
import type { TraceRecord } from "../../src/services/Trace.ts"
import { buildNode, type NodeCommand, type NodeRecipe, type TracedNode } from "../../src/trace/node.ts"
import type { CountingScheduler } from "../../src/trace/Quiescence.ts"
import { makeRecording, type NodeRecorder } from "../../src/trace/record.ts"
import { fakeFundingTx } from "../actors/ChannelManagerHarness.ts"

type OurEvent = NodeChannelEvent["event"]

/**
 * Waits until `tag` shows up in `node.events` (from index `from`), checking each time the process
 * is quiescent: no real timer is involved, so the run is the same every time.
 */
export const awaitEvent = <T extends OurEvent["_tag"]>(scheduler: CountingScheduler, node: TracedNode, tag: T, from = 0) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      const e = node.events.slice(from).map((x) => x.event).find((x): x is Extract<OurEvent, { _tag: T }> => x._tag === tag)
      if (e !== undefined) return e
      yield* scheduler.whenIdle
    }
    return yield* Effect.die(new Error(`${tag} never came`))
  })

/** A clock stopped at `at` ms: readings the same on every run, and no sleep ever ends. */
export const frozenClock = (at: number): Clock.Clock => ({
  currentTimeMillisUnsafe: () => at,
  currentTimeMillis: Effect.succeed(at),
  currentTimeNanosUnsafe: () => BigInt(at) * 1_000_000n,
  currentTimeNanos: Effect.succeed(BigInt(at) * 1_000_000n),
  monotonicTimeNanosUnsafe: () => BigInt(at) * 1_000_000n,
  monotonicTimeNanos: Effect.succeed(BigInt(at) * 1_000_000n),
  sleep: () => Effect.never
})

export const ok = (exit: Exit.Exit<unknown, unknown>): unknown => {
  if (Exit.isFailure(exit)) throw new Error(`command failed: ${String(exit.cause)}`)
  return exit.value
}

const recipe = (name: string, host: string): NodeRecipe => ({
  name,
  seed: `trace-${name}`,
  listen: { host, port: 9735 },
  feerateEstimatePerKw: 253,
  // Pings often enough that timer ticks (and the random bytes of each ping) are in the trace.
  pingIntervalMs: 20,
  secp: "wasm"
})

/**
 * Records alice and bob (one process, real clock, memory network): alice opens a channel to bob,
 * both see it confirmed, alice pays bob, bob pays alice, alice closes it. `seed` decides both
 * nodes' randomness; `frozen` stops the nodes' clock; `holdPersistence` makes alice's persister
 * answer `InProgress` and complete the writes later (then the whole trace is decided by `seed`).
 * Returns the whole trace (both nodes, one sequence).
 */
export const recordPair = (
  seed: string,
  options: { readonly frozen?: boolean; readonly holdPersistence?: boolean } = {}
): Effect.Effect<ReadonlyArray<TraceRecord>> => {
  const recording = makeRecording()
  const awaitEvent_ = <T extends OurEvent["_tag"]>(node: TracedNode, tag: T, from = 0) => awaitEvent(recording.scheduler, node, tag, from)
  return Effect.gen(function*() {
    const net = yield* makeMemoryNetwork()
    const real = yield* Clock.Clock
    const clock = options.frozen === true ? frozenClock(1_700_000_000_000) : real
    const start = (name: string, host: string) =>
      Effect.gen(function*() {
        const recorder = recording.node(name)
        const hold = options.holdPersistence === true && name === "alice"
        const { persister, control } = yield* makeMemoryPersister({ mode: hold ? "hold" : "immediate" })
        if (hold) {
          // Alice's writes complete late: released whenever the process is quiescent.
          yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
            yield* recording.scheduler.whenIdle
            if ((yield* control.pending).length > 0) yield* control.releaseAll
            else yield* Effect.sleep("1 millis")
          })))
        }
        const node = yield* buildNode(recipe(name, host), recorder.world({
          entropy: makeSeededEntropy(`${seed}/${name}`),
          clock,
          transport: net.transport(host),
          persister
        })).pipe(Effect.orDie)
        return { node, recorder }
      })
    const a = yield* start("alice", "10.0.0.1")
    const b = yield* start("bob", "10.0.0.2")
    const run = (who: { node: TracedNode; recorder: NodeRecorder }, command: NodeCommand) =>
      Effect.map(who.recorder.command(who.node, command), ok)

    yield* run(a, { _tag: "Connect", nodeId: toHex(b.node.nodeId), host: "10.0.0.2", port: 9735 })
    yield* run(a, {
      _tag: "OpenChannel",
      nodeId: toHex(b.node.nodeId),
      amountSat: "200000",
      pushMsat: "50000000",
      channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false }
    })
    const needed = yield* awaitEvent_(a.node, "FundingNeeded")
    const tx = serializeTransaction(fakeFundingTx(needed.scriptPubKey, needed.amount))
    yield* run(a, { _tag: "FundChannel", temporaryChannelId: needed.temporaryChannelId, tx: toHex(tx) })
    const pending = yield* awaitEvent_(a.node, "ChannelPending")
    yield* awaitEvent_(b.node, "ChannelPending")
    const channelId = pending.channelId
    const scid = shortChannelIdFromParts(500, 1, 0)
    yield* run(a, { _tag: "FundingDepth", channelId, depth: 6, shortChannelId: scid })
    yield* run(b, { _tag: "FundingDepth", channelId, depth: 6, shortChannelId: scid })
    yield* awaitEvent_(a.node, "ChannelReady")
    yield* awaitEvent_(b.node, "ChannelReady")

    // An HTLC each way (the onion is opaque to the channel layer: any 1366 bytes do).
    const pay = (from: typeof a, to: typeof a, amount: string, label: string) =>
      Effect.gen(function*() {
        const preimage = sha256(new TextEncoder().encode(`${seed}/${label}`))
        const since = to.node.events.length
        const sinceFrom = from.node.events.length
        yield* run(from, {
          _tag: "AddHtlc",
          channelId,
          amountMsat: amount,
          paymentHash: toHex(sha256(preimage)),
          cltvExpiry: 600,
          onion: toHex(new Uint8Array(1366).fill(7))
        })
        const received = yield* awaitEvent_(to.node, "HtlcReceived", since)
        yield* run(to, { _tag: "FulfillHtlc", channelId, htlcId: received.htlcId.toString(), preimage: toHex(preimage) })
        yield* awaitEvent_(from.node, "HtlcResolved", sinceFrom)
      })
    yield* pay(a, b, "3000000", "a-to-b")
    yield* pay(b, a, "1000000", "b-to-a")

    const before = a.node.events.length
    yield* run(a, { _tag: "CloseChannel", channelId })
    yield* awaitEvent_(a.node, "ChannelClosed", before)
    return yield* recording.stop
  }).pipe(Effect.scoped, Effect.provideService(Scheduler.Scheduler, recording.scheduler))
}
