/**
 * The stateless BOLT 7 receive rules: one function per announcement, over the raw message as
 * it came off the wire (type included), returning the decoded message with what the checks
 * learned, or the typed error of the first rule it breaks (in the spec's order: decode, chain,
 * keys, signatures). The rules that need the graph (known channel, newer timestamp) are in
 * `rules.ts`; the graph (`layers/graph`) applies both.
 *
 * Nothing here throws on peer input; `secp` is any `Secp256k1` (native, WASM or noble: same
 * answers, different speed).
 */
import { Result } from "effect"
import { compareBytes, equalBytes, toHex } from "../bytes.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { featuresFromBytes, unknownRequiredBits } from "../features.ts"
import type { Address } from "../messages/address.ts"
import {
  ChannelAnnouncement,
  ChannelUpdate,
  MESSAGE_FLAG_DONT_FORWARD,
  MESSAGE_FLAG_MUST_BE_ONE,
  NodeAnnouncement,
  CHANNEL_FLAG_DIRECTION
} from "../messages/gossip.ts"
import { channelAnnouncementDigest, channelUpdateDigest, nodeAnnouncementDigest } from "./digest.ts"
import {
  DontForward,
  type GossipError,
  HtlcMaximumTooLarge,
  InvalidPublicKey,
  InvalidSignature,
  MalformedGossip,
  MustBeOneNotSet,
  NodeIdsNotOrdered,
  TimestampInFuture,
  WrongChain
} from "./errors.ts"

/** What every check needs: our chain and a secp256k1 implementation. */
export interface GossipContext {
  readonly secp: Secp256k1
  /** `chain_hash` of our chain (BOLT 0); gossip for another chain is ignored. */
  readonly chainHash: Uint8Array
}

/** Default bound on how far in the future a `timestamp` may be: one day (BOLT 7 "unreasonably far"). */
export const DEFAULT_MAX_FUTURE_SECONDS = 24 * 60 * 60

/** 21 million bitcoin in millisatoshi: no HTLC can be larger. */
export const MAX_MONEY_MSAT = 21_000_000n * 100_000_000n * 1000n

/** The unknown even bits of a gossip `features` field (BOLT 7: MUST NOT route through). */
export const unknownEvenFeatures = (features: Uint8Array): ReadonlyArray<number> => {
  for (const b of features) if (b !== 0) return unknownRequiredBits(featuresFromBytes(features))
  return []
}

// ---- channel_announcement -------------------------------------------------------------------------

export interface CheckedChannelAnnouncement {
  readonly message: ChannelAnnouncement
  /** Unknown even feature bits: BOLT 7, MUST NOT route through the channel. */
  readonly unknownEvenFeatures: ReadonlyArray<number>
}

/**
 * BOLT 7 `channel_announcement`, receiving node: our chain (else ignore), `node_id_1` the lesser
 * key, all four signatures valid over the double-SHA256 of the message after the signatures.
 * The funding output check (P2WSH of the bitcoin keys, unspent) is the caller's, see
 * `funding.ts`. `precheck` runs after decoding, before the signatures.
 */
export const checkChannelAnnouncement = (
  ctx: GossipContext,
  raw: Uint8Array,
  precheck?: (m: ChannelAnnouncement) => GossipError | undefined
): Result.Result<CheckedChannelAnnouncement, GossipError> => {
  const decoded = decodeChannelAnnouncement(ctx, raw)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const m = decoded.success
  // The graph's cheap checks (already known...) before the costly signatures.
  const early = precheck?.(m)
  if (early !== undefined) return Result.fail(early)
  const verified = verifyChannelAnnouncement(ctx, raw, m)
  if (Result.isFailure(verified)) return Result.fail(verified.failure)
  return Result.succeed({ message: m, unknownEvenFeatures: unknownEvenFeatures(m.features) })
}

/** The checks of `checkChannelAnnouncement` that need no signature: decodes, our chain, `node_id_1` the lesser key. */
export const decodeChannelAnnouncement = (ctx: GossipContext, raw: Uint8Array): Result.Result<ChannelAnnouncement, GossipError> => {
  const decoded = ChannelAnnouncement.decode(raw)
  if (Result.isFailure(decoded)) return Result.fail(new MalformedGossip({ message: "channel_announcement", error: decoded.failure }))
  const m = decoded.success
  if (!equalBytes(m.chainHash, ctx.chainHash)) return Result.fail(new WrongChain({ message: "channel_announcement", chainHash: toHex(m.chainHash) }))
  if (compareBytes(m.nodeId1, m.nodeId2) >= 0) return Result.fail(new NodeIdsNotOrdered({ shortChannelId: m.shortChannelId }))
  return Result.succeed(m)
}

/** BOLT 7: the four signatures over the double-SHA256 of the message after them. */
export const verifyChannelAnnouncement = (
  ctx: GossipContext,
  raw: Uint8Array,
  m: ChannelAnnouncement
): Result.Result<ChannelAnnouncement, InvalidSignature | InvalidPublicKey> => {
  const h = channelAnnouncementDigest(raw)
  const checks = [
    [m.nodeSignature1, m.nodeId1, "node_signature_1", "node_id_1"],
    [m.nodeSignature2, m.nodeId2, "node_signature_2", "node_id_2"],
    [m.bitcoinSignature1, m.bitcoinKey1, "bitcoin_signature_1", "bitcoin_key_1"],
    [m.bitcoinSignature2, m.bitcoinKey2, "bitcoin_signature_2", "bitcoin_key_2"]
  ] as const
  for (const [sig, key, which, keyName] of checks) {
    if (!ctx.secp.verify(sig, h, key)) {
      if (!ctx.secp.isValidPoint(key)) return Result.fail(new InvalidPublicKey({ message: "channel_announcement", which: keyName }))
      return Result.fail(new InvalidSignature({ message: "channel_announcement", which }))
    }
  }
  return Result.succeed(m)
}

// ---- node_announcement ----------------------------------------------------------------------------

export interface CheckedNodeAnnouncement {
  readonly message: NodeAnnouncement
  /**
   * The addresses to use: port 0 IPv4/IPv6/DNS dropped (SHOULD ignore), Tor v2 dropped (SHOULD
   * ignore), only the first DNS hostname kept (SHOULD ignore the additional data).
   */
  readonly addresses: ReadonlyArray<Address>
  /** False with more than one DNS hostname (MUST NOT forward). */
  readonly forward: boolean
  /** The alias as text: UTF-8 up to the first zero byte, invalid sequences replaced (U+FFFD). */
  readonly alias: string
  /** The alias is valid UTF-8 with only zero bytes after its end (what the origin MUST send). */
  readonly aliasValid: boolean
  /** Unknown even feature bits: MUST NOT route through (or pay to) the node. */
  readonly unknownEvenFeatures: ReadonlyArray<number>
}

const utf8 = new TextDecoder("utf-8", { fatal: false })
const utf8Strict = new TextDecoder("utf-8", { fatal: true })

/** BOLT 7 alias: UTF-8, trailing bytes zero. Returns the text and whether it is well formed. */
export const decodeAlias = (alias: Uint8Array): { readonly text: string; readonly valid: boolean } => {
  let end = alias.indexOf(0)
  if (end < 0) end = alias.length
  const body = alias.subarray(0, end)
  let valid = alias.subarray(end).every((b) => b === 0)
  let text: string
  try {
    text = utf8Strict.decode(body)
  } catch {
    valid = false
    text = utf8.decode(body)
  }
  return { text, valid }
}

/** The addresses a receiver uses, and whether the announcement may be forwarded (BOLT 7). */
export const usableAddresses = (all: ReadonlyArray<Address>): { readonly addresses: ReadonlyArray<Address>; readonly forward: boolean } => {
  const out: Array<Address> = []
  let dns = 0
  for (const a of all) {
    if (a._tag === "TorV2") continue
    if (a._tag === "Dns") {
      dns++
      if (dns > 1) continue
    }
    if ((a._tag === "Ipv4" || a._tag === "Ipv6" || a._tag === "Dns") && a.port === 0) continue
    out.push(a)
  }
  return { addresses: out, forward: dns <= 1 }
}

/**
 * BOLT 7 `node_announcement`, receiving node: `node_id` a valid key, the signature valid over
 * the message after it, the timestamp not unreasonably far past `now` (seconds), the address
 * descriptors (an `addrlen` too short for a known descriptor is `MalformedGossip`).
 * Whether the node has a known channel and the timestamp is newer: `rules.ts`, through
 * `precheck` (run before the signature).
 */
export const checkNodeAnnouncement = (
  ctx: GossipContext,
  raw: Uint8Array,
  now: number,
  maxFutureSeconds = DEFAULT_MAX_FUTURE_SECONDS,
  precheck?: (m: NodeAnnouncement) => GossipError | undefined
): Result.Result<CheckedNodeAnnouncement, GossipError> => {
  const decoded = decodeNodeAnnouncement(raw, now, maxFutureSeconds)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const m = decoded.success
  const early = precheck?.(m)
  if (early !== undefined) return Result.fail(early)
  const verified = verifyNodeAnnouncement(ctx, raw, m)
  if (Result.isFailure(verified)) return Result.fail(verified.failure)
  const { addresses, forward } = usableAddresses(m.addresses.addresses)
  const alias = decodeAlias(m.alias)
  return Result.succeed({ message: m, addresses, forward, alias: alias.text, aliasValid: alias.valid, unknownEvenFeatures: unknownEvenFeatures(m.features) })
}

/** The checks of `checkNodeAnnouncement` that need no signature: decodes (addresses included), timestamp not in the future. */
export const decodeNodeAnnouncement = (
  raw: Uint8Array,
  now: number,
  maxFutureSeconds = DEFAULT_MAX_FUTURE_SECONDS
): Result.Result<NodeAnnouncement, GossipError> => {
  const decoded = NodeAnnouncement.decode(raw)
  if (Result.isFailure(decoded)) return Result.fail(new MalformedGossip({ message: "node_announcement", error: decoded.failure }))
  const m = decoded.success
  if (m.timestamp > now + maxFutureSeconds) return Result.fail(new TimestampInFuture({ message: "node_announcement", timestamp: m.timestamp, now }))
  return Result.succeed(m)
}

/** BOLT 7: the signature by `node_id` over the double-SHA256 of the message after it. */
export const verifyNodeAnnouncement = (
  ctx: GossipContext,
  raw: Uint8Array,
  m: NodeAnnouncement
): Result.Result<NodeAnnouncement, InvalidSignature | InvalidPublicKey> => {
  if (ctx.secp.verify(m.signature, nodeAnnouncementDigest(raw), m.nodeId)) return Result.succeed(m)
  if (!ctx.secp.isValidPoint(m.nodeId)) return Result.fail(new InvalidPublicKey({ message: "node_announcement", which: "node_id" }))
  return Result.fail(new InvalidSignature({ message: "node_announcement", which: "signature" }))
}

// ---- channel_update -------------------------------------------------------------------------------

/** 0 when sent by `node_id_1`, 1 by `node_id_2` (`channel_flags` bit 0). */
export const updateDirection = (u: ChannelUpdate): 0 | 1 => ((u.channelFlags & CHANNEL_FLAG_DIRECTION) === 0 ? 0 : 1)

/**
 * BOLT 7 `channel_update`, the checks that need no channel: decodes, our chain (else ignore),
 * `dont_forward` clear (a private channel's update is not public gossip: `DontForward`),
 * `must_be_one` set, `htlc_maximum_msat` within 21M BTC, `timestamp` not past
 * `now + maxFutureSeconds`. The signature needs the channel's node: `verifyChannelUpdate`.
 */
export const decodeChannelUpdate = (
  ctx: GossipContext,
  raw: Uint8Array,
  now: number,
  maxFutureSeconds = DEFAULT_MAX_FUTURE_SECONDS
): Result.Result<ChannelUpdate, GossipError> => {
  const decoded = ChannelUpdate.decode(raw)
  if (Result.isFailure(decoded)) return Result.fail(new MalformedGossip({ message: "channel_update", error: decoded.failure }))
  const u = decoded.success
  if (!equalBytes(u.chainHash, ctx.chainHash)) return Result.fail(new WrongChain({ message: "channel_update", chainHash: toHex(u.chainHash) }))
  if ((u.messageFlags & MESSAGE_FLAG_DONT_FORWARD) !== 0) return Result.fail(new DontForward({ shortChannelId: u.shortChannelId }))
  if ((u.messageFlags & MESSAGE_FLAG_MUST_BE_ONE) === 0) return Result.fail(new MustBeOneNotSet({ shortChannelId: u.shortChannelId }))
  if (u.htlcMaximumMsat > MAX_MONEY_MSAT) return Result.fail(new HtlcMaximumTooLarge({ shortChannelId: u.shortChannelId, htlcMaximumMsat: u.htlcMaximumMsat }))
  if (u.timestamp > now + maxFutureSeconds) return Result.fail(new TimestampInFuture({ message: "channel_update", timestamp: u.timestamp, now }))
  return Result.succeed(u)
}

/**
 * BOLT 7: the signature of a `channel_update` is by `node_id_1` when the direction bit is 0,
 * `node_id_2` otherwise, over the double-SHA256 of the message after the signature. Also for a
 * private channel's update (`dont_forward`) with the peer's node id.
 */
export const verifyChannelUpdate = (
  ctx: GossipContext,
  raw: Uint8Array,
  update: ChannelUpdate,
  nodeId1: Uint8Array,
  nodeId2: Uint8Array
): Result.Result<ChannelUpdate, InvalidSignature> =>
  ctx.secp.verify(update.signature, channelUpdateDigest(raw), updateDirection(update) === 0 ? nodeId1 : nodeId2)
    ? Result.succeed(update)
    : Result.fail(new InvalidSignature({ message: "channel_update", which: "signature" }))

/** Why a stored direction must not be used for routing (BOLT 7 "SHOULD ignore this channel during route considerations"). */
export type UnroutableReason = "HtlcMaximumBelowMinimum" | "HtlcMaximumAboveCapacity"

/** BOLT 7: `htlc_maximum_msat` < `htlc_minimum_msat`, or above the capacity (when known). */
export const unroutableReason = (
  policy: { readonly htlcMinimumMsat: bigint; readonly htlcMaximumMsat: bigint },
  capacitySat: bigint | undefined
): UnroutableReason | undefined => {
  if (policy.htlcMaximumMsat < policy.htlcMinimumMsat) return "HtlcMaximumBelowMinimum"
  if (capacitySat !== undefined && policy.htlcMaximumMsat > capacitySat * 1000n) return "HtlcMaximumAboveCapacity"
  return undefined
}
