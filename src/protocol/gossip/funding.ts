/**
 * BOLT 7: the receiving node MUST ignore a `channel_announcement` whose `short_channel_id`
 * output is not a P2WSH to `2 <bitcoin_key_1> <bitcoin_key_2> 2 OP_CHECKMULTISIG` (BOLT 3) or is
 * spent. Looking the output up is the caller's (`ChainSource`); this compares what it found.
 */
import { Result } from "effect"
import { equalBytes } from "../bytes.ts"
import type { ShortChannelId } from "../codec/fields.ts"
import { unsafePublicKey } from "../keys/keys.ts"
import type { ChannelAnnouncement } from "../messages/gossip.ts"
import { p2wshScript } from "../tx/bitcoin/script.ts"
import { fundingScript } from "../tx/scripts.ts"
import { FundingOutputMismatch } from "./errors.ts"

/** What the chain says about the output a short channel id points at. */
export type FundingOutput =
  | { readonly _tag: "Unspent"; readonly scriptPubKey: Uint8Array; readonly valueSat: bigint }
  | { readonly _tag: "Spent" }
  | { readonly _tag: "Missing" }

/** The scriptPubKey a channel's funding output must have. */
export const expectedFundingScriptPubKey = (m: ChannelAnnouncement): Uint8Array =>
  p2wshScript(fundingScript(unsafePublicKey(m.bitcoinKey1), unsafePublicKey(m.bitcoinKey2)))

/** The channel's capacity in satoshi if the output is the unspent P2WSH of the two bitcoin keys. */
export const checkFundingOutput = (m: ChannelAnnouncement, output: FundingOutput): Result.Result<bigint, FundingOutputMismatch> => {
  const scid: ShortChannelId = m.shortChannelId
  switch (output._tag) {
    case "Missing":
      return Result.fail(new FundingOutputMismatch({ shortChannelId: scid, reason: "no such output" }))
    case "Spent":
      return Result.fail(new FundingOutputMismatch({ shortChannelId: scid, reason: "output spent" }))
    case "Unspent":
      return equalBytes(output.scriptPubKey, expectedFundingScriptPubKey(m))
        ? Result.succeed(output.valueSat)
        : Result.fail(new FundingOutputMismatch({ shortChannelId: scid, reason: "not the P2WSH of the bitcoin keys" }))
  }
}
