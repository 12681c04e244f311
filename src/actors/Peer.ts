/**
 * Peer: one actor per connection (architecture: `Node` ── `Peer` ×N).
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
 * 4. Steady state: an `Actor` owns the sending cipher and handles inbound messages one at a
 *    time; a reader fiber owns the receiving cipher and frames the byte stream (18-byte
 *    header, then the body; a declared length above `maxMessageLength` or a MAC failure ends
 *    the connection with a typed reason); a timer fiber sends `ping` every `pingInterval`
 *    and disconnects when no matching `pong` came within `pingTimeout`.
 *    Inbound: `ping` is answered unless `num_pong_bytes` >= 65532; a `pong` whose length
 *    matches no outstanding ping disconnects (an unsolicited one is ignored); `error` for all
 *    channels (zero channel id) disconnects; an `error` for one channel and every `warning`
 *    are logged (non-printable data as hex) and handed to `onMessage`; a message type the
 *    layer above accepts (`acceptsMessage`) is handed to `onMessage`, in order; other odd
 *    types are ignored and other even types disconnect (BOLT 1 "it's ok to be odd").
 *    A second `init`, or an `init`/`error`/`warning`/`ping`/`pong` that fails to decode,
 *    disconnects (MalformedMessage); other BOLT 1 types (peer storage, not offered) count as
 *    unknown odd messages.
 *
 * Timers: a ping goes out `pingInterval` after the previous ping's timeout check, and the
 * check runs `pingTimeout` after it is queued. The timeout counts from when the ping was
 * queued, so a peer that stops reading (our writes stall) is dropped all the same.
 *
 * Every way out (timeouts, bad bytes, transport closed, `disconnect`, scope close) ends in
 * one place: the connection is closed and `closed` yields the `DisconnectReason`. All timing
 * uses Effect's `Clock`, so `TestClock` drives it in tests.
 */
import { Data, Deferred, type Duration, Effect, Exit, Result } from "effect"
import { equalBytes, toHex } from "../protocol/bytes.ts"
import type { ChainHash } from "../protocol/codec/fields.ts"
import { nobleChaChaPoly } from "../protocol/crypto/aead.ts"
import { nobleSecp256k1 } from "../protocol/crypto/secp256k1.ts"
import { ChainHashes } from "../protocol/messages/index.ts"
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

/** Messages longer than this are written as the packet's three parts instead of one buffer. */
const SEND_IN_PARTS_ABOVE = 2048
import type { NodeId } from "../protocol/units.ts"
import { Entropy } from "../services/Entropy.ts"
import { NodeSigner } from "../services/NodeSigner.ts"
import type { Connection, SocketAddress } from "../services/Transport.ts"
import * as Actor from "./Actor.ts"
import { DisconnectReason, type Direction, InvalidOutgoingMessage, type PeerInfo } from "./PeerEvent.ts"
import * as Wire from "./PeerWire.ts"
import { makeStreamReader, type StreamReader } from "./StreamReader.ts"

/** A message for the layer above (channels, gossip): type and payload after the 2-byte type. */
export interface InboundMessage {
  readonly nodeId: NodeId
  readonly type: number
  readonly payload: Uint8Array
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
  /** Peer actor mailbox capacity. */
  readonly mailboxCapacity: number
  /** Curve and AEAD implementations for BOLT 8 (portable noble by default). */
  readonly crypto: NoiseCrypto
  /** Message types the layer above handles; they go to `onMessage`. */
  readonly acceptsMessage: (type: number) => boolean
}

/** Regtest genesis block hash in wire order (BOLT 0 `chain_hash`; `ChainHashes.regtest`). */
export const REGTEST_CHAIN_HASH: ChainHash = ChainHashes.regtest

export const defaultPeerConfig: PeerConfig = {
  features: Wire.ourInitFeatures,
  chains: [REGTEST_CHAIN_HASH],
  handshakeTimeout: "10 seconds",
  initTimeout: "10 seconds",
  pingInterval: "30 seconds",
  pingTimeout: "15 seconds",
  maxMessageLength: MAX_MESSAGE_LENGTH,
  mailboxCapacity: 64,
  crypto: { secp: nobleSecp256k1, aead: nobleChaChaPoly },
  acceptsMessage: () => false
}

export type PeerRole =
  | { readonly _tag: "Initiator"; readonly remoteNodeId: NodeId }
  | { readonly _tag: "Responder" }

/** Ends a peer: carried as the actor's and the run's failure. */
export class PeerClosed extends Data.TaggedError("PeerClosed")<{ readonly reason: DisconnectReason }> {}

export interface PeerHooks {
  /** Called once the handshake proved `nodeId`; failing refuses the connection with that reason. */
  readonly onAuthenticated: (nodeId: NodeId, peer: PeerHandle) => Effect.Effect<void, PeerClosed>
  /** Called once `init` is exchanged and accepted. */
  readonly onReady: (info: PeerInfo) => Effect.Effect<void>
  /**
   * Called, in order, for each message the layer above accepts. Runs in the peer actor: keep it
   * short, and hand the message on (e.g. to a channel's mailbox) rather than wait for this peer's
   * `send` (that would wait for the actor itself, until the ping timeout drops the peer).
   */
  readonly onMessage: (message: InboundMessage) => Effect.Effect<void>
}

export interface PeerHandle {
  readonly direction: Direction
  readonly address: SocketAddress
  /**
   * Sends one encoded Lightning message (2-byte type + payload, 2..65535 bytes: anything else is
   * a defect of the caller). Fails once the peer is not live.
   */
  readonly send: (message: Uint8Array) => Effect.Effect<void, PeerClosed>
  /** Ends the connection with `reason` (no-op if already ending) and waits until it is closed. */
  readonly disconnect: (reason: DisconnectReason) => Effect.Effect<void>
  /** Waits for the end of the connection and yields why it ended. */
  readonly closed: Effect.Effect<DisconnectReason>
  /** The peer once `init` completed; fails with the reason if the connection ended before. */
  readonly ready: Effect.Effect<PeerInfo, PeerClosed>
}

type PeerMsg =
  | { readonly _tag: "Inbound"; readonly message: Uint8Array }
  | { readonly _tag: "Send"; readonly message: Uint8Array; readonly reply: Actor.Reply<void, PeerClosed> }
  | { readonly _tag: "SendPing"; readonly numPongBytes: number }

const close = (reason: DisconnectReason) => new PeerClosed({ reason })

const describe = Wire.describeError

/**
 * Creates a peer over `connection`. Nothing happens until `run` is executed; `run` returns
 * (never fails) once the connection has ended, with the reason, and always closes the connection.
 */
export const makePeer = (
  connection: Connection,
  role: PeerRole,
  config: PeerConfig,
  hooks: PeerHooks
): Effect.Effect<{ readonly handle: PeerHandle; readonly run: Effect.Effect<DisconnectReason, never, Entropy | NodeSigner> }> =>
  Effect.gen(function*() {
    const kill = yield* Deferred.make<DisconnectReason>()
    const finished = yield* Deferred.make<DisconnectReason>()
    const readyDeferred = yield* Deferred.make<PeerInfo, PeerClosed>()
    const direction: Direction = role._tag === "Initiator" ? "outbound" : "inbound"
    let actor: Actor.Actor<PeerMsg, PeerClosed> | undefined
    const maxLength = Math.min(MAX_MESSAGE_LENGTH, config.maxMessageLength)

    const handle: PeerHandle = {
      direction,
      address: connection.remoteAddress,
      send: (message) =>
        Effect.suspend(() =>
          message.length < 2 || message.length > MAX_MESSAGE_LENGTH
            ? Effect.die(new InvalidOutgoingMessage({ length: message.length })) // callers validate (PeerManager.send)
            : actor === undefined
            ? Effect.fail(close(DisconnectReason.ConnectionClosed({ message: "peer not ready or already closed" })))
            : actor.ask<void, PeerClosed>((reply) => ({ _tag: "Send", message, reply })).pipe(
              Effect.catchTags({
                ActorStopped: () => Effect.fail(close(DisconnectReason.ConnectionClosed({ message: "peer stopped" }))),
                ActorCrashed: (e) => Effect.fail(close(DisconnectReason.InternalError({ message: String(e.defect) })))
              })
            )
        ),
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
      const session = yield* handshake(role, config.crypto, reader, write, entropy.randomBytes, signer).pipe(
        Effect.timeoutOrElse({
          duration: config.handshakeTimeout,
          orElse: () => Effect.fail(close(DisconnectReason.HandshakeTimeout()))
        })
      )
      const remoteNodeId = session.remoteStatic
      yield* hooks.onAuthenticated(remoteNodeId, handle)

      // ---- framing: the send cipher is used by one fiber at a time (this one, then the actor)
      let sendCipher: CipherState = session.send
      let receiveCipher: CipherState = session.receive
      const sendMessage = (message: Uint8Array) =>
        Effect.suspend(() => {
          // Large messages go out as the packet's three parts: no 64 KiB buffer to allocate and
          // fill (bench/noise.bench.ts); small ones as one buffer, one transport write.
          if (message.length > SEND_IN_PARTS_ABOVE) {
            const parts = encryptMessageParts(config.crypto.aead, sendCipher, message)
            if (Result.isFailure(parts)) return Effect.die(parts.failure) // our own message too long: a bug
            sendCipher = parts.success.state
            return write(parts.success.parts)
          }
          const r = encryptMessage(config.crypto.aead, sendCipher, message)
          if (Result.isFailure(r)) return Effect.die(r.failure) // our own message too long: a bug
          sendCipher = r.success.state
          return write(r.success.packet)
        })
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
        sendMessage(Wire.encodeWarning(text)).pipe(
          Effect.timeoutOrElse({ duration: "1 second", orElse: () => Effect.void }),
          Effect.ignore
        )

      // ---- 2. init
      // BOLT 1: the receiver of a connection SHOULD tell the remote its public IP address.
      const remoteAddr = role._tag === "Responder"
        ? Wire.publicRemoteAddress(connection.remoteAddress.host, connection.remoteAddress.port)
        : undefined
      // Sending ours and receiving theirs both count against the init timeout.
      const first = yield* sendMessage(Wire.encodeInit(config.features, config.chains, remoteAddr)).pipe(
        Effect.andThen(readMessage),
        Effect.timeoutOrElse({ duration: config.initTimeout, orElse: () => Effect.fail(close(DisconnectReason.InitTimeout())) })
      )
      const init = Wire.decodeInit(first)
      if (init._tag === "NotInit") return yield* Effect.fail(close(DisconnectReason.InitExpected({ messageType: init.messageType })))
      if (init._tag === "Malformed") {
        return yield* Effect.fail(close(DisconnectReason.MalformedMessage({ messageType: 16, message: init.message })))
      }
      const check = Wire.checkRemoteFeatures(config.features, init.features)
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
        nodeId: remoteNodeId,
        address: connection.remoteAddress,
        direction,
        localFeatures: config.features,
        remoteFeatures: init.features,
        negotiatedFeatures: Wire.negotiatedFeatures(config.features, init.features),
        remoteNetworks: init.networks
      }

      // ---- 3. steady state
      return yield* Effect.scoped(Effect.gen(function*() {
        // The outstanding ping, shared by the timer fiber (sets it) and the actor (clears it
        // on the matching pong). JavaScript runs one fiber at a time, so no lock is needed.
        let outstandingPong: number | undefined

        const handleInbound = (message: Uint8Array): Effect.Effect<void, PeerClosed> => {
          const decoded = Wire.decodeControl(message)
          switch (decoded._tag) {
            case "Malformed":
              return Effect.fail(close(DisconnectReason.MalformedMessage({ messageType: decoded.messageType, message: decoded.message })))
            case "Ping":
              return decoded.numPongBytes < 65532 ? sendMessage(Wire.encodePong(decoded.numPongBytes)) : Effect.void
            case "Pong":
              if (outstandingPong === undefined) return Effect.logDebug("unsolicited pong ignored")
              if (decoded.length !== outstandingPong) {
                return Effect.fail(close(DisconnectReason.UnexpectedPong({ length: decoded.length })))
              }
              outstandingPong = undefined
              return Effect.void
            case "Init":
              return Effect.fail(close(DisconnectReason.MalformedMessage({ messageType: 16, message: "second init" })))
            case "Error":
              if (Wire.isZeroChannelId(decoded.channelId)) {
                return Effect.fail(close(DisconnectReason.ReceivedError({ message: Wire.printable(decoded.data) })))
              }
              return Effect.logWarning(`peer error for channel: ${Wire.printable(decoded.data)}`).pipe(
                Effect.andThen(hooks.onMessage({ nodeId: remoteNodeId, type: 17, payload: message.subarray(2) }))
              )
            case "Warning":
              return Effect.logWarning(`peer warning: ${Wire.printable(decoded.data)}`).pipe(
                Effect.andThen(hooks.onMessage({ nodeId: remoteNodeId, type: 1, payload: message.subarray(2) }))
              )
            case "Other":
              if (config.acceptsMessage(decoded.messageType)) {
                return hooks.onMessage({ nodeId: remoteNodeId, type: decoded.messageType, payload: message.subarray(2) })
              }
              if (decoded.messageType % 2 === 1) return Effect.void
              return Effect.fail(close(DisconnectReason.UnknownEvenMessage({ messageType: decoded.messageType })))
          }
        }

        const peerActor = yield* Actor.make<PeerMsg, PeerClosed>({
          name: `peer ${toHex(remoteNodeId).slice(0, 16)}`,
          capacity: config.mailboxCapacity,
          handle: (msg) => {
            switch (msg._tag) {
              case "Inbound":
                return handleInbound(msg.message)
              case "Send":
                return sendMessage(msg.message).pipe(
                  Effect.tapError((e) => Deferred.fail(msg.reply, e)),
                  Effect.andThen(Deferred.succeed(msg.reply, undefined))
                )
              case "SendPing":
                return sendMessage(Wire.encodePing(msg.numPongBytes))
            }
          }
        })
        actor = peerActor

        // A defect in a helper fiber ends the connection at once (rather than at the next ping
        // timeout, for the reader) and is never left unobserved.
        const killOnDefect = <A, E>(fiber: Effect.Effect<A, E>) =>
          fiber.pipe(Effect.catchDefect((defect) => Deferred.succeed(kill, DisconnectReason.InternalError({ message: String(defect) }))))
        // Reader: frames → mailbox (waits while the mailbox is full: backpressure to the remote).
        // A framing/transport failure ends the peer at once; if the actor stopped first, its
        // own reason stands and the reader just ends.
        yield* Effect.forkScoped(
          Effect.forever(readMessage.pipe(Effect.flatMap((message) => peerActor.tell({ _tag: "Inbound", message })))).pipe(
            Effect.catch((e) => (e._tag === "PeerClosed" ? Deferred.succeed(kill, e.reason) : Effect.void)),
            killOnDefect
          )
        )
        // Pinger: a full mailbox does not delay the timeout, so a stuck peer is still dropped.
        yield* Effect.forkScoped(
          Effect.forever(Effect.gen(function*() {
            yield* Effect.sleep(config.pingInterval)
            const r = yield* entropy.randomBytes(1)
            const numPongBytes = r[0] ?? 0
            outstandingPong = numPongBytes
            yield* Effect.ignore(peerActor.tryTell({ _tag: "SendPing", numPongBytes }))
            yield* Effect.sleep(config.pingTimeout)
            if (outstandingPong !== undefined) yield* Deferred.succeed(kill, DisconnectReason.PingTimeout())
          })).pipe(killOnDefect)
        )

        yield* hooks.onReady(info)
        yield* Deferred.succeed(readyDeferred, info)
        // Runs until the actor stops on a reason, or someone pulls the kill switch.
        yield* peerActor.join.pipe(
          Effect.catchTag("ActorCrashed", (e) =>
            Effect.fail(close(DisconnectReason.InternalError({ message: String(e.defect) }))))
        )
        return DisconnectReason.LocalRequest()
      }))
    }).pipe(
      Effect.catchTag("PeerClosed", (e) => Effect.succeed(e.reason)),
      Effect.catchDefect((defect) => Effect.succeed(DisconnectReason.InternalError({ message: String(defect) }))),
      (body) => Effect.raceFirst(body, Deferred.await(kill)),
      Effect.onExit((exit) =>
        Effect.gen(function*() {
          const reason = Exit.isSuccess(exit) ? exit.value : DisconnectReason.LocalRequest()
          actor = undefined
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
