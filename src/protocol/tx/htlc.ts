/**
 * BOLT 3 "HTLC-Timeout and HTLC-Success Transactions": the second-stage transactions that
 * spend the HTLC outputs of the owner's commitment, paying (after `to_self_delay`) to the
 * owner or, on revocation, to the counterparty.
 *
 * Legacy types pay their fee from the HTLC amount (663 / 703 weight); anchors types pay none
 * (the broadcaster adds inputs, hence the peer's SIGHASH_SINGLE|ANYONECANPAY signature) and
 * use nSequence 1.
 */
import type { ChannelType, OutputSpec } from "../channel-type.ts"
import { sat, msatToSat, type Sat } from "../units.ts"
import { makeInput, txid as computeTxid, type Transaction, type Txid } from "./bitcoin/transaction.ts"
import type { CommitmentHtlc, CommitmentOutput, CommitmentTransaction } from "./commitment.ts"
import { htlcSuccessFee, htlcTimeoutFee } from "./fees.ts"

export type HtlcTxKind = "htlc-success" | "htlc-timeout"

export interface HtlcTransaction<H extends CommitmentHtlc = CommitmentHtlc> {
  readonly kind: HtlcTxKind
  readonly htlc: H
  /** Unsigned (empty witness). */
  readonly tx: Transaction
  /** The commitment output spent: its index, amount and witness script (what is signed). */
  readonly commitmentOutputIndex: number
  readonly inputAmount: Sat
  readonly inputWitnessScript: Uint8Array
  /** The witness script of this transaction's single output (spent after to_self_delay or on revocation). */
  readonly outputWitnessScript: Uint8Array
  /** Sighash of the counterparty's signature (SIGHASH_ALL, or SINGLE|ANYONECANPAY with anchors). */
  readonly remoteSighash: number
}

/**
 * The HTLC transaction spending `output` (an HTLC output of `commitment`). An offered HTLC is
 * timed out (nLockTime = cltv_expiry), a received one claimed with its preimage.
 */
export const buildHtlcTransaction = <H extends CommitmentHtlc>(
  commitment: CommitmentTransaction<H>,
  commitmentTxid: Txid,
  output: CommitmentOutput<H> & { readonly htlc: H },
  /** The second-stage output, the same for every HTLC of a commitment (computed if omitted). */
  outputSpec?: OutputSpec
): HtlcTransaction<H> => {
  const { channelType: type, feeratePerKw, keys, toSelfDelay } = commitment.params
  const htlc = output.htlc
  const kind: HtlcTxKind = htlc.direction === "offered" ? "htlc-timeout" : "htlc-success"
  const fee = kind === "htlc-timeout" ? htlcTimeoutFee(type, feeratePerKw) : htlcSuccessFee(type, feeratePerKw)
  const spec = outputSpec ?? type.scripts.htlcTxOutput(keys, toSelfDelay)
  const amount = msatToSat(htlc.amount)
  const tx: Transaction = {
    version: 2,
    inputs: [makeInput({ txid: commitmentTxid, vout: output.index }, type.htlcInputSequence)],
    outputs: [{ value: sat(amount - fee), scriptPubKey: spec.scriptPubKey }],
    locktime: kind === "htlc-timeout" ? htlc.cltvExpiry : 0
  }
  // HTLC outputs are always P2WSH for the segwit v0 types.
  const inputWitnessScript = output.witnessScript ?? new Uint8Array(0)
  return {
    kind,
    htlc,
    tx,
    commitmentOutputIndex: output.index,
    inputAmount: output.amount,
    inputWitnessScript,
    outputWitnessScript: spec.witnessScript ?? new Uint8Array(0),
    remoteSighash: type.remoteHtlcSighash
  }
}

/** Every HTLC transaction of a commitment, in commitment output order (the `htlc_signatures` order). */
export const buildHtlcTransactions = <H extends CommitmentHtlc>(commitment: CommitmentTransaction<H>): ReadonlyArray<HtlcTransaction<H>> => {
  const id = computeTxid(commitment.tx)
  const { channelType, keys, toSelfDelay } = commitment.params
  const spec = channelType.scripts.htlcTxOutput(keys, toSelfDelay)
  return commitment.htlcOutputs.map((o) => buildHtlcTransaction(commitment, id, o, spec))
}

/** Fee of an HTLC transaction of this kind for the channel type (0 with zero-fee HTLC txs). */
export const htlcTxFee = (type: ChannelType, feeratePerKw: number, kind: HtlcTxKind): Sat =>
  kind === "htlc-timeout" ? htlcTimeoutFee(type, feeratePerKw) : htlcSuccessFee(type, feeratePerKw)
