/**
 * The plain forms the fast paths of `sphinx.ts` are tested against: `peelWithSharedSecret` with
 * the whole `hop_payloads` decrypted at once, and `buildOnion` with every filler stream generated
 * whole (and each rho key derived where used).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { bigSizeLength, decodeBigSize, encodeBigSize } from "../../../src/protocol/codec/index.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import {
  blindingFactor,
  constantTimeEqual,
  deriveKey,
  generateStream,
  generateStreamFrom,
  hmacSha256,
  isAllZero,
  xorInto,
  xorStreamInPlace
} from "../../../src/protocol/onion/keys.ts"
import {
  type BuiltOnion,
  deriveSessionKeys,
  HMAC_SIZE,
  InvalidHopFraming,
  InvalidOnionHmac,
  InvalidOnionKey,
  type OnionPacket,
  type PeeledLayer,
  type PeelOptions,
  serializeOnionPacket,
  type SphinxHop
} from "../../../src/protocol/onion/sphinx.ts"

/** `peelWithSharedSecret` as src had it before the partial decryption. */
export const peelWithSharedSecretPlain = (
  secp: Secp256k1,
  packet: OnionPacket,
  sharedSecret: Uint8Array,
  associatedData: Uint8Array,
  options: PeelOptions = {}
): Result.Result<PeeledLayer, InvalidOnionKey | InvalidOnionHmac | InvalidHopFraming> => {
  const size = packet.hopPayloads.length
  const onionHash = () => sha256(serializeOnionPacket(packet))
  const expected = hmacSha256(deriveKey("mu", sharedSecret), packet.hopPayloads, associatedData)
  if (!constantTimeEqual(expected, packet.hmac)) {
    return Result.fail(new InvalidOnionHmac({ sha256OfOnion: onionHash() }))
  }
  const rho = deriveKey("rho", sharedSecret)
  const head = packet.hopPayloads.slice()
  xorStreamInPlace(rho, head)
  const length = decodeBigSize(head)
  if (Result.isFailure(length)) {
    return Result.fail(new InvalidHopFraming({ reason: "malformed_length", sha256OfOnion: onionHash(), sharedSecret }))
  }
  if (length.success < BigInt(options.minPayloadLength ?? 2)) {
    return Result.fail(new InvalidHopFraming({ reason: "length_too_small", sha256OfOnion: onionHash(), sharedSecret }))
  }
  const lengthSize = bigSizeLength(length.success)
  if (BigInt(lengthSize) + length.success + BigInt(HMAC_SIZE) > BigInt(size)) {
    return Result.fail(new InvalidHopFraming({ reason: "truncated", sha256OfOnion: onionHash(), sharedSecret }))
  }
  const payloadEnd = lengthSize + Number(length.success)
  const payload = head.slice(lengthSize, payloadEnd)
  const nextHmac = head.slice(payloadEnd, payloadEnd + HMAC_SIZE)
  if (isAllZero(nextHmac)) return Result.succeed({ payload, payloadOffset: lengthSize, sharedSecret, next: undefined })
  const nextKey = secp.pointMultiply(packet.publicKey, blindingFactor(packet.publicKey, sharedSecret))
  if (nextKey === undefined) return Result.fail(new InvalidOnionKey({ sha256OfOnion: onionHash() }))
  const shift = payloadEnd + HMAC_SIZE
  const hopPayloads = new Uint8Array(size)
  hopPayloads.set(head.subarray(shift), 0)
  hopPayloads.set(generateStreamFrom(rho, size, shift), size - shift)
  return Result.succeed({
    payload,
    payloadOffset: lengthSize,
    sharedSecret,
    next: { version: 0, publicKey: nextKey, hopPayloads, hmac: nextHmac }
  })
}

/** `buildOnion` as src had it before the filler generated only the stream bytes it uses (valid input only: undefined otherwise). */
export const buildOnionPlain = (
  secp: Secp256k1,
  sessionKey: Uint8Array,
  hops: ReadonlyArray<SphinxHop>,
  associatedData: Uint8Array,
  payloadsSize: number
): BuiltOnion | undefined => {
  const shifts = hops.map((h) => bigSizeLength(BigInt(h.payload.length)) + h.payload.length + HMAC_SIZE)
  if (hops.length === 0 || shifts.reduce((a, b) => a + b, 0) > payloadsSize) return undefined
  const keys = deriveSessionKeys(secp, sessionKey, hops.map((h) => h.publicKey))
  if (Result.isFailure(keys)) return undefined
  const { sharedSecrets, ephemeralPublicKeys } = keys.success
  let total = 0
  for (let i = 0; i < shifts.length - 1; i++) total += shifts[i]!
  const filler = new Uint8Array(total)
  let filled = 0
  for (let i = 0; i < shifts.length - 1; i++) {
    const shift = shifts[i]!
    filled += shift
    const stream = generateStream(deriveKey("rho", sharedSecrets[i]!), payloadsSize + shift)
    xorInto(filler.subarray(0, filled), stream.subarray(payloadsSize + shift - filled))
  }
  const mix = xorStreamInPlace(deriveKey("pad", sessionKey), new Uint8Array(payloadsSize))
  let nextHmac: Uint8Array = new Uint8Array(HMAC_SIZE)
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!
    const shift = shifts[i]!
    mix.copyWithin(shift, 0, payloadsSize - shift)
    const length = encodeBigSize(BigInt(hop.payload.length))
    mix.set(length, 0)
    mix.set(hop.payload, length.length)
    mix.set(nextHmac, length.length + hop.payload.length)
    xorStreamInPlace(deriveKey("rho", sharedSecrets[i]!), mix)
    if (i === hops.length - 1) mix.set(filler, payloadsSize - filler.length)
    nextHmac = hmacSha256(deriveKey("mu", sharedSecrets[i]!), mix, associatedData)
  }
  return { packet: { version: 0, publicKey: ephemeralPublicKeys[0]!, hopPayloads: mix, hmac: nextHmac }, sharedSecrets }
}
