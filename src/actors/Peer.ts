/**
 * Peer: one connection to one node (architecture: `Node` ── `Peer` ×N), as three fibers.
 *
 * Life of a connection:
 * 1. BOLT 8 handshake as initiator or responder, within `handshakeTimeout`. Ephemeral keys
 *    come from `Entropy`; the ECDH with our static key is done by `NodeSigner` (the secret
 *    never reaches this module). The pure steps are `protocol/noise/handshake.ts`.
 * 2. `onAuthenticated`: the registry learns the remote node id and may refuse the connection
 *    (duplicate, see PeerManager).
 * 3. BOLT 1 `init` exchange within `initTimeout`: we send ours first (as responder with
 *    `remote_addr` when the remote connects from a public IP), the remote's must be the
 *    first message it sends. Unknown required (even) feature bits: we send a `warning` and
 *    disconnect; missing BOLT 9 dependencies: disconnect; `networks` without a common chain:
 *    `warning` and disconnect (BOLT 1 "MAY close").
 * 4. Steady state, three fibers:
 *    - the WRITER owns the sending cipher and a bounded outbound queue (`outboundCapacity`).
 *      `send` only queues (it never waits for the socket, so a caller, even one handling this
 *      peer's own messages, cannot stall on it); a `send` into a full queue ends the connection
 *      with `OutboundQueueFull`: the remote does not read as fast as we write.
 *    - the READER owns the receiving cipher, frames the byte stream (18-byte header, then the
 *      body; a declared length above `maxMessageLength` or a MAC failure ends the connection
 *      with a typed reason) and handles the BOLT 1 control messages itself: `ping` is answered
 *      (queued to the writer) unless `num_pong_bytes` >= 65532; a `pong` whose length matches
 *      no outstanding ping disconnects (an unsolicited one is ignored); a second `init`
 *      disconnects (`ProtocolViolation`). Every other message is decoded with `messages` (default `LightningMessages`,
 *      BOLT 1 + BOLT 2) and handed to `onMessage`, in order: `warning`s and `error`s (logged,
 *      non-printable data as hex) included; an `error` for all channels (zero channel id) is
 *      handed up and THEN ends the connection (`ReceivedError`, BOLT 1). Unknown odd types are
 *      ignored, unknown even types and known messages that fail to decode disconnect (BOLT 1).
 *      Policies until channels exist: `open_channel` gets an `error` for its temporary channel
 *      id (when `rejectChannels`); gossip (BOLT 7, 256-265 but not 259) from a peer that did not
 *      negotiate `gossip_queries` is ignored, unless a gossip layer takes BOLT 7 (`onGossip`, see
 *      `GossipTap`: then all of 256-265 go there raw, whatever was negotiated); peer storage (7, 9: we do not offer
 *      `option_provide_storage`) is ignored.
 *    - the PINGER sends `ping` every `pingInterval` and disconnects (`PingTimeout`) when no
 *      matching `pong` came within `pingTimeout`.
 *
 * Backpressure and pings. `onMessage` may wait (the layer above hands the message to a bounded
 * queue): while it waits, the reader does not read the socket, so the remote's writes stall (as
 * over TCP) and nothing is buffered beyond the message in hand. A pong behind that message
 * cannot be read either, so the time the reader spends inside `onMessage` does not count
 * against `pingTimeout`: the window is extended by exactly that time (the remote cannot be
 * blamed for our own slowness). A layer above that is slow therefore never causes
 * `PingTimeout`; a remote that stops answering while we do read is dropped as before. (The
 * REMOTE may drop us while we are not reading its pings: that is its call, and the reason to
 * keep the layer above quick on average.) A stuck writer does not suspend the timeout: a peer
 * that stops reading our bytes is dropped all the same (the timeout counts from when the ping
 * was queued).
 *
 * Every way out (timeouts, bad bytes, transport closed, full outbound queue, `disconnect`,
 * scope close) ends in one place: the connection is closed and `closed` yields the
 * `DisconnectReason`. Messages still queued for the writer are dropped with the connection.
 * All timing uses Effect's `Clock`, so `TestClock` drives it in tests.
 */
import { Clock, Data, Deferred, Duration, Effect, Exit, Latch, Queue, Result } from "effect"
import { equalBytes } from "../protocol/bytes.ts"
import type { DecodeError } from "../protocol/codec/errors.ts"
import type { ChainHash } from "../protocol/codec/fields.ts"
import { nobleChaChaPoly } from "../protocol/crypto/aead.ts"
import { nobleSecp256k1 } from "../protocol/crypto/secp256k1.ts"
import {
  ChainHashes,
  type LightningMessage,
  LightningMessages,
  OpenChannel,
  PeerStorage,
  PeerStorageRetrieval,
  type UnknownMessage
} from "../protocol/messages/index.ts"
import {
  ACT_ONE_LENGTH,
  ACT_THREE_LENGTH,
  ACT_TWO_LENGTH,
  initiatorActOne,
  initiatorActThree,
  initiatorActTwo,
  type NoiseCrypto,
  responderActOne,
  responderActThree,
  responderActTwo,
  responderStart,
  type Session
} from "../protocol/noise/handshake.ts"
import {
  type CipherState,
  decryptBody,
  decryptHeader,
  encryptMessage,
  encryptMessageParts,
  HEADER_LENGTH,
  MAX_MESSAGE_LENGTH
} from "../protocol/noise/transport.ts"
import type { NodeId } from "../protocol/units.ts"
import { Entropy } from "../services/Entropy.ts"
import { NodeSigner } from "../services/NodeSigner.ts"
import type { Connection, SocketAddress } from "../services/Transport.ts"
import { DisconnectReason, type Direction, InvalidOutgoingMessage, type PeerInfo, type SessionId } from "./PeerEvent.ts"
import { isTappedType } from "./GossipTap.ts"
import * as ConnectionRules from "../protocol/connection-rules.ts"
import { makeStreamReader, type StreamReader } from "./StreamReader.ts"

/** Messages longer than this are written as the packet's three parts instead of one buffer. */
const SEND_IN_PARTS_ABOVE = 2048
/** At most this many queued messages go to the transport in one write. */
const WRITE_BATCH = 64

/**
 * How inbound messages (after `init`) are decoded: a message registry (`makeRegistry`) whose
 * messages are among `LightningMessage`, e.g. `LightningMessages` (the default) or `Bolt1`.
 */
export interface InboundDecoder {
  readonly decode: (bytes: Uint8Array) => Result.Result<LightningMessage | UnknownMessage, DecodeError>
}

export interface PeerConfig {
  /** Our `init` features (BOLT 9 bit field). */
  readonly features: Uint8Array
  /** Chains for the `networks` TLV (e.g. `ChainHashes.regtest`). Empty: no `networks` TLV, accept any. */
  readonly chains: ReadonlyArray<ChainHash>
  readonly handshakeTimeout: Duration.Input
  readonly initTimeout: Duration.Input
  readonly pingInterval: Duration.Input
  readonly pingTimeout: Duration.Input
  /** Largest Lightning message accepted from the remote (at most 65535, BOLT 8). */
  readonly maxMessageLength: number
  /** Messages queued for the writer at most; one more ends the connection (`OutboundQueueFull`). */
  readonly outboundCapacity: number
  /** Curve and AEAD implementations for BOLT 8 (portable noble by default). */
  readonly crypto: NoiseCrypto
  /** Decoder of inbound messages (default `LightningMessages`); it must know the BOLT 1 messages. */
  readonly messages: InboundDecoder
  /**
   * Answer `open_channel` with an `error` for its temporary channel id instead of handing it up
   * (default true, for a node without a channel manager; a channel manager sets it to false).
   */
  readonly rejectChannels: boolean
}

/** Regtest genesis block hash in wire order (BOLT 0 `chain_hash`; `ChainHashes.regtest`). */
export const REGTEST_CHAIN_HASH: ChainHash = ChainHashes.regtest

export const defaultPeerConfig: PeerConfig = {
  features: ConnectionRules.ourInitFeatures,
  chains: [REGTEST_CHAIN_HASH],
  handshakeTimeout: "10 seconds",
  initTimeout: "10 seconds",
  pingInterval: "30 seconds",
  pingTimeout: "15 seconds",
  maxMessageLength: MAX_MESSAGE_LENGTH,
  outboundCapacity: 1024,
  crypto: { secp: nobleSecp256k1, aead: nobleChaChaPoly },
  messages: LightningMessages,
  rejectChannels: true
}

export type PeerRole =
  | { readonly _tag: "Initiator"; readonly remoteNodeId: NodeId }
  | { readonly _tag: "Responder" }

/** Ends a peer: carried as the run's failure. */
export class PeerClosed extends Data.TaggedError("PeerClosed")<{ readonly reason: DisconnectReason }> {}

/**
 * How a peer reports to its registry. Called in this order: `onAuthenticated`, `onReady`,
 * `onConnected`, then `onMessage` per message; never concurrently.
 */
export interface PeerHooks {
  /** Called once the handshake proved `nodeId`; failing refuses the connection with that reason. */
  readonly onAuthenticated: (nodeId: NodeId, peer: PeerHandle) => Effect.Effect<void, PeerClosed>
  /** Called once `init` is exchanged and accepted (bookkeeping: it must not wait); `ready` completes after it. */
  readonly onReady: (info: PeerInfo) => Effect.Effect<void>
  /** Then, before any message is read: may wait (e.g. to hand `Connected` to a full queue). */
  readonly onConnected: (info: PeerInfo) => Effect.Effect<void>
  /**
   * Each message for the layer above, in order. May wait (backpressure): meanwhile the socket
   * is not read and the ping timeout is suspended (see the module doc). A defect here ends the
   * connection as `InternalError`.
   */
  readonly onMessage: (message: LightningMessage) => Effect.Effect<void>
  /**
   * Optional (a gossip layer, see `GossipTap`): BOLT 7 messages (types 256..265, with
   * `announcement_signatures`) are handed here raw, in order, instead of `onMessage`, whether or
   * not `gossip_queries` was negotiated. May wait like `onMessage` (same pause accounting);
   * failing ends the connection with `PeerClosed`'s reason.
   */
  readonly onGossip?: (type: number, message: Uint8Array) => Effect.Effect<void, PeerClosed>
}

export interface PeerHandle {
  readonly session: SessionId
  readonly direction: Direction
  readonly address: SocketAddress
  /**
   * Queues one encoded Lightning message (2-byte type + payload, 2..65535 bytes: anything else
   * is a defect of the caller) for the writer; returns at once. Fails once the peer is not live
   * (before `init` too), and when the outbound queue is full, which also ends the connection
   * (`OutboundQueueFull`).
   */
  readonly send: (message: Uint8Array) => Effect.Effect<void, PeerClosed>
  /** `send` done at once (it never waits): undefined once queued, else why nothing was queued. */
  readonly sendNow: (message: Uint8Array) => PeerClosed | undefined
  /**
   * Like `send`, but waits while the outbound queue is full instead of ending the connection
   * (bulk gossip replies); fails once the peer is not live or the connection ends meanwhile.
   */
  readonly sendWait: (message: Uint8Array) => Effect.Effect<void, PeerClosed>
  /** Ends the connection with `reason` (no-op if already ending) and waits until it is closed. */
  readonly disconnect: (reason: DisconnectReason) => Effect.Effect<void>
  /** Waits for the end of the connection and yields why it ended. */
  readonly closed: Effect.Effect<DisconnectReason>
  /** The peer once `init` completed; fails with the reason if the connection ended before. */
  readonly ready: Effect.Effect<PeerInfo, PeerClosed>
}

const close = (reason: DisconnectReason) => new PeerClosed({ reason })

const describe = ConnectionRules.describeError

/** Peer storage (BOLT 1): we do not offer `option_provide_storage`, so both are ignored. */
const IGNORED_TYPES: ReadonlySet<number> = new Set([PeerStorage.type, PeerStorageRetrieval.type])

/**
 * Creates a peer over `connection`, known to its registry as `session`. Nothing happens until
 * `run` is executed; `run` returns (never fails) once the connection has ended, with the
 * reason, and always closes the connection.
 */
export const makePeer = (
  connection: Connection,
  role: PeerRole,
  session: SessionId,
  config: PeerConfig,
  hooks: PeerHooks
): Effect.Effect<{ readonly handle: PeerHandle; readonly run: Effect.Effect<DisconnectReason, never, Entropy | NodeSigner> }> =>
  Effect.gen(function*() {
    const kill = yield* Deferred.make<DisconnectReason>()
    const finished = yield* Deferred.make<DisconnectReason>()
    const readyDeferred = yield* Deferred.make<PeerInfo, PeerClosed>()
    const direction: Direction = role._tag === "Initiator" ? "outbound" : "inbound"
    const maxLength = Math.min(MAX_MESSAGE_LENGTH, config.maxMessageLength)
    const capacity = Math.max(1, config.outboundCapacity)
    // Set while the writer runs: `send` queues here.
    let outbound: Queue.Queue<Uint8Array> | undefined

    /**
     * Queues for the writer at once (undefined once queued); a full queue ends the connection. A
     * message of the wrong size is a defect of the caller (PeerManager validates).
     */
    const queueNow = (message: Uint8Array): PeerClosed | undefined => {
      if (message.length < 2 || message.length > MAX_MESSAGE_LENGTH) throw new InvalidOutgoingMessage({ length: message.length })
      if (outbound === undefined) return close(DisconnectReason.ConnectionClosed({ message: "peer not ready or already closed" }))
      if (Queue.offerUnsafe(outbound, message)) return undefined
      const reason = DisconnectReason.OutboundQueueFull({ capacity })
      outbound = undefined
      Deferred.doneUnsafe(kill, Exit.succeed(reason))
      return close(reason)
    }
    const enqueue = (message: Uint8Array): Effect.Effect<void, PeerClosed> =>
      Effect.suspend(() => {
        const failed = queueNow(message)
        return failed === undefined ? Effect.void : Effect.fail(failed)
      })

    const handle: PeerHandle = {
      session,
      direction,
      address: connection.remoteAddress,
      send: enqueue,
      sendNow: queueNow,
      sendWait: (message) =>
        message.length < 2 || message.length > MAX_MESSAGE_LENGTH
          ? Effect.die(new InvalidOutgoingMessage({ length: message.length }))
          : Effect.suspend(() => {
            const queue = outbound
            if (queue === undefined) {
              return Effect.fail(close(DisconnectReason.ConnectionClosed({ message: "peer not ready or already closed" })))
            }
            return Effect.raceFirst(
              Queue.offer(queue, message).pipe(Effect.asVoid),
              Deferred.await(finished).pipe(Effect.flatMap((reason) => Effect.fail(close(reason))))
            )
          }),
      disconnect: (reason) => Deferred.succeed(kill, reason).pipe(Effect.andThen(Deferred.await(finished)), Effect.asVoid),
      closed: Deferred.await(finished),
      ready: Deferred.await(readyDeferred)
    }

    const run = Effect.gen(function*() {
      const entropy = yield* Entropy
      const signer = yield* NodeSigner
      const reader = makeStreamReader(connection)
      const write = (bytes: Uint8Array | ReadonlyArray<Uint8Array>) =>
        connection.write(bytes).pipe(Effect.mapError((e) => close(DisconnectReason.ConnectionClosed({ message: e.reason }))))

      // ---- 1. handshake
      const noise = yield* handshake(role, config.crypto, reader, write, entropy.randomBytes, signer).pipe(
        Effect.timeoutOrElse({
          duration: config.handshakeTimeout,
          orElse: () => Effect.fail(close(DisconnectReason.HandshakeTimeout()))
        })
      )
      const remoteNodeId = noise.remoteStatic
      yield* hooks.onAuthenticated(remoteNodeId, handle)

      // ---- framing: the send cipher is used by this fiber until `init` is done, then by the
      // writer only; the receive cipher by this fiber, then by the reader only.
      let sendCipher: CipherState = noise.send
      let receiveCipher: CipherState = noise.receive
      /** Encrypts one message into the chunks to write (large ones as the packet's three parts). */
      const seal = (message: Uint8Array): ReadonlyArray<Uint8Array> => {
        // Large messages go out as the packet's three parts: no 64 KiB buffer to allocate and
        // fill (bench/noise.bench.ts); small ones as one buffer.
        if (message.length > SEND_IN_PARTS_ABOVE) {
          const parts = encryptMessageParts(config.crypto.aead, sendCipher, message)
          if (Result.isFailure(parts)) throw parts.failure // our own message too long: a bug
          sendCipher = parts.success.state
          return parts.success.parts
        }
        const r = encryptMessage(config.crypto.aead, sendCipher, message)
        if (Result.isFailure(r)) throw r.failure // our own message too long: a bug
        sendCipher = r.success.state
        return [r.success.packet]
      }
      const sendNow = (message: Uint8Array) => Effect.suspend(() => write(seal(message)))
      const readMessage: Effect.Effect<Uint8Array, PeerClosed> = Effect.gen(function*() {
        const header = yield* reader.readExactly(HEADER_LENGTH)
        const pending = decryptHeader(config.crypto.aead, receiveCipher, header)
        if (Result.isFailure(pending)) return yield* Effect.fail(close(DisconnectReason.DecryptionFailed()))
        const length = pending.success.bodyLength - 16
        if (length > maxLength) return yield* Effect.fail(close(DisconnectReason.FrameTooLong({ length, limit: maxLength })))
        const body = yield* reader.readExactly(pending.success.bodyLength)
        const opened = decryptBody(config.crypto.aead, pending.success, body)
        if (Result.isFailure(opened)) return yield* Effect.fail(close(DisconnectReason.DecryptionFailed()))
        receiveCipher = opened.success.state
        return opened.success.message
      }).pipe(
        Effect.catchTag("TransportClosed", (e) => Effect.fail(close(DisconnectReason.ConnectionClosed({ message: e.reason }))))
      )
      const sendWarning = (text: string) =>
        sendNow(ConnectionRules.encodeWarning(text)).pipe(
          Effect.timeoutOrElse({ duration: "1 second", orElse: () => Effect.void }),
          Effect.ignore
        )

      // ---- 2. init
      // BOLT 1: the receiver of a connection SHOULD tell the remote its public IP address.
      const remoteAddr = role._tag === "Responder"
        ? ConnectionRules.publicRemoteAddress(connection.remoteAddress.host, connection.remoteAddress.port)
        : undefined
      // Sending ours and receiving theirs both count against the init timeout.
      const first = yield* sendNow(ConnectionRules.encodeInit(config.features, config.chains, remoteAddr)).pipe(
        Effect.andThen(readMessage),
        Effect.timeoutOrElse({ duration: config.initTimeout, orElse: () => Effect.fail(close(DisconnectReason.InitTimeout())) })
      )
      const init = ConnectionRules.decodeInit(first)
      if (init._tag === "NotInit") return yield* Effect.fail(close(DisconnectReason.InitExpected({ messageType: init.messageType })))
      if (init._tag === "Malformed") {
        return yield* Effect.fail(close(DisconnectReason.MalformedMessage({ messageType: 16, message: init.message })))
      }
      const check = ConnectionRules.checkRemoteFeatures(config.features, init.features)
      if (check._tag === "UnknownRequired") {
        yield* sendWarning(`unknown required feature bits: ${check.bits.join(", ")}`)
        return yield* Effect.fail(close(DisconnectReason.UnknownRequiredFeatures({ bits: check.bits })))
      }
      if (check._tag === "MissingDependency") {
        yield* sendWarning(check.message)
        return yield* Effect.fail(close(DisconnectReason.MissingFeatureDependency({ message: check.message })))
      }
      if (init.networks !== undefined && config.chains.length > 0 && !init.networks.some((c) => config.chains.some((o) => equalBytes(o, c)))) {
        yield* sendWarning("no common chain")
        return yield* Effect.fail(close(DisconnectReason.NoCommonChain()))
      }
      const info: PeerInfo = {
        session,
        nodeId: remoteNodeId,
        address: connection.remoteAddress,
        direction,
        localFeatures: config.features,
        remoteFeatures: init.features,
        negotiatedFeatures: ConnectionRules.negotiatedFeatures(config.features, init.features),
        remoteNetworks: init.networks
      }
      const gossipQueries = ConnectionRules.negotiatedGossipQueries(info.negotiatedFeatures)

      // ---- 3. steady state
      return yield* Effect.scoped(Effect.gen(function*() {
        // A defect in a fiber ends the connection at once and is never left unobserved; a
        // PeerClosed failure ends it with its reason.
        const supervise = <A>(fiber: Effect.Effect<A, PeerClosed>) =>
          fiber.pipe(
            Effect.catchTag("PeerClosed", (e) => Deferred.succeed(kill, e.reason)),
            Effect.catchDefect((defect) => Deferred.succeed(kill, DisconnectReason.InternalError({ message: String(defect) })))
          )

        // -- writer
        const queue = yield* Queue.bounded<Uint8Array>(capacity)
        outbound = queue
        yield* Effect.addFinalizer(() => Effect.sync(() => void (outbound = undefined)))
        yield* Effect.forkScoped(supervise(Effect.forever(
          Queue.takeBetween(queue, 1, WRITE_BATCH).pipe(
            Effect.flatMap((batch) => Effect.suspend(() => write(batch.flatMap(seal))))
          )
        )))

        // -- reader state shared with the pinger. JavaScript runs one fiber at a time: no lock.
        // The outstanding ping (set by the pinger, cleared by the reader on the matching pong).
        let outstandingPong: number | undefined
        // Time the reader spent in `onMessage` (our own backpressure), and since when it is in it.
        let pausedMillis = 0
        let pausedSince: number | undefined
        const notPaused = yield* Latch.make(true)
        const pausedSoFar = Clock.currentTimeMillis.pipe(
          Effect.map((now) => pausedMillis + (pausedSince === undefined ? 0 : now - pausedSince))
        )
        const deliver = (message: LightningMessage): Effect.Effect<void> => whilePaused(hooks.onMessage(message))
        /** Runs a hand-off to the layer above; its time does not count against the ping timeout. */
        const whilePaused = <E>(handOff: Effect.Effect<void, E>): Effect.Effect<void, E> =>
          Effect.gen(function*() {
            pausedSince = yield* Clock.currentTimeMillis
            notPaused.closeUnsafe()
            yield* handOff
          }).pipe(Effect.ensuring(Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            if (pausedSince !== undefined) pausedMillis += now - pausedSince
            pausedSince = undefined
            notPaused.openUnsafe()
          })))

        const handleInbound = (bytes: Uint8Array): Effect.Effect<void, PeerClosed> => {
          const type = ConnectionRules.messageType(bytes)
          if (type === undefined) {
            return Effect.fail(close(DisconnectReason.MalformedMessage({ messageType: -1, message: "message shorter than its type" })))
          }
          const control = ConnectionRules.decodeControl(bytes)
          switch (control._tag) {
            case "Malformed":
              return Effect.fail(close(DisconnectReason.MalformedMessage({ messageType: control.messageType, message: control.message })))
            case "Ping":
              return control.numPongBytes < 65532 ? enqueue(ConnectionRules.encodePong(control.numPongBytes)) : Effect.void
            case "Pong":
              if (outstandingPong === undefined) return Effect.logDebug("unsolicited pong ignored")
              if (control.length !== outstandingPong) {
                return Effect.fail(close(DisconnectReason.UnexpectedPong({ length: control.length })))
              }
              outstandingPong = undefined
              return Effect.void
            case "Init":
              return Effect.fail(close(DisconnectReason.ProtocolViolation({ messageType: 16, message: "second init" })))
            case "Error": {
              const data = ConnectionRules.printable(control.message.data)
              if (ConnectionRules.isZeroChannelId(control.message.channelId)) {
                // BOLT 1: fail all channels with the node (the layer above), and the connection ends.
                return Effect.logWarning(`peer error for all channels: ${data}`).pipe(
                  Effect.andThen(deliver(control.message)),
                  Effect.andThen(Effect.fail(close(DisconnectReason.ReceivedError({ message: data }))))
                )
              }
              return Effect.logWarning(`peer error for channel: ${data}`).pipe(Effect.andThen(deliver(control.message)))
            }
            case "Warning":
              return Effect.logWarning(`peer warning: ${ConnectionRules.printable(control.message.data)}`).pipe(
                Effect.andThen(deliver(control.message))
              )
            case "Other":
              return handleOther(type, bytes)
          }
        }

        const handleOther = (type: number, bytes: Uint8Array): Effect.Effect<void, PeerClosed> => {
          if (IGNORED_TYPES.has(type)) return Effect.void
          if (hooks.onGossip !== undefined && isTappedType(type)) return whilePaused(hooks.onGossip(type, bytes))
          if (ConnectionRules.isGossipType(type) && !gossipQueries) return Effect.logDebug(`gossip type ${type} ignored: no gossip_queries`)
          if (type === OpenChannel.type && config.rejectChannels) {
            const open = OpenChannel.decode(bytes)
            if (Result.isFailure(open)) {
              return Effect.fail(close(DisconnectReason.MalformedMessage({ messageType: type, message: describe(open.failure) })))
            }
            // BOLT 2: the receiver of `open_channel` MAY reject it with an `error` for its temporary id.
            return enqueue(ConnectionRules.encodeError("not accepting channels", open.success.temporaryChannelId))
          }
          const decoded = config.messages.decode(bytes)
          if (Result.isFailure(decoded)) {
            const e = decoded.failure
            return Effect.fail(close(
              e._tag === "UnknownEvenMessage"
                ? DisconnectReason.UnknownEvenMessage({ messageType: type })
                : DisconnectReason.MalformedMessage({ messageType: type, message: describe(e) })
            ))
          }
          const message = decoded.success
          if (message._tag === "UnknownMessage") return Effect.void // BOLT 1: it's ok to be odd
          return deliver(message)
        }

        yield* hooks.onReady(info)
        yield* Deferred.succeed(readyDeferred, info)
        yield* hooks.onConnected(info)

        // -- reader: one message at a time, handled before the next is read.
        yield* Effect.forkScoped(supervise(Effect.forever(readMessage.pipe(Effect.flatMap(handleInbound)))))

        // -- pinger: the pong must come within `pingTimeout` of time the reader was free to read
        // it (time paused in `onMessage` does not count).
        const timeoutMillis = Duration.toMillis(Duration.fromInputUnsafe(config.pingTimeout))
        const awaitPong: Effect.Effect<void> = Effect.gen(function*() {
          const start = yield* Clock.currentTimeMillis
          const pausedAtStart = yield* pausedSoFar
          let wait = timeoutMillis
          while (true) {
            yield* Effect.sleep(Duration.millis(wait))
            if (outstandingPong === undefined) return
            yield* notPaused.await
            if (outstandingPong === undefined) return
            const now = yield* Clock.currentTimeMillis
            const reading = (now - start) - ((yield* pausedSoFar) - pausedAtStart)
            wait = timeoutMillis - reading
            if (wait <= 0) return yield* Deferred.succeed(kill, DisconnectReason.PingTimeout())
          }
        })
        yield* Effect.forkScoped(supervise(Effect.forever(Effect.gen(function*() {
          yield* Effect.sleep(config.pingInterval)
          const r = yield* entropy.randomBytes(1)
          const numPongBytes = r[0] ?? 0
          outstandingPong = numPongBytes
          yield* enqueue(ConnectionRules.encodePing(numPongBytes))
          yield* awaitPong
        }))))

        // Runs until someone pulls the kill switch (the race below).
        return yield* Effect.never
      }))
    }).pipe(
      Effect.catchTag("PeerClosed", (e) => Effect.succeed(e.reason)),
      Effect.catchDefect((defect) => Effect.succeed(DisconnectReason.InternalError({ message: String(defect) }))),
      (body) => Effect.raceFirst(body, Deferred.await(kill)),
      Effect.onExit((exit) =>
        Effect.gen(function*() {
          const reason = Exit.isSuccess(exit) ? exit.value : DisconnectReason.LocalRequest()
          outbound = undefined
          yield* connection.close
          yield* Deferred.fail(readyDeferred, close(reason))
          yield* Deferred.succeed(finished, reason)
        })
      )
    )
    return { handle, run }
  })

/** A valid secp256k1 secret from Entropy (retrying the ~2^-128 invalid draws). */
const ephemeralSecret = (
  random: (n: number) => Effect.Effect<Uint8Array>,
  crypto: NoiseCrypto
): Effect.Effect<Uint8Array> =>
  random(32).pipe(Effect.flatMap((k) => (crypto.secp.isValidSecret(k) ? Effect.succeed(k) : ephemeralSecret(random, crypto))))

/** BOLT 8 acts 1-3; failures are `HandshakeFailed` with the noise error described. */
const handshake = (
  role: PeerRole,
  crypto: NoiseCrypto,
  reader: StreamReader,
  write: (bytes: Uint8Array) => Effect.Effect<void, PeerClosed>,
  random: (n: number) => Effect.Effect<Uint8Array>,
  signer: NodeSigner["Service"]
): Effect.Effect<Session, PeerClosed> => {
  const step = <A, E extends { readonly _tag: string }>(r: Result.Result<A, E>): Effect.Effect<A, PeerClosed> =>
    Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(close(DisconnectReason.HandshakeFailed({ message: describe(r.failure) })))
  const read = (n: number) =>
    reader.readExactly(n).pipe(
      Effect.mapError((e) => close(DisconnectReason.HandshakeFailed({ message: `connection closed during handshake: ${e.reason}` })))
    )
  const ecdh = (point: Uint8Array) =>
    signer.ecdh(point).pipe(Effect.mapError(() => close(DisconnectReason.HandshakeFailed({ message: "invalid point" }))))
  return Effect.gen(function*() {
    const ephemeral = yield* ephemeralSecret(random, crypto)
    if (role._tag === "Initiator") {
      const one = yield* step(initiatorActOne(crypto, { localStatic: signer.nodeId, remoteStatic: role.remoteNodeId, ephemeralSecret: ephemeral }))
      yield* write(one.act)
      const two = yield* step(initiatorActTwo(crypto, one.state, yield* read(ACT_TWO_LENGTH)))
      const three = yield* step(initiatorActThree(crypto, two, yield* ecdh(two.point)))
      yield* write(three.act)
      return three.session
    }
    const start = yield* step(responderStart(crypto, { localStatic: signer.nodeId, ephemeralSecret: ephemeral }))
    const one = yield* step(responderActOne(crypto, start, yield* read(ACT_ONE_LENGTH)))
    const two = yield* step(responderActTwo(crypto, one, yield* ecdh(one.point)))
    yield* write(two.act)
    return yield* step(responderActThree(crypto, two.state, yield* read(ACT_THREE_LENGTH)))
  })
}
