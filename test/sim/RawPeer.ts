/**
 * A hand-driven Lightning peer for tests: it speaks BOLT 8 with the pure protocol functions and
 * then does exactly what the test says (send garbage, stay silent, require odd features...),
 * which a well-behaved PeerManager never would.
 */
import { Effect, Result, type Scope } from "effect"
import type { ChainHash } from "../../src/protocol/codec/fields.ts"
import { nobleChaChaPoly } from "../../src/protocol/crypto/aead.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { Bolt1, Init, makePing } from "../../src/protocol/messages/index.ts"
import type { Bolt1Message, UnknownMessage } from "../../src/protocol/messages/index.ts"
import * as HS from "../../src/protocol/noise/handshake.ts"
import * as T from "../../src/protocol/noise/transport.ts"
import type { NodeId } from "../../src/protocol/units.ts"
import { makeStreamReader, type StreamReader } from "../../src/actors/StreamReader.ts"
import { secretFromSeed } from "../../src/layers/test/SeededNodeSigner.ts"
import type { Connection, SocketAddress, TransportShape } from "../../src/services/Transport.ts"

const crypto: HS.NoiseCrypto = { secp: nobleSecp256k1, aead: nobleChaChaPoly }

export interface RawPeer {
  /** This raw peer's own node id. */
  readonly nodeId: NodeId
  readonly connection: Connection
  /** Encrypts and sends one message. */
  readonly send: (message: Uint8Array) => Effect.Effect<void, unknown>
  /** Sends bytes as they are, bypassing encryption. */
  readonly sendRaw: (bytes: Uint8Array) => Effect.Effect<void, unknown>
  /** Sends only an encrypted header announcing `length` bytes. */
  readonly sendHeader: (length: number) => Effect.Effect<void, unknown>
  /** Reads and decrypts one message; fails when the connection closes. */
  readonly receive: Effect.Effect<Uint8Array, unknown>
  /** Reads messages until one decodes to a BOLT 1 message with this tag. */
  readonly receiveTag: (tag: string) => Effect.Effect<Bolt1Message | UnknownMessage, unknown>
}

export const encode = (m: Bolt1Message): Uint8Array => {
  const r = Bolt1.encode(m)
  if (Result.isFailure(r)) throw new Error("encode")
  return r.success
}

export const initMessage = (features: Uint8Array, networks?: ReadonlyArray<ChainHash>): Uint8Array =>
  encode(Init.make({ globalFeatures: new Uint8Array(0), features }, networks === undefined ? {} : { networks }))

export const pingMessage = (numPongBytes: number): Uint8Array => encode(makePing(numPongBytes))

const orFail = <A>(r: Result.Result<A, unknown>): Effect.Effect<A, unknown> =>
  Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(r.failure)

const wrap = (connection: Connection, session: HS.Session, reader: StreamReader): RawPeer => {
  let send = session.send
  let receive = session.receive
  const receiveOne: Effect.Effect<Uint8Array, unknown> = Effect.gen(function*() {
    const pending = yield* orFail(T.decryptHeader(crypto.aead, receive, yield* reader.readExactly(T.HEADER_LENGTH)))
    const opened = yield* orFail(T.decryptBody(crypto.aead, pending, yield* reader.readExactly(pending.bodyLength)))
    receive = opened.state
    return opened.message
  })
  return {
    nodeId: session.remoteStatic,
    connection,
    send: (message) =>
      Effect.suspend((): Effect.Effect<void, unknown> => {
        const r = T.encryptMessage(crypto.aead, send, message)
        if (Result.isFailure(r)) return Effect.fail(r.failure)
        send = r.success.state
        return connection.write(r.success.packet)
      }),
    sendRaw: (bytes) => connection.write(bytes),
    sendHeader: (length) =>
      Effect.suspend((): Effect.Effect<void, unknown> => {
        // A full message of `length` bytes, of which only the 18-byte header is sent.
        const r = T.encryptMessage(crypto.aead, send, new Uint8Array(length))
        if (Result.isFailure(r)) return Effect.fail(r.failure)
        send = r.success.state
        return connection.write(r.success.packet.subarray(0, T.HEADER_LENGTH))
      }),
    receive: receiveOne,
    receiveTag: (tag) =>
      Effect.gen(function*() {
        while (true) {
          const m = yield* receiveOne
          const d = Bolt1.decode(m)
          if (Result.isSuccess(d) && d.success._tag === tag) return d.success
        }
      })
  }
}

/** Dials `address` as the node `seed` stands for and completes the BOLT 8 handshake (no init yet). */
export const dialRaw = (
  transport: TransportShape,
  address: SocketAddress,
  remote: NodeId,
  seed: string,
  ephemeral: Uint8Array = secretFromSeed(`${seed}/ephemeral`)
): Effect.Effect<RawPeer, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const secret = secretFromSeed(seed)
    const localStatic = nobleSecp256k1.publicKey(secret) ?? new Uint8Array()
    const connection = yield* transport.connect(address)
    const reader = makeStreamReader(connection)
    const one = yield* orFail(HS.initiatorActOne(crypto, { localStatic, remoteStatic: remote, ephemeralSecret: ephemeral }))
    yield* connection.write(one.act)
    const two = yield* orFail(HS.initiatorActTwo(crypto, one.state, yield* reader.readExactly(HS.ACT_TWO_LENGTH)))
    const three = yield* orFail(HS.initiatorActThree(crypto, two, nobleSecp256k1.ecdh(secret, two.point) ?? new Uint8Array()))
    yield* connection.write(three.act)
    return { ...wrap(connection, three.session, reader), nodeId: localStatic as NodeId }
  })

/** Listens at `address` and answers one handshake as the node `seed` stands for. */
export const acceptRaw = (
  transport: TransportShape,
  address: SocketAddress,
  seed: string
): Effect.Effect<{ readonly address: SocketAddress; readonly accept: Effect.Effect<RawPeer, unknown> }, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const secret = secretFromSeed(seed)
    const localStatic = nobleSecp256k1.publicKey(secret) ?? new Uint8Array()
    const listener = yield* transport.listen(address)
    return {
      address: listener.address,
      accept: Effect.gen(function*() {
        const connection = yield* listener.accept
        const reader = makeStreamReader(connection)
        const start = yield* orFail(HS.responderStart(crypto, { localStatic, ephemeralSecret: secretFromSeed(`${seed}/ephemeral`) }))
        const one = yield* orFail(HS.responderActOne(crypto, start, yield* reader.readExactly(HS.ACT_ONE_LENGTH)))
        const two = yield* orFail(HS.responderActTwo(crypto, one, nobleSecp256k1.ecdh(secret, one.point) ?? new Uint8Array()))
        yield* connection.write(two.act)
        const session = yield* orFail(HS.responderActThree(crypto, two.state, yield* reader.readExactly(HS.ACT_THREE_LENGTH)))
        return { ...wrap(connection, session, reader), nodeId: localStatic as NodeId }
      })
    }
  })
