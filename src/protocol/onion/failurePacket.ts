/**
 * Returning errors (BOLT 4 "Returning Errors"): the erring node builds the return packet
 * `hmac || u16 failure_len || failuremsg || u16 pad_len || pad`, authenticated with its `um`
 * key and obfuscated with its `ammag` stream; every hop back obfuscates it again with its own
 * `ammag` stream; the origin peels the layers with the route's shared secrets and finds the
 * erring hop as the one whose `um` HMAC matches. Attribution data (`attribution.ts`) travels
 * beside the packet and lets the origin blame a hop even when the packet was corrupted.
 */
import { Data, Result } from "effect"
import { concatBytes } from "../bytes.ts"
import type { DecodeError } from "../codec/errors.ts"
import { addAttribution, verifyAttribution, type AttributionCheck } from "./attribution.ts"
import { decodeFailureMessage, encodeFailureMessage, type FailureMessage } from "./failure.ts"
import { constantTimeEqual, deriveKey, hmacSha256, xorStreamInPlace } from "./keys.ts"

/** BOLT 4: `failure_len + pad_len` MUST be at least 256 and SHOULD be exactly 256. */
export const MIN_FAILURE_LENGTH = 256
/** The origin keeps decrypting this many times to hide the route length (BOLT 4). */
export const DECRYPTION_ROUNDS = 27

export interface FailureOptions {
  /** Target `failure_len + pad_len` (default 256; longer messages are not padded further). */
  readonly paddedLength?: number
}

/** Both `failure_len` and `pad_len` are u16. */
const MAX_U16 = 0xffff

/**
 * The return packet before the `ammag` stream: hmac || len || msg || pad_len || zeros.
 * `pad_len` is capped at 65535. A message over 65535 bytes cannot be framed: the node builds
 * its own failure messages, so that is a caller bug and throws a RangeError rather than
 * sending a packet with a wrapped-around length.
 */
export const buildRawFailurePacket = (
  sharedSecret: Uint8Array,
  failureMessage: Uint8Array,
  options: FailureOptions = {}
): Uint8Array => {
  if (failureMessage.length > MAX_U16) {
    throw new RangeError(`failure message of ${failureMessage.length} bytes exceeds failure_len (u16)`)
  }
  const target = Math.max(options.paddedLength ?? MIN_FAILURE_LENGTH, MIN_FAILURE_LENGTH)
  const padLength = Math.min(MAX_U16, Math.max(0, target - failureMessage.length))
  const body = new Uint8Array(2 + failureMessage.length + 2 + padLength)
  body[0] = (failureMessage.length >>> 8) & 0xff
  body[1] = failureMessage.length & 0xff
  body.set(failureMessage, 2)
  body[2 + failureMessage.length] = (padLength >>> 8) & 0xff
  body[3 + failureMessage.length] = padLength & 0xff
  return concatBytes(hmacSha256(deriveKey("um", sharedSecret), body), body)
}

/** One hop's obfuscation of the return packet (its `ammag` stream); also its own inverse. */
export const wrapFailurePacket = (sharedSecret: Uint8Array, packet: Uint8Array): Uint8Array =>
  xorStreamInPlace(deriveKey("ammag", sharedSecret), packet.slice())

/** What a node sends upstream in `update_fail_htlc`: `reason` and `attribution_data`. */
export interface ReturnedFailure {
  readonly reason: Uint8Array
  readonly attributionData: Uint8Array | undefined
}

/**
 * The erring node: encodes the failure, pads it, authenticates and obfuscates it, and (when
 * `holdTime` is given, i.e. `option_attribution_data` and no `path_key`) starts the attribution
 * data. A message longer than 65535 bytes cannot be framed: a caller bug (see
 * `buildRawFailurePacket`).
 */
export const createFailure = (
  sharedSecret: Uint8Array,
  failure: FailureMessage | Uint8Array,
  holdTime?: number,
  options: FailureOptions = {}
): ReturnedFailure => {
  const message = failure instanceof Uint8Array ? failure : encodeFailureMessage(failure)
  const raw = buildRawFailurePacket(sharedSecret, message, options)
  const attributionData = holdTime === undefined ? undefined : addAttribution(sharedSecret, holdTime, raw, undefined)
  return { reason: wrapFailurePacket(sharedSecret, raw), attributionData }
}

/**
 * An intermediate node passing a failure upstream: wraps `reason` and, when `holdTime` is
 * given, updates the attribution data (starting all-zero when the downstream sent none).
 */
export const forwardFailure = (
  sharedSecret: Uint8Array,
  received: ReturnedFailure,
  holdTime?: number
): ReturnedFailure => {
  const attributionData = holdTime === undefined
    ? received.attributionData
    : addAttribution(sharedSecret, holdTime, received.reason, received.attributionData)
  return { reason: wrapFailurePacket(sharedSecret, received.reason), attributionData }
}

/** The origin could not tell which hop sent the failure. */
export class UnattributableFailure extends Data.TaggedError("UnattributableFailure")<{
  readonly reasonLength: number
}> {}

/** A failure decrypted by the origin. */
export interface DecryptedFailure {
  /** Index in the route (0 = first hop) of the node that sent the failure or is blamed. */
  readonly hopIndex: number
  /** True when the return packet's HMAC identified the hop; false when attribution blamed it. */
  readonly authenticated: boolean
  /** The `failuremsg` bytes (only when authenticated and well framed). */
  readonly message: Uint8Array | undefined
  /** The decoded failure, or why it did not decode (undefined: no authenticated message). */
  readonly failure: Result.Result<FailureMessage, DecodeError | MalformedReturnPacket> | undefined
  /**
   * Attribution data check; undefined when none came with the failure. When the packet is
   * authenticated, hops are checked up to the erring one; a `firstInvalidHop` then means a hop
   * before it tampered with the attribution data (penalize that pair of nodes).
   */
  readonly attribution: AttributionCheck | undefined
}

/** The erring hop authenticated a packet whose `failure_len` overruns it. */
export class MalformedReturnPacket extends Data.TaggedError("MalformedReturnPacket")<{
  readonly failureLength: number
  readonly packetLength: number
}> {}

const extractMessage = (plain: Uint8Array): Result.Result<Uint8Array, MalformedReturnPacket> => {
  const length = ((plain[32] ?? 0) << 8) | (plain[33] ?? 0)
  if (plain.length < 34 + length) {
    return Result.fail(new MalformedReturnPacket({ failureLength: length, packetLength: plain.length }))
  }
  return Result.succeed(plain.slice(34, 34 + length))
}

/**
 * The origin: peels the return packet with the route's shared secrets (first hop first) until a
 * hop's `um` HMAC matches, then decodes `failuremsg`. With attribution data, the HMACs are
 * verified too, and when no hop's HMAC matched the first hop whose attribution fails is blamed.
 * Keeps decrypting with dummy keys up to 27 rounds so the timing does not leak the position.
 */
export const decryptFailure = (
  sharedSecrets: ReadonlyArray<Uint8Array>,
  reason: Uint8Array,
  attributionData?: Uint8Array
): Result.Result<DecryptedFailure, UnattributableFailure> => {
  // stripped[i]: the packet once hop i's layer is removed, which is what hop i received from
  // downstream (or, for the erring hop, what it created): the message its attribution HMACs cover.
  const stripped: Array<Uint8Array> = []
  let packet: Uint8Array = reason.slice()
  let found: { readonly hop: number; readonly plain: Uint8Array } | undefined
  const dummy = new Uint8Array(32)
  const rounds = Math.max(DECRYPTION_ROUNDS, sharedSecrets.length)
  for (let i = 0; i < rounds; i++) {
    const real = found === undefined && i < sharedSecrets.length
    const secret = real ? sharedSecrets[i] ?? dummy : dummy
    packet = xorStreamInPlace(deriveKey("ammag", secret), packet)
    if (real) stripped.push(packet.slice())
    if (packet.length < 32 + 4) continue
    const ok = constantTimeEqual(hmacSha256(deriveKey("um", secret), packet.subarray(32)), packet.subarray(0, 32))
    if (ok && real) found = { hop: i, plain: packet.slice() }
  }
  const attribution = attributionData === undefined
    ? undefined
    : verifyAttribution(sharedSecrets, attributionData, (hop) => stripped[hop] ?? new Uint8Array(0), found?.hop)
  if (found !== undefined) {
    const message = extractMessage(found.plain)
    return Result.succeed({
      hopIndex: found.hop,
      authenticated: true,
      message: Result.isSuccess(message) ? message.success : undefined,
      failure: Result.isSuccess(message) ? decodeFailureMessage(message.success) : Result.fail(message.failure),
      attribution
    })
  }
  if (attribution?.firstInvalidHop !== undefined) {
    return Result.succeed({
      hopIndex: attribution.firstInvalidHop,
      authenticated: false,
      message: undefined,
      failure: undefined,
      attribution
    })
  }
  return Result.fail(new UnattributableFailure({ reasonLength: reason.length }))
}
