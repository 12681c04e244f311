/**
 * BOLT 3 "HTLC-Timeout and HTLC-Success Transactions": the second-stage transactions that
 * spend the HTLC outputs of the owner's commitment, paying (after `to_self_delay`) to the
 * owner or, on revocation, to the counterparty.
 *
 * Legacy types pay their fee from the HTLC amount (663 / 703 weight); anchors types pay none
 * (the broadcaster adds inputs, hence the peer's SIGHASH_SINGLE|ANYONECANPAY signature) and
 * use nSequence 1.
 */
import { Data, Result } from "effect"
import { channelTypes, type ChannelType, type OutputSpec } from "../channel-type.ts"
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

/** An HTLC transaction cannot be built or completed from what was given (BOLT 3 "HTLC-Timeout and HTLC-Success Transactions"). */
export class HtlcTransactionError extends Data.TaggedError("HtlcTransactionError")<{ readonly reason: string }> {}

/**
 * Total for an HTLC output of `commitment`: `buildCommitmentTransaction` keeps an HTLC output
 * only if its amount minus this fee is at least the (non-negative) dust limit, so the output
 * value here is never negative, and segwit v0 HTLC outputs always carry their witness script.
 */
const htlcTransactionOf = <H extends CommitmentHtlc>(
  commitment: CommitmentTransaction<H>,
  commitmentTxid: Txid,
  output: CommitmentOutput<H> & { readonly htlc: H },
  spec: OutputSpec
): HtlcTransaction<H> => {
  const { channelType: type, feeratePerKw } = commitment.params
  const htlc = output.htlc
  const kind: HtlcTxKind = htlc.direction === "offered" ? "htlc-timeout" : "htlc-success"
  const tx: Transaction = {
    version: 2,
    inputs: [makeInput({ txid: commitmentTxid, vout: output.index }, type.htlcInputSequence)],
    outputs: [{ value: sat(msatToSat(htlc.amount) - htlcTxFee(type, feeratePerKw, kind)), scriptPubKey: spec.scriptPubKey }],
    locktime: kind === "htlc-timeout" ? htlc.cltvExpiry : 0
  }
  return {
    kind,
    htlc,
    tx,
    commitmentOutputIndex: output.index,
    inputAmount: output.amount,
    inputWitnessScript: output.witnessScript ?? new Uint8Array(0),
    outputWitnessScript: spec.witnessScript ?? new Uint8Array(0),
    remoteSighash: type.remoteHtlcSighash
  }
}

/**
 * The HTLC transaction spending HTLC output `outputIndex` of `commitment` (whose txid the caller
 * already has): an offered HTLC is timed out (nLockTime = cltv_expiry), a received one claimed
 * with its preimage. Fails if that output is not an HTLC output of this commitment.
 */
export const buildHtlcTransaction = <H extends CommitmentHtlc>(
  commitment: CommitmentTransaction<H>,
  commitmentTxid: Txid,
  outputIndex: number
): Result.Result<HtlcTransaction<H>, HtlcTransactionError> => {
  const output = commitment.htlcOutputs.find((o) => o.index === outputIndex)
  if (output === undefined) return Result.fail(new HtlcTransactionError({ reason: `output ${outputIndex} is not an HTLC output of the commitment` }))
  if (commitmentTxid.length !== 32) return Result.fail(new HtlcTransactionError({ reason: "commitment txid must be 32 bytes" }))
  return Result.succeed(htlcTransactionOf(commitment, commitmentTxid, output, htlcTxOutputSpec(commitment)))
}

/**
 * Every HTLC transaction of a commitment, in commitment output order (the `htlc_signatures`
 * order). Plain values: a `CommitmentTransaction` only holds HTLC outputs these can spend.
 */
export const buildHtlcTransactions = <H extends CommitmentHtlc>(
  commitment: CommitmentTransaction<H>,
  /** The commitment's txid, when the caller has it already (it must be `txid(commitment.tx)`). */
  commitmentTxid?: Txid
): ReadonlyArray<HtlcTransaction<H>> => {
  // Half the commitments of an HTLC round trip have no HTLC output: no txid or script to make.
  if (commitment.htlcOutputs.length === 0) return []
  const id = commitmentTxid ?? computeTxid(commitment.tx)
  // The second-stage output is the same for every HTLC of a commitment: one script for all.
  const spec = htlcTxOutputSpec(commitment)
  return commitment.htlcOutputs.map((o) => htlcTransactionOf(commitment, id, o, spec))
}

/**
 * The output of the commitment's HTLC transactions: `htlcTxOutput(keys, toSelfDelay)` of its
 * type. For the built-in (segwit v0) types that is the commitment's own `to_local` output (BOLT
 * 3: "the same as the to_local output", the same keys and delay), so when the commitment has one
 * its script and scriptPubKey serve (no script written and hashed again for each commitment with
 * HTLCs); otherwise, or for any other descriptor, the type's function makes it.
 */
export const htlcTxOutputSpec = <H extends CommitmentHtlc>(commitment: CommitmentTransaction<H>): OutputSpec => {
  const { channelType, keys, toSelfDelay } = commitment.params
  if (channelTypes.includes(channelType)) {
    for (const o of commitment.outputs) {
      if (o.kind === "to_local" && o.witnessScript !== undefined) return { scriptPubKey: o.scriptPubKey, witnessScript: o.witnessScript }
    }
  }
  return channelType.scripts.htlcTxOutput(keys, toSelfDelay)
}

/** Fee of an HTLC transaction of this kind for the channel type (0 with zero-fee HTLC txs). */
export const htlcTxFee = (type: ChannelType, feeratePerKw: number, kind: HtlcTxKind): Sat =>
  kind === "htlc-timeout" ? htlcTimeoutFee(type, feeratePerKw) : htlcSuccessFee(type, feeratePerKw)
