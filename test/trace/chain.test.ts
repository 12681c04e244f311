/**
 * Chain facts as traced inputs: alice and bob follow one simulated chain through a
 * `ChainWatcher`; the funding comes from the chain's faucet, confirms as blocks are mined, the
 * cooperative close is broadcast and mined. Each node replays alone from the trace, the chain
 * served from the recorded blocks and answers.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Scheduler } from "effect"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { makeSeededEntropy } from "../../src/layers/test/SeededEntropy.ts"
import { make as makeSimulatedChain } from "../../src/layers/chain/SimulatedChain.ts"
import { makeMemoryPersister } from "../../src/layers/persister/MemoryPersister.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { serializeTransaction } from "../../src/protocol/tx/bitcoin/transaction.ts"
import type { TraceRecord } from "../../src/services/Trace.ts"
import { buildNode, type NodeCommand, type TracedNode } from "../../src/trace/node.ts"
import { makeRecording, type NodeRecorder } from "../../src/trace/record.ts"
import { formatReport, replayTrace } from "../../src/trace/replay.ts"
import { awaitEvent } from "./harness.ts"

const recordOnChain = (seed: string): Effect.Effect<ReadonlyArray<TraceRecord>> => {
  const recording = makeRecording()
  const wait = <T extends Parameters<typeof awaitEvent>[2]>(node: TracedNode, tag: T, from = 0) => awaitEvent(recording.scheduler, node, tag, from)
  return Effect.gen(function*() {
    const net = yield* makeMemoryNetwork()
    const clock = yield* Clock.Clock
    const chain = yield* makeSimulatedChain({ seed, initialBlocks: 101 })
    const start = (name: string, host: string) =>
      Effect.gen(function*() {
        const recorder = recording.node(name)
        const { persister } = yield* makeMemoryPersister()
        const node = yield* buildNode(
          { name, seed: `${seed}/${name}`, listen: { host, port: 9735 }, feerateEstimatePerKw: 253, secp: "wasm", chain: true },
          recorder.world({
            entropy: makeSeededEntropy(`${seed}/${name}`),
            clock,
            transport: net.transport(host),
            persister,
            chain: chain.chainSource,
            broadcaster: chain.broadcaster
          })
        ).pipe(Effect.orDie)
        return { node, recorder }
      })
    const a = yield* start("alice", "10.0.0.1")
    const b = yield* start("bob", "10.0.0.2")
    const run = (who: { node: TracedNode; recorder: NodeRecorder }, command: NodeCommand) =>
      Effect.map(who.recorder.command(who.node, command), (exit) => {
        if (Exit.isFailure(exit)) throw new Error(`command failed: ${String(exit.cause)}`)
        return exit.value
      })
    const mine = (n: number) => Effect.andThen(recording.scheduler.whenIdle, Effect.orDie(chain.sim.mine(n)))

    yield* run(a, { _tag: "Connect", nodeId: toHex(b.node.nodeId), host: "10.0.0.2", port: 9735 })
    yield* run(a, {
      _tag: "OpenChannel",
      nodeId: toHex(b.node.nodeId),
      amountSat: "200000",
      pushMsat: "0",
      channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false }
    })
    const needed = yield* wait(a.node, "FundingNeeded")
    const funding = yield* Effect.orDie(chain.sim.fund(needed.scriptPubKey, needed.amount))
    yield* run(a, { _tag: "FundChannel", temporaryChannelId: needed.temporaryChannelId, tx: toHex(serializeTransaction(funding.tx)) })
    const pending = yield* wait(a.node, "ChannelPending")
    yield* wait(b.node, "ChannelPending")
    yield* mine(6)
    yield* wait(a.node, "ChannelReady")
    yield* wait(b.node, "ChannelReady")
    const before = a.node.events.length
    yield* run(a, { _tag: "CloseChannel", channelId: pending.channelId })
    yield* wait(a.node, "Broadcast", before)
    yield* mine(1)
    yield* wait(a.node, "ChannelClosed", before)
    return yield* recording.stop
  }).pipe(Effect.scoped, Effect.provideService(Scheduler.Scheduler, recording.scheduler))
}

describe("chain facts in a trace", () => {
  it.live("blocks and broadcast answers are recorded and served back on replay", () =>
    Effect.gen(function*() {
      const trace = yield* recordOnChain("chain-trace")
      const chain = trace.filter((r) => r.node === "alice" && r.kind === "chain")
      assert.isTrue(chain.some((r) => JSON.stringify(r.data).includes('"op":"connected"')), "blocks reached alice")
      assert.isTrue(chain.some((r) => JSON.stringify(r.data).includes('"op":"broadcast"')), "broadcast answers reached alice")
      for (const node of ["alice", "bob"]) {
        const report = yield* replayTrace(trace, { node })
        assert.strictEqual(report._tag, "Identical", formatReport(report))
      }
    }), 60_000)
})
