/**
 * The Sphinx packet of BOLT 4 ("Packet Structure", "Packet Construction", "Onion Decryption",
 * "Filler Generation") with opaque per-hop payloads and a packet size parameter: 1300 bytes of
 * `hop_payloads` for payment onions, any size for `onion_message_packet` (BOLT 4 "Onion
 * Messages"). What a payload means (TLV `payload` or `onionmsg_tlv`) is the caller's business.
 *
 * Construction takes the session key as an argument (the caller draws it from `Entropy`), so the
 * spec vectors run unchanged. Peeling is written against an ECDH function rather than a private
 * key, so that the node key can stay inside a signer; `ecdhWithSecret` adapts a raw key.
 */
import { Data, Result } from "effect"
import { sha256 } from "../crypto/hash-node.ts"
import { bigSizeLength, decodeBigSize, encodeBigSize } from "../codec/index.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import {
  blindingFactor,
  constantTimeEqual,
  deriveKey,
  generateStreamFrom,
  hmacSha256,
  isAllZero,
  xorInto,
  xorStreamInPlace,
  xorStreamInPlaceFrom
} from "./keys.ts"

/** `hop_payloads` size of a payment onion (`onion_routing_packet` of `update_add_htlc`). */
export const PAYMENT_PAYLOADS_SIZE = 1300
/** version + public key + hmac around the payloads. */
export const PACKET_OVERHEAD = 1 + 33 + 32
/** A payment onion on the wire: 1366 bytes. */
export const PAYMENT_ONION_SIZE = PAYMENT_PAYLOADS_SIZE + PACKET_OVERHEAD
export const HMAC_SIZE = 32

/** An `onion_packet` / `onion_message_packet`, fields as on the wire. */
export interface OnionPacket {
  readonly version: number
  /** 33 bytes; not validated as a point until it is peeled. */
  readonly publicKey: Uint8Array
  readonly hopPayloads: Uint8Array
  readonly hmac: Uint8Array
}

/** A hop of a route to build an onion for: its (possibly blinded) node id and its payload. */
export interface SphinxHop {
  readonly publicKey: Uint8Array
  /** The serialized payload (TLV stream), without the BigSize length prefix. */
  readonly payload: Uint8Array
}

/** ECDH with the node key: SHA256 of the compressed shared point; undefined for a bad point. */
export type NodeEcdh = (point: Uint8Array) => Uint8Array | undefined

export const ecdhWithSecret = (secp: Secp256k1, secret: Uint8Array): NodeEcdh => (point) => secp.ecdh(secret, point)

// ---------------------------------------------------------------------------------------------
// Errors

export class InvalidSessionKey extends Data.TaggedError("InvalidSessionKey")<{}> {}
export class InvalidHopPublicKey extends Data.TaggedError("InvalidHopPublicKey")<{ readonly index: number }> {}
export class EmptyRoute extends Data.TaggedError("EmptyRoute")<{}> {}
/** The framed payloads do not fit in the packet. */
export class PayloadsTooLarge extends Data.TaggedError("PayloadsTooLarge")<{
  readonly needed: number
  readonly available: number
}> {}
export class InvalidPayloadsSize extends Data.TaggedError("InvalidPayloadsSize")<{ readonly size: number }> {}
export type SphinxBuildError = InvalidSessionKey | InvalidHopPublicKey | EmptyRoute | PayloadsTooLarge | InvalidPayloadsSize

/** The packet is not `PACKET_OVERHEAD + payloads size` bytes long. */
export class InvalidOnionLength extends Data.TaggedError("InvalidOnionLength")<{
  readonly length: number
  readonly expected: number | undefined
}> {}

/** BOLT 4: `version` is not 0. Reported as `invalid_onion_version` (BADONION). */
export class InvalidOnionVersion extends Data.TaggedError("InvalidOnionVersion")<{
  readonly version: number
  readonly sha256OfOnion: Uint8Array
}> {}
/** BOLT 4: `public_key` is not a valid point. Reported as `invalid_onion_key` (BADONION). */
export class InvalidOnionKey extends Data.TaggedError("InvalidOnionKey")<{ readonly sha256OfOnion: Uint8Array }> {}
/** BOLT 4: the HMAC does not match. Reported as `invalid_onion_hmac` (BADONION). */
export class InvalidOnionHmac extends Data.TaggedError("InvalidOnionHmac")<{ readonly sha256OfOnion: Uint8Array }> {}
/**
 * The HMAC was right (so the sender built it) but the decrypted hop framing is unusable: bad
 * BigSize length, a length below the minimum, or a payload running past the packet.
 */
export class InvalidHopFraming extends Data.TaggedError("InvalidHopFraming")<{
  readonly reason: "malformed_length" | "length_too_small" | "truncated"
  readonly sha256OfOnion: Uint8Array
  /** The hop's shared secret, needed to encrypt the failure back. */
  readonly sharedSecret: Uint8Array
}> {}
export type SphinxPeelError = InvalidOnionLength | InvalidOnionVersion | InvalidOnionKey | InvalidOnionHmac | InvalidHopFraming

// ---------------------------------------------------------------------------------------------
// Wire format

/**
 * `version || public_key || hop_payloads || hmac`. Sized from the fields themselves, so a
 * hand-built packet with a wrong-sized key or HMAC serializes (and then fails its checks)
 * rather than throwing.
 */
export const serializeOnionPacket = (packet: OnionPacket): Uint8Array => {
  const keyEnd = 1 + packet.publicKey.length
  const payloadsEnd = keyEnd + packet.hopPayloads.length
  const out = new Uint8Array(payloadsEnd + packet.hmac.length)
  out[0] = packet.version & 0xff
  out.set(packet.publicKey, 1)
  out.set(packet.hopPayloads, keyEnd)
  out.set(packet.hmac, payloadsEnd)
  return out
}

/**
 * Splits a packet into its fields. `payloadsSize` fixes the size (1300 for payments); without
 * it the size is implied by the length, as for onion messages. The fields are views of `bytes`,
 * not copies (peeling copies what it decrypts): `bytes` must not change while the packet is used.
 */
export const parseOnionPacket = (
  bytes: Uint8Array,
  payloadsSize?: number
): Result.Result<OnionPacket, InvalidOnionLength> => {
  const expected = payloadsSize === undefined ? undefined : payloadsSize + PACKET_OVERHEAD
  if ((expected !== undefined && bytes.length !== expected) || bytes.length < PACKET_OVERHEAD + 1) {
    return Result.fail(new InvalidOnionLength({ length: bytes.length, expected }))
  }
  const size = bytes.length - PACKET_OVERHEAD
  return Result.succeed({
    version: bytes[0] ?? 0,
    publicKey: bytes.subarray(1, 34),
    hopPayloads: bytes.subarray(34, 34 + size),
    hmac: bytes.subarray(34 + size)
  })
}

// ---------------------------------------------------------------------------------------------
// BigSize framing of hop payloads (BOLT 1 encoding, as `hop_payloads` uses it)

/** Bytes a hop takes in `hop_payloads`: BigSize length, payload, HMAC. */
export const hopShiftSize = (payloadLength: number): number =>
  bigSizeLength(BigInt(payloadLength)) + payloadLength + HMAC_SIZE

// ---------------------------------------------------------------------------------------------
// Construction

/** Per-hop shared secrets and ephemeral public keys derived from the session key. */
export interface SessionKeys {
  readonly sharedSecrets: ReadonlyArray<Uint8Array>
  readonly ephemeralPublicKeys: ReadonlyArray<Uint8Array>
}

/**
 * Walks the ephemeral key chain (BOLT 4 "Packet Construction"): ss_k = ECDH(ek_k, node_k),
 * ek_{k+1} = ek_k * SHA256(epk_k || ss_k). The sender needs only these secrets later to read
 * a returned failure.
 */
export const deriveSessionKeys = (
  secp: Secp256k1,
  sessionKey: Uint8Array,
  hopPublicKeys: ReadonlyArray<Uint8Array>
): Result.Result<SessionKeys, InvalidSessionKey | InvalidHopPublicKey> => {
  let ek = sessionKey
  let epk = secp.publicKey(sessionKey)
  if (epk === undefined || sessionKey.length !== 32) return Result.fail(new InvalidSessionKey())
  const sharedSecrets: Array<Uint8Array> = []
  const ephemeralPublicKeys: Array<Uint8Array> = []
  for (let i = 0; i < hopPublicKeys.length; i++) {
    const node = hopPublicKeys[i]
    const ss = node === undefined ? undefined : secp.ecdh(ek, node)
    if (ss === undefined) return Result.fail(new InvalidHopPublicKey({ index: i }))
    sharedSecrets.push(ss)
    ephemeralPublicKeys.push(epk)
    if (i + 1 < hopPublicKeys.length) {
      const nextEk = secp.secretMultiply(ek, blindingFactor(epk, ss))
      const nextEpk = nextEk === undefined ? undefined : secp.publicKey(nextEk)
      // Unreachable unless SHA256 lands on zero mod n; still a typed failure, never a throw.
      if (nextEk === undefined || nextEpk === undefined) return Result.fail(new InvalidSessionKey())
      ek = nextEk
      epk = nextEpk
    }
  }
  return Result.succeed({ sharedSecrets, ephemeralPublicKeys })
}

/**
 * The filler (BOLT 4 "Filler Generation"): the obfuscated zero padding every hop but the last
 * appends, pre-computed so that the HMACs cover what the hops will actually see.
 */
const generateFiller = (
  payloadsSize: number,
  shifts: ReadonlyArray<number>,
  rhoKeys: ReadonlyArray<Uint8Array>
): Uint8Array => {
  let total = 0
  for (let i = 0; i < shifts.length - 1; i++) total += shifts[i] ?? 0
  const filler = new Uint8Array(total)
  let filled = 0
  for (let i = 0; i < shifts.length - 1; i++) {
    const shift = shifts[i] ?? 0
    const rho = rhoKeys[i]
    if (rho === undefined) break
    filled += shift
    // Hop i sees the filler so far at [size - (filled - shift), size) followed by `shift` zeros:
    // only the stream's last `filled` bytes are XORed in, so only their blocks are generated.
    xorInto(filler.subarray(0, filled), generateStreamFrom(rho, payloadsSize + shift - filled, filled))
  }
  return filler
}

/** The result of building an onion: the packet and the secrets the sender keeps. */
export interface BuiltOnion {
  readonly packet: OnionPacket
  readonly sharedSecrets: ReadonlyArray<Uint8Array>
}

/**
 * Builds an onion over `hops` (first hop first). `payloadsSize` is 1300 for payments; onion
 * messages choose theirs. The starting bytes are the ChaCha20 stream of the `pad` key of the
 * session key, as the spec's reference code does.
 */
export const buildOnion = (
  secp: Secp256k1,
  sessionKey: Uint8Array,
  hops: ReadonlyArray<SphinxHop>,
  associatedData: Uint8Array,
  payloadsSize: number = PAYMENT_PAYLOADS_SIZE
): Result.Result<BuiltOnion, SphinxBuildError> => {
  if (hops.length === 0) return Result.fail(new EmptyRoute())
  if (!Number.isSafeInteger(payloadsSize) || payloadsSize < 1) {
    return Result.fail(new InvalidPayloadsSize({ size: payloadsSize }))
  }
  const shifts = hops.map((h) => hopShiftSize(h.payload.length))
  const needed = shifts.reduce((a, b) => a + b, 0)
  if (needed > payloadsSize) return Result.fail(new PayloadsTooLarge({ needed, available: payloadsSize }))
  const keys = deriveSessionKeys(secp, sessionKey, hops.map((h) => h.publicKey))
  if (Result.isFailure(keys)) return Result.fail(keys.failure)
  const { sharedSecrets, ephemeralPublicKeys } = keys.success

  // Each hop's rho key serves its filler stream and its layer's encryption: derived once.
  const rhoKeys = sharedSecrets.map((secret) => deriveKey("rho", secret))
  const filler = generateFiller(payloadsSize, shifts, rhoKeys)
  // The pad stream: zeros XORed with it in place (one buffer, not a zero buffer and an output).
  const mix = xorStreamInPlace(deriveKey("pad", sessionKey), new Uint8Array(payloadsSize))
  let nextHmac: Uint8Array = new Uint8Array(HMAC_SIZE)
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]
    const secret = sharedSecrets[i]
    const rho = rhoKeys[i]
    const shift = shifts[i]
    if (hop === undefined || secret === undefined || rho === undefined || shift === undefined) continue
    mix.copyWithin(shift, 0, payloadsSize - shift)
    const length = encodeBigSize(BigInt(hop.payload.length))
    mix.set(length, 0)
    mix.set(hop.payload, length.length)
    mix.set(nextHmac, length.length + hop.payload.length)
    // mix ^= the rho stream, in place (no stream buffer, no byte loop).
    xorStreamInPlace(rho, mix)
    if (i === hops.length - 1) mix.set(filler, payloadsSize - filler.length)
    nextHmac = hmacSha256(deriveKey("mu", secret), mix, associatedData)
  }
  const publicKey = ephemeralPublicKeys[0] ?? new Uint8Array(33)
  return Result.succeed({ packet: { version: 0, publicKey, hopPayloads: mix, hmac: nextHmac }, sharedSecrets })
}

// ---------------------------------------------------------------------------------------------
// Peeling

/** One layer taken off: this hop's payload and either the packet to forward or nothing. */
export interface PeeledLayer {
  readonly payload: Uint8Array
  /** Byte offset of `payload` in the decrypted payloads (after the BigSize length). */
  readonly payloadOffset: number
  /** Kept by the hop to wrap a failure coming back (BOLT 4 "Returning Errors"). */
  readonly sharedSecret: Uint8Array
  /** The packet for the next hop; undefined when `next_hmac` is all zero (final hop). */
  readonly next: OnionPacket | undefined
}

export interface PeelOptions {
  /** Payments: 2 (lengths 0 and 1 are reserved). Onion messages: 0. */
  readonly minPayloadLength?: number
}

const payloadsSizeOf = (packet: OnionPacket) => packet.hopPayloads.length

/** ChaCha20's block: the rho stream is XORed in whole blocks. */
const STREAM_BLOCK = 64
/** Decrypted first (whole stream blocks): a BigSize length, a payload of a few dozen bytes and the next HMAC mostly fit. */
const FIRST_CLEAR = 2 * STREAM_BLOCK

/**
 * Takes one layer off with a known shared secret (after the version and key checks). Exposed
 * for callers that do the ECDH elsewhere (a remote signer); most use `peelOnion`.
 */
export const peelWithSharedSecret = (
  secp: Secp256k1,
  packet: OnionPacket,
  sharedSecret: Uint8Array,
  associatedData: Uint8Array,
  options: PeelOptions = {}
): Result.Result<PeeledLayer, InvalidOnionKey | InvalidOnionHmac | InvalidHopFraming> => {
  const size = payloadsSizeOf(packet)
  const onionHash = () => sha256(serializeOnionPacket(packet))
  const expected = hmacSha256(deriveKey("mu", sharedSecret), packet.hopPayloads, associatedData)
  if (!constantTimeEqual(expected, packet.hmac)) {
    return Result.fail(new InvalidOnionHmac({ sha256OfOnion: onionHash() }))
  }
  // hop_payloads padded with `size` zero bytes, XORed with 2*size bytes of the rho stream: the
  // first `size` bytes first (the length, payload and next HMAC are in them; the final hop needs
  // no more), the padding's part only for a packet to forward. Of the first `size` bytes, the
  // first two stream blocks are decrypted first: a final hop's length, payload and all-zero HMAC
  // mostly fit (a hundred bytes or so of the 1,300); all of them when this hop's data runs past.
  const rho = deriveKey("rho", sharedSecret)
  let head = packet.hopPayloads.slice(0, Math.min(size, FIRST_CLEAR))
  xorStreamInPlace(rho, head)
  // The length is read from the packet's own bytes only, so a long BigSize cannot run into the
  // zero padding; the canonical-form check is the codec's.
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
  if (payloadEnd + HMAC_SIZE > head.length) {
    head = packet.hopPayloads.slice()
    xorStreamInPlace(rho, head)
  }
  const payload = head.slice(lengthSize, payloadEnd)
  const nextHmac = head.slice(payloadEnd, payloadEnd + HMAC_SIZE)
  if (isAllZero(nextHmac)) return Result.succeed({ payload, payloadOffset: lengthSize, sharedSecret, next: undefined })
  const nextKey = secp.pointMultiply(packet.publicKey, blindingFactor(packet.publicKey, sharedSecret))
  if (nextKey === undefined) return Result.fail(new InvalidOnionKey({ sha256OfOnion: onionHash() }))
  // The next packet's payloads: what follows this hop's data, then the padding XORed with the
  // stream from byte `size` on (the zero padding XORed is the stream itself).
  const shift = payloadEnd + HMAC_SIZE
  const clear = head.length
  const hopPayloads = new Uint8Array(size)
  if (clear === size) {
    hopPayloads.set(head.subarray(shift), 0)
    hopPayloads.set(generateStreamFrom(rho, size, shift), size - shift)
  } else {
    // The rest of the payloads and the padding in one pass of the stream (from block
    // `FIRST_CLEAR / 64`; `shift` <= `clear`), in place at their final position: the payloads'
    // bytes still encrypted, then the `shift` zeros the new array already holds.
    hopPayloads.set(head.subarray(shift), 0)
    hopPayloads.set(packet.hopPayloads.subarray(clear), clear - shift)
    xorStreamInPlaceFrom(rho, hopPayloads.subarray(clear - shift), clear / STREAM_BLOCK)
  }
  return Result.succeed({
    payload,
    payloadOffset: lengthSize,
    sharedSecret,
    next: { version: 0, publicKey: nextKey, hopPayloads, hmac: nextHmac }
  })
}

/**
 * BOLT 4 "Onion Decryption": version check, public key check, then (with `pathKey`, for a
 * blinded hop) the key tweak, the shared secret, the HMAC check and the unwrapping.
 * `pathKey` is the `path_key` of `update_add_htlc`/`onion_message` or the payload's
 * `current_path_key` for an introduction node.
 */
export const peelOnion = (
  secp: Secp256k1,
  ecdh: NodeEcdh,
  packet: OnionPacket,
  associatedData: Uint8Array,
  pathKey?: Uint8Array,
  options: PeelOptions = {}
): Result.Result<PeeledLayer, SphinxPeelError> => {
  if (packet.version !== 0) {
    return Result.fail(new InvalidOnionVersion({ version: packet.version, sha256OfOnion: sha256(serializeOnionPacket(packet)) }))
  }
  // A key that is not a point fails below: `ecdh` (and `pointMultiply` for a blinded hop) return
  // undefined for it (no separate point check: one point parse fewer per peel).
  if (packet.publicKey.length !== 33) {
    return Result.fail(new InvalidOnionKey({ sha256OfOnion: sha256(serializeOnionPacket(packet)) }))
  }
  let point = packet.publicKey
  if (pathKey !== undefined) {
    const blindingSecret = ecdh(pathKey)
    const tweaked = blindingSecret === undefined
      ? undefined
      : secp.pointMultiply(packet.publicKey, deriveKey("blinded_node_id", blindingSecret))
    if (tweaked === undefined) return Result.fail(new InvalidOnionKey({ sha256OfOnion: sha256(serializeOnionPacket(packet)) }))
    point = tweaked
  }
  const sharedSecret = ecdh(point)
  if (sharedSecret === undefined) {
    return Result.fail(new InvalidOnionKey({ sha256OfOnion: sha256(serializeOnionPacket(packet)) }))
  }
  return peelWithSharedSecret(secp, packet, sharedSecret, associatedData, options)
}

/** Parses and peels raw packet bytes; never throws. */
export const peelOnionBytes = (
  secp: Secp256k1,
  ecdh: NodeEcdh,
  bytes: Uint8Array,
  associatedData: Uint8Array,
  options: PeelOptions & { readonly pathKey?: Uint8Array; readonly payloadsSize?: number } = {}
): Result.Result<PeeledLayer, SphinxPeelError> => {
  const parsed = parseOnionPacket(bytes, options.payloadsSize)
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
  return peelOnion(secp, ecdh, parsed.success, associatedData, options.pathKey, options)
}
