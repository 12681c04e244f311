/**
 * A restarted node: alice opens a channel to bob and stops; "alice-2" (the same keys) starts over
 * alice's store, reconnects, reestablishes the channel and pays bob. The store's content at start
 * is an input of alice-2 (the persister's `load` answer), so alice-2 replays alone from the trace.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Scheduler, Scope } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { makeSeededEntropy } from "../../src/layers/test/SeededEntropy.ts"
import { makeMemoryPersister, makeMemoryPersisterData } from "../../src/layers/persister/MemoryPersister.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { serializeTransaction } from "../../src/protocol/tx/bitcoin/transaction.ts"
import type { TraceRecord } from "../../src/services/Trace.ts"
import { buildNode, type NodeCommand, type NodeRecipe, type TracedNode } from "../../src/trace/node.ts"
import { makeRecording, type NodeRecorder } from "../../src/trace/record.ts"
import { formatReport, replayTrace } from "../../src/trace/replay.ts"
import { fakeFundingTx } from "../actors/ChannelManagerHarness.ts"
import { awaitEvent } from "./harness.ts"

const recipe = (name: string, seed: string, host: string): NodeRecipe => ({
  name,
  seed,
  listen: { host, port: 9735 },
  feerateEstimatePerKw: 253,
  secp: "wasm"
})

const recordRestart: Effect.Effect<ReadonlyArray<TraceRecord>> = Effect.suspend(() => {
  const recording = makeRecording()
  const wait = <T extends Parameters<typeof awaitEvent>[2]>(node: TracedNode, tag: T, from = 0) => awaitEvent(recording.scheduler, node, tag, from)
  return Effect.gen(function*() {
    const net = yield* makeMemoryNetwork()
    const clock = yield* Clock.Clock
    const aliceData = makeMemoryPersisterData()
    const start = (name: string, seed: string, host: string, scope: Scope.Scope) =>
      Effect.gen(function*() {
        const recorder = recording.node(name)
        const { persister } = yield* makeMemoryPersister(seed === "restart-alice" ? { data: aliceData } : {})
        const node = yield* buildNode(recipe(name, seed, host), recorder.world({
          entropy: makeSeededEntropy(name),
          clock,
          transport: net.transport(host),
          persister
        })).pipe(Effect.orDie)
        return { node, recorder }
      }).pipe(Scope.provide(scope))
    const run = (who: { node: TracedNode; recorder: NodeRecorder }, command: NodeCommand) =>
      Effect.map(who.recorder.command(who.node, command), (exit) => {
        if (Exit.isFailure(exit)) throw new Error(`command failed: ${String(exit.cause)}`)
        return exit.value
      })

    const bob = yield* start("bob", "restart-bob", "10.0.0.2", yield* Effect.scope)
    const aliceScope = yield* Scope.make()
    const alice = yield* start("alice", "restart-alice", "10.0.0.1", aliceScope)
    yield* run(alice, { _tag: "Connect", nodeId: toHex(bob.node.nodeId), host: "10.0.0.2", port: 9735 })
    yield* run(alice, {
      _tag: "OpenChannel",
      nodeId: toHex(bob.node.nodeId),
      amountSat: "200000",
      pushMsat: "0",
      channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false }
    })
    const needed = yield* wait(alice.node, "FundingNeeded")
    const tx = serializeTransaction(fakeFundingTx(needed.scriptPubKey, needed.amount))
    yield* run(alice, { _tag: "FundChannel", temporaryChannelId: needed.temporaryChannelId, tx: toHex(tx) })
    const pending = yield* wait(alice.node, "ChannelPending")
    yield* wait(bob.node, "ChannelPending")
    const scid = shortChannelIdFromParts(300, 1, 0)
    yield* run(alice, { _tag: "FundingDepth", channelId: pending.channelId, depth: 6, shortChannelId: scid })
    yield* run(bob, { _tag: "FundingDepth", channelId: pending.channelId, depth: 6, shortChannelId: scid })
    yield* wait(alice.node, "ChannelReady")
    yield* wait(bob.node, "ChannelReady")

    // Alice stops; alice-2 starts over her store and pays bob over the restored channel.
    yield* Scope.close(aliceScope, Exit.void)
    yield* recording.scheduler.whenIdle
    const alice2 = yield* start("alice-2", "restart-alice", "10.0.0.1", yield* Effect.scope)
    yield* run(alice2, { _tag: "Connect", nodeId: toHex(bob.node.nodeId), host: "10.0.0.2", port: 9735 })
    // The restored channel asks for its funding watch again (`WatchFunding`): the chain answers.
    yield* wait(alice2.node, "WatchFunding")
    yield* run(alice2, { _tag: "FundingDepth", channelId: pending.channelId, depth: 6, shortChannelId: scid })
    const preimage = sha256(new TextEncoder().encode("restart"))
    const since = bob.node.events.length
    // (refused until the channel is reestablished: each try is a command of the trace)
    for (let tries = 0; ; tries++) {
      const added = yield* alice2.recorder.command(alice2.node, {
        _tag: "AddHtlc",
        channelId: pending.channelId,
        amountMsat: "2000000",
        paymentHash: toHex(sha256(preimage)),
        cltvExpiry: 600,
        onion: toHex(new Uint8Array(1366).fill(3))
      })
      if (Exit.isSuccess(added)) break
      assert.isBelow(tries, 100, "the restored channel never took the HTLC")
      yield* recording.scheduler.whenIdle
    }
    const received = yield* wait(bob.node, "HtlcReceived", since)
    yield* run(bob, { _tag: "FulfillHtlc", channelId: pending.channelId, htlcId: received.htlcId.toString(), preimage: toHex(preimage) })
    yield* wait(alice2.node, "HtlcResolved")
    return yield* recording.stop
  }).pipe(Effect.scoped, Effect.provideService(Scheduler.Scheduler, recording.scheduler))
})

describe("a restarted node in a trace", () => {
  it.live("the store's content at start is recorded; the restarted node replays alone", () =>
    Effect.gen(function*() {
      const trace = yield* recordRestart
      const load = trace.find((r) => r.node === "alice-2" && r.kind === "completion" && JSON.stringify(r.data).startsWith('{"load":[{'))
      assert.isDefined(load, "alice-2 started from a store holding the channel")
      for (const node of ["alice-2", "bob"]) {
        const report = yield* replayTrace(trace, { node })
        assert.strictEqual(report._tag, "Identical", formatReport(report))
      }
    }), 60_000)
})
