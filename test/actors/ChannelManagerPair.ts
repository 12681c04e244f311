/**
 * Two of our nodes in one process, each a real `ChannelManager` (its `Channel` and `Monitor`
 * actors, the seed channel signer, WASM secp256k1, seeded entropy), with a direct "wire" between
 * them: `send` runs each message through the wire codec (encode, decode) and offers it to the
 * other node's session-event stream (no socket, no Noise), and one channel opened between them
 * (Alice funds it with a made-up funding transaction). What the channel and payment benches run,
 * built here so that tests do not depend on bench code.
 *
 * For counts that must not depend on timing, run it on a `SimRuntime` (src/sim/Runtime.ts): every
 * fiber runs when the test pumps the scheduler, time moves only when nothing is runnable, and
 * nothing goes through `setImmediate` or timers. Counters (`PairCounters`) see every store write
 * and every `commitment_signed` sent.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Layer, Queue, Result, type Scope, Stream } from "effect"
import { ChannelManager, type ChannelManagerShape, make as makeChannelManager, type NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import { declareSessionEventSink, type PeerInfo, PeerNotConnected, PeerSessionEvent, type SessionEventSink, SessionId } from "../../src/actors/PeerEvent.ts"
import { declareSendNow, PeerManager, type PeerManagerShape } from "../../src/actors/PeerManager.ts"
import { make as makePayments, type PaymentsShape } from "../../src/actors/Payments.ts"
import { nodeIdFromHex } from "../../src/api/convert.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import { makeNodeSigner } from "../../src/layers/InMemoryNodeSigner.ts"
import { makeMemoryPersister } from "../../src/layers/persister/MemoryPersister.ts"
import { makeReplicatedPersister } from "../../src/layers/persister/ReplicatedPersister.ts"
import { makeStoreReplica } from "../../src/layers/persister/StoreReplica.ts"
import { DefaultRouter } from "../../src/layers/router/DefaultRouter.ts"
import { makeSeedChannelSigner } from "../../src/layers/signer/SeedChannelSigner.ts"
import { makeMemoryStore } from "../../src/layers/store/MemoryStore.ts"
import { makeSeededEntropy } from "../../src/layers/test/SeededEntropy.ts"
import { compareBytes, toHex } from "../../src/protocol/bytes.ts"
import { defaultChannelPolicy, defaultLocalChannelConfig } from "../../src/protocol/channel/config.ts"
import type { ChannelState } from "../../src/protocol/channel/state.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import type { Secp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { type FeatureName, featureInfo, featuresToBytes } from "../../src/protocol/features.ts"
import { type LightningMessage, LightningMessages } from "../../src/protocol/messages/index.ts"
import { defaultForwardingPolicy } from "../../src/protocol/payment/forward.ts"
import { buildRoutingGraph, type DirectionPolicy } from "../../src/protocol/routing/graph.ts"
import { p2wpkhScript } from "../../src/protocol/tx/bitcoin/script.ts"
import { makeInput, setWitness, txidFromBytes } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, type NodeId, sat } from "../../src/protocol/units.ts"
import { ChannelSigner, type ChannelSignerShape } from "../../src/services/ChannelSigner.ts"
import { Entropy } from "../../src/services/Entropy.ts"
import { MonitorPersister } from "../../src/services/MonitorPersister.ts"
import { NodeSigner } from "../../src/services/NodeSigner.ts"
import { RouterGraph } from "../../src/services/Router.ts"
import { Scorer } from "../../src/services/Scorer.ts"
import { Store, type StoreShape } from "../../src/services/Store.ts"

/** 5 BTC (option_support_large_channel): room for thousands of HTLCs one way. */
export const FUNDING_SAT = 500_000_000n
/** 10,000 sat: above the dust limits, every HTLC has its output and its signature. */
export const HTLC_MSAT = 10_000_000n

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const bytes32 = (label: string): Uint8Array => sha256(enc(label))

const features: ReadonlySet<FeatureName> = new Set<FeatureName>([
  "option_data_loss_protect",
  "option_static_remotekey",
  "option_upfront_shutdown_script",
  "option_shutdown_anysegwit",
  "option_channel_type",
  "option_anchors",
  "option_support_large_channel",
  "var_onion_optin",
  "payment_secret",
  "basic_mpp"
])
const featureBitList: ReadonlyArray<number> = [...features].map((f) => featureInfo(f).oddBit)
const featureBytes = featuresToBytes(new Set(featureBitList))
const SESSION = SessionId(1)

/** What the pair counts: `Store.write` calls of the channel persister's stores, `commitment_signed` sent and the HTLC signatures in them (both nodes). */
export interface PairCounters {
  storeWrites: number
  commitmentSigned: number
  htlcSignatures: number
  /** Session events handed to a manager's sink (`PairWire.sink`). */
  sinkEvents: number
}

interface Node {
  readonly name: string
  readonly secret: Uint8Array
  readonly nodeId: NodeId
  readonly inbox: Queue.Queue<PeerSessionEvent>
  peer: Node | undefined
  /** The manager's consumer, once attached (`declareSessionEventSink`): its events go there, not to `inbox`. */
  sink: SessionEventSink | undefined
}

/**
 * A wire that delivers each message in a step of its own (`later`: e.g. an event of the simulated
 * runtime at the current time, run once no fiber is runnable), as a simulated network does; with
 * `sink`, to the manager's sink (`declareSessionEventSink`) rather than through its stream.
 */
export interface PairWire {
  readonly later: (run: () => void) => void
  readonly sink: boolean
}

/** `event` to `node`'s manager: to its sink once attached, else into its inbox. */
const handOver = (node: Node, event: PeerSessionEvent, counters: PairCounters): void => {
  if (node.sink === undefined) Queue.offerUnsafe(node.inbox, event)
  else {
    counters.sinkEvents += 1
    node.sink(event)
  }
}

const peerInfoOf = (peer: Node, direction: "inbound" | "outbound"): PeerInfo => ({
  session: SESSION,
  nodeId: peer.nodeId,
  address: { host: peer.name, port: 9735 },
  direction,
  localFeatures: featureBytes,
  remoteFeatures: featureBytes,
  negotiatedFeatures: featureBitList,
  remoteNetworks: undefined
})

/**
 * The peer layer: each message through the wire codec to the other node's session stream, counted.
 * With `sendNow`, it declares the same send done at once (as the registry does), else only `send`.
 * With `later`, each message is delivered in a step of its own (`later(run)`: an event of the
 * simulated runtime), not in the sender's call; with `sink` too, it is handed to the manager's sink
 * then (`declareSessionEventSink`: the queued ones when it attaches), not through its stream.
 */
const directWire = (node: Node, counters: PairCounters, sendNow: boolean, wire: PairWire | undefined): PeerManagerShape => {
  /** `event` to the other node: now, or in a step of its own. */
  const toPeer = (to: Node, event: PeerSessionEvent): void => {
    if (wire === undefined) Queue.offerUnsafe(to.inbox, event)
    else wire.later(() => handOver(to, event, counters))
  }
  const notUsed = (what: string) => Effect.die(new Error(`test peer layer: ${what} is not used`))
  const deliver = (session: SessionId, message: LightningMessage): PeerSessionEvent | undefined => {
    if (message._tag === "CommitmentSigned") {
      counters.commitmentSigned += 1
      counters.htlcSignatures += message.htlcSignatures.length
    }
    const bytes = LightningMessages.encode(message)
    if (Result.isFailure(bytes)) throw new Error(`${message._tag} does not encode`)
    const decoded = LightningMessages.decode(bytes.success)
    if (Result.isFailure(decoded) || decoded.success._tag === "UnknownMessage") throw new Error(`${message._tag} does not decode`)
    return node.peer === undefined ? undefined : PeerSessionEvent.Message({ session, nodeId: node.nodeId, message: decoded.success })
  }
  const shape: PeerManagerShape = {
    nodeId: node.nodeId,
    features: featureBytes,
    listenAddress: undefined,
    connect: () => notUsed("connect"),
    peers: Effect.sync(() => (node.peer === undefined ? [] : [peerInfoOf(node.peer, "outbound")])),
    peer: (nodeId) =>
      Effect.suspend(() =>
        node.peer !== undefined && toHex(node.peer.nodeId) === toHex(nodeId)
          ? Effect.succeed(peerInfoOf(node.peer, "outbound"))
          : Effect.fail(new PeerNotConnected({ nodeId }))
      ),
    disconnect: () => notUsed("disconnect"),
    send: (session, message) =>
      Effect.suspend(() => {
        const event = deliver(session, message)
        const to = node.peer
        if (event === undefined || to === undefined) return Effect.void
        if (wire === undefined) return Effect.asVoid(Queue.offer(to.inbox, event))
        toPeer(to, event)
        return Effect.void
      }),
    sendBytes: () => notUsed("sendBytes"),
    sessionEvents: Stream.fromQueue(node.inbox),
    events: Stream.empty,
    subscribe: Effect.succeed(Stream.empty)
  }
  if (wire?.sink === true) {
    declareSessionEventSink(shape, (consumer) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          for (let queued = Queue.takeUnsafe(node.inbox); queued !== undefined && queued._tag === "Success"; queued = Queue.takeUnsafe(node.inbox)) consumer(queued.value)
          node.sink = consumer
        }),
        () =>
          Effect.sync(() => {
            node.sink = undefined
          })
      ))
  }
  if (!sendNow) return shape
  return declareSendNow(shape, (session, message) => {
    const event = deliver(session, message)
    if (event !== undefined && node.peer !== undefined) toPeer(node.peer, event)
    return undefined
  })
}

/** `store` with its `write` calls counted. */
const countedStore = (store: StoreShape, counters: PairCounters): StoreShape => ({
  ...store,
  write: (ops) =>
    Effect.suspend(() => {
      counters.storeWrites += 1
      return store.write(ops)
    })
})

/**
 * Where a node's channels persist: "store" is the node's local persister (`makeReplicatedPersister`
 * over the one store replica, JSON of every write, as `ReplicatedPersister.layerLocal` builds it)
 * over an in-memory store whose writes are counted; "memory" the in-memory persister (immediate).
 */
export type PairStorage = "store" | "memory"

export interface PairNode {
  readonly name: string
  readonly nodeId: NodeId
  readonly manager: ChannelManagerShape
  /** With `payments`: the node's payment layer (its records in an in-memory store of its own, not counted). */
  readonly payments: PaymentsShape | undefined
  /** Every event its manager published, in order. */
  readonly events: Array<NodeChannelEvent>
}

export interface Pair {
  readonly alice: PairNode
  readonly bob: PairNode
  readonly channelId: ChannelId
  readonly counters: PairCounters
}

const graphPolicy: DirectionPolicy = {
  feeBaseMsat: defaultForwardingPolicy.feeBaseMsat,
  feeProportionalMillionths: defaultForwardingPolicy.feeProportionalMillionths,
  cltvExpiryDelta: defaultForwardingPolicy.cltvExpiryDelta,
  htlcMinimumMsat: defaultForwardingPolicy.htlcMinimumMsat,
  htlcMaximumMsat: defaultForwardingPolicy.htlcMaximumMsat,
  enabled: true
}

const SCID = shortChannelIdFromParts(800_000, 1, 0)

/** Polls (scheduler turns, no clock; or `pause` between polls) until `pick` finds an event of `node`. */
export const awaitEvent = <A>(node: PairNode, pick: (e: NodeChannelEvent) => A | undefined, what: string, pause: Effect.Effect<void> = Effect.yieldNow): Effect.Effect<A> =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000_000; i++) {
      for (const e of node.events) {
        const found = pick(e)
        if (found !== undefined) return found
      }
      yield* pause
    }
    return yield* Effect.die(new Error(`${node.name} never saw ${what}`))
  })

/**
 * Alice and Bob with their managers (and, with `payments`, their payment layers routing over the
 * one channel), connected, and a channel of `FUNDING_SAT` from Alice to Bob, ready on both sides.
 */
export const makePair = (options: {
  readonly storage: PairStorage
  readonly payments?: boolean
  readonly secp?: Secp256k1
  /** The wire declares its send at once (`declareSendNow`, as the registry): the channels send with no effect. */
  readonly sendNow?: boolean
  /** The signer is the seed signer itself, which declares its answers at once (`declareChannelSignerNow`): the channels sign with no effect. Else a wrapper: through effects. */
  readonly signerNow?: boolean
  /** Each message delivered in a step of its own, to the manager's stream or sink (`PairWire`). Else in the sender's call, to its stream. */
  readonly wire?: PairWire
}): Effect.Effect<Pair, never, Scope.Scope> =>
  Effect.gen(function*() {
    const secp = options.secp ?? wasmSecp256k1
    const counters: PairCounters = { storeWrites: 0, commitmentSigned: 0, htlcSignatures: 0, sinkEvents: 0 }
    // A wire that delivers in steps of their own: a poll waits for the next step (simulated time does not move).
    const pause = options.wire === undefined ? Effect.yieldNow : Effect.sleep(0)
    // The seed signer declares its answers at once; a wrapper spreading its fields does not (the channels then sign through effects).
    const signerFor = (signer: ChannelSignerShape): ChannelSignerShape => (options.signerNow === true ? signer : { ...signer })
    const mkNode = (name: string) =>
      Effect.gen(function*() {
        const secret = bytes32(`${name}/node`)
        const key = secp.publicKey(secret)
        if (key === undefined) return yield* Effect.die(new Error("unreachable: a valid node secret"))
        const node: Node = { name, secret, nodeId: nodeIdFromHex(toHex(key)), inbox: yield* Queue.unbounded<PeerSessionEvent>(), peer: undefined, sink: undefined }
        return node
      })
    const a = yield* mkNode("alice")
    const b = yield* mkNode("bob")
    a.peer = b
    b.peer = a
    const [node1, node2] = compareBytes(a.nodeId, b.nodeId) < 0 ? [a.nodeId, b.nodeId] : [b.nodeId, a.nodeId]
    const graph = buildRoutingGraph([{ shortChannelId: SCID, node1, node2, capacityMsat: FUNDING_SAT * 1000n, oneToTwo: graphPolicy, twoToOne: graphPolicy }])
    const start = (node: Node) =>
      Effect.gen(function*() {
        const persister =
          options.storage === "memory"
            ? (yield* makeMemoryPersister({ mode: "immediate" })).persister
            : yield* makeReplicatedPersister({ replicas: [makeStoreReplica(countedStore(makeMemoryStore().store, counters))], quorum: 1 }).pipe(Effect.orDie)
        const manager = yield* makeChannelManager({
          secp,
          shutdownScript: p2wpkhScript(bytes32(`${node.name}/payout`).slice(0, 20)),
          channelConfig: { ...defaultLocalChannelConfig, maxAcceptedHtlcs: 483 },
          policy: { ...defaultChannelPolicy, acceptLargeChannels: true, maxFunding: sat(FUNDING_SAT) },
          feerateEstimatePerKw: 2500,
          maxDustHtlcExposure: msat(50_000_000n)
        }).pipe(
          Effect.provideService(PeerManager, directWire(node, counters, options.sendNow === true, options.wire)),
          Effect.provideService(ChannelSigner, signerFor(makeSeedChannelSigner(bytes32(`${node.name}/seed`), secp))),
          Effect.provideService(MonitorPersister, persister),
          Effect.provideService(Entropy, makeSeededEntropy(`${node.name}/channels`)),
          Effect.orDie
        )
        const payments = options.payments !== true ? undefined : yield* makePayments({ secp, blockHeight: Effect.succeed(800_000) }).pipe(
          Effect.provide(Layer.mergeAll(
            Layer.succeed(ChannelManager, manager),
            Layer.succeed(NodeSigner, makeNodeSigner(node.secret, secp)),
            Layer.succeed(Entropy, makeSeededEntropy(`${node.name}/payments`)),
            Layer.succeed(Store, makeMemoryStore().store),
            DefaultRouter.layer.pipe(Layer.provide(Layer.merge(Layer.succeed(RouterGraph, RouterGraph.of({ current: Effect.succeed(graph) })), Scorer.layerFeesOnly)))
          ))
        )
        const events: Array<NodeChannelEvent> = []
        yield* Effect.forkScoped(Stream.runForEach(yield* manager.subscribe, (e) => Effect.sync(() => void events.push(e))))
        const started: PairNode = { name: node.name, nodeId: node.nodeId, manager, payments, events }
        return started
      })
    const alice = yield* start(a)
    const bob = yield* start(b)
    for (const [to, from, direction] of [[a, b, "outbound"], [b, a, "inbound"]] as const) {
      const connected = PeerSessionEvent.Connected({ session: SESSION, peer: peerInfoOf(from, direction) })
      if (to.sink === undefined) yield* Queue.offer(to.inbox, connected)
      else handOver(to, connected, counters)
    }
    const temporary = yield* alice.manager
      .openChannel(bob.nodeId, sat(FUNDING_SAT), { channelType: { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false }, feeratePerKw: 2500 })
      .pipe(Effect.orDie)
    const needed = yield* awaitEvent(alice, (e) => (e.event._tag === "FundingNeeded" ? e.event : undefined), "FundingNeeded", pause)
    const tx = setWitness(
      {
        version: 2,
        inputs: [makeInput({ txid: txidFromBytes(bytes32("funding utxo")), vout: 0 }, 0xfffffffd)],
        outputs: [{ value: needed.amount, scriptPubKey: needed.scriptPubKey }],
        locktime: 0
      },
      0,
      [new Uint8Array(72), new Uint8Array(33)]
    )
    yield* alice.manager.fundChannel(temporary, tx).pipe(Effect.orDie)
    const channelId = yield* awaitEvent(alice, (e) => (e.event._tag === "ChannelPending" ? e.event.channelId : undefined), "ChannelPending", pause)
    yield* awaitEvent(bob, (e) => (e.event._tag === "ChannelPending" ? true : undefined), "ChannelPending", pause)
    for (const n of [alice, bob]) {
      yield* n.manager.chainFact(channelId, { _tag: "FundingDepth", depth: defaultLocalChannelConfig.minimumDepth, shortChannelId: SCID }).pipe(Effect.orDie)
    }
    yield* awaitEvent(alice, (e) => (e.event._tag === "ChannelReady" ? true : undefined), "ChannelReady", pause)
    yield* awaitEvent(bob, (e) => (e.event._tag === "ChannelReady" ? true : undefined), "ChannelReady", pause)
    return { alice, bob, channelId, counters }
  })

/** A channel with nothing proposed, signed-but-unrevoked or owed, and `htlcs` HTLCs committed on both sides. */
export const isQuiet = (s: ChannelState, htlcs: number): boolean => {
  if (s._tag !== "Normal") return false
  const c = s.commitments
  return (
    c.localChanges.proposed.length === 0 &&
    c.localChanges.signed.length === 0 &&
    c.localChanges.acked.length === 0 &&
    c.remoteChanges.proposed.length === 0 &&
    c.remoteChanges.acked.length === 0 &&
    c.remoteChanges.signed.length === 0 &&
    c.remoteNextCommitInfo._tag === "NextPoint" &&
    c.owedRevocation === null &&
    c.localCommit.spec.htlcs.length === htlcs &&
    c.remoteCommit.spec.htlcs.length === htlcs
  )
}
