/**
 * Broadcaster: hands a transaction to the Bitcoin network (through the node's mempool).
 *
 * Publishing is idempotent: a transaction the node already has (in its mempool or in a block)
 * counts as published, so a caller that retries after a crash or a reorg gets the same answer.
 * A refusal carries the node's reason, classified (`RejectReason`) so a caller can react
 * (wait for a timelock, bump the fee, give up on a double spend) and the node's own words.
 */
import { Context, Data, type Effect } from "effect"
import type { Transaction, Txid } from "../protocol/tx/bitcoin/transaction.ts"
import type { ChainSourceUnavailable } from "./ChainSource.ts"

export type RejectReason =
  /** An input's transaction is unknown (or, for bitcoind, already spent in a block: it cannot tell). */
  | "MissingInputs"
  /** An input is already spent by another transaction in the mempool (and no replacement happened). */
  | "InputsSpent"
  /** A coinbase output spent before 100 confirmations. */
  | "ImmatureCoinbase"
  /** `nLockTime` not reached (BIP 65 / 113). */
  | "NonFinal"
  /** A relative lock (`nSequence`, BIP 68 / 112) not reached. */
  | "NonBip68Final"
  /** Below the relay or mempool minimum, or not enough to replace a conflict (BIP 125). */
  | "FeeTooLow"
  /** Above the node's maximum fee (`maxfeerate`). */
  | "FeeTooHigh"
  /** Malformed, a bad script or signature, or non-standard. */
  | "Invalid"
  | "Other"

export class BroadcastRejected extends Data.TaggedError("BroadcastRejected")<{
  /** Display-order hex. */
  readonly txid: string
  readonly reason: RejectReason
  /** The node's words. */
  readonly message: string
}> {}

export interface BroadcasterShape {
  /** Publishes `tx` (or its serialization); returns its txid. */
  readonly broadcast: (tx: Transaction | Uint8Array) => Effect.Effect<Txid, BroadcastRejected | ChainSourceUnavailable>
}

export class Broadcaster extends Context.Service<Broadcaster, BroadcasterShape>()("effect-lightning/Broadcaster") {}
