/** The plain commitment builder, what `buildCommitmentTransaction`'s fast path is tested against (test/protocol/tx/commitment.test.ts). */
import { Result } from "effect"
import type { OutputSpec } from "../../../src/protocol/channel-type.ts"
import { msatToSat, sat, type Sat } from "../../../src/protocol/units.ts"
import { makeInput, type Transaction, type TxOutput } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { compareOutputs } from "../../../src/protocol/tx/bip69.ts"
import { commitmentFee, isHtlcTrimmed } from "../../../src/protocol/tx/fees.ts"
import {
  CommitmentError,
  obscuredCommitmentFields,
  type CommitmentHtlc,
  type CommitmentOutput,
  type CommitmentOutputKind,
  type CommitmentParams,
  type CommitmentTransaction
} from "../../../src/protocol/tx/commitment.ts"

const MASK48 = (1n << 48n) - 1n
const MAX_FEERATE = 0xffffffff

/** The builder as src had it (an object per output before sorting, `Array.prototype.sort`, every key-only spec made afresh): the plain form. */
export const buildCommitmentTransactionPlain = <H extends CommitmentHtlc>(
  params: CommitmentParams<H>
): Result.Result<CommitmentTransaction<H>, CommitmentError> => {
  const { channelType: type, feeratePerKw, dustLimit, keys } = params
  const fail = (reason: string) => Result.fail(new CommitmentError({ reason }))
  if (!Number.isInteger(feeratePerKw) || feeratePerKw < 0 || feeratePerKw > MAX_FEERATE) return fail("feerate out of range")
  if (params.commitmentNumber < 0n || params.commitmentNumber > MASK48) return fail("commitment number out of range")
  if (params.toLocal < 0n || params.toRemote < 0n) return fail("negative balance")
  // A negative dust limit would keep HTLC outputs worth less than their second-stage fee.
  if (dustLimit < 0n) return fail("negative dust limit")
  if (!Number.isInteger(params.toSelfDelay) || params.toSelfDelay < 0 || params.toSelfDelay > 0xffff) return fail("to_self_delay out of range")
  let inFlight = 0n
  for (const h of params.htlcs) {
    if (h.amount <= 0n) return fail("HTLC amount must be positive")
    if (h.paymentHash.length !== 32) return fail("payment hash must be 32 bytes")
    if (!Number.isInteger(h.cltvExpiry) || h.cltvExpiry < 0 || h.cltvExpiry >= 500_000_000) return fail("cltv_expiry out of range")
    inFlight += h.amount
  }
  if (params.toLocal + params.toRemote + inFlight !== params.fundingAmount * 1000n)
    return fail("balances and HTLCs do not add up to the funding amount")

  const untrimmed: Array<H> = []
  const trimmedHtlcs: Array<H> = []
  for (const h of params.htlcs) {
    if (isHtlcTrimmed(type, feeratePerKw, dustLimit, h.direction, h.amount)) trimmedHtlcs.push(h)
    else untrimmed.push(h)
  }

  const baseFee = commitmentFee(type, feeratePerKw, untrimmed.length)
  const funderCharge = baseFee + 2n * type.anchorAmount
  let toLocalAmount: bigint = msatToSat(params.toLocal)
  let toRemoteAmount: bigint = msatToSat(params.toRemote)
  if (params.localIsFunder) toLocalAmount = toLocalAmount > funderCharge ? toLocalAmount - funderCharge : 0n
  else toRemoteAmount = toRemoteAmount > funderCharge ? toRemoteAmount - funderCharge : 0n
  const hasToLocal = toLocalAmount >= dustLimit && toLocalAmount > 0n
  const hasToRemote = toRemoteAmount >= dustLimit && toRemoteAmount > 0n

  interface Pending {
    readonly kind: CommitmentOutputKind
    readonly value: Sat
    readonly spec: OutputSpec
    readonly scriptPubKey: Uint8Array
    readonly cltvExpiry: number | undefined
    readonly htlc: H | undefined
  }
  const pending: Array<Pending> = []
  const push = (kind: CommitmentOutputKind, value: Sat, spec: OutputSpec, htlc?: H) =>
    pending.push({ kind, value, spec, scriptPubKey: spec.scriptPubKey, cltvExpiry: htlc?.cltvExpiry, htlc })

  for (const h of untrimmed) {
    if (h.direction === "offered") push("offered_htlc", msatToSat(h.amount), type.scripts.offeredHtlc(keys, h.paymentHash), h)
    else push("received_htlc", msatToSat(h.amount), type.scripts.receivedHtlc(keys, h.paymentHash, h.cltvExpiry), h)
  }
  if (hasToLocal) push("to_local", sat(toLocalAmount), type.scripts.toLocal(keys, params.toSelfDelay))
  if (hasToRemote) push("to_remote", sat(toRemoteAmount), type.scripts.toRemote(keys))
  if (type.anchors) {
    const local = params.localFundingPubkey
    const remote = params.remoteFundingPubkey
    if (hasToLocal || untrimmed.length > 0) push("local_anchor", type.anchorAmount, type.scripts.anchor(local))
    if (hasToRemote || untrimmed.length > 0) push("remote_anchor", type.anchorAmount, type.scripts.anchor(remote))
  }

  // `pending` is ours: sorted in place (`compareOutputs`, stable, as `sortOutputs` sorts its
  // copy), then every list of the result made in one pass.
  pending.sort(compareOutputs)
  const outputs: Array<CommitmentOutput<H>> = []
  const htlcOutputs: Array<CommitmentOutput<H> & { readonly htlc: H }> = []
  const txOutputs: Array<TxOutput> = []
  let total = 0n
  for (let index = 0; index < pending.length; index++) {
    const p = pending[index]
    if (p === undefined) continue
    const htlc = p.htlc
    if (htlc === undefined) outputs.push({ index, kind: p.kind, amount: p.value, scriptPubKey: p.scriptPubKey, witnessScript: p.spec.witnessScript, htlc })
    else {
      const output = { index, kind: p.kind, amount: p.value, scriptPubKey: p.scriptPubKey, witnessScript: p.spec.witnessScript, htlc }
      outputs.push(output)
      htlcOutputs.push(output)
    }
    txOutputs.push({ value: p.value, scriptPubKey: p.scriptPubKey })
    total += p.value
  }
  const { locktime, sequence } = obscuredCommitmentFields(params.commitmentNumber, params.obscuringFactor)
  const tx: Transaction = {
    version: 2,
    inputs: [makeInput(params.fundingOutpoint, sequence)],
    outputs: txOutputs,
    locktime
  }
  return Result.succeed({
    params,
    tx,
    outputs,
    htlcOutputs,
    trimmedHtlcs,
    baseFee,
    fee: sat(params.fundingAmount - total),
    toLocalAmount: sat(toLocalAmount),
    toRemoteAmount: sat(toRemoteAmount),
    hasToLocal,
    hasToRemote
  })
}
