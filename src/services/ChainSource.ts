/**
 * ChainSource: the Bitcoin chain as the node sees it (bring your own chain sync).
 *
 * The contract consumers (the `ChainWatcher`, the monitors) rely on:
 * - `follow(from)` gives the chain's changes AFTER `from` in order: `BlockConnected` for each
 *   block on top of the previous one, `BlockDisconnected` for the current tip when a reorg takes
 *   it away (tip first, down to the fork point), then the new branch's blocks. Applying the events
 *   in order always yields a valid chain; nothing is skipped or reordered, of any reorg depth
 *   the backend can serve. A consumer that was away passes the last block it processed and gets
 *   the disconnections and connections that happened meanwhile.
 * - Blocks are whole (header and every transaction): both backends have them, and which
 *   transactions touch what a consumer watches (outputs spent, scripts paid, transactions
 *   confirmed) is a pure question answered by `WatchSet` (`src/protocol/chain/watch.ts`), the same
 *   for every backend. Depth is the consumer's arithmetic: tip height - confirmation height + 1.
 * - `outputStatus` answers "is this output unspent, and since which height" without a scan (for a
 *   watch registered after its transaction confirmed, e.g. at restart).
 *
 * Layers: `src/layers/chain/` (the simulated chain, bitcoind JSON-RPC).
 */
import { Context, Data, type Effect, type Stream } from "effect"
import type { Block, BlockHash, BlockHeader, BlockRef } from "../protocol/chain/block.ts"
import type { OutPoint } from "../protocol/tx/bitcoin/transaction.ts"
import type { Sat } from "../protocol/units.ts"

export type { Block, BlockHash, BlockHeader, BlockRef } from "../protocol/chain/block.ts"

/** One change of the best chain. */
export type ChainEvent =
  /** `block` extends the chain (its `prevHash` is the previous tip; its height is one more). */
  | { readonly _tag: "BlockConnected"; readonly block: Block }
  /** The current tip (`header`) left the best chain (a reorg); its parent is the tip now. */
  | { readonly _tag: "BlockDisconnected"; readonly header: BlockHeader }

/** The backend cannot be reached or answered nonsense: retry later. */
export class ChainSourceUnavailable extends Data.TaggedError("ChainSourceUnavailable")<{ readonly reason: string }> {}

/** No such block on the best chain (by height) or known at all (by hash). */
export class BlockNotFound extends Data.TaggedError("BlockNotFound")<{ readonly block: string }> {}

/** A block by hash (any known block) or by height (the best chain's). */
export type BlockId = BlockHash | number

export type OutputStatus =
  | {
    readonly _tag: "Unspent"
    /** The height of the block that confirmed it; absent while it is only in the mempool. */
    readonly confirmedAt?: number
    readonly value: Sat
    readonly scriptPubKey: Uint8Array
  }
  /** Spent (in a block), or never seen: find the spender by following or scanning blocks. */
  | { readonly _tag: "SpentOrUnknown" }

export interface ChainSourceShape {
  /** The best block now. */
  readonly tip: Effect.Effect<BlockRef, ChainSourceUnavailable>
  readonly header: (id: BlockId) => Effect.Effect<BlockHeader, BlockNotFound | ChainSourceUnavailable>
  readonly block: (id: BlockId) => Effect.Effect<Block, BlockNotFound | ChainSourceUnavailable>
  /**
   * The chain's changes after `from` (default: the tip when the stream starts), then live, forever.
   * `from` off the best chain starts with its disconnection back to the fork point.
   * Lossless and back-pressured: a slow consumer delays the next event, it never loses one.
   */
  readonly follow: (from?: BlockRef) => Stream.Stream<ChainEvent, ChainSourceUnavailable>
  /** An output's status on the best chain and in the mempool. */
  readonly outputStatus: (outpoint: OutPoint) => Effect.Effect<OutputStatus, ChainSourceUnavailable>
}

export class ChainSource extends Context.Service<ChainSource, ChainSourceShape>()("effect-lightning/ChainSource") {}
