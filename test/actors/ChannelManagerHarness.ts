/**
 * In-process nodes with channels for the ChannelManager tests: a PeerManager over the memory
 * network, a seeded ChannelSigner, an in-memory persister (which can answer `InProgress` and
 * complete later), and a tiny simulated chain fed by the test.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Clock, Effect, Layer, PubSub, Result, Schema, type Scope, Stream } from "effect"
import { type ChannelManagerConfig, type ChannelManagerShape, make as makeChannelManager, type NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import * as PeerManager from "../../src/actors/PeerManager.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { ChannelIdSchema } from "../../src/protocol/codec/fields.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import type { MonitorUpdate } from "../../src/protocol/monitor/update.ts"
import { makeInput, serializeTransaction, type Transaction, txidFromBytes } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, sat, type Sat } from "../../src/protocol/units.ts"
import type { MemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import * as SeededNodeSigner from "../../src/layers/test/SeededNodeSigner.ts"
import { makeSeedChannelSigner } from "../../src/layers/signer/SeedChannelSigner.ts"
import { ChannelSigner, type ChannelSignerShape } from "../../src/services/ChannelSigner.ts"
import {
  channelStateJson,
  type ChannelWrite,
  MonitorPersister,
  type MonitorPersisterShape,
  type PersistCompletion,
  type PersistedChannel,
  type PersistStatus
} from "../../src/services/MonitorPersister.ts"

export const PORT = 9735

/**
 * A fake `MonitorPersister` in memory: what a store would hold, per channel. In mode `InProgress`
 * writes are kept pending until `completeAll` reports them (in the order the test chooses).
 */
export interface MemoryPersister extends MonitorPersisterShape {
  readonly stored: Map<string, { channelState: Schema.Json; updates: Array<MonitorUpdate> }>
  mode: PersistStatus
  readonly pending: Array<PersistCompletion>
  readonly completeAll: (order?: (pending: ReadonlyArray<PersistCompletion>) => ReadonlyArray<PersistCompletion>) => Effect.Effect<void>
}

export const makeMemoryPersister = (): Effect.Effect<MemoryPersister> =>
  Effect.gen(function*() {
    const completions = yield* PubSub.unbounded<PersistCompletion>()
    const stored = new Map<string, { channelState: Schema.Json; updates: Array<MonitorUpdate> }>()
    const write = (w: ChannelWrite): PersistStatus => {
      const key = toHex(w.channelId)
      const channelState = channelStateJson(w.channelState)
      const entry = stored.get(key) ?? { channelState, updates: [] }
      entry.channelState = channelState
      entry.updates.push(...w.updates)
      stored.set(key, entry)
      if (persister.mode === "Completed") return "Completed"
      for (const u of w.updates) persister.pending.push({ channelId: w.channelId, updateId: u.updateId })
      return "InProgress"
    }
    const persister: MemoryPersister = {
      stored,
      mode: "Completed",
      pending: [],
      persist: (channelId, updates, channelState) => Effect.sync(() => write({ channelId, updates, channelState })),
      persistMany: (writes) => Effect.sync(() => writes.map(write)),
      subscribe: PubSub.subscribe(completions),
      completions: Stream.fromPubSub(completions),
      load: Effect.sync(() =>
        [...stored.entries()].map(([key, e]): PersistedChannel => ({
          channelId: Schema.decodeSync(ChannelIdSchema)(key),
          channelState: e.channelState,
          updates: [...e.updates],
          latestUpdateId: e.updates[e.updates.length - 1]?.updateId ?? -1n
        }))
      ),
      archive: (channelId) => Effect.sync(() => void stored.delete(toHex(channelId))),
      remove: (channelId) => Effect.sync(() => void stored.delete(toHex(channelId))),
      completeAll: (order = (p) => p) =>
        Effect.gen(function*() {
          const batch = order([...persister.pending])
          persister.pending.length = 0
          for (const c of batch) yield* PubSub.publish(completions, c)
        })
    }
    return persister
  })

export interface TestNode {
  readonly name: string
  readonly host: string
  readonly peers: PeerManager.PeerManagerShape
  readonly channels: ChannelManagerShape
  readonly signer: ChannelSignerShape
  readonly persister: MemoryPersister
  /** Every event the manager published, in order. */
  readonly events: Array<NodeChannelEvent>
}

const seed32 = (name: string) => sha256(new TextEncoder().encode(`channel-signer/${name}`))

/** A P2WPKH script of our own (a shutdown script). */
export const payoutScript = (name: string): Uint8Array => Uint8Array.from([0x00, 0x14, ...sha256(new TextEncoder().encode(name)).subarray(0, 20)])

/**
 * Starts a node. `signer` and `persister` may be given (a restart keeps the store; a new signer
 * instance models a process that forgot everything but its seed).
 */
export const startChannelNode = (
  net: MemoryNetwork,
  name: string,
  host: string,
  options: {
    readonly persister?: MemoryPersister
    /** Another `MonitorPersister` (e.g. one of `src/layers/persister`) instead of the fake. */
    readonly monitorPersister?: MonitorPersisterShape
    readonly config?: Partial<ChannelManagerConfig>
  } = {}
): Effect.Effect<TestNode, never, Scope.Scope> =>
  Effect.gen(function*() {
    const peers = yield* PeerManager.make({ listen: { host, port: PORT }, peer: { rejectChannels: false } }).pipe(
      Effect.provide(Layer.mergeAll(net.layer(host), SeededEntropy.layer(name), SeededNodeSigner.layer(name))),
      Effect.orDie
    )
    const signer = makeSeedChannelSigner(seed32(name), nobleSecp256k1)
    const persister = options.persister ?? (yield* makeMemoryPersister())
    const channels = yield* makeChannelManager({ secp: nobleSecp256k1, shutdownScript: payoutScript(name), ...options.config }).pipe(
      Effect.provideService(PeerManager.PeerManager, peers),
      Effect.provideService(ChannelSigner, signer),
      Effect.provideService(MonitorPersister, options.monitorPersister ?? persister),
      Effect.provide(SeededEntropy.layer(`${name}/channels`)),
      Effect.orDie
    )
    const events: Array<NodeChannelEvent> = []
    const stream = yield* channels.subscribe
    yield* Effect.forkScoped(stream.pipe(Stream.runForEach((e) => Effect.sync(() => void events.push(e)))))
    return { name, host, peers, channels, signer, persister, events }
  })

/** `a` dials `b` on the memory network. */
/** Opens a channel from `a` to `b` once `a`'s peer layer has `b` connected (retried every 2 ms while not). */
export const openWhenConnected = (a: TestNode, b: TestNode, amount: bigint) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      const r = yield* Effect.result(a.channels.openChannel(b.peers.nodeId, sat(amount)))
      if (Result.isSuccess(r)) return r.success
      if (r.failure._tag !== "PeerNotConnected") return yield* Effect.die(r.failure)
      yield* Effect.sleep("2 millis")
    }
    return yield* Effect.die(new Error("never connected"))
  })

export const connect = (a: TestNode, b: TestNode) => a.peers.connect(b.peers.nodeId, { host: b.host, port: PORT })

/** Polls until `found` gives a value (live clock), failing after `timeoutMs`. */
export const eventually = <A>(what: string, found: () => A | undefined, timeoutMs = 10_000): Effect.Effect<A> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    for (;;) {
      const value = found()
      if (value !== undefined) return value
      if ((yield* Clock.currentTimeMillis) - start > timeoutMs) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("2 millis")
    }
  })

type AnyEvent = NodeChannelEvent["event"]
type EventOf<T extends AnyEvent["_tag"]> = Extract<AnyEvent, { readonly _tag: T }>

const hasTag = <T extends AnyEvent["_tag"]>(tag: T) => (e: AnyEvent): e is EventOf<T> => e._tag === tag

/** The first event of `node` with this tag (and matching `where`) from index `from`, once it is there. */
export const awaitEvent = <T extends AnyEvent["_tag"]>(
  node: TestNode,
  tag: T,
  where: (e: EventOf<T>, all: NodeChannelEvent) => boolean = () => true,
  from = 0
): Effect.Effect<{ readonly event: EventOf<T>; readonly at: NodeChannelEvent }> =>
  eventually(`${node.name}: ${tag}`, () => {
    const is = hasTag(tag)
    for (const e of node.events.slice(from)) {
      const ev = e.event
      if (is(ev) && where(ev, e)) return { event: ev, at: e }
    }
    return undefined
  })

/** A fake funding transaction: one segwit input (a made-up prevout), one output paying `amount` to `script`. */
export const fakeFundingTx = (script: Uint8Array, amount: Sat, salt = 1): Transaction => ({
  version: 2,
  inputs: [
    {
      ...makeInput({ txid: txidFromBytes(sha256(Uint8Array.of(salt))), vout: 0 }, 0xfffffffd),
      witness: [new Uint8Array(71).fill(1), new Uint8Array(33).fill(2)]
    }
  ],
  outputs: [{ value: amount, scriptPubKey: script }],
  locktime: 0
})

export const serialized = serializeTransaction

/**
 * `alice` (connected to `bob`) opens a channel of `capacity` to him and funds it with a fake
 * funding transaction: both sides reach ChannelPending. Opening is retried while the connection
 * is still coming up. The channel's final id.
 */
export const openPendingChannel = (alice: TestNode, bob: TestNode, capacity: Sat = sat(1_000_000n)) =>
  Effect.gen(function*() {
    let temporaryChannelId: ChannelId | undefined
    for (let i = 0; i < 1000 && temporaryChannelId === undefined; i++) {
      const r = yield* Effect.result(alice.channels.openChannel(bob.peers.nodeId, capacity))
      if (Result.isSuccess(r)) temporaryChannelId = r.success
      else yield* Effect.sleep("2 millis")
    }
    if (temporaryChannelId === undefined) return yield* Effect.die(new Error("never connected"))
    const needed = yield* awaitEvent(alice, "FundingNeeded")
    yield* alice.channels.fundChannel(temporaryChannelId, fakeFundingTx(needed.event.scriptPubKey, needed.event.amount))
    const channelId = (yield* awaitEvent(alice, "ChannelPending")).event.channelId
    yield* awaitEvent(bob, "ChannelPending")
    return channelId
  })
