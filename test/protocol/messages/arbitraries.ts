/** fast-check generators for every BOLT 1 message (shared by the property tests). */
import fc from "fast-check"
import type { ChainHash } from "../../../src/protocol/codec/fields.ts"
import type { TlvRecord } from "../../../src/protocol/codec/tlv.ts"
import {
  type Address,
  type Bolt1Message,
  ErrorMessage,
  Init,
  PeerStorage,
  PeerStorageRetrieval,
  Ping,
  Pong,
  type RemoteAddress,
  Warning
} from "../../../src/protocol/messages/index.ts"
import type { ChannelId } from "../../../src/protocol/units.ts"

const U64_MAX = (1n << 64n) - 1n

export const bytes = (maxLength: number) => fc.uint8Array({ maxLength })
const fixed = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })

/** Unknown odd TLV records whose types avoid `known`, sorted, non-empty (absent otherwise). */
export const unknownOdd = (known: ReadonlyArray<bigint>): fc.Arbitrary<ReadonlyArray<TlvRecord>> =>
  fc
    .uniqueArray(fc.oneof(fc.bigInt({ min: 0n, max: 200n }), fc.bigInt({ min: 0n, max: (U64_MAX - 1n) / 2n })), {
      minLength: 1,
      maxLength: 3
    })
    .map((xs) => xs.map((x) => 2n * x + 1n).filter((t) => !known.includes(t)).sort((a, b) => (a < b ? -1 : 1)))
    .filter((types) => types.length > 0)
    .chain((types) => fc.tuple(...types.map((type) => bytes(20).map((value) => ({ type, value })))))

const withUnknown = <A extends object>(arb: fc.Arbitrary<A>, known: ReadonlyArray<bigint>) =>
  fc.tuple(arb, fc.option(unknownOdd(known), { nil: undefined })).map(([v, u]) => (u === undefined ? v : { ...v, unknown: u }))

const port = fc.integer({ min: 0, max: 0xffff })
export const address: fc.Arbitrary<Address> = fc.oneof(
  fc.record({ _tag: fc.constant("Ipv4" as const), addr: fixed(4), port }),
  fc.record({ _tag: fc.constant("Ipv6" as const), addr: fixed(16), port }),
  fc.record({ _tag: fc.constant("TorV2" as const), data: fixed(12) }),
  fc.record({ _tag: fc.constant("TorV3" as const), onion: fixed(35), port }),
  fc.record({
    _tag: fc.constant("Dns" as const),
    hostname: fc.string({ unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
    port
  })
)
// Opaque bytes that are not themselves a valid descriptor: an unknown first byte.
const remoteAddress: fc.Arbitrary<RemoteAddress> = fc.oneof(
  address,
  fc
    .tuple(fc.oneof(fc.constant(0), fc.integer({ min: 6, max: 255 })), bytes(10))
    .map(([t, b]) => ({ _tag: "Opaque" as const, bytes: Uint8Array.of(t, ...b) }))
)

const channelId = fixed(32).map((b) => b as ChannelId)

export const init: fc.Arbitrary<Init> = fc
  .record({
    globalFeatures: bytes(8),
    features: bytes(16),
    tlvs: withUnknown(
      fc.record(
        { networks: fc.array(fixed(32).map((b) => b as ChainHash), { maxLength: 3 }), remoteAddr: remoteAddress },
        { requiredKeys: [] }
      ),
      [1n, 3n]
    )
  })
  .map(({ globalFeatures, features, tlvs }) => Init.make({ globalFeatures, features }, tlvs))

const extension = withUnknown(fc.constant({}), [])

export const error: fc.Arbitrary<ErrorMessage> = fc
  .tuple(channelId, bytes(100), extension)
  .map(([id, data, tlvs]) => ErrorMessage.make({ channelId: id, data }, tlvs))
export const warning: fc.Arbitrary<Warning> = fc
  .tuple(channelId, bytes(100), extension)
  .map(([id, data, tlvs]) => Warning.make({ channelId: id, data }, tlvs))
export const ping: fc.Arbitrary<Ping> = fc
  .tuple(fc.integer({ min: 0, max: 0xffff }), bytes(100), extension)
  .map(([n, ignored, tlvs]) => Ping.make({ numPongBytes: n, ignored }, tlvs))
export const pong: fc.Arbitrary<Pong> = fc.tuple(bytes(100), extension).map(([ignored, tlvs]) => Pong.make({ ignored }, tlvs))
export const peerStorage: fc.Arbitrary<PeerStorage> = fc.tuple(bytes(100), extension).map(([blob, tlvs]) => PeerStorage.make({ blob }, tlvs))
export const peerStorageRetrieval: fc.Arbitrary<PeerStorageRetrieval> = fc
  .tuple(bytes(100), extension)
  .map(([blob, tlvs]) => PeerStorageRetrieval.make({ blob }, tlvs))

export const bolt1Message: fc.Arbitrary<Bolt1Message> = fc.oneof(init, error, warning, ping, pong, peerStorage, peerStorageRetrieval)
