/**
 * A node's power fails at every simulated disk step of an HTLC round trip (BOLT 2 commitment
 * dance: add, `commitment_signed`/`revoke_and_ack` both ways, fulfill, the same again), with its
 * channel on the local persister over the files store (`SimulatedDisk`, which forgets what was
 * not fsync'ed). After the crash the node restarts from what its disk kept, and:
 * - its monitor is never behind what the peer was sent (issue 7): every counterparty commitment it
 *   signed is stored, and so is every holder commitment it revoked the previous one for (BOLT 2:
 *   a `commitment_signed` or `revoke_and_ack` leaves only once the update it depends on is durable);
 * - the channel reestablishes with the peer (no data loss seen by either side, nothing
 *   force-closed) and the next HTLC settles.
 * The round trip crashed is the second one: its first write carries the previous round trip's
 * last `CommitmentSecret` together with the new `CounterpartyCommitment` (`Channel.ts`: a write
 * waits once for the `Flush` queued behind it).
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Exit, Scope } from "effect"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import type { ChannelState } from "../../../src/protocol/channel/state.ts"
import { type ChannelId, msat } from "../../../src/protocol/units.ts"
import { makeMemoryNetwork, type MemoryNetwork } from "../../../src/layers/test/MemoryTransport.ts"
import { makeReplicatedPersister } from "../../../src/layers/persister/ReplicatedPersister.ts"
import { makeStoreReplica } from "../../../src/layers/persister/StoreReplica.ts"
import { makeFileStore } from "../../../src/layers/store/FileStore.ts"
import { type RecoveryMode, SimulatedDisk } from "../../../src/layers/store/SimulatedDisk.ts"
import { awaitEvent, connect, eventually, openPendingChannel, startChannelNode, type TestNode } from "../../actors/ChannelManagerHarness.ts"

const onion = new Uint8Array(1366)

/** Alice on the files store over `disk` (a process lifetime: the scope's). */
const startAlice = (net: MemoryNetwork, disk: SimulatedDisk) =>
  Effect.gen(function*() {
    const store = yield* Effect.orDie(makeFileStore(disk, { directory: "/alice", logSlots: 8 }))
    const persister = yield* Effect.orDie(makeReplicatedPersister({ replicas: [makeStoreReplica(store)], quorum: 1, inlineWait: "20 millis" }))
    return yield* startChannelNode(net, "alice", "10.0.0.1", { monitorPersister: persister })
  })

/** Alice pays Bob over the channel; Bob fulfills. */
const payment = (alice: TestNode, bob: TestNode, channelId: ChannelId, tag: string) =>
  Effect.gen(function*() {
    const preimage = sha256(new TextEncoder().encode(`preimage/${tag}`))
    const paymentHash = sha256(preimage)
    const from = bob.events.length
    const htlcId = yield* alice.channels.addHtlc(channelId, { amount: msat(20_000_000n), paymentHash, cltvExpiry: 800, onion })
    const received = yield* awaitEvent(bob, "HtlcReceived", (e) => equalBytes(e.paymentHash, paymentHash), from)
    yield* bob.channels.fulfillHtlc(channelId, received.event.htlcId, preimage)
    const resolved = yield* awaitEvent(alice, "HtlcResolved", (e) => e.htlcId === htlcId)
    assert.strictEqual(resolved.event.result._tag, "Fulfilled")
  })

const normal = (state: ChannelState) => {
  if (state._tag !== "Normal") throw new Error(`not Normal: ${state._tag}`)
  return state
}

/** Polls until the channel's connection is `wanted` on `node`. */
const connected = (node: TestNode, channelId: ChannelId, wanted: "Connected" | "Disconnected") =>
  Effect.gen(function*() {
    for (let i = 0; i < 5000; i++) {
      const { state } = yield* Effect.orDie(node.channels.channel(channelId))
      if ("connection" in state && state.connection === wanted) return
      yield* Effect.sleep("2 millis")
    }
    return yield* Effect.die(new Error(`${node.name}: never ${wanted}`))
  })

/**
 * One run: the channel opened (not crashed), one round trip, then the disk crashes at its
 * `crashAt`-th mutating step from there (undefined: never). True if it crashed (and was checked).
 */
const run = (crashAt: number | undefined, mode: RecoveryMode) =>
  Effect.gen(function*() {
    const net = yield* makeMemoryNetwork()
    const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
    const disk = new SimulatedDisk()
    const aliceScope = yield* Scope.make()
    const alice = yield* startAlice(net, disk).pipe(Scope.provide(aliceScope))
    yield* connect(alice, bob)
    const channelId = yield* openPendingChannel(alice, bob)
    const scid = shortChannelIdFromParts(100, 1, 0)
    yield* Effect.orDie(alice.channels.chainFact(channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: scid }))
    yield* Effect.orDie(bob.channels.chainFact(channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: scid }))
    yield* awaitEvent(alice, "ChannelReady")
    yield* awaitEvent(bob, "ChannelReady")
    yield* payment(alice, bob, channelId, "first")
    if (crashAt !== undefined) disk.crashAfter(crashAt)
    const finished = yield* Effect.raceFirst(
      Effect.as(payment(alice, bob, channelId, "second"), true),
      Effect.as(eventually("the crash", () => (disk.isCrashed ? true : undefined), 30_000), false)
    )
    if (finished && !disk.isCrashed) return false

    // The power fails: the process ends; Bob has handled everything Alice sent before.
    yield* Scope.close(aliceScope, Exit.void)
    yield* connected(bob, channelId, "Disconnected")
    const bobSees = normal((yield* Effect.orDie(bob.channels.channel(channelId))).state).commitments
    disk.recover(mode)

    const alice2 = yield* startAlice(net, disk)
    const monitor = yield* Effect.orDie(alice2.channels.monitorState(channelId))
    assert.isDefined(monitor)
    if (monitor === undefined) return true
    // Every commitment of Bob's that Alice signed (he holds it) is in her monitor...
    const signed = monitor.counterpartyNext?.commitmentNumber ?? monitor.counterpartyCurrent.commitmentNumber
    assert.isTrue(bobSees.localCommit.number <= signed, `crash at ${crashAt}: Bob holds commitment ${bobSees.localCommit.number}, Alice's monitor knows ${signed}`)
    // ... and her commitment that Bob knows current (she revoked the one before) is stored.
    assert.isTrue(
      bobSees.remoteCommit.number <= monitor.holderCommitment.commitmentNumber,
      `crash at ${crashAt}: Bob sees Alice at ${bobSees.remoteCommit.number}, her monitor holds ${monitor.holderCommitment.commitmentNumber}`
    )

    // Back online: the channel reestablishes, nobody closes it, and the next HTLC settles.
    yield* connect(alice2, bob)
    yield* connected(alice2, channelId, "Connected")
    yield* connected(bob, channelId, "Connected")
    yield* payment(alice2, bob, channelId, "after the crash")
    for (const node of [alice2, bob]) assert.isFalse(node.events.some((e) => e.event._tag === "ChannelClosed"), `crash at ${crashAt}: ${node.name} closed the channel`)
    assert.strictEqual(normal((yield* Effect.orDie(alice2.channels.channel(channelId))).state)._tag, "Normal")
    return true
  })

describe("a channel on the files store: a crash at any disk step of a round trip", () => {
  // durable: only fsync'ed directory changes survive; metadata: every rename survives too (the files
  // store's snapshots are renamed into place: some file systems persist a rename before its data)
  for (const mode of ["durable", "metadata"] as const) {
    it.live(
      `restarts with its monitor never behind what the peer was sent, reestablishes, and pays again (${mode})`,
      () =>
        Effect.gen(function*() {
          let crashes = 0
          for (let k = 0; ; k++) {
            const crashed = yield* Effect.scoped(run(k, mode))
            if (!crashed) break
            crashes += 1
          }
          // A round trip is Alice's 4 writes (each a slot write and its sync): every one was hit.
          assert.isAtLeast(crashes, 8)
        }),
      120_000
    )
  }
})
