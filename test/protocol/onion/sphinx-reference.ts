/** The plain `peelWithSharedSecret` (the whole `hop_payloads` decrypted at once): what the partial decryption is tested against. */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { bigSizeLength, decodeBigSize } from "../../../src/protocol/codec/index.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { blindingFactor, constantTimeEqual, deriveKey, generateStreamFrom, hmacSha256, isAllZero, xorStreamInPlace } from "../../../src/protocol/onion/keys.ts"
import {
  HMAC_SIZE,
  InvalidHopFraming,
  InvalidOnionHmac,
  InvalidOnionKey,
  type OnionPacket,
  type PeeledLayer,
  type PeelOptions,
  serializeOnionPacket
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
