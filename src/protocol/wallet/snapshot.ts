/**
 * The wallet's stored form (issue 9, "wallet persistence"): everything `WalletState` needs to
 * resume after a restart without rescanning, as one JSON document written atomically.
 *
 * - `tip`: the block the state was applied up to; at start the wallet follows the `ChainSource`
 *   from it, which replays what it missed, reorgs included (the undo log below undoes them).
 * - `next`: per address kind and chain (receive 0, change 1), the next index to hand out. An
 *   index is stored BEFORE its address is handed out, so no address is ever given twice.
 * - `utxos`, `pending` (our published, unconfirmed transactions), `locks` (outpoint → lock id,
 *   e.g. a channel's funding txid: an input stays locked across restarts until the channel
 *   confirms or the open fails), `lockExpiry` (lock id → the height at which it ends by itself:
 *   the coins of a fee bump that never confirmed) and `undo` (the last blocks' undo records).
 * - `fingerprint` and `network`: the keys the state belongs to; another seed's state is refused.
 *
 * Bytes are hex (txids in internal byte order, as in `outpointKey`), amounts decimal strings.
 */
import { Data, Result, Schema } from "effect"

const UtxoJson = Schema.Struct({
  txid: Schema.String,
  vout: Schema.Int,
  value: Schema.String,
  kind: Schema.Literals(["p2wpkh", "p2tr"]),
  chain: Schema.Literals([0, 1]),
  index: Schema.Int,
  height: Schema.Int,
  coinbase: Schema.optional(Schema.Boolean)
})
export type UtxoJson = typeof UtxoJson.Type

const RefJson = Schema.Struct({ height: Schema.Int, hash: Schema.String })

export const WalletSnapshotSchema = Schema.Struct({
  version: Schema.Literal(1),
  network: Schema.String,
  fingerprint: Schema.Int,
  tip: Schema.NullOr(RefJson),
  next: Schema.Array(Schema.Struct({ kind: Schema.Literals(["p2wpkh", "p2tr"]), chain: Schema.Literals([0, 1]), index: Schema.Int })),
  utxos: Schema.Array(UtxoJson),
  /** Raw transactions (hex). */
  pending: Schema.Array(Schema.String),
  /** [outpoint key, lock id] pairs. */
  locks: Schema.Array(Schema.Tuple([Schema.String, Schema.String])),
  /** [lock id, height] pairs: the lock ends when a block of that height is connected (fee-bump locks). */
  lockExpiry: Schema.optional(Schema.Array(Schema.Tuple([Schema.String, Schema.Int]))),
  undo: Schema.Array(Schema.Struct({
    height: Schema.Int,
    hash: Schema.String,
    added: Schema.Array(Schema.String),
    removed: Schema.Array(UtxoJson),
    /** [txid hex, raw transaction hex] of our pending transactions this block confirmed. */
    confirmed: Schema.Array(Schema.Tuple([Schema.String, Schema.String]))
  }))
})

export type WalletSnapshot = typeof WalletSnapshotSchema.Type

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const encodeSnapshot = (s: WalletSnapshot): Uint8Array => encoder.encode(JSON.stringify(s))

/** The stored wallet state cannot be used (damaged, or another seed's / network's): an operator must look. */
export class WalletSnapshotInvalid extends Data.TaggedError("WalletSnapshotInvalid")<{ readonly reason: string }> {}

/** The stored bytes as a snapshot (shape only; `WalletState.fromSnapshot` checks the contents). */
export const decodeSnapshot = (bytes: Uint8Array): Result.Result<WalletSnapshot, WalletSnapshotInvalid> => {
  let json: unknown
  try {
    json = JSON.parse(decoder.decode(bytes))
  } catch (error) {
    return Result.fail(new WalletSnapshotInvalid({ reason: `not JSON: ${error instanceof Error ? error.message : String(error)}` }))
  }
  return Result.mapError(Schema.decodeUnknownResult(WalletSnapshotSchema)(json), (e) => new WalletSnapshotInvalid({ reason: e.message }))
}
