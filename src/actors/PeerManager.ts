/**
 * PeerManager: the node-level peer registry (architecture: `Node` ── `Peer` ×N). It listens
 * for inbound connections, dials outbound ones, runs one `Peer` per connection, keeps at most
 * one connection per node id, and reports to the layer above through two streams:
 *
 * - `sessionEvents`, for the layer that speaks to peers (the channel manager): every
 *   connection is a session (`SessionId`, from a counter) with `Connected`, its `Message`s and
 *   `Disconnected`, lossless and in order (see `PeerSessionEvent`). It is one bounded queue
 *   (`sessionBuffer` events) filled by the peers' readers: when the consumer is slow the queue
 *   fills and the readers stop reading their sockets (backpressure, never loss; the Peer does
 *   not count that time against its ping timeout). Events are buffered from the start, so a
 *   consumer that starts after the registry misses nothing; one consumer at a time. A node
 *   without such a consumer sets `sessionEvents: "discard"` (otherwise its peers stall once the
 *   buffer is full). `send(session, message)` queues for that connection only.
 * - `events`/`subscribe`: informational `PeerConnected` / `PeerDisconnected` (sliding buffers,
 *   for monitoring and the control API).
 * - with `gossip` (a `GossipTap`, from `GossipSync`): BOLT 7 messages go to the gossip layer
 *   instead of the session stream, with each session's start and end (see `GossipTap`).
 *
 * Duplicate connections (one node id, two connections) are resolved when the second one has
 * finished its handshake, i.e. as soon as the node id is proven:
 * - same direction (the remote dialled us again, or two of our dials raced): the NEWER
 *   connection wins; whoever dialled again presumably saw the old one die.
 * - opposite directions (both sides dialled at once): the connection INITIATED BY THE NODE
 *   WITH THE LOWER NODE ID (bytewise comparison of the 33-byte keys) wins. Both nodes apply the
 *   same rule, so they keep the same connection without talking about it.
 * The loser is closed with `DuplicateConnection`. A `connect` whose own connection lost still
 * succeeds when the winning connection completes `init`; this includes the case where the
 * remote closed our connection (we see `ConnectionClosed`) before we saw its connection, for
 * which `connect` waits up to `duplicateGrace` for that connection.
 *
 * Bounds: inbound connections still in the handshake are limited to `maxPendingInbound`, and
 * all inbound connections to `maxInbound` (more are closed at once); every peer's outbound
 * queue is bounded (see `Peer`), the session events by `sessionBuffer`; each informational event
 * subscriber has a sliding buffer of `eventBuffer` events (a slow subscriber loses the oldest
 * events, it never blocks the node).
 */
import { type Cause, Context, Deferred, type Duration, Effect, Exit, FiberSet, Layer, PubSub, Queue, Result, Scope, Stream } from "effect"
import { compareBytes, toHex } from "../protocol/bytes.ts"
import { type LightningMessage, LightningMessages } from "../protocol/messages/index.ts"
import type { NodeId } from "../protocol/units.ts"
import { Crypto } from "../services/Crypto.ts"
import { Entropy } from "../services/Entropy.ts"
import { NodeSigner } from "../services/NodeSigner.ts"
import { type Connection, type SocketAddress, Transport, type TransportError } from "../services/Transport.ts"
import { MAX_MESSAGE_LENGTH } from "../protocol/noise/transport.ts"
import {
  DisconnectReason,
  InvalidOutgoingMessage,
  PeerConnectFailed,
  PeerEvent,
  type PeerInfo,
  PeerNotConnected,
  PeerSessionEvent,
  SessionEventsBusy,
  SessionId,
  StaleSession,
  UnencodableMessage
} from "./PeerEvent.ts"
import type { GossipTap } from "./GossipTap.ts"
import { defaultPeerConfig, makePeer, PeerClosed, type PeerConfig, type PeerHandle, type PeerRole } from "./Peer.ts"

export interface PeerManagerShape {
  /** Our node id (from NodeSigner). */
  readonly nodeId: NodeId
  /** Our `init` features (BOLT 9 bit field). */
  readonly features: Uint8Array
  /** The bound listen address (port 0 resolved), or undefined when not listening. */
  readonly listenAddress: SocketAddress | undefined
  /**
   * Connects to `nodeId` at `address`; succeeds once the BOLT 8 handshake and the `init`
   * exchange are done. If the node is already connected (or being connected), waits for / returns
   * that connection instead of opening another. Once the registry's scope closes, a waiting or new
   * `connect` fails with `LocalRequest`.
   */
  readonly connect: (nodeId: NodeId, address: SocketAddress) => Effect.Effect<PeerInfo, PeerConnectFailed>
  /** Peers whose handshake and `init` completed, sorted by node id. */
  readonly peers: Effect.Effect<ReadonlyArray<PeerInfo>>
  readonly peer: (nodeId: NodeId) => Effect.Effect<PeerInfo, PeerNotConnected>
  /**
   * Closes the connection to `nodeId` (reason `LocalRequest`); returns once it is closed, no
   * longer listed, and its `PeerDisconnected` event is published.
   */
  readonly disconnect: (nodeId: NodeId) => Effect.Effect<void, PeerNotConnected>
  /**
   * Queues `message` (encoded with `LightningMessages`) for the connection `session`; returns
   * once queued, without waiting for the socket. Fails with `StaleSession`, sending nothing,
   * when that connection is over (even if the node is connected again: that is a new session),
   * or when its outbound queue was full (which ends the connection, `OutboundQueueFull`).
   */
  readonly send: (session: SessionId, message: LightningMessage) => Effect.Effect<void, StaleSession | UnencodableMessage>
  /** `send` for an already encoded message (2-byte type + payload, 2..65535 bytes). */
  readonly sendBytes: (session: SessionId, message: Uint8Array) => Effect.Effect<void, StaleSession | InvalidOutgoingMessage>
  /**
   * The session events (see the module doc and `PeerSessionEvent`): lossless, ordered per
   * session and per node, buffered from the registry's start. One consumer at a time: running
   * it while another run is active fails with `SessionEventsBusy`; when a run ends, the next one
   * continues where it stopped (events the stopped run had taken but not handled are gone).
   * The stream ends when the registry's scope closes. Empty with `sessionEvents: "discard"`.
   */
  readonly sessionEvents: Stream.Stream<PeerSessionEvent, SessionEventsBusy>
  /** Informational events from the moment the stream starts running (sliding: may drop). */
  readonly events: Stream.Stream<PeerEvent>
  /** Subscribes now (no event after this call is missed) and returns the informational events as a stream. */
  readonly subscribe: Effect.Effect<Stream.Stream<PeerEvent>, never, Scope.Scope>
}

/** `PeerManagerShape.send` done at once: undefined once queued, else why nothing was sent (`send`'s failures). */
export type SendNow = (session: SessionId, message: LightningMessage) => StaleSession | UnencodableMessage | undefined

const sendsNow = new WeakMap<PeerManagerShape, SendNow>()

/**
 * Declares that `peers` can send at once (`SendNow`: the registry, a simulated network), so a
 * caller on its own fiber (a channel) sends with no effect and no failure to catch. Declared by
 * object: a wrapper that spreads the fields and replaces `send` does not inherit it (its `send`
 * is never bypassed).
 */
export const declareSendNow = <P extends PeerManagerShape>(peers: P, sendNow: SendNow): P => {
  sendsNow.set(peers, sendNow)
  return peers
}

/** The send at once `peers` itself declared (`declareSendNow`), if any. */
export const sendNowOf = (peers: PeerManagerShape): SendNow | undefined => sendsNow.get(peers)

export class PeerManager extends Context.Service<PeerManager, PeerManagerShape>()("effect-lightning/PeerManager") {
  /** The registry as a layer over Transport, Entropy and NodeSigner (same as the module's `layer`). */
  static readonly layer = (config: PeerManagerConfig = {}): Layer.Layer<PeerManager, TransportError, Transport | Entropy | NodeSigner> =>
    Layer.effect(PeerManager, make(config))
}

export interface PeerManagerConfig {
  /** Listen for inbound peers here (port 0: any free port). Omit to only dial out. */
  readonly listen?: SocketAddress
  /** Inbound connections allowed in the handshake at once (default 32). */
  readonly maxPendingInbound?: number
  /** Inbound connections alive at once, handshake or not (default 1024); more are closed on accept. */
  readonly maxInbound?: number
  /**
   * After our outbound connection is closed by the remote right after the handshake, how long
   * to wait for a simultaneous connection from that node to take over before `connect` fails
   * (default 2 seconds; see the module doc).
   */
  readonly duplicateGrace?: Duration.Input
  /** Per-subscriber buffer of the informational events (default 256, sliding). */
  readonly eventBuffer?: number
  /** Session events buffered for the consumer (default 1024); when full, the peers' readers wait. */
  readonly sessionBuffer?: number
  /**
   * "deliver" (default): session events are kept for `sessionEvents`. "discard": there is no
   * consumer (a node without a channel manager); messages are dropped after the Peer's own
   * handling, so no reader ever waits on them.
   */
  readonly sessionEvents?: "deliver" | "discard"
  /** Peer settings; missing ones come from `defaultPeerConfig`. */
  readonly peer?: Partial<PeerConfig>
  /**
   * A gossip layer (`GossipSync`): BOLT 7 messages go to it instead of the session stream, with
   * each session's start and end (see `GossipTap`). Omitted: gossip is handled as `Peer` says.
   */
  readonly gossip?: GossipTap
}

interface Entry {
  readonly handle: PeerHandle
  info: PeerInfo | undefined
  /**
   * Completed once every session event of this connection is in the queue (its
   * `Disconnected`, or nothing if it never had `Connected`) and the previous connection to the
   * node is settled too: the next connection's `Connected` waits for it.
   */
  readonly settled: Deferred.Deferred<void>
  /** Completed once the connection ended AND the registry forgot it (so `disconnect` can wait for it). */
  readonly gone: Deferred.Deferred<void>
}

const keyOf = (nodeId: Uint8Array): string => toHex(nodeId)

/** Starts a registry in the current scope; closing the scope closes every connection. */
export const make = (
  config: PeerManagerConfig = {}
): Effect.Effect<PeerManagerShape, TransportError, Scope.Scope | Transport | Entropy | NodeSigner> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const signer = yield* NodeSigner
    // Only these two: the full context would also carry the caller's Scope into every fiber.
    const services = Context.make(Entropy, yield* Entropy).pipe(Context.add(NodeSigner, signer))
    // The curve and AEAD: `config.peer.crypto` if given, else the `Crypto` reference (the fastest that loads).
    const peerConfig: PeerConfig = { ...defaultPeerConfig, crypto: yield* Crypto, ...config.peer }
    const maxPendingInbound = Math.max(1, config.maxPendingInbound ?? 32)
    const maxInbound = Math.max(1, config.maxInbound ?? 1024)
    const duplicateGrace = config.duplicateGrace ?? "2 seconds"
    const peerEvents = yield* PubSub.sliding<PeerEvent>(Math.max(1, config.eventBuffer ?? 256))
    const deliverSessions = (config.sessionEvents ?? "deliver") === "deliver"
    const sessionQueue = yield* Queue.bounded<PeerSessionEvent, Cause.Done>(Math.max(1, config.sessionBuffer ?? 1024))
    yield* Effect.addFinalizer(() => Queue.end(sessionQueue))
    const emit = (event: PeerSessionEvent): Effect.Effect<unknown> =>
      deliverSessions ? Queue.offer(sessionQueue, event) : Effect.void
    let sessionConsumers = 0
    let sessionCounter = 0
    // Live sessions (from `init` to the end of the connection), for `send`.
    const sessions = new Map<SessionId, PeerHandle>()
    // Per node id: the latest connection's `settled`, which the next connection waits for.
    const lastSettled = new Map<string, Deferred.Deferred<void>>()
    const fibers = yield* FiberSet.make()
    const registryScope = yield* Effect.scope
    const active = new Map<string, Entry>()
    const dialing = new Map<string, Deferred.Deferred<PeerInfo, PeerConnectFailed>>()
    let pendingInbound = 0
    let liveInbound = 0
    const ours = signer.nodeId
    // Completed when the registry's scope closes: a `connect` still waiting then fails (its
    // dial and reporter fibers are interrupted and would never answer), and later ones fail at once.
    const shutdown = yield* Deferred.make<void>()
    yield* Effect.addFinalizer(() => Deferred.succeed(shutdown, undefined))

    /** Which of two connections to one node survives (see the module doc). */
    const newWins = (existing: PeerHandle, incoming: PeerHandle, remote: NodeId): boolean => {
      if (existing.direction === incoming.direction) return true
      const weAreLower = compareBytes(ours, remote) < 0
      const lowerInitiated = (h: PeerHandle) => (h.direction === "outbound") === weAreLower
      return lowerInitiated(incoming)
    }

    /**
     * Runs one connection to its end, bookkeeping included. `started` sees the peer handle
     * before the handshake begins; `authenticated` runs once the remote node id is proven (or,
     * at the latest, when the connection ends).
     */
    const runConnection = (
      connection: Connection,
      role: PeerRole,
      authenticated: Effect.Effect<void>,
      started: (handle: PeerHandle) => Effect.Effect<void, never, Scope.Scope>
    ) =>
      Effect.gen(function*() {
        let entry: Entry | undefined
        let key: string | undefined
        let previous: Deferred.Deferred<void> | undefined
        let connectedEmitted = false
        let gossipConnected = false
        const gossip = config.gossip
        let remote: NodeId | undefined
        const session = SessionId(++sessionCounter)
        const { handle, run } = yield* makePeer(connection, role, session, peerConfig, {
          onAuthenticated: (nodeId, self) =>
            Effect.gen(function*() {
              yield* authenticated
              remote = nodeId
              if (compareBytes(nodeId, ours) === 0) {
                return yield* Effect.fail(new PeerClosed({ reason: DisconnectReason.HandshakeFailed({ message: "connection to ourselves" }) }))
              }
              const k = keyOf(nodeId)
              const existing = active.get(k)
              if (existing !== undefined && !newWins(existing.handle, self, nodeId)) {
                return yield* Effect.fail(new PeerClosed({ reason: DisconnectReason.DuplicateConnection() }))
              }
              // Register the winner first: the loser's observers look it up as it closes.
              entry = { handle: self, info: undefined, settled: yield* Deferred.make<void>(), gone: yield* Deferred.make<void>() }
              key = k
              active.set(k, entry)
              previous = lastSettled.get(k)
              lastSettled.set(k, entry.settled)
              if (existing !== undefined) {
                yield* FiberSet.run(fibers, existing.handle.disconnect(DisconnectReason.DuplicateConnection()))
              }
            }),
          onReady: (info) =>
            Effect.gen(function*() {
              if (entry !== undefined) entry.info = info
              yield* Effect.logInfo(`peer connected ${keyOf(info.nodeId)} (${info.direction})`)
              yield* PubSub.publish(peerEvents, PeerEvent.PeerConnected({ peer: info }))
              sessions.set(session, handle)
            }),
          onConnected: (info) =>
            Effect.gen(function*() {
              // Per node, the previous session's events all come first.
              if (previous !== undefined) yield* Deferred.await(previous)
              // Noted with the offer's own outcome: interrupted just after it, `Disconnected` must still follow.
              yield* emit(PeerSessionEvent.Connected({ session, peer: info })).pipe(
                Effect.onExit((exit) => Effect.sync(() => void (connectedEmitted = Exit.isSuccess(exit))))
              )
              const own = entry
              if (gossip !== undefined && own !== undefined) {
                gossipConnected = true
                yield* gossip.connected(session, info, {
                  sendWait: (bytes) => own.handle.sendWait(bytes).pipe(Effect.mapError((e) => e.reason)),
                  disconnect: (reason) => own.handle.disconnect(reason)
                })
              }
            }),
          onMessage: (message) =>
            remote === undefined ? Effect.void : Effect.asVoid(emit(PeerSessionEvent.Message({ session, nodeId: remote, message }))),
          ...(gossip === undefined ? {} : {
            onGossip: (type: number, bytes: Uint8Array) =>
              remote === undefined
                ? Effect.void
                : gossip.message(session, remote, type, bytes).pipe(Effect.mapError((reason) => new PeerClosed({ reason })))
          })
        })
        // Unlists this connection (unless a newer one to the node replaced it). Also runs when the
        // connection is interrupted (registry shutdown), so no stale peer stays listed.
        const forget = Effect.sync(() => {
          sessions.delete(session)
          if (key !== undefined && entry !== undefined && active.get(key) === entry) active.delete(key)
        })
        /**
         * Settles this connection once the previous one to the node is settled: at once when it
         * emitted `Connected` (it waited for the previous one then), else in the background.
         */
        const settle = Effect.suspend(() => {
          const e = entry
          const k = key
          if (e === undefined || k === undefined) return Effect.void
          const done = Deferred.succeed(e.settled, undefined).pipe(
            Effect.andThen(Effect.sync(() => {
              if (lastSettled.get(k) === e.settled) lastSettled.delete(k)
            }))
          )
          const before = previous
          return before === undefined || Deferred.isDoneUnsafe(before)
            ? done
            : FiberSet.run(fibers, Deferred.await(before).pipe(Effect.andThen(done))).pipe(Effect.asVoid)
        })
        yield* started(handle)
        return yield* Effect.gen(function*() {
          const reason = yield* run
          yield* authenticated // frees the pending-inbound slot if the handshake never finished
          yield* forget // before the event: a subscriber reacting to it no longer sees the peer listed
          if (key !== undefined && entry !== undefined && entry.info !== undefined) {
            yield* Effect.logInfo(`peer disconnected ${key}: ${reason._tag}`)
            yield* PubSub.publish(
              peerEvents,
              PeerEvent.PeerDisconnected({ nodeId: entry.info.nodeId, address: handle.address, direction: handle.direction, reason })
            )
          }
          // `disconnect` returns here: it must not wait for the session consumer (which may be
          // the caller), so `Disconnected` is emitted after.
          if (entry !== undefined) yield* Deferred.succeed(entry.gone, undefined)
          if (connectedEmitted && remote !== undefined) yield* emit(PeerSessionEvent.Disconnected({ session, nodeId: remote, reason }))
          if (gossip !== undefined && gossipConnected && remote !== undefined) yield* gossip.disconnected(session, remote, reason)
          return reason
        }).pipe(
          Effect.ensuring(forget.pipe(
            Effect.andThen(Effect.suspend(() => (entry === undefined ? Effect.void : Deferred.succeed(entry.gone, undefined)))),
            Effect.andThen(settle)
          ))
        )
      })

    // ---- inbound
    let listenAddress: SocketAddress | undefined
    if (config.listen !== undefined) {
      const listener = yield* transport.listen(config.listen)
      listenAddress = listener.address
      const acceptLoop = Effect.gen(function*() {
        while (true) {
          const connection = yield* listener.accept
          if (pendingInbound >= maxPendingInbound || liveInbound >= maxInbound) {
            yield* Effect.logWarning(`too many inbound connections, closing one from ${connection.remoteAddress.host}`)
            yield* connection.close
            continue
          }
          pendingInbound++
          liveInbound++
          let counted = true
          const release = Effect.sync(() => {
            if (counted) {
              counted = false
              pendingInbound--
            }
          })
          yield* FiberSet.run(
            fibers,
            Effect.scoped(
              Effect.addFinalizer(() => connection.close).pipe(
                Effect.andThen(runConnection(connection, { _tag: "Responder" }, release, () => Effect.void)),
                Effect.ensuring(release),
                Effect.ensuring(Effect.sync(() => liveInbound--)),
                Effect.provide(services)
              )
            )
          )
        }
      }).pipe(Effect.catchTag("TransportClosed", () => Effect.void))
      yield* Effect.forkScoped(acceptLoop)
    }

    // ---- outbound
    /**
     * Waits for ANOTHER connection to `nodeId` to complete `init`, for at most
     * `duplicateGrace`: used when our own connection closed right after the handshake, which
     * is what a remote that resolved a simultaneous connect against it does (it may close
     * ours before our side has seen its connection). `events` was subscribed before dialling.
     */
    const followWinner = (
      nodeId: NodeId,
      own: PeerHandle,
      events: PubSub.Subscription<PeerEvent>,
      original: PeerConnectFailed
    ): Effect.Effect<PeerInfo, PeerConnectFailed> =>
      Effect.gen(function*() {
        const key = keyOf(nodeId)
        while (true) {
          const winner = active.get(key)
          if (winner !== undefined && winner.handle !== own) {
            return yield* winner.handle.ready.pipe(Effect.catchTag("PeerClosed", () => Effect.fail(original)))
          }
          const event = yield* PubSub.take(events)
          if (event._tag === "PeerConnected" && keyOf(event.peer.nodeId) === key && event.peer.address !== own.address) {
            return event.peer
          }
        }
      }).pipe(Effect.timeoutOrElse({ duration: duplicateGrace, orElse: () => Effect.fail(original) }))

    /**
     * Dials and runs one outbound connection, completing `result` when `init` is done or the
     * attempt fails. If our connection loses the duplicate tie-break, the winner decides.
     */
    const dial = (nodeId: NodeId, address: SocketAddress, result: Deferred.Deferred<PeerInfo, PeerConnectFailed>) =>
      Effect.gen(function*() {
        const failed = (reason: DisconnectReason) => new PeerConnectFailed({ nodeId, address, reason })
        const started = yield* Deferred.make<PeerHandle, PeerConnectFailed>()
        // The reporter lives in the registry's scope: it must outlive this connection when a
        // duplicate wins. It subscribes to the events (now, synchronously) before anything happens.
        const reporterScope = yield* Scope.fork(registryScope)
        const events = yield* PubSub.subscribe(peerEvents).pipe(Scope.provide(reporterScope))
        yield* Effect.forkIn(registryScope)(
          Effect.exit(Deferred.await(started).pipe(
            Effect.flatMap((handle) =>
              handle.ready.pipe(
                Effect.catchTag("PeerClosed", (e): Effect.Effect<PeerInfo, PeerConnectFailed> =>
                  e.reason._tag === "DuplicateConnection" || e.reason._tag === "ConnectionClosed"
                    ? followWinner(nodeId, handle, events, failed(e.reason))
                    : Effect.fail(failed(e.reason)))
              )
            )
          )).pipe(
            Effect.flatMap((outcome) => Deferred.done(result, outcome)),
            Effect.ensuring(Scope.close(reporterScope, Exit.void))
          )
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const connection = yield* transport.connect(address).pipe(
            Effect.mapError((e) => failed(DisconnectReason.TransportFailed({ message: e.message })))
          )
          yield* Effect.addFinalizer(() => connection.close)
          yield* runConnection(connection, { _tag: "Initiator", remoteNodeId: nodeId }, Effect.void, (handle) =>
            Deferred.succeed(started, handle).pipe(Effect.asVoid))
        })).pipe(
          Effect.catch((e) => Deferred.fail(started, e)),
          Effect.provide(services)
        )
      })

    /**
     * Waits for a registered connection's `init`. If a newer connection to the node replaced it
     * meanwhile (it is registered before the old one is closed), waits for that one instead.
     */
    const awaitReady = (nodeId: NodeId, address: SocketAddress, entry: Entry): Effect.Effect<PeerInfo, PeerConnectFailed> =>
      entry.handle.ready.pipe(
        Effect.catchTag("PeerClosed", (e) => {
          const next = active.get(keyOf(nodeId))
          return e.reason._tag === "DuplicateConnection" && next !== undefined && next !== entry
            ? awaitReady(nodeId, address, next)
            : Effect.fail(new PeerConnectFailed({ nodeId, address, reason: e.reason }))
        })
      )

    const connect = (nodeId: NodeId, address: SocketAddress): Effect.Effect<PeerInfo, PeerConnectFailed> =>
      Effect.gen(function*() {
        if (compareBytes(nodeId, ours) === 0) {
          return yield* Effect.fail(
            new PeerConnectFailed({ nodeId, address, reason: DisconnectReason.HandshakeFailed({ message: "connection to ourselves" }) })
          )
        }
        const stopped = Effect.fail(new PeerConnectFailed({ nodeId, address, reason: DisconnectReason.LocalRequest() }))
        if (Deferred.isDoneUnsafe(shutdown)) return yield* stopped
        const key = keyOf(nodeId)
        const existing = active.get(key)
        if (existing !== undefined) return yield* awaitReady(nodeId, address, existing)
        let attempt = dialing.get(key)
        // A finished attempt is stale (its cleanup may not have run yet): dial again.
        if (attempt === undefined || Deferred.isDoneUnsafe(attempt)) {
          const created = yield* Deferred.make<PeerInfo, PeerConnectFailed>()
          attempt = created
          dialing.set(key, created)
          yield* Effect.ensuring(
            Deferred.await(created),
            Effect.sync(() => {
              if (dialing.get(key) === created) dialing.delete(key)
            })
          ).pipe(Effect.ignore, Effect.forkIn(registryScope))
          yield* FiberSet.run(fibers, dial(nodeId, address, created))
        }
        return yield* Effect.raceFirst(Deferred.await(attempt), Deferred.await(shutdown).pipe(Effect.andThen(stopped)))
      })

    const infoOf = (nodeId: NodeId): Effect.Effect<{ readonly entry: Entry; readonly info: PeerInfo }, PeerNotConnected> =>
      Effect.suspend(() => {
        const entry = active.get(keyOf(nodeId))
        const info = entry?.info
        return entry !== undefined && info !== undefined ? Effect.succeed({ entry, info }) : Effect.fail(new PeerNotConnected({ nodeId }))
      })

    /** Queues an encoded message on `session` at once: undefined, or `StaleSession` when that connection is over. */
    const sendTo = (session: SessionId, message: Uint8Array): StaleSession | undefined => {
      const handle = sessions.get(session)
      return handle === undefined || handle.sendNow(message) !== undefined ? new StaleSession({ session }) : undefined
    }
    /** `send` at once (declared: what the channels use). */
    const sendNow: SendNow = (session, message) => {
      const bytes = LightningMessages.encode(message)
      return Result.isFailure(bytes) ? new UnencodableMessage({ messageTag: message._tag, reason: bytes.failure.reason }) : sendTo(session, bytes.success)
    }
    const done = <E>(failed: E | undefined): Effect.Effect<void, E> => (failed === undefined ? Effect.void : Effect.fail(failed))

    return declareSendNow(PeerManager.of({
      nodeId: ours,
      features: peerConfig.features,
      listenAddress,
      connect,
      peers: Effect.sync(() =>
        [...active.values()]
          .flatMap((e) => (e.info === undefined ? [] : [e.info]))
          .sort((a, b) => compareBytes(a.nodeId, b.nodeId))
      ),
      peer: (nodeId) => infoOf(nodeId).pipe(Effect.map((e) => e.info)),
      disconnect: (nodeId) =>
        Effect.suspend(() => {
          const e = active.get(keyOf(nodeId))
          return e === undefined
            ? Effect.fail(new PeerNotConnected({ nodeId }))
            : e.handle.disconnect(DisconnectReason.LocalRequest()).pipe(Effect.andThen(Deferred.await(e.gone)))
        }),
      send: (session, message) => Effect.suspend(() => done(sendNow(session, message))),
      sendBytes: (session, message) =>
        message.length < 2 || message.length > MAX_MESSAGE_LENGTH
          ? Effect.fail(new InvalidOutgoingMessage({ length: message.length }))
          : Effect.suspend(() => done(sendTo(session, message))),
      sessionEvents: Stream.unwrap(
        Effect.acquireRelease(
          Effect.suspend(() => {
            if (sessionConsumers > 0) return Effect.fail(new SessionEventsBusy())
            sessionConsumers++
            return Effect.void
          }),
          () => Effect.sync(() => void sessionConsumers--)
        ).pipe(Effect.as(Stream.fromQueue(sessionQueue)))
      ),
      events: Stream.fromPubSub(peerEvents),
      subscribe: PubSub.subscribe(peerEvents).pipe(Effect.map(Stream.fromSubscription))
    }), sendNow)
  })

/** The registry as a layer over Transport, Entropy and NodeSigner. */
export const layer = (config: PeerManagerConfig = {}): Layer.Layer<PeerManager, TransportError, Transport | Entropy | NodeSigner> =>
  Layer.effect(PeerManager, make(config))
