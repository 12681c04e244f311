/**
 * BOLT 3 "Funding Transaction Output": a P2WSH of the sorted 2-of-2 of the funding pubkeys.
 * Selecting and signing the wallet inputs of a funding transaction is the wallet's job; this
 * module gives the output (and its witness script) the funding transaction must contain.
 */
import type { PublicKey } from "../keys/keys.ts"
import type { Sat } from "../units.ts"
import { p2wshScript } from "./bitcoin/script.ts"
import type { TxOutput } from "./bitcoin/transaction.ts"
import { fundingScript } from "./scripts.ts"

export interface FundingOutput extends TxOutput {
  readonly witnessScript: Uint8Array
}

export const fundingOutput = (amount: Sat, localFundingPubkey: PublicKey, remoteFundingPubkey: PublicKey): FundingOutput => {
  const witnessScript = fundingScript(localFundingPubkey, remoteFundingPubkey)
  return { value: amount, scriptPubKey: p2wshScript(witnessScript), witnessScript }
}
