/**
 * A deterministic many-node channel harness: N of our nodes in one process, each running its
 * channels as `Channel` actors over the pure reducer (`step`), connected through a network the
 * test drives message by message.
 *
 * What a test controls:
 * - the network, per link (ordered pair of nodes): deliver the next message, deliver all, hold a
 *   link, choose which link goes next (cross-link reordering), drop the next message, reorder a
 *   link's queue (adversarial: one connection is FIFO, so this breaks the protocol on purpose),
 *   disconnect and reconnect (fresh sessions on both sides; what was in flight is lost);
 * - persistence, per node: complete at once, or hold every write `InProgress` and complete them
 *   later: all, one, or with completions reversed (manager backend: D's persister keeps each
 *   channel's writes durable in order; sim backend: writes land in any order and after a crash
 *   only the contiguous prefix of a channel's landed writes is kept);
 * - crashes: a node crashes at its k-th persist call, before or after the write lands (the
 *   actor freezes there, nothing more leaves the node, then its scope is closed); `restart`
 *   builds a new node over the same store (channel states, update logs, signer states);
 * - the chain: funding depth facts (`setDepth`), and funding transactions built from the
 *   `FundingNeeded` event (a made-up segwit input, like test/interop/ldk/fundingTx.ts but
 *   deterministic).
 *
 * Two backends run the same tests. "manager" (default): each node is H's `ChannelManager`
 * (src/actors/ChannelManager.ts) over a fake `PeerManager` (the harness feeds its
 * `sessionEvents` and captures its `send(session, message)` per link), D's in-memory
 * `MonitorPersister` (src/layers/persister/MemoryPersister.ts: its data survives a crash, its
 * knobs hold/release writes), the seeded `SeedChannelSigner` and seeded `Entropy`; chain facts
 * go in through `chainFact`, events and chain requests come out of `subscribe`. "sim": the
 * harness's own minimal routing (`SimNode`: open/accept, routing by channel id, reconnection,
 * restore from its own store) over the same `Channel` actor and `step`, which isolates the
 * reducer and the actor from the manager when a test fails on one backend only.
 *
 * Checks the harness makes on its own (collected in `violations`): every message a node puts on
 * the wire is covered by what its store holds at that moment (the monitor is never behind what
 * the peer was sent: `commitment_signed` N => counterparty commitment N durable; the secret of
 * commitment N => holder commitment N + 1 durable; `update_fulfill_htlc` => its preimage durable;
 * `funding_signed` and the funding broadcast => `Opened` durable).
 *
 * Determinism: every byte comes from seeds (node keys, channel key ids, temporary ids, funding
 * inputs); nothing moves on the network unless the test says so; `quiesce` runs every node until
 * nothing is left to do. Same seed and same calls, same run.
 */
import { pendingEvents } from "../../../src/protocol/channel/pending.ts"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Exit, Layer, Queue, Result, Scope, Stream } from "effect"
import {
  type ChannelCore,
  type ChannelHandle,
  type ChannelPorts,
  type ChannelSnapshot,
  makeChannel,
  type StepReport
} from "../../../src/actors/Channel.ts"
import { type PeerInfo, PeerNotConnected, PeerSessionEvent, SessionId, StaleSession } from "../../../src/actors/PeerEvent.ts"
import { PeerManager, type PeerManagerShape } from "../../../src/actors/PeerManager.ts"
import { make as makeChannelManager, type ChannelManagerShape } from "../../../src/actors/ChannelManager.ts"
import { makeMemoryPersister, makeMemoryPersisterData, type MemoryPersisterControl, type MemoryPersisterData } from "../../../src/layers/persister/MemoryPersister.ts"
import { ChannelSigner } from "../../../src/services/ChannelSigner.ts"
import { Entropy } from "../../../src/services/Entropy.ts"
import { MonitorPersister, type MonitorPersisterShape } from "../../../src/services/MonitorPersister.ts"
import { FEATURES } from "../../../src/protocol/features.ts"
import { makeSeededEntropy } from "../../../src/layers/test/SeededEntropy.ts"
import { secretFromSeed } from "../../../src/layers/test/SeededNodeSigner.ts"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import { equalBytes, fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { hasChangesToSign, mirrorSpec, type CommitmentSpec } from "../../../src/protocol/channel/commitments.ts"
import { defaultChannelPolicy, defaultLocalChannelConfig, type ChannelPolicy, type LocalChannelConfig } from "../../../src/protocol/channel/config.ts"
import type { ChannelEvent, ChannelInput, ChannelOutput, SignerRequest } from "../../../src/protocol/channel/io.ts"
import { signerChannelParameters, type NegotiatedChannelType } from "../../../src/protocol/channel/open.ts"
import { channelView } from "../../../src/protocol/channel/params.ts"
import { channelIdOf, type ChannelState, paramsOf } from "../../../src/protocol/channel/state.ts"
import { acceptChannel, openChannel, step, type StepContext } from "../../../src/protocol/channel/step.ts"
import { shortChannelIdFromParts, type ShortChannelId } from "../../../src/protocol/codec/fields.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import type { FeatureName } from "../../../src/protocol/features.ts"
import type { ChannelMessage } from "../../../src/protocol/messages/channel.ts"
import { makeError } from "../../../src/protocol/messages/error.ts"
import { type LightningMessage } from "../../../src/protocol/messages/index.ts"
import { ChainHashes } from "../../../src/protocol/messages/init.ts"
import { replay, replayFrom } from "../../../src/protocol/monitor/apply.ts"
import type { MonitorState } from "../../../src/protocol/monitor/state.ts"
import type { MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import { p2wpkhScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { serializeTransaction, txid as computeTxid, txidFromBytes, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { buildCommitmentForSide } from "../../../src/protocol/tx/view.ts"
import { msat, sat, type ChannelId, type Msat, type NodeId, type Sat } from "../../../src/protocol/units.ts"
import { channelKeyId, type ChannelKeyId, type ChannelSignerShape, type SignerChannelState } from "../../../src/services/ChannelSigner.ts"
import type { PersistStatus } from "../../../src/services/MonitorPersister.ts"

export const secp: Secp256k1 = wasmSecp256k1

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const bytes32 = (label: string): Uint8Array => sha256(text(label))

/** Channel ids as map keys. */
export const key = (id: Uint8Array): string => toHex(id)

const isChannelId = (b: Uint8Array): b is ChannelId => b.length === 32
export const asChannelId = (b: Uint8Array): ChannelId => {
  if (!isChannelId(b)) throw new RangeError("a channel id is 32 bytes")
  return b
}
const isNodeId = (b: Uint8Array): b is NodeId => b.length === 33
const asNodeId = (b: Uint8Array): NodeId => {
  if (!isNodeId(b)) throw new RangeError("a node id is 33 bytes")
  return b
}

/** The preimage the harness uses for payment number `n` of a run seeded `seed` (and its hash). */
export const preimageFor = (seed: string, n: number): Uint8Array => bytes32(`${seed}/preimage/${n}`)
export const paymentHashOf = (preimage: Uint8Array): Uint8Array => sha256(preimage)
export const emptyOnion = new Uint8Array(1366)

/** Features both nodes use on every connection (what `init` would have negotiated). */
export const simFeatures: ReadonlySet<FeatureName> = new Set<FeatureName>([
  "option_data_loss_protect",
  "option_static_remotekey",
  "option_anchors",
  "option_channel_type",
  "option_shutdown_anysegwit",
  "var_onion_optin",
  "payment_secret"
])

// ---- the wire ----------------------------------------------------------------------------------------

/** A message on its way over one link. */
export interface InFlight {
  /** Global send order (for logs). */
  readonly seq: number
  readonly from: number
  readonly to: number
  /** The sender's session (the receiver gets it on its own session of the same connection). */
  readonly connection: number
  readonly message: LightningMessage
}

/** One connection between two nodes: each side's session, and whether it is up. */
interface Connection {
  readonly id: number
  readonly a: number
  readonly b: number
  readonly sessionA: SessionId
  readonly sessionB: SessionId
  up: boolean
}

interface Link {
  readonly queue: Array<InFlight>
  held: boolean
}

// ---- the store -------------------------------------------------------------------------------------

/** One write: an update, the channel state after its step, the signer's state then. */
export interface Write {
  readonly update: MonitorUpdate
  readonly state: ChannelState
  readonly signerState: SignerChannelState | undefined
  readonly keyId: ChannelKeyId
}

/** A channel's record in a node's store. */
export interface ChannelRecord {
  /** Landed writes, in update id order (a contiguous prefix from 0). */
  readonly durable: Array<Write>
  /** Landed out of order, above the prefix (lost in a crash). */
  readonly ahead: Map<bigint, Write>
  /** Handed to the persister, not landed yet (lost in a crash). */
  readonly inFlight: Map<bigint, Write>
}

export interface PendingCompletion {
  readonly channel: string
  readonly updateId: bigint
}

/** What survives a crash: the landed writes. Plus the persistence knobs of the node. */
export class NodeStore {
  readonly channels = new Map<string, ChannelRecord>()
  /** "Completed": writes land at once. "InProgress": they wait for `completeWrites`. */
  mode: PersistStatus = "Completed"
  /** Writes waiting, in the order they were issued. */
  readonly pending: Array<PendingCompletion> = []
  /** Persist calls so far (all channels of the node), for crash points. */
  persistCalls = 0

  record(channel: string): ChannelRecord {
    let r = this.channels.get(channel)
    if (r === undefined) {
      r = { durable: [], ahead: new Map(), inFlight: new Map() }
      this.channels.set(channel, r)
    }
    return r
  }

  /** Lands a write (the prefix grows over what landed ahead). */
  land(channel: string, write: Write): void {
    const r = this.record(channel)
    r.inFlight.delete(write.update.updateId)
    r.ahead.set(write.update.updateId, write)
    for (;;) {
      const next = r.ahead.get(BigInt(r.durable.length))
      if (next === undefined) break
      r.ahead.delete(next.update.updateId)
      r.durable.push(next)
    }
  }

  /** The crash: what had not landed contiguously is gone. */
  crash(): void {
    for (const r of this.channels.values()) {
      r.ahead.clear()
      r.inFlight.clear()
    }
    this.pending.length = 0
  }

  /** The monitor state from the landed prefix (undefined before `Opened`). */
  monitor(channel: string): MonitorState | undefined {
    const r = this.channels.get(channel)
    if (r === undefined || r.durable.length === 0) return undefined
    const m = replay(secp, r.durable.map((w) => w.update))
    if (Result.isFailure(m)) throw new Error(`stored updates of ${channel.slice(0, 8)} do not replay: ${m.failure._tag}`)
    return m.success
  }
}

// ---- the node --------------------------------------------------------------------------------------

export interface NodeEvent {
  readonly peer: number
  readonly event: ChannelEvent
}

/** Where a crash happens: at the node's `persistCall`-th persist (1-based, counted from the last restart). */
export interface CrashPoint {
  readonly persistCall: number
  /** "before": the write is lost; "after": it landed (and completed), the node dies before going on. */
  readonly when: "before" | "after"
}

interface ChannelEntry {
  readonly handle: ChannelHandle<ChannelState>
  readonly peer: number
  readonly keyId: ChannelKeyId
  /** The id it is routed by now. */
  id: string
}

export interface SimNodeConfig {
  readonly config: LocalChannelConfig
  readonly policy: ChannelPolicy
  readonly feerateEstimatePerKw: number
  readonly maxDustHtlcExposure: Msat
}

export const defaultSimNodeConfig: SimNodeConfig = {
  config: { ...defaultLocalChannelConfig, minimumDepth: 3 },
  policy: defaultChannelPolicy,
  feerateEstimatePerKw: 2_500,
  maxDustHtlcExposure: msat(5_000_000_000n)
}

/** The fake `PeerManager` of one node instance: the harness feeds `sessionEvents` and takes `send`s. */
interface FakePeers {
  readonly shape: PeerManagerShape
  readonly inbox: Queue.Queue<PeerSessionEvent>
  offered: number
  handled: number
}

/**
 * One node instance (a restart makes a new one over the same store): the stand-in for the
 * `ChannelManager`. Channels run as `Channel` actors in the instance's scope.
 */
export class SimNode {
  readonly channels = new Map<string, ChannelEntry>()
  /** The live session with each peer (by node index). */
  readonly sessions = new Map<number, SessionId>()
  crashed = false
  /** Its kill started (`crash`). */
  killed = false
  /** Its kill finished: the scope is closed. */
  dead = false
  readonly index: number
  readonly incarnation: number
  readonly scope: Scope.Closeable
  readonly peers: FakePeers
  readonly signer: ChannelSignerShape
  readonly entropy: { readonly next: (n: number) => Uint8Array }
  readonly ctx: StepContext
  crashAt: CrashPoint | undefined
  /** Manager backend: H's ChannelManager and D's persister control for this incarnation. */
  manager: ChannelManagerShape | undefined
  control: MemoryPersisterControl | undefined
  constructor(fields: {
    readonly index: number
    readonly incarnation: number
    readonly scope: Scope.Closeable
    readonly peers: FakePeers
    readonly signer: ChannelSignerShape
    readonly entropy: { readonly next: (n: number) => Uint8Array }
    readonly ctx: StepContext
    readonly crashAt: CrashPoint | undefined
  }) {
    this.index = fields.index
    this.incarnation = fields.incarnation
    this.scope = fields.scope
    this.peers = fields.peers
    this.signer = fields.signer
    this.entropy = fields.entropy
    this.ctx = fields.ctx
    this.crashAt = fields.crashAt
    this.manager = undefined
    this.control = undefined
  }
}

/**
 * "manager": each node is H's `ChannelManager` over D's in-memory `MonitorPersister` (kept
 * across crashes), the seeded signer and entropy, and the fake `PeerManager`.
 * "sim": the harness's own minimal manager (`SimNode` routing) over the `Channel` actor.
 */
export type Backend = "manager" | "sim"

export interface HarnessOptions {
  readonly seed: string
  readonly nodes: number
  readonly backend?: Backend
  readonly node?: Partial<SimNodeConfig>
}

export interface OpenOptions {
  readonly fundingSat?: bigint
  readonly pushMsat?: bigint
  readonly feeratePerKw?: number
  readonly channelType?: NegotiatedChannelType
}

const keyIdOf = (s: ChannelState): Uint8Array | undefined => {
  switch (s._tag) {
    case "WaitAcceptChannel":
      return s.open.keyId
    case "WaitFundingTx":
      return s.negotiated.keyId
    case "WaitFundingSigned":
      return s.funded.params.keyId
    case "WaitFundingCreated":
      return s.received?.funded.params.keyId ?? s.negotiated.keyId
    case "WaitChannelReady":
    case "Closing":
    case "WaitRemoteClose":
      return s.params.keyId
    case "Normal":
    case "Negotiating":
      return s.commitments.params.keyId
    case "Closed":
    case "Failed":
      return undefined
  }
}

export { paramsOf }

const awaitingOf = (s: ChannelState): SignerRequest | undefined =>
  "awaiting" in s && s.awaiting !== undefined ? s.awaiting.request : undefined

const channelIdOfMessage = (m: ChannelMessage): Uint8Array => {
  switch (m._tag) {
    case "OpenChannel":
    case "AcceptChannel":
    case "FundingCreated":
      return m.temporaryChannelId
    default:
      return m.channelId
  }
}

const CHANNEL_MESSAGE_TAGS: ReadonlySet<string> = new Set([
  "OpenChannel",
  "AcceptChannel",
  "FundingCreated",
  "FundingSigned",
  "ChannelReady",
  "Stfu",
  "Shutdown",
  "ClosingSigned",
  "ClosingComplete",
  "ClosingSig",
  "UpdateAddHtlc",
  "UpdateFulfillHtlc",
  "UpdateFailHtlc",
  "UpdateFailMalformedHtlc",
  "CommitmentSigned",
  "RevokeAndAck",
  "UpdateFee",
  "ChannelReestablish"
])
const isChannelMessage = (m: LightningMessage): m is ChannelMessage => CHANNEL_MESSAGE_TAGS.has(m._tag)

const ZERO_ID = new Uint8Array(32)

/** A monitor-vs-wire check that failed: what was sent and what the store lacked. */
export interface Violation {
  readonly node: number
  readonly message: string
  readonly detail: string
}

// ---- the harness -----------------------------------------------------------------------------------

export class Harness {
  readonly seed: string
  readonly size: number
  readonly nodeConfig: SimNodeConfig
  readonly root: Scope.Closeable
  readonly stores: Array<NodeStore>
  readonly backend: Backend
  /** Manager backend: each node's durable persister data (survives crashes). */
  readonly persisterData: Array<MemoryPersisterData>
  /** Persist calls per node since its last (re)start or `armCrash`. */
  readonly persistCalls: Array<number>
  readonly nodeIds: Array<NodeId>
  readonly nodes: Array<SimNode | undefined>
  /** Every event each node emitted, over all its incarnations. */
  readonly events: Array<Array<NodeEvent>>
  /** Chain requests (broadcasts, watches) per node. */
  readonly chain: Array<Array<Extract<ChannelOutput, { readonly _tag: "Broadcast" | "WatchFunding" }>>>
  /** Every message put on the wire, in order. */
  readonly wire: Array<InFlight> = []
  readonly violations: Array<Violation> = []
  /** Log lines (deliveries, drops, disconnects...), for debugging a failing run. */
  readonly log: Array<string> = []
  private readonly links = new Map<string, Link>()
  private readonly connections = new Map<string, Connection>()
  private readonly sessionOwner = new Map<number, { readonly connection: Connection; readonly node: number }>()
  private sessionCounter = 0
  private connectionCounter = 0
  private seq = 0
  private fundingCounter = 0
  private scidCounter = 0
  /** The chain: each funding output's depth and short channel id (reported again to restarted nodes). */
  readonly depths = new Map<string, { readonly depth: number; readonly scid: ShortChannelId }>()
  /** Per (node, channel): commitment_signed signatures and revealed secrets seen on the wire, in order. */
  private readonly sentCommits = new Map<string, Array<string>>()
  private readonly sentSecrets = new Map<string, Array<string>>()

  private constructor(options: HarnessOptions, root: Scope.Closeable) {
    this.seed = options.seed
    this.size = options.nodes
    this.nodeConfig = { ...defaultSimNodeConfig, ...options.node }
    this.root = root
    this.stores = Array.from({ length: options.nodes }, () => new NodeStore())
    this.backend = options.backend ?? "manager"
    this.persisterData = Array.from({ length: options.nodes }, () => makeMemoryPersisterData())
    this.persistCalls = Array.from({ length: options.nodes }, () => 0)
    this.nodeIds = Array.from({ length: options.nodes }, (_, i) => asNodeId(secp.publicKey(secretFromSeed(`${options.seed}/node/${i}`, secp)) ?? new Uint8Array(0)))
    this.nodes = Array.from({ length: options.nodes }, () => undefined)
    this.events = Array.from({ length: options.nodes }, () => [])
    this.chain = Array.from({ length: options.nodes }, () => [])
  }

  /** Starts `nodes` nodes (not connected: see `connect`). Close with `shutdown`. */
  static make(options: HarnessOptions): Effect.Effect<Harness> {
    return Effect.gen(function*() {
      const root = yield* Scope.make()
      const h = new Harness(options, root)
      for (let i = 0; i < options.nodes; i++) yield* h.startNode(i)
      return h
    })
  }

  get shutdown(): Effect.Effect<void> {
    return Scope.close(this.root, Exit.void)
  }

  node(i: number): SimNode {
    const n = this.nodes[i]
    if (n === undefined || n.crashed) throw new Error(`node ${i} is not running`)
    return n
  }

  // ---- nodes ---------------------------------------------------------------------------------

  private startNode(index: number, crashAt?: CrashPoint): Effect.Effect<SimNode> {
    const h = this
    return Effect.gen(function*() {
      const previous = h.nodes[index]
      const incarnation = previous === undefined ? 0 : previous.incarnation + 1
      const scope = yield* Scope.fork(h.root)
      const inbox = yield* Queue.unbounded<PeerSessionEvent>()
      const peers: FakePeers = { inbox, offered: 0, handled: 0, shape: h.fakePeerManager(index, inbox) }
      const signer = makeSeedChannelSigner(bytes32(`${h.seed}/node/${index}/channel-seed`), secp)
      const drbg = makeSeededEntropyDrbg(`${h.seed}/node/${index}/entropy/${incarnation}`)
      const cfg = h.nodeConfig
      const ctx: StepContext = {
        secp,
        config: cfg.config,
        policy: cfg.policy,
        chainHash: ChainHashes.regtest,
        features: simFeatures,
        feerateEstimatePerKw: cfg.feerateEstimatePerKw,
        maxDustHtlcExposure: cfg.maxDustHtlcExposure,
        peerTrustedForZeroConf: false,
        shutdownScript: p2wpkhScript(h.nodeIds[index]!)
      }
      const node = new SimNode({ index, incarnation, scope, peers, signer, entropy: drbg, ctx, crashAt })
      h.nodes[index] = node
      h.persistCalls[index] = 0
      if (h.backend === "manager") {
        yield* h.startManager(node)
        return node
      }
      // Restore every funded channel from the store.
      for (const [id, record] of h.stores[index]!.channels) {
        const last = record.durable[record.durable.length - 1]
        if (last === undefined) continue
        const peer = h.peerOfChannel(index, id)
        if (peer === undefined) continue
        if (last.signerState !== undefined) {
          const restored = yield* Effect.result(signer.restoreChannel(last.keyId, last.signerState))
          if (Result.isFailure(restored)) h.log.push(`node ${index}: signer restore of ${id.slice(0, 8)} refused: ${restored.failure._tag}`)
        }
        const ch = yield* h.spawnChannel(node, peer, last.state, last.keyId, { lastUpdateId: last.update.updateId })
        // What the payment layer may have missed before the crash is reported again (at least once).
        for (const event of pendingEvents(last.state)) h.events[index]!.push({ peer, event })
        // The chain source reports the current depth of a watched funding output again.
        const depth = h.depths.get(id)
        if (depth !== undefined) yield* Effect.ignore(ch.handle.tell({ _tag: "FundingDepth", depth: depth.depth, shortChannelId: depth.scid }))
      }
      // The node's inbound loop (the manager's consumer of `sessionEvents`).
      yield* Stream.runForEach(peers.shape.sessionEvents, (e) => h.onSessionEvent(node, e)).pipe(Effect.forkIn(scope))
      return node
    })
  }

  /** The peer of a stored channel: from the channel state's params... the harness remembers it. */
  private readonly channelPeers = new Map<string, number>()
  private peerOfChannel(node: number, channel: string): number | undefined {
    return this.channelPeers.get(`${node}/${channel}`)
  }

  private fakePeerManager(index: number, inbox: Queue.Queue<PeerSessionEvent>): PeerManagerShape {
    const h = this
    const notUsed = Effect.die(new Error("not used by the channel layer"))
    return {
      nodeId: h.nodeIds[index]!,
      features: new Uint8Array(0),
      listenAddress: undefined,
      connect: () => notUsed,
      peers: Effect.succeed([]),
      peer: (nodeId) =>
        Effect.suspend(() => {
          const them = h.nodeIds.findIndex((id) => equalBytes(id, nodeId))
          const c = them < 0 ? undefined : h.connections.get(h.pairKey(index, them))
          if (c === undefined || !c.up) return Effect.fail(new PeerNotConnected({ nodeId }))
          return Effect.succeed(h.peerInfo(c.a === index ? c.sessionA : c.sessionB, them))
        }),
      disconnect: () => notUsed,
      send: (session, message) =>
        Effect.suspend(() => {
          const owner = h.sessionOwner.get(session)
          const node = h.nodes[index]
          if (owner === undefined || !owner.connection.up || owner.node !== index || node === undefined || node.crashed)
            return Effect.fail(new StaleSession({ session }))
          const c = owner.connection
          const to = c.a === index ? c.b : c.a
          const item: InFlight = { seq: h.seq++, from: index, to, connection: c.id, message }
          h.checkSend(index, message)
          h.wire.push(item)
          h.link(index, to).queue.push(item)
          return Effect.void
        }),
      sendBytes: () => notUsed,
      // Counted when taken (the consumer then handles it before taking the next).
      sessionEvents: Stream.fromQueue(inbox).pipe(Stream.tap(() => Effect.sync(() => void (h.nodes[index]!.peers.handled += 1)))),
      events: Stream.empty,
      subscribe: Effect.succeed(Stream.empty)
    }
  }

  /** Manager backend: H's ChannelManager over the fake peers, D's persister (with a crash-point wrapper), the seeded signer and entropy. */
  private startManager(node: SimNode): Effect.Effect<void> {
    const h = this
    return Effect.gen(function*() {
      const { persister: inner, control } = yield* makeMemoryPersister({
        data: h.persisterData[node.index]!,
        mode: h.stores[node.index]!.mode === "Completed" ? "immediate" : "hold"
      }).pipe(Scope.provide(node.scope))
      node.control = control
      const persister: MonitorPersisterShape = {
        ...inner,
        persist: (channelId, updates, channelState) =>
          Effect.gen(function*() {
            h.persistCalls[node.index] = (h.persistCalls[node.index] ?? 0) + 1
            const call = h.persistCalls[node.index]
            const crash = node.crashAt !== undefined && node.crashAt.persistCall === call ? node.crashAt : undefined
            if (crash === undefined) return yield* inner.persist(channelId, updates, channelState)
            if (crash.when === "after") yield* Effect.ignore(inner.persist(channelId, updates, channelState))
            node.crashed = true
            h.log.push(`node ${node.index}: crashed at persist #${call} (${updates.map((u) => `${u._tag} ${u.updateId}`).join(", ")}, ${crash.when})`)
            yield* control.crash
            yield* Effect.forkIn(h.crash(node.index), h.root)
            return yield* Effect.never
          })
      }
      const services = Layer.mergeAll(
        Layer.succeed(PeerManager, node.peers.shape),
        Layer.succeed(ChannelSigner, node.signer),
        Layer.succeed(MonitorPersister, persister),
        Layer.succeed(Entropy, Entropy.of({ randomBytes: (n) => Effect.sync(() => node.entropy.next(n)) }))
      )
      const manager = yield* makeChannelManager({
        secp,
        shutdownScript: node.ctx.shutdownScript,
        channelConfig: h.nodeConfig.config,
        policy: h.nodeConfig.policy,
        feerateEstimatePerKw: h.nodeConfig.feerateEstimatePerKw,
        maxDustHtlcExposure: h.nodeConfig.maxDustHtlcExposure
      }).pipe(Effect.provide(services), Scope.provide(node.scope), Effect.orDie)
      node.manager = manager
      const events = yield* manager.subscribe.pipe(Scope.provide(node.scope))
      yield* events.pipe(
        Stream.runForEach((e) =>
          Effect.sync(() => {
            const peer = h.nodeIds.findIndex((id) => equalBytes(id, e.nodeId))
            if (e.event._tag === "Broadcast" || e.event._tag === "WatchFunding") {
              if (e.event._tag === "Broadcast" && e.event.label === "funding" && h.durableMonitor(node.index, key(e.channelId)) === undefined)
                h.violations.push({ node: node.index, message: "Broadcast funding", detail: "no Opened update is durable" })
              h.chain[node.index]!.push(e.event)
            } else h.events[node.index]!.push({ peer, event: e.event })
          })
        ),
        Effect.forkIn(node.scope)
      )
      // The chain source reports the depth of every watched funding output again.
      for (const [id, depth] of h.depths)
        yield* Effect.ignore(manager.chainFact(asChannelId(fromHex(id)), { _tag: "FundingDepth", depth: depth.depth, shortChannelId: depth.scid }))
    })
  }

  private spawnChannel(
    node: SimNode,
    peer: number,
    state: ChannelState,
    keyId: ChannelKeyId,
    extra: { readonly initialOutputs?: ReadonlyArray<ChannelOutput>; readonly session?: SessionId; readonly lastUpdateId?: bigint }
  ): Effect.Effect<ChannelEntry> {
    const h = this
    const store = h.stores[node.index]!
    const id = key(channelIdOf(state))
    const entry: { current?: ChannelEntry } = {}
    const core: ChannelCore<ChannelState> = {
      step: (s, input) => step(node.ctx, s, input),
      channelId: (s) => asChannelId(channelIdOf(s)),
      keyId: (s) => {
        const k = keyIdOf(s)
        return k === undefined ? keyId : (channelKeyId(k) ?? keyId)
      },
      signerParameters: (s) => {
        const p = paramsOf(s)
        return p === undefined ? undefined : signerChannelParameters(p)
      },
      awaitingSignature: awaitingOf,
      // Exactly when `SignNow` would sign (the actor reschedules its flush while this holds).
      hasPendingChanges: (s) =>
        s._tag === "Normal" &&
        s.connection === "Connected" &&
        s.awaiting === undefined &&
        s.commitments.remoteNextCommitInfo._tag === "NextPoint" &&
        hasChangesToSign(s.commitments),
      feedCompletions: true
    }
    const ports: ChannelPorts<ChannelState> = {
      persist: (update, s) =>
        Effect.gen(function*() {
          const channel = key(channelIdOf(s))
          h.channelPeers.set(`${node.index}/${channel}`, peer)
          h.persistCalls[node.index] = (h.persistCalls[node.index] ?? 0) + 1
          const signerState = yield* Effect.result(node.signer.channelState(keyId))
          const write: Write = { update, state: s, signerState: Result.isSuccess(signerState) ? signerState.success : undefined, keyId }
          const crash = node.crashAt !== undefined && node.crashAt.persistCall === h.persistCalls[node.index] ? node.crashAt : undefined
          if (crash !== undefined) {
            if (crash.when === "after") store.land(channel, write)
            node.crashed = true
            h.log.push(`node ${node.index}: crashed at persist #${h.persistCalls[node.index]} (${update._tag} ${update.updateId}, ${crash.when})`)
            // The process dies here: killed from outside (a caller waiting on this actor gets ActorStopped).
            yield* Effect.forkIn(h.crash(node.index), h.root)
            return yield* Effect.never
          }
          if (store.mode === "Completed") {
            store.land(channel, write)
            return "Completed" as const
          }
          store.record(channel).inFlight.set(update.updateId, write)
          store.pending.push({ channel, updateId: update.updateId })
          return "InProgress" as const
        }),
      send: (session, message) => Effect.ignore(node.peers.shape.send(session, message)),
      emit: (event) => Effect.sync(() => void h.events[node.index]!.push({ peer, event })),
      chain: (request) =>
        Effect.sync(() => {
          if (request._tag === "Broadcast" && request.label === "funding") {
            const channel = entry.current?.id
            if (channel !== undefined && h.durableMonitor(node.index, channel) === undefined)
              h.violations.push({ node: node.index, message: "Broadcast funding", detail: "no Opened update is durable" })
          }
          h.chain[node.index]!.push(request)
        }),
      rekey: (from, to) =>
        Effect.sync(() => {
          const e = node.channels.get(key(from))
          if (e === undefined) return
          node.channels.delete(key(from))
          e.id = key(to)
          node.channels.set(key(to), e)
          h.channelPeers.set(`${node.index}/${key(to)}`, peer)
        })
    }
    return Effect.gen(function*() {
      const handle = yield* makeChannel({
        name: `node ${node.index}#${node.incarnation} channel ${id.slice(0, 8)}`,
        core,
        ports,
        signer: node.signer,
        state,
        ...(extra.session === undefined ? {} : { session: extra.session }),
        ...(extra.initialOutputs === undefined ? {} : { initialOutputs: extra.initialOutputs }),
        ...(extra.lastUpdateId === undefined ? {} : { lastUpdateId: extra.lastUpdateId })
      }).pipe(Scope.provide(node.scope))
      const e: ChannelEntry = { handle, peer, keyId, id }
      entry.current = e
      node.channels.set(id, e)
      h.channelPeers.set(`${node.index}/${id}`, peer)
      return e
    })
  }

  private newKeyId(node: SimNode): ChannelKeyId {
    const k = channelKeyId(node.entropy.next(32))
    if (k === undefined) throw new Error("unreachable: 32 bytes")
    return k
  }

  private onSessionEvent(node: SimNode, e: PeerSessionEvent): Effect.Effect<void> {
    const h = this
    return Effect.gen(function*() {
      if (node.crashed) return
      const owner = h.sessionOwner.get(e.session)
      if (owner === undefined) return
      const c = owner.connection
      const peer = c.a === node.index ? c.b : c.a
      switch (e._tag) {
        case "Connected": {
          node.sessions.set(peer, e.session)
          for (const ch of node.channels.values())
            if (ch.peer === peer) yield* Effect.ignore(ch.handle.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, e.session))
          return
        }
        case "Disconnected": {
          if (node.sessions.get(peer) === e.session) node.sessions.delete(peer)
          for (const ch of node.channels.values()) if (ch.peer === peer) yield* Effect.ignore(ch.handle.tell({ _tag: "PeerDisconnected" }))
          return
        }
        case "Message": {
          const m = e.message
          if (m._tag === "Error" || m._tag === "Warning") {
            const message = new TextDecoder().decode(m.data)
            const input: ChannelInput = m._tag === "Error" ? { _tag: "PeerError", message } : { _tag: "PeerWarning", message }
            const all = equalBytes(m.channelId, ZERO_ID)
            for (const ch of node.channels.values())
              if (ch.peer === peer && (all || ch.id === key(m.channelId))) yield* Effect.ignore(ch.handle.tell(input))
            return
          }
          if (!isChannelMessage(m)) return
          if (m._tag === "OpenChannel") {
            const keyId = h.newKeyId(node)
            const basepoints = yield* node.signer.channelPublicKeys(keyId)
            const point = yield* Effect.orDie(node.signer.perCommitmentPoint(keyId, 0n))
            const accepted = acceptChannel(node.ctx, m, { keyId, basepoints, firstPerCommitmentPoint: point })
            if (Result.isFailure(accepted)) {
              h.log.push(`node ${node.index}: open_channel refused: ${accepted.failure._tag}`)
              yield* Effect.ignore(node.peers.shape.send(e.session, makeError(accepted.failure._tag, m.temporaryChannelId)))
              return
            }
            yield* h.spawnChannel(node, peer, accepted.success.state, keyId, { initialOutputs: accepted.success.outputs, session: e.session })
            return
          }
          const ch = node.channels.get(key(channelIdOfMessage(m)))
          if (ch === undefined || ch.peer !== peer) {
            h.log.push(`node ${node.index}: ${m._tag} for an unknown channel`)
            return
          }
          yield* Effect.ignore(ch.handle.tell({ _tag: "PeerMessage", message: m }))
          return
        }
      }
    })
  }

  // ---- the wire checks -----------------------------------------------------------------------------

  private checkSend(node: number, m: LightningMessage): void {
    if (!isChannelMessage(m)) return
    const channel = key(channelIdOfMessage(m))
    const store = { monitor: (c: string) => this.durableMonitor(node, c) }
    const fail = (detail: string) => this.violations.push({ node, message: m._tag, detail })
    const track = (map: Map<string, Array<string>>, item: string): number => {
      const k = `${node}/${channel}`
      const seen = map.get(k) ?? []
      map.set(k, seen)
      const i = seen.indexOf(item)
      if (i >= 0) return i
      seen.push(item)
      return seen.length - 1
    }
    switch (m._tag) {
      case "FundingSigned":
        if (store.monitor(channel) === undefined) fail("funding_signed sent before Opened is durable")
        return
      case "CommitmentSigned": {
        // The n-th distinct commitment_signed signs counterparty commitment n + 1.
        const number = BigInt(track(this.sentCommits, key(m.signature)) + 1)
        const mon = store.monitor(channel)
        const have = mon === undefined ? -1n : (mon.counterpartyNext?.commitmentNumber ?? mon.counterpartyCurrent.commitmentNumber)
        if (have < number) fail(`commitment_signed for counterparty commitment ${number}, durable monitor has ${have}`)
        return
      }
      case "RevokeAndAck": {
        // The n-th distinct secret revokes our commitment n: commitment n + 1 must be durable.
        const revoked = BigInt(track(this.sentSecrets, key(m.perCommitmentSecret)))
        const mon = store.monitor(channel)
        const have = mon === undefined ? -1n : mon.holderCommitment.commitmentNumber
        if (have < revoked + 1n) fail(`revoke_and_ack of commitment ${revoked}, durable holder commitment is ${have}`)
        return
      }
      case "UpdateFulfillHtlc": {
        const mon = store.monitor(channel)
        const hash = sha256(m.paymentPreimage)
        if (mon === undefined || !mon.preimages.some((p) => equalBytes(p.paymentHash, hash) && equalBytes(p.preimage, m.paymentPreimage)))
          fail(`update_fulfill_htlc ${m.id} sent before its preimage is durable`)
        return
      }
      default:
        return
    }
  }

  // ---- the network --------------------------------------------------------------------------------

  private link(from: number, to: number): Link {
    const k = `${from}->${to}`
    let l = this.links.get(k)
    if (l === undefined) {
      l = { queue: [], held: false }
      this.links.set(k, l)
    }
    return l
  }

  private pairKey(a: number, b: number): string {
    return a < b ? `${a}-${b}` : `${b}-${a}`
  }

  /** Messages waiting on a link. */
  pending(from: number, to: number): ReadonlyArray<InFlight> {
    return this.link(from, to).queue
  }

  isConnected(a: number, b: number): boolean {
    return this.connections.get(this.pairKey(a, b))?.up === true
  }

  /** Opens a connection (new sessions on both sides, `Connected` to both). */
  connect(a: number, b: number): Effect.Effect<void> {
    const h = this
    return Effect.gen(function*() {
      if (h.isConnected(a, b)) return
      // A crashed node accepts no connection: the peer reconnects once it is back.
      if (h.nodes[a]?.crashed !== false || h.nodes[b]?.crashed !== false) {
        h.log.push(`connect ${a}-${b} refused: a node is down`)
        return
      }
      const [x, y] = a < b ? [a, b] : [b, a]
      const c: Connection = {
        id: ++h.connectionCounter,
        a: x,
        b: y,
        sessionA: SessionId(++h.sessionCounter),
        sessionB: SessionId(++h.sessionCounter),
        up: true
      }
      h.connections.set(h.pairKey(a, b), c)
      h.sessionOwner.set(c.sessionA, { connection: c, node: x })
      h.sessionOwner.set(c.sessionB, { connection: c, node: y })
      h.log.push(`connect ${x}-${y} (connection ${c.id})`)
      for (const [me, them, session] of [
        [x, y, c.sessionA],
        [y, x, c.sessionB]
      ] as const)
        yield* h.offer(me, PeerSessionEvent.Connected({ session, peer: h.peerInfo(session, them) }))
      yield* h.settleNodes
    })
  }

  /** Ends the connection: in-flight messages both ways are lost, `Disconnected` to both. */
  disconnect(a: number, b: number): Effect.Effect<void> {
    const h = this
    return Effect.gen(function*() {
      const c = h.connections.get(h.pairKey(a, b))
      if (c === undefined || !c.up) return
      c.up = false
      h.link(a, b).queue.length = 0
      h.link(b, a).queue.length = 0
      h.log.push(`disconnect ${c.a}-${c.b} (connection ${c.id})`)
      for (const [me, them, session] of [
        [c.a, c.b, c.sessionA],
        [c.b, c.a, c.sessionB]
      ] as const)
        yield* h.offer(me, PeerSessionEvent.Disconnected({ session, nodeId: h.nodeIds[them]!, reason: { _tag: "LocalRequest" } }))
      yield* h.settleNodes
    })
  }

  reconnect(a: number, b: number): Effect.Effect<void> {
    return Effect.andThen(this.disconnect(a, b), this.connect(a, b))
  }

  private peerInfo(session: SessionId, them: number): PeerInfo {
    return {
      session,
      nodeId: this.nodeIds[them]!,
      address: { host: `node${them}`, port: 9735 },
      direction: "outbound",
      localFeatures: new Uint8Array(0),
      remoteFeatures: new Uint8Array(0),
      negotiatedFeatures: FEATURES.filter((f) => simFeatures.has(f.name)).map((f) => f.oddBit),
      remoteNetworks: undefined
    }
  }

  private offer(node: number, e: PeerSessionEvent): Effect.Effect<void> {
    const n = this.nodes[node]
    if (n === undefined || n.crashed) return Effect.void
    n.peers.offered += 1
    return Effect.asVoid(Queue.offer(n.peers.inbox, e))
  }

  /** Delivers the next message of link `from -> to` (false if none). */
  deliver(from: number, to: number): Effect.Effect<boolean> {
    const h = this
    return Effect.gen(function*() {
      const item = h.link(from, to).queue.shift()
      if (item === undefined) return false
      const c = h.connections.get(h.pairKey(from, to))
      if (c === undefined || !c.up || c.id !== item.connection) {
        h.log.push(`stale ${item.message._tag} ${from}->${to} dropped`)
        return true
      }
      const session = c.a === to ? c.sessionA : c.sessionB
      h.log.push(`deliver #${item.seq} ${item.message._tag} ${from}->${to}`)
      yield* h.offer(to, PeerSessionEvent.Message({ session, nodeId: h.nodeIds[from]!, message: item.message }))
      return true
    })
  }

  /** Drops the next message of a link (the connection stays up: a protocol gap the peer will see). */
  drop(from: number, to: number): InFlight | undefined {
    const item = this.link(from, to).queue.shift()
    if (item !== undefined) this.log.push(`drop #${item.seq} ${item.message._tag} ${from}->${to}`)
    return item
  }

  /** Holds (or releases) a link: `quiesce` does not deliver on a held link. */
  hold(from: number, to: number, held = true): void {
    this.link(from, to).held = held
  }

  /** Reorders a link's queue: `order` lists old positions (adversarial: a connection is FIFO). */
  permute(from: number, to: number, order: ReadonlyArray<number>): void {
    const q = this.link(from, to).queue
    const items = order.map((i) => q[i]).filter((x): x is InFlight => x !== undefined)
    q.length = 0
    q.push(...items)
  }

  // ---- persistence --------------------------------------------------------------------------------

  /** Makes a node's later writes complete at once ("Completed") or wait ("InProgress"). */
  setPersistence(node: number, mode: PersistStatus): Effect.Effect<void> {
    const h = this
    return Effect.gen(function*() {
      h.stores[node]!.mode = mode
      const control = h.nodes[node]?.control
      if (control !== undefined) yield* control.setMode(mode === "Completed" ? "immediate" : "hold")
    })
  }

  /** How many writes of `node` wait for completion. */
  pendingWrites(node: number): Effect.Effect<number> {
    const n = this.nodes[node]
    if (n?.control !== undefined) return n.crashed ? Effect.succeed(0) : Effect.map(n.control.pending, (p) => p.length)
    return Effect.succeed(this.stores[node]!.pending.length)
  }

  /**
   * Completes waiting writes of `node`: all in issue order ("fifo"), all with completions reversed
   * ("reverse"), or only the newest one's channel's oldest write ("one"). Returns how many.
   * (Manager backend: D's persister makes a channel's writes durable in order; "reverse"
   * reverses the completion events.)
   */
  completeWrites(node: number, order: "fifo" | "reverse" | "one" = "fifo"): Effect.Effect<number> {
    const h = this
    return Effect.gen(function*() {
      const n = h.nodes[node]
      if (n === undefined || n.crashed) return 0
      if (n.control !== undefined) {
        const control = n.control
        const pending = yield* control.pending
        if (pending.length === 0) return 0
        if (order === "fifo") return yield* control.releaseAll
        if (order === "one") return yield* control.release(pending[pending.length - 1]!.channelId, { count: 1 })
        let total = 0
        const channels = [...new Map(pending.map((p) => [key(p.channelId), p.channelId])).values()].reverse()
        for (const c of channels) total += yield* control.release(c, { reverseCompletions: true })
        return total
      }
      const store = h.stores[node]!
      const all = [...store.pending]
      const indexes = order === "fifo" ? all.map((_, i) => i) : order === "reverse" ? all.map((_, i) => all.length - 1 - i) : [all.length - 1]
      const chosen = indexes.map((i) => all[i]).filter((x): x is PendingCompletion => x !== undefined)
      for (const p of chosen) {
        const i = store.pending.indexOf(p)
        if (i >= 0) store.pending.splice(i, 1)
        const write = store.record(p.channel).inFlight.get(p.updateId)
        if (write === undefined) continue
        store.land(p.channel, write)
        const ch = [...n.channels.values()].find((c) => c.id === p.channel)
        if (ch !== undefined) yield* Effect.ignore(ch.handle.tell({ _tag: "PersistCompleted", updateId: p.updateId }))
      }
      return chosen.length
    })
  }

  /** The monitor state from what is durable for a node's channel (undefined before `Opened`). */
  durableMonitor(node: number, channel: string): MonitorState | undefined {
    if (this.backend === "sim") return this.stores[node]!.monitor(channel)
    const stored = this.persisterData[node]!.channels.get(channel)
    if (stored === undefined || (stored.monitor === undefined && stored.updates.length === 0)) return undefined
    const m = stored.monitor === undefined ? replay(secp, stored.updates) : replayFrom(secp, stored.monitor, stored.updates)
    if (Result.isFailure(m)) throw new Error(`stored updates of ${channel.slice(0, 8)} do not replay: ${m.failure._tag}`)
    return m.success
  }

  // ---- crash and restart -------------------------------------------------------------------------------

  /** Arms a crash point on a running node (counted from now). */
  armCrash(node: number, point: CrashPoint): void {
    const n = this.node(node)
    this.persistCalls[node] = 0
    n.crashAt = point
  }

  /** Whether a node crashed (at a crash point) and was not restarted yet. */
  hasCrashed(node: number): boolean {
    return this.nodes[node]?.crashed === true
  }

  /** Kills a node now (or finishes a crash point's kill): its connections drop, its scope closes, unlanded writes are lost. */
  crash(node: number): Effect.Effect<void> {
    const h = this
    return Effect.gen(function*() {
      const n = h.nodes[node]
      if (n === undefined || n.killed) return
      n.crashed = true
      n.killed = true
      h.log.push(`crash node ${node}`)
      // What was not durable is gone first (before anything else can run).
      h.stores[node]!.crash()
      if (n.control !== undefined) yield* n.control.crash
      for (let other = 0; other < h.size; other++) if (other !== node) yield* h.disconnect(node, other)
      yield* Scope.close(n.scope, Exit.void)
      n.dead = true
    })
  }

  /** Restarts a crashed node from its store (it reconnects to nobody: see `connect`). */
  restart(node: number, crashAt?: CrashPoint): Effect.Effect<SimNode> {
    const h = this
    return Effect.gen(function*() {
      yield* h.crash(node)
      // A kill started elsewhere (a crash point) may still be closing the old scope.
      while (h.nodes[node]?.dead === false) yield* Effect.yieldNow
      h.log.push(`restart node ${node}`)
      return yield* h.startNode(node, crashAt)
    })
  }

  // ---- running ----------------------------------------------------------------------------------------

  /** Lets every running node handle what it was given (session events, mailboxes, flushes). */
  get settleNodes(): Effect.Effect<void> {
    const h = this
    return Effect.gen(function*() {
    for (let round = 0; round < 1000; round++) {
      let busy = false
      for (const n of h.nodes) {
        if (n === undefined || n.crashed) continue
        while (n.peers.handled < n.peers.offered && !n.crashed) {
          busy = true
          yield* Effect.yieldNow
        }
        if (n.manager !== undefined) {
          // Let the consumer finish the event it took, then pass through every channel's mailbox (twice: flushes).
          for (let i = 0; i < 3; i++) yield* Effect.yieldNow
          const count = () => h.events[n.index]!.length + h.chain[n.index]!.length
          const eventsBefore = count()
          const before = yield* n.manager.listChannels
          const after = yield* n.manager.listChannels
          if (before.length !== after.length || before.some((b, i) => b.state !== after[i]?.state)) busy = true
          // A paused channel with nothing held by the persister: its completion is on its way (another fiber).
          if (after.some((c) => c.paused) && n.control !== undefined && (yield* n.control.pending).length === 0) {
            busy = true
            yield* macrotask
          }
          // The event stream is consumed by another fiber: wait until its count stays still for a while.
          let last = count()
          for (let still = 0; still < 3; ) {
            yield* macrotask
            const c = count()
            if (c === last) still += 1
            else {
              last = c
              still = 0
            }
          }
          if (count() !== eventsBefore) busy = true
          continue
        }
        for (const ch of [...n.channels.values()]) {
          if (n.crashed) break
          // Twice: a step may queue a Flush behind the first snapshot.
          const before = yield* Effect.result(ch.handle.snapshot)
          const after = yield* Effect.result(ch.handle.snapshot)
          if (Result.isSuccess(before) && Result.isSuccess(after) && before.success.state !== after.success.state) busy = true
        }
      }
      if (!busy) return
    }
    return yield* Effect.die(new Error("nodes did not settle"))
    })
  }

  /**
   * Runs until nothing moves: nodes settle, then every link that is not held delivers, round
   * after round (links in a fixed order). With `completeWrites`, waiting writes complete too.
   * Crashed nodes are killed (`crash`) as they are found.
   */
  quiesce(options: { readonly completeWrites?: boolean; readonly maxRounds?: number } = {}): Effect.Effect<void> {
    const h = this
    return Effect.gen(function*() {
      for (let round = 0; round < (options.maxRounds ?? 10_000); round++) {
        yield* h.settleNodes
        for (let i = 0; i < h.size; i++) {
          const n = h.nodes[i]
          if (n !== undefined && n.crashed && !n.killed) yield* h.crash(i)
        }
        let moved = false
        for (let from = 0; from < h.size; from++)
          for (let to = 0; to < h.size; to++) {
            if (from === to) continue
            const l = h.link(from, to)
            if (l.held) continue
            while (l.queue.length > 0) {
              moved = (yield* h.deliver(from, to)) || moved
              yield* h.settleNodes
            }
          }
        if (options.completeWrites === true)
          for (let i = 0; i < h.size; i++) if ((yield* h.pendingWrites(i)) > 0) moved = (yield* h.completeWrites(i)) > 0 || moved
        if (!moved) return
      }
      throw new Error("the network did not quiesce")
    })
  }

  // ---- commands and chain --------------------------------------------------------------------------

  /** `from` opens a channel to `to` (they must be connected): the temporary channel id. */
  open(from: number, to: number, options: OpenOptions = {}): Effect.Effect<ChannelId> {
    const h = this
    return Effect.gen(function*() {
      const node = h.node(from)
      if (node.manager !== undefined) {
        const opened = yield* Effect.result(
          node.manager.openChannel(h.nodeIds[to]!, sat(options.fundingSat ?? 1_000_000n), {
            pushAmount: msat(options.pushMsat ?? 0n),
            feeratePerKw: options.feeratePerKw ?? 2_500,
            channelType: options.channelType ?? { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false }
          })
        )
        if (Result.isFailure(opened)) return yield* Effect.die(new Error(`openChannel: ${opened.failure._tag}`))
        return opened.success
      }
      const session = node.sessions.get(to)
      if (session === undefined) return yield* Effect.die(new Error(`node ${from} is not connected to ${to}`))
      const keyId = h.newKeyId(node)
      const temporaryChannelId = asChannelId(node.entropy.next(32))
      const basepoints = yield* node.signer.channelPublicKeys(keyId)
      const point = yield* Effect.orDie(node.signer.perCommitmentPoint(keyId, 0n))
      const opened = openChannel(node.ctx, {
        temporaryChannelId,
        keyId,
        fundingAmount: sat(options.fundingSat ?? 1_000_000n),
        pushAmount: msat(options.pushMsat ?? 0n),
        basepoints,
        firstPerCommitmentPoint: point,
        feeratePerKw: options.feeratePerKw ?? 2_500,
        channelType: options.channelType ?? { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false },
        announce: false
      })
      if (Result.isFailure(opened)) return yield* Effect.die(new Error(`openChannel: ${opened.failure._tag}`))
      yield* h.spawnChannel(node, to, opened.success.state, keyId, { initialOutputs: opened.success.outputs, session })
      return temporaryChannelId
    })
  }

  /** Builds the funding transaction the `FundingNeeded` event of `node` asks for and gives it to the channel. */
  fund(node: number, temporaryChannelId: Uint8Array): Effect.Effect<Transaction> {
    const h = this
    return Effect.gen(function*() {
      const need = h.events[node]!.map((e) => e.event).find(
        (e): e is Extract<ChannelEvent, { readonly _tag: "FundingNeeded" }> =>
          e._tag === "FundingNeeded" && equalBytes(e.temporaryChannelId, temporaryChannelId)
      )
      if (need === undefined) return yield* Effect.die(new Error(`node ${node}: no FundingNeeded for this channel`))
      const tx = fundingTransaction(bytes32(`${h.seed}/funding-input/${h.fundingCounter++}`), need.scriptPubKey, need.amount)
      yield* h.command(node, temporaryChannelId, { _tag: "FundingTransaction", tx: serializeTransaction(tx) })
      return tx
    })
  }

  /** Reports the funding depth of a channel to every running node that has it. */
  setDepth(channelId: Uint8Array, depth: number): Effect.Effect<void> {
    const h = this
    return Effect.gen(function*() {
      const known = h.depths.get(key(channelId))
      const scid: ShortChannelId = known?.scid ?? shortChannelIdFromParts(100 + h.scidCounter++, 1, 0)
      h.depths.set(key(channelId), { depth, scid })
      for (const n of h.nodes) {
        if (n === undefined || n.crashed) continue
        if (n.manager !== undefined) {
          yield* Effect.ignore(n.manager.chainFact(asChannelId(channelId), { _tag: "FundingDepth", depth, shortChannelId: scid }))
          continue
        }
        const ch = n.channels.get(key(channelId))
        if (ch !== undefined) yield* Effect.ignore(ch.handle.tell({ _tag: "FundingDepth", depth, shortChannelId: scid }))
      }
    })
  }

  /** Runs a command on a node's channel and waits for its outcome. */
  command(node: number, channelId: Uint8Array, input: ChannelInput): Effect.Effect<Result.Result<StepReport, string>> {
    const h = this
    return Effect.gen(function*() {
      const n = h.node(node)
      if (n.manager !== undefined) return yield* h.managerCommand(n.manager, asChannelId(channelId), input)
      const ch = n.channels.get(key(channelId))
      if (ch === undefined) return Result.fail("no such channel")
      const r = yield* Effect.result(ch.handle.command(input))
      if (Result.isSuccess(r)) return Result.succeed(r.success)
      const e = r.failure
      return Result.fail(e._tag === "ChannelCommandRejected" ? `${e._tag}: ${e.error._tag}` : e._tag)
    })
  }

  /** A channel's state on a node (undefined if the node does not have it). */
  state(node: number, channelId: Uint8Array): Effect.Effect<ChannelState | undefined> {
    const manager = this.nodes[node]?.crashed === false ? this.nodes[node]?.manager : undefined
    if (manager !== undefined)
      return Effect.map(Effect.result(manager.channel(asChannelId(channelId))), (r) => (Result.isSuccess(r) ? r.success.state : undefined))
    return Effect.map(this.snapshot(node, channelId), (s) => s?.state)
  }

  /** A command through the manager's API (events: what the channel emitted, from the node's event stream). */
  private managerCommand(manager: ChannelManagerShape, channelId: ChannelId, input: ChannelInput): Effect.Effect<Result.Result<StepReport, string>> {
    const describeError = (e: { readonly _tag: string }): string =>
      e._tag === "ChannelCommandRejected" && "error" in e && typeof e.error === "object" && e.error !== null && "_tag" in e.error
        ? `ChannelCommandRejected: ${String(e.error._tag)}`
        : e._tag === "AddHtlcRejected" && "reason" in e && typeof e.reason === "string"
          ? e.reason
          : e._tag
    const report = (events: ReadonlyArray<ChannelEvent>): StepReport => ({ events })
    const run = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>, events: (a: A) => ReadonlyArray<ChannelEvent>) =>
      Effect.map(Effect.result(effect), (r): Result.Result<StepReport, string> =>
        Result.isSuccess(r) ? Result.succeed(report(events(r.success))) : Result.fail(describeError(r.failure))
      )
    switch (input._tag) {
      case "AddHtlc":
        return run(
          manager.addHtlc(channelId, {
            requestId: input.requestId,
            amount: input.amount,
            paymentHash: input.paymentHash,
            cltvExpiry: input.cltvExpiry,
            onion: input.onion
          }),
          (htlcId): ReadonlyArray<ChannelEvent> => [{ _tag: "HtlcAdded", channelId, requestId: input.requestId, htlcId }]
        )
      case "FulfillHtlc":
        return run(manager.fulfillHtlc(channelId, input.htlcId, input.preimage), () => [])
      case "FailHtlc":
        return run(manager.failHtlc(channelId, input.htlcId, input.reason), () => [])
      case "UpdateFee":
        return run(manager.updateFee(channelId, input.feeratePerKw), () => [])
      case "FundingTransaction":
        return run(manager.fundChannel(channelId, input.tx), () => [])
      case "ForceClose":
        return run(manager.forceClose(channelId, input.reason), () => [])
      default:
        return Effect.succeed(Result.fail(`the manager has no command for ${input._tag}`))
    }
  }

  snapshot(node: number, channelId: Uint8Array): Effect.Effect<ChannelSnapshot<ChannelState> | undefined> {
    const n = this.nodes[node]
    const ch = n === undefined || n.crashed ? undefined : n.channels.get(key(channelId))
    if (ch === undefined) return Effect.succeed(undefined)
    return Effect.map(Effect.result(ch.handle.snapshot), (r) => (Result.isSuccess(r) ? r.success : undefined))
  }

  /** The final channel id of node `node`'s channel that started as `temporaryChannelId` (after `Rekey`). */
  channelIds(node: number): ReadonlyArray<string> {
    const n = this.nodes[node]
    return n === undefined ? [] : [...n.channels.keys()]
  }

  /** Events of a node with a given tag. */
  eventsOf<T extends ChannelEvent["_tag"]>(node: number, tag: T): ReadonlyArray<Extract<ChannelEvent, { readonly _tag: T }>> {
    return this.events[node]!.map((e) => e.event).filter((e): e is Extract<ChannelEvent, { readonly _tag: T }> => e._tag === tag)
  }

  /** Delivers the oldest message in flight on any link that is not held (false if none). */
  deliverNext(): Effect.Effect<boolean> {
    const h = this
    return Effect.gen(function*() {
      // What the last command started may still be on its way (an asynchronous persist completion).
      yield* h.settleNodes
      let best: { from: number; to: number; seq: number } | undefined
      for (let from = 0; from < h.size; from++)
        for (let to = 0; to < h.size; to++) {
          const l = h.links.get(`${from}->${to}`)
          const head = l?.queue[0]
          if (l === undefined || l.held || head === undefined) continue
          if (best === undefined || head.seq < best.seq) best = { from, to, seq: head.seq }
        }
      if (best === undefined) return false
      yield* h.deliver(best.from, best.to)
      yield* h.settleNodes
      return true
    })
  }

  /** Adds an HTLC for payment `n` (hash of `preimageFor(seed, n)`): its id, or the rejection reason. */
  addHtlc(node: number, channelId: Uint8Array, amountMsat: bigint, n: number): Effect.Effect<Result.Result<bigint, string>> {
    const h = this
    return Effect.gen(function*() {
      const r = yield* h.command(node, channelId, {
        _tag: "AddHtlc",
        requestId: `${n}`,
        amount: msat(amountMsat),
        paymentHash: paymentHashOf(preimageFor(h.seed, n)),
        cltvExpiry: 1_000 + n,
        onion: emptyOnion
      })
      if (Result.isFailure(r)) return Result.fail(r.failure)
      for (const e of r.success.events) {
        if (e._tag === "HtlcAdded") return Result.succeed(e.htlcId)
        if (e._tag === "HtlcRejected") return Result.fail(e.reason)
      }
      return Result.fail("no HtlcAdded / HtlcRejected event")
    })
  }

  fulfillHtlc(node: number, channelId: Uint8Array, htlcId: bigint, n: number): Effect.Effect<Result.Result<StepReport, string>> {
    return this.command(node, channelId, { _tag: "FulfillHtlc", htlcId, preimage: preimageFor(this.seed, n) })
  }

  failHtlc(node: number, channelId: Uint8Array, htlcId: bigint): Effect.Effect<Result.Result<StepReport, string>> {
    return this.command(node, channelId, { _tag: "FailHtlc", htlcId, reason: text("harness: failed") })
  }

  /**
   * What a node's durable monitor says agrees with the channel states (call when quiescent with
   * every write landed): our holder commitment is our current commitment (same number, same
   * balances), the counterparty's current commitment is the peer's current one (number, txid).
   */
  monitorAgreement(node: number, peer: number, channelId: Uint8Array, options: { readonly txid?: boolean } = {}): Effect.Effect<ReadonlyArray<string>> {
    const h = this
    return Effect.gen(function*() {
      const mine = yield* h.state(node, channelId)
      const theirs = yield* h.state(peer, channelId)
      const mon = h.durableMonitor(node, key(channelId))
      if (mine?._tag !== "Normal" || theirs?._tag !== "Normal" || mon === undefined) return [`node ${node}: not comparable`]
      const problems: Array<string> = []
      const lc = mine.commitments.localCommit
      if (mon.holderCommitment.commitmentNumber !== lc.number) problems.push(`node ${node}: monitor holder ${mon.holderCommitment.commitmentNumber}, channel ${lc.number}`)
      else if (mon.holderCommitment.toLocal !== lc.spec.toLocal || mon.holderCommitment.toRemote !== lc.spec.toRemote)
        problems.push(`node ${node}: monitor holder balances differ from the channel's`)
      const peerLocal = theirs.commitments.localCommit
      if (mon.counterpartyCurrent.commitmentNumber !== peerLocal.number)
        problems.push(`node ${node}: monitor counterparty ${mon.counterpartyCurrent.commitmentNumber}, peer's commitment ${peerLocal.number}`)
      else if (options.txid !== false && !equalBytes(mon.counterpartyCurrent.txid, peerLocal.txid))
        problems.push(`node ${node}: monitor counterparty commitment ${peerLocal.number} txid is not the peer's commitment txid`)
      return problems
    })
  }

  /**
   * Opens a channel `from -> to` and runs it to `Normal` (funding, depth): the channel id.
   * Both must be connected; persistence should complete at once (or `completeWrites` is used).
   */
  openToNormal(from: number, to: number, options: OpenOptions = {}): Effect.Effect<ChannelId> {
    const h = this
    return Effect.gen(function*() {
      const temporary = yield* h.open(from, to, options)
      yield* h.quiesce({ completeWrites: true })
      yield* h.fund(from, temporary)
      yield* h.quiesce({ completeWrites: true })
      const pending = h.eventsOf(from, "ChannelPending").at(-1)
      if (pending === undefined) return yield* Effect.die(new Error(`no ChannelPending: ${h.log.slice(-10).join("; ")}`))
      yield* h.setDepth(pending.channelId, h.nodeConfig.config.minimumDepth)
      yield* h.quiesce({ completeWrites: true })
      return pending.channelId
    })
  }
}

/** Lets the event loop turn once (every fiber the scheduler has ready runs before it resumes). */
const macrotask: Effect.Effect<void> = Effect.callback<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

const makeSeededEntropyDrbg = (seed: string): { readonly next: (n: number) => Uint8Array } => {
  // The seeded Entropy service, drawn synchronously (its Effects are `sync`).
  const entropy = makeSeededEntropy(seed)
  return { next: (n) => Effect.runSync(entropy.randomBytes(n)) }
}

/** A funding transaction as a wallet would build it: one made-up segwit input (`prevTxid`), the funding output. */
export const fundingTransaction = (prevTxid: Uint8Array, outputScript: Uint8Array, amount: Sat): Transaction => ({
  version: 2,
  locktime: 0,
  inputs: [
    {
      prevout: { txid: txidFromBytes(prevTxid), vout: 0 },
      scriptSig: new Uint8Array(0),
      sequence: 0xfffffffd,
      witness: [new Uint8Array(71).fill(1), new Uint8Array(33).fill(2)]
    }
  ],
  outputs: [{ value: amount, scriptPubKey: outputScript }]
})

// ---- agreement checks ------------------------------------------------------------------------------

const sumSpec = (s: CommitmentSpec): bigint => s.toLocal + s.toRemote + s.htlcs.reduce((a, x) => a + x.amount, 0n)

const specKey = (s: CommitmentSpec): string =>
  JSON.stringify({
    f: s.feeratePerKw,
    l: s.toLocal.toString(),
    r: s.toRemote.toString(),
    h: [...s.htlcs]
      .map((x) => `${x.direction}/${x.id}/${x.amount}/${toHex(x.paymentHash)}/${x.cltvExpiry}`)
      .sort()
  })

/**
 * Both ends of a channel agree (BOLT 2/3): each side's current commitment is the other's view
 * of it (same number, same spec mirrored, and the txid we hold is the one they would build);
 * every commitment's balances plus HTLCs equal the funding amount (the BOLT 3 fee is taken from
 * the funder's output when the transaction is built, so the spec itself is conserved). Returns
 * the disagreements (empty: they agree).
 */
export const agreement = (a: ChannelState, b: ChannelState): ReadonlyArray<string> => {
  if (a._tag !== "Normal" || b._tag !== "Normal") return [`not both Normal: ${a._tag} / ${b._tag}`]
  const problems: Array<string> = []
  const check = (mine: typeof a, theirs: typeof b, who: string) => {
    const local = mine.commitments.localCommit
    const remote = theirs.commitments.remoteCommit
    const funding = mine.commitments.params.fundingAmount * 1000n
    if (sumSpec(local.spec) !== funding) problems.push(`${who}: local commitment ${local.number} sums to ${sumSpec(local.spec)}, funding ${funding}`)
    if (local.number !== remote.number) problems.push(`${who}: local commitment ${local.number}, peer's view ${remote.number}`)
    else if (specKey(local.spec) !== specKey(remote.spec))
      problems.push(`${who}: commitment ${local.number} specs differ: ${specKey(local.spec)} vs ${specKey(remote.spec)}`)
    else {
      // A view's spec is stated from the view owner's side: mirror the peer's record of ours.
      const built = buildCommitmentForSide(secp, channelView(theirs.commitments.params, mirrorSpec(remote.spec)), "remote", remote.number, remote.perCommitmentPoint)
      if (Result.isFailure(built)) problems.push(`${who}: the peer cannot build our commitment ${remote.number}`)
      else if (!equalBytes(computeTxid(built.success.tx), local.txid))
        problems.push(`${who}: commitment ${local.number} txid differs from the peer's`)
    }
  }
  check(a, b, "a")
  check(b, a, "b")
  return problems
}
