/**
 * Typed gossip errors (BOLT 7 "The receiving node"): one variant per receive rule, named after
 * the rule, so a test names the rule it checks and the gossip actor decides per variant what the
 * spec asks for. `severity` says which: `"warn"` = SHOULD send a `warning` (and MAY close the
 * connection: an invalid signature or malformed message, the peer misbehaves), `"ignore"` =
 * MUST/SHOULD ignore the message (stale, unknown, another chain: normal gossip churn).
 */
import { Data } from "effect"
import type { DecodeError } from "../codec/errors.ts"
import type { ShortChannelId } from "../codec/fields.ts"

export type GossipMessageName = "channel_announcement" | "node_announcement" | "channel_update"

/** The bytes do not decode as the message (length, point prefix, address descriptors...). */
export class MalformedGossip extends Data.TaggedError("MalformedGossip")<{
  readonly message: GossipMessageName | "unknown"
  readonly error: DecodeError | string
}> {
  readonly severity = "warn" as const
}

/** `chain_hash` is not our chain: MUST ignore. */
export class WrongChain extends Data.TaggedError("WrongChain")<{ readonly message: GossipMessageName; readonly chainHash: string }> {
  readonly severity = "ignore" as const
}

/** A signature that is invalid or not correct (`which` names the field): SHOULD warn, MUST ignore. */
export class InvalidSignature extends Data.TaggedError("InvalidSignature")<{
  readonly message: GossipMessageName
  readonly which: "node_signature_1" | "node_signature_2" | "bitcoin_signature_1" | "bitcoin_signature_2" | "signature"
}> {
  readonly severity = "warn" as const
}

/** A `node_id` / `bitcoin_key` that is not a valid compressed public key: SHOULD warn, MUST NOT process. */
export class InvalidPublicKey extends Data.TaggedError("InvalidPublicKey")<{ readonly message: GossipMessageName; readonly which: string }> {
  readonly severity = "warn" as const
}

/** `node_id_1` is not the lexicographically-lesser key (or both are equal). */
export class NodeIdsNotOrdered extends Data.TaggedError("NodeIdsNotOrdered")<{ readonly shortChannelId: ShortChannelId }> {
  readonly severity = "warn" as const
}

/** A `channel_update` for a `short_channel_id` no `channel_announcement` announced: MUST ignore. */
export class UnknownChannel extends Data.TaggedError("UnknownChannel")<{ readonly shortChannelId: ShortChannelId }> {
  readonly severity = "ignore" as const
}

/** A `node_announcement` for a node no known channel has: SHOULD ignore. */
export class UnknownNode extends Data.TaggedError("UnknownNode")<{ readonly nodeId: string }> {
  readonly severity = "ignore" as const
}

/** A `channel_announcement` for a channel we already have (the same one, or a conflicting one). */
export class DuplicateChannel extends Data.TaggedError("DuplicateChannel")<{
  readonly shortChannelId: ShortChannelId
  /** True when the known announcement has other node ids (BOLT 7: SHOULD blacklist both pairs). */
  readonly conflicting: boolean
}> {
  readonly severity = "ignore" as const
}

/** `timestamp` not greater than the last one received (equal with the same fields included): SHOULD ignore. */
export class StaleTimestamp extends Data.TaggedError("StaleTimestamp")<{
  readonly message: "channel_update" | "node_announcement"
  readonly timestamp: number
  readonly latest: number
}> {
  readonly severity = "ignore" as const
}

/** A `channel_update` with the timestamp of the last one but other fields: MAY blacklist the node. */
export class ConflictingUpdate extends Data.TaggedError("ConflictingUpdate")<{ readonly shortChannelId: ShortChannelId; readonly timestamp: number }> {
  readonly severity = "ignore" as const
}

/** `timestamp` unreasonably far in the future (past `now + maxFutureSeconds`): MAY discard. */
export class TimestampInFuture extends Data.TaggedError("TimestampInFuture")<{
  readonly message: "channel_update" | "node_announcement"
  readonly timestamp: number
  readonly now: number
}> {
  readonly severity = "ignore" as const
}

/** `must_be_one` (message_flags bit 0) is 0: `htlc_maximum_msat` is not there to be trusted. */
export class MustBeOneNotSet extends Data.TaggedError("MustBeOneNotSet")<{ readonly shortChannelId: ShortChannelId }> {
  readonly severity = "warn" as const
}

/** `htlc_maximum_msat` above the 21 million bitcoin that exist. */
export class HtlcMaximumTooLarge extends Data.TaggedError("HtlcMaximumTooLarge")<{ readonly shortChannelId: ShortChannelId; readonly htlcMaximumMsat: bigint }> {
  readonly severity = "warn" as const
}

/**
 * `dont_forward` set: an update for a private channel, meant for the channel peer only. It is not
 * public gossip: the graph refuses it (the owner of that channel handles it) and it is never relayed.
 */
export class DontForward extends Data.TaggedError("DontForward")<{ readonly shortChannelId: ShortChannelId }> {
  readonly severity = "ignore" as const
}

/** The funding output is not a P2WSH of the two bitcoin keys, or is spent: MUST ignore. */
export class FundingOutputMismatch extends Data.TaggedError("FundingOutputMismatch")<{ readonly shortChannelId: ShortChannelId; readonly reason: string }> {
  readonly severity = "ignore" as const
}

export type GossipError =
  | MalformedGossip
  | WrongChain
  | InvalidSignature
  | InvalidPublicKey
  | NodeIdsNotOrdered
  | UnknownChannel
  | UnknownNode
  | DuplicateChannel
  | StaleTimestamp
  | ConflictingUpdate
  | TimestampInFuture
  | MustBeOneNotSet
  | HtlcMaximumTooLarge
  | DontForward
  | FundingOutputMismatch
