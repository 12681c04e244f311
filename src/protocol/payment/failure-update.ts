/**
 * The `channel_update` carried by BOLT 4 failure messages with the UPDATE flag
 * (`temporary_channel_failure`, `amount_below_minimum`, `fee_insufficient`,
 * `incorrect_cltv_expiry`, `expiry_too_soon`, `channel_disabled`), both ways:
 *
 * - Receiving (BOLT 4 "Receiving Failure Codes"): when an intermediate node returns one, the
 *   origin MAY consider it for the retries of that payment if it is valid and more recent than
 *   the one used, and MUST NOT apply it to its network graph or relay it. `checkFailureUpdate`
 *   is the validity check: it decodes (with or without the 2-byte type 258 in front: both are
 *   seen), our chain, the channel the onion named out of the erring node, the direction from the
 *   erring node to the next one, and the erring node's signature (BOLT 7 digest). What it
 *   returns is a routing `PolicyUpdate` for that payment only.
 * - Sending (BOLT 4 "Failure Messages", forwarding node): "report the current channel setting
 *   for the outgoing channel", with `short_channel_id` the one the incoming onion used (an alias
 *   stays an alias). `failureUpdateFields` gives the unsigned fields; the actor signs the digest
 *   with the node key. (The field is no longer mandatory in BOLT 4; we still send it because
 *   LDK and others use it for retries.)
 */
import { Result } from "effect"
import { compareBytes, equalBytes } from "../bytes.ts"
import type { ChainHash, ShortChannelId } from "../codec/fields.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { channelUpdateDigest } from "../gossip/digest.ts"
import {
  CHANNEL_FLAG_DIRECTION,
  CHANNEL_FLAG_DISABLE,
  ChannelUpdate,
  MESSAGE_FLAG_DONT_FORWARD,
  MESSAGE_FLAG_MUST_BE_ONE
} from "../messages/gossip.ts"
import type { FailureMessage } from "../onion/failure.ts"
import type { PolicyUpdate } from "../routing/types.ts"
import type { ForwardingPolicy } from "./forward.ts"

/** Why a failure's `channel_update` is not used. */
export type FailureUpdateRejection =
  | "Undecodable"
  | "WrongChain"
  /** Not the channel the onion told the erring node to use. */
  | "WrongChannel"
  /** Not the direction from the erring node to the next node. */
  | "WrongDirection"
  | "BadSignature"

/** A checked failure update: the routing policy and its timestamp. */
export interface FailureUpdate {
  readonly policy: PolicyUpdate
  readonly timestamp: number
}

/** The non-empty `channel_update` of a failure, if it has one. */
export const failureChannelUpdate = (f: FailureMessage | undefined): Uint8Array | undefined =>
  f !== undefined && "channelUpdate" in f && f.channelUpdate.length > 0 ? f.channelUpdate : undefined

const TYPE_258 = Uint8Array.of(0x01, 0x02)
/** `channel_update`'s size without its type: signature, chain hash, scid, timestamp, flags, delta, min, base, ppm, max. */
const UPDATE_BODY_LENGTH = 64 + 32 + 8 + 4 + 1 + 1 + 2 + 8 + 4 + 4 + 8

/** The update as a message with its type (BOLT 4 does not say whether the type is included; senders differ). */
const withType = (raw: Uint8Array): Uint8Array => {
  if (raw.length >= 2 && raw[0] === 0x01 && raw[1] === 0x02 && raw.length !== UPDATE_BODY_LENGTH) return raw
  const out = new Uint8Array(raw.length + 2)
  out.set(TYPE_258)
  out.set(raw, 2)
  return out
}

/**
 * Checks the `channel_update` of a failure returned by `erringNodeId` for the channel
 * `shortChannelId` towards `nextNodeId` (the onion's next hop). Whether it is "more recent than
 * the one used" is the caller's to judge (the payment layer uses one update per direction and
 * payment: the graph it routed with keeps no timestamps).
 */
export const checkFailureUpdate = (
  ctx: { readonly secp: Secp256k1; readonly chainHash: ChainHash },
  raw: Uint8Array,
  expected: { readonly erringNodeId: Uint8Array; readonly nextNodeId: Uint8Array; readonly shortChannelId: ShortChannelId }
): Result.Result<FailureUpdate, FailureUpdateRejection> => {
  const message = withType(raw)
  const decoded = ChannelUpdate.decode(message)
  if (Result.isFailure(decoded)) return Result.fail("Undecodable")
  const u = decoded.success
  if (!equalBytes(u.chainHash, ctx.chainHash)) return Result.fail("WrongChain")
  if (u.shortChannelId !== expected.shortChannelId) return Result.fail("WrongChannel")
  const direction: 0 | 1 = compareBytes(expected.erringNodeId, expected.nextNodeId) < 0 ? 0 : 1
  if (((u.channelFlags & CHANNEL_FLAG_DIRECTION) === 0 ? 0 : 1) !== direction) return Result.fail("WrongDirection")
  if (!ctx.secp.verify(u.signature, channelUpdateDigest(message), expected.erringNodeId)) return Result.fail("BadSignature")
  return Result.succeed({
    timestamp: u.timestamp,
    policy: {
      shortChannelId: u.shortChannelId,
      direction,
      sourceNodeId: expected.erringNodeId,
      feeBaseMsat: u.feeBaseMsat,
      feeProportionalMillionths: u.feeProportionalMillionths,
      cltvExpiryDelta: u.cltvExpiryDelta,
      htlcMinimumMsat: u.htlcMinimumMsat,
      htlcMaximumMsat: u.htlcMaximumMsat,
      disabled: (u.channelFlags & CHANNEL_FLAG_DISABLE) !== 0
    }
  })
}

/**
 * The unsigned `channel_update` (with its type, signature zeroed) a forwarding node puts in an
 * UPDATE failure for its outgoing channel: `shortChannelId` as the incoming onion named it,
 * the policy it enforces, `disabled` when the channel cannot forward now (peer offline, closing),
 * `dont_forward` for an unannounced channel. Sign `channelUpdateDigest` of it into bytes 2..66.
 */
export const failureUpdateFields = (fields: {
  readonly chainHash: ChainHash
  readonly shortChannelId: ShortChannelId
  readonly timestamp: number
  readonly ourNodeId: Uint8Array
  readonly peerNodeId: Uint8Array
  readonly policy: ForwardingPolicy
  readonly disabled: boolean
  readonly announced: boolean
}): Result.Result<Uint8Array, { readonly reason: string }> =>
  ChannelUpdate.encode(ChannelUpdate.make({
    signature: new Uint8Array(64),
    chainHash: fields.chainHash,
    shortChannelId: fields.shortChannelId,
    timestamp: fields.timestamp,
    messageFlags: MESSAGE_FLAG_MUST_BE_ONE | (fields.announced ? 0 : MESSAGE_FLAG_DONT_FORWARD),
    channelFlags: (compareBytes(fields.ourNodeId, fields.peerNodeId) < 0 ? 0 : CHANNEL_FLAG_DIRECTION) | (fields.disabled ? CHANNEL_FLAG_DISABLE : 0),
    cltvExpiryDelta: fields.policy.cltvExpiryDelta,
    htlcMinimumMsat: fields.policy.htlcMinimumMsat,
    feeBaseMsat: fields.policy.feeBaseMsat,
    feeProportionalMillionths: fields.policy.feeProportionalMillionths,
    htlcMaximumMsat: fields.policy.htlcMaximumMsat
  }))

/** Puts `channelUpdate` into a failure that has the field (UPDATE failures), unchanged otherwise. */
export const withChannelUpdate = (f: FailureMessage, channelUpdate: Uint8Array): FailureMessage =>
  "channelUpdate" in f ? { ...f, channelUpdate } : f
