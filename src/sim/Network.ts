/**
 * The simulated network: one connection per pair of nodes that share a channel, each with its
 * two sessions, and a `PeerManager` per node that the node's `ChannelManager` uses as if it were
 * the real one (`send` to a session, `sessionEvents` in order; by default its session events are
 * handed to the manager's sink as they are delivered, `declareSessionEventSink`, the same order
 * with no fiber woken per message). A message sent at simulated time
 * t is encoded (its BOLT 1 bytes are what the trace records) and delivered at t + the link's
 * latency, after the earlier messages of its direction (TCP is FIFO) unless the scenario's
 * reordering lets it overtake them. A lost message drops the connection: both sides see
 * `Disconnected`, what was in flight is gone, and the peers reconnect later (BOLT 2
 * `channel_reestablish` then retransmits). Partitions and crashed nodes refuse connections.
 *
 * There is no BOLT 8 transport here: the handshake and encryption are the same work for every
 * message and are benchmarked on their own (`bench/noise.bench.ts`); the simulation is about
 * what the nodes say to each other.
 */
import { Effect, Queue, Result, Stream } from "effect"
import { declareSessionEventSink, type PeerInfo, PeerNotConnected, PeerSessionEvent, type SessionEventSink, SessionId, StaleSession } from "../actors/PeerEvent.ts"
import { declareSendNow, type PeerManagerShape } from "../actors/PeerManager.ts"
import { toHex } from "../protocol/bytes.ts"
import { FEATURES, type FeatureName } from "../protocol/features.ts"
import { LightningMessages, type LightningMessage } from "../protocol/messages/index.ts"
import type { NodeId } from "../protocol/units.ts"
import type { Rng } from "./Random.ts"
import { SimTask, type SimRuntime } from "./Runtime.ts"
import type { Distribution } from "./Scenario.ts"

/** Features every simulated connection negotiates (what `init` would have agreed). */
export const simFeatures: ReadonlySet<FeatureName> = new Set<FeatureName>([
  "option_data_loss_protect",
  "option_static_remotekey",
  "option_anchors",
  "option_channel_type",
  "option_shutdown_anysegwit",
  "var_onion_optin",
  "payment_secret",
  "basic_mpp"
])
const negotiated = FEATURES.filter((f) => simFeatures.has(f.name)).map((f) => f.oddBit)

/** What the simulation never asks of a `PeerManager` (one value for every node: an `Error` captures a stack when made). */
const notUsed = Effect.die(new Error("not used in the simulation"))
/**
 * `PeerSessionEvent.Message`'s value, written out: what `Data.taggedEnum`'s constructor makes
 * (its fields, then `_tag`), without the argument object it copies and the property store the
 * copy grows for `_tag` (one of each per delivered message).
 */
const messageEvent = (session: SessionId, nodeId: NodeId, message: LightningMessage): PeerSessionEvent => ({ session, nodeId, message, _tag: "Message" })

export interface LinkConfig {
  readonly latencyMs: Distribution
  readonly reorder: number
  readonly loss: number
}

interface Connection {
  readonly id: number
  readonly a: number
  readonly b: number
  readonly sessionA: SessionId
  readonly sessionB: SessionId
  up: boolean
  /** Latest delivery time scheduled per direction (a -> b, b -> a): FIFO. */
  lastAB: number
  lastBA: number
  inFlight: number
}

/**
 * A message on its way to `to`: the event of its delivery (one object per message, no closure).
 * Delivered if its connection is still up then (a drop loses what is in flight).
 */
class Delivery extends SimTask {
  readonly net: SimNetwork
  readonly connection: Connection
  readonly from: number
  readonly to: number
  readonly receiverSession: SessionId
  readonly bytes: Uint8Array
  readonly message: LightningMessage

  constructor(net: SimNetwork, connection: Connection, from: number, to: number, receiverSession: SessionId, bytes: Uint8Array, message: LightningMessage) {
    super()
    this.net = net
    this.connection = connection
    this.from = from
    this.to = to
    this.receiverSession = receiverSession
    this.bytes = bytes
    this.message = message
  }

  run(): void {
    this.net.deliver(this)
  }
}

/** What the network needs of the nodes. */
export interface NetworkHost {
  readonly isRunning: (node: number) => boolean
  /** Whether a partition separates the two nodes now. */
  readonly separated: (a: number, b: number) => boolean
  /** A message was delivered (for the trace and the counters). */
  readonly onDeliver: (from: number, to: number, bytes: Uint8Array, message: LightningMessage) => void
}

export class SimNetwork {
  private readonly connections = new Map<number, Connection>()
  private readonly sessionOwner = new Map<number, { readonly connection: Connection; readonly node: number }>()
  private readonly inboxes: Array<Queue.Queue<PeerSessionEvent> | undefined>
  /**
   * Each node's session-event consumer once attached (its channel manager's sink,
   * `declareSessionEventSink`): its events are handed to it as they come, not queued for a fiber
   * to take. Messages are delivered only by an event of the loop, which `SimRuntime.step` runs with
   * no fiber runnable (it pumps to quiescence after each event): the sink's condition.
   */
  private readonly sinks: Array<SessionEventSink | undefined>
  private sessionCounter = 0
  /** Messages in flight on live connections, kept as they are sent, delivered and dropped. */
  private inFlightTotal = 0
  /** Node index by node id (hex), for `peer`. */
  private readonly indexById: ReadonlyMap<string, number>
  private connectionCounter = 0
  /** Pairs that should be connected (they share a channel). */
  readonly wanted = new Set<number>()
  /** The wanted pairs of each node, in the order they were wanted (no scan of every pair per node). */
  private readonly wantedOf: Array<Array<readonly [number, number]>>
  /** Counters. */
  messages = 0
  bytes = 0
  drops = 0
  disconnects = 0

  private readonly rt: SimRuntime
  private readonly rng: Rng
  readonly nodeIds: ReadonlyArray<NodeId>
  private readonly linkConfig: (a: number, b: number) => LinkConfig
  private readonly reconnectMs: Distribution
  private readonly host: NetworkHost
  /** Whether a node's consumer may attach a sink (`declareSessionEventSink`), else it takes the `sessionEvents` stream. */
  private readonly offersSinks: boolean

  constructor(
    rt: SimRuntime,
    rng: Rng,
    nodeIds: ReadonlyArray<NodeId>,
    linkConfig: (a: number, b: number) => LinkConfig,
    reconnectMs: Distribution,
    host: NetworkHost,
    sinks = true
  ) {
    this.rt = rt
    this.rng = rng
    this.nodeIds = nodeIds
    this.linkConfig = linkConfig
    this.reconnectMs = reconnectMs
    this.host = host
    this.offersSinks = sinks
    this.inboxes = nodeIds.map(() => undefined)
    this.sinks = nodeIds.map(() => undefined)
    this.wantedOf = nodeIds.map(() => [])
    this.indexById = new Map(nodeIds.map((id, i) => [toHex(id), i]))
  }

  private pair(a: number, b: number): number {
    return a < b ? a * this.nodeIds.length + b : b * this.nodeIds.length + a
  }

  /** Attaches a node instance's inbox (at each start). */
  attach(node: number, inbox: Queue.Queue<PeerSessionEvent> | undefined): void {
    this.inboxes[node] = inbox
    this.sinks[node] = undefined
  }

  isConnected(a: number, b: number): boolean {
    return this.connections.get(this.pair(a, b))?.up === true
  }

  /** Messages in flight on the connection of a pair (0 if none). */
  inFlight(a: number, b: number): number {
    const c = this.connections.get(this.pair(a, b))
    return c === undefined || !c.up ? 0 : c.inFlight
  }

  totalInFlight(): number {
    return this.inFlightTotal
  }

  /** Connects two running, unseparated nodes (no-op if connected or refused). */
  connect(a: number, b: number): boolean {
    if (this.isConnected(a, b)) return true
    if (!this.host.isRunning(a) || !this.host.isRunning(b) || this.host.separated(a, b)) return false
    const [x, y] = a < b ? [a, b] : [b, a]
    const c: Connection = {
      id: ++this.connectionCounter,
      a: x,
      b: y,
      sessionA: SessionId(++this.sessionCounter),
      sessionB: SessionId(++this.sessionCounter),
      up: true,
      lastAB: 0,
      lastBA: 0,
      inFlight: 0
    }
    this.connections.set(this.pair(a, b), c)
    this.sessionOwner.set(c.sessionA, { connection: c, node: x })
    this.sessionOwner.set(c.sessionB, { connection: c, node: y })
    this.offer(x, PeerSessionEvent.Connected({ session: c.sessionA, peer: this.peerInfo(c.sessionA, y) }))
    this.offer(y, PeerSessionEvent.Connected({ session: c.sessionB, peer: this.peerInfo(c.sessionB, x) }))
    return true
  }

  /** Ends a connection (in-flight messages are lost); with `reconnect`, the peers try again after the reconnect delay. */
  disconnect(a: number, b: number, reconnect: boolean): void {
    const c = this.connections.get(this.pair(a, b))
    if (c === undefined || !c.up) return
    c.up = false
    this.inFlightTotal -= c.inFlight
    c.inFlight = 0
    this.disconnects += 1
    this.sessionOwner.delete(c.sessionA)
    this.sessionOwner.delete(c.sessionB)
    this.offer(c.a, PeerSessionEvent.Disconnected({ session: c.sessionA, nodeId: this.nodeIds[c.b]!, reason: { _tag: "ConnectionClosed", message: "simulated" } }))
    this.offer(c.b, PeerSessionEvent.Disconnected({ session: c.sessionB, nodeId: this.nodeIds[c.a]!, reason: { _tag: "ConnectionClosed", message: "simulated" } }))
    if (reconnect) this.scheduleReconnect(c.a, c.b)
  }

  /** Tries to connect a wanted pair after the reconnect delay (and again later while refused). */
  scheduleReconnect(a: number, b: number, attempt = 0): void {
    if (attempt > 50) return
    const delay = Math.max(1, this.rng.sample(this.reconnectMs))
    this.rt.at(this.rt.clock.now + delay, () => {
      if (this.isConnected(a, b) || !this.wanted.has(this.pair(a, b))) return
      if (!this.host.isRunning(a) || !this.host.isRunning(b)) return
      if (this.host.separated(a, b)) return
      this.connect(a, b)
    })
  }

  want(a: number, b: number): void {
    const p = this.pair(a, b)
    if (this.wanted.has(p)) return
    this.wanted.add(p)
    const pair: readonly [number, number] = a < b ? [a, b] : [b, a]
    this.wantedOf[a]!.push(pair)
    this.wantedOf[b]!.push(pair)
  }

  /** Every pair of the wanted set involving `node` (or all), in the order they were wanted. */
  wantedPairs(node?: number): ReadonlyArray<readonly [number, number]> {
    if (node !== undefined) return this.wantedOf[node] ?? []
    const n = this.nodeIds.length
    const out: Array<readonly [number, number]> = []
    for (const p of this.wanted) out.push([Math.floor(p / n), p % n])
    return out
  }

  /** Drops every connection of a node (a crash), without reconnecting. */
  dropAll(node: number): void {
    for (const [a, b] of this.wantedPairs(node)) this.disconnect(a, b, false)
  }

  private offer(node: number, e: PeerSessionEvent): void {
    const inbox = this.inboxes[node]
    if (inbox === undefined || !this.host.isRunning(node)) return
    const sink = this.sinks[node]
    if (sink !== undefined) sink(e)
    else Queue.offerUnsafe(inbox, e)
  }

  private peerInfo(session: SessionId, them: number): PeerInfo {
    return {
      session,
      nodeId: this.nodeIds[them]!,
      address: { host: `node${them}`, port: 9735 },
      direction: "outbound",
      localFeatures: new Uint8Array(0),
      remoteFeatures: new Uint8Array(0),
      negotiatedFeatures: negotiated,
      remoteNetworks: undefined
    }
  }

  private send(from: number, session: SessionId, message: LightningMessage): boolean {
    const owner = this.sessionOwner.get(session)
    if (owner === undefined || !owner.connection.up || owner.node !== from || !this.host.isRunning(from)) return false
    const c = owner.connection
    const to = c.a === from ? c.b : c.a
    const encoded = LightningMessages.encode(message)
    // A message our own code cannot encode is a bug of the sender: it never reaches the peer.
    if (Result.isFailure(encoded)) return false
    const bytes = encoded.success
    const link = this.linkConfig(from, to)
    this.messages += 1
    this.bytes += bytes.length
    if (this.rng.chance(link.loss)) {
      // A lost message: TCP would not lose it silently, so the connection drops.
      this.drops += 1
      this.rt.at(this.rt.clock.now, () => this.disconnect(from, to, true))
      return true
    }
    const now = this.rt.clock.now
    let at = now + Math.max(0, this.rng.sample(link.latencyMs))
    const ab = c.a === from
    if (!this.rng.chance(link.reorder)) at = Math.max(at, ab ? c.lastAB : c.lastBA)
    if (ab) c.lastAB = Math.max(c.lastAB, at)
    else c.lastBA = Math.max(c.lastBA, at)
    c.inFlight += 1
    this.inFlightTotal += 1
    this.rt.atTask(at, new Delivery(this, c, from, to, ab ? c.sessionB : c.sessionA, bytes, message))
    return true
  }

  /** A message's delivery (its event's action): handed to the receiver if its connection is still up and it runs. */
  deliver(d: Delivery): void {
    const c = d.connection
    if (!c.up) return
    c.inFlight -= 1
    this.inFlightTotal -= 1
    if (!this.host.isRunning(d.to)) return
    this.host.onDeliver(d.from, d.to, d.bytes, d.message)
    this.offer(d.to, messageEvent(d.receiverSession, this.nodeIds[d.from]!, d.message))
  }

  /** The `PeerManager` the node `index` runs over (one per incarnation, with its inbox). */
  peerManager(index: number, inbox: Queue.Queue<PeerSessionEvent>): PeerManagerShape {
    const net = this
    // The network's send is synchronous: declared done at once, the channels send with no effect.
    const sendNow = (session: SessionId, message: LightningMessage): StaleSession | undefined =>
      net.send(index, session, message) ? undefined : new StaleSession({ session })
    const peers = declareSendNow({
      nodeId: net.nodeIds[index]!,
      features: new Uint8Array(0),
      listenAddress: undefined,
      connect: () => notUsed,
      peers: Effect.succeed([]),
      peer: (nodeId) =>
        Effect.suspend(() => {
          const them = net.indexById.get(toHex(nodeId))
          const c = them === undefined ? undefined : net.connections.get(net.pair(index, them))
          if (them === undefined || c === undefined || !c.up) return Effect.fail(new PeerNotConnected({ nodeId }))
          return Effect.succeed(net.peerInfo(c.a === index ? c.sessionA : c.sessionB, them))
        }),
      disconnect: () => notUsed,
      send: (session, message) =>
        Effect.suspend(() => {
          const stale = sendNow(session, message)
          return stale === undefined ? Effect.void : Effect.fail(stale)
        }),
      sendBytes: () => notUsed,
      sessionEvents: Stream.fromQueue(inbox),
      events: Stream.empty,
      subscribe: Effect.succeed(Stream.empty)
    }, sendNow)
    if (!this.offersSinks) return peers
    // The consumer attached takes what the inbox holds first, in order, then every event as it
    // comes, until its scope closes (a stop; a crash detaches it too, `attach`).
    return declareSessionEventSink(peers, (sink) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          for (let held = Queue.takeUnsafe(inbox); held !== undefined && held._tag === "Success"; held = Queue.takeUnsafe(inbox)) sink(held.value)
          net.sinks[index] = sink
        }),
        () =>
          Effect.sync(() => {
            if (net.sinks[index] === sink) net.sinks[index] = undefined
          })
      ))
  }
}
