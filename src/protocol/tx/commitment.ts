/**
 * BOLT 3 "Commitment Transaction" and "Commitment Transaction Construction": builds the
 * unsigned commitment transaction of one side (the "owner", "local" in BOLT 3 terms) at a
 * commitment number and feerate, and reports where every output, and every HTLC, ended up.
 *
 * Steps (BOLT 3): trim HTLCs whose second-stage output would be dust, compute the base fee from
 * the expected weight, take fee and (with anchors) 2 * 330 sat from the funder, add HTLC and
 * balance outputs not below the owner's dust limit, add anchors, sort BIP 69 + CLTV. The
 * obscured commitment number goes in nLockTime and nSequence.
 */
import { Data, Result } from "effect"
import { sha256Concat } from "./bitcoin/hash.ts"
import type { ChannelType, OutputSpec } from "../channel-type.ts"
import { compareBytes } from "../bytes.ts"
import { packBytes, packedHas } from "../lru.ts"
import type { CommitmentKeys } from "../keys/commitment-keys.ts"
import type { PublicKey } from "../keys/keys.ts"
import { msatToSat, sat, type Msat, type Sat } from "../units.ts"
import { makeInput, type OutPoint, type Transaction, type TxOutput } from "./bitcoin/transaction.ts"
import { HTLC_SCRIPT_MAX, ScriptArena, TO_LOCAL_SCRIPT_MAX } from "./scripts.ts"
import { commitmentFee, isHtlcTrimmed, type HtlcDirection } from "./fees.ts"

const MASK48 = (1n << 48n) - 1n

/** Lower 48 bits of SHA256(opener payment_basepoint || accepter payment_basepoint). */
export const commitmentNumberObscuringFactor = (openerPaymentBasepoint: PublicKey, accepterPaymentBasepoint: PublicKey): bigint => {
  // Hashed in parts: the 66 bytes joined would be an array beyond the 64 bytes V8 keeps on its heap.
  const h = sha256Concat(openerPaymentBasepoint, accepterPaymentBasepoint)
  let v = 0n
  for (let i = 26; i < 32; i++) v = (v << 8n) | BigInt(h[i] ?? 0)
  return v
}

const TWO_24 = 0x1000000

/** nLockTime (0x20 << 24 | low 24 bits) and nSequence (0x80 << 24 | high 24 bits) of a commitment. */
export const obscuredCommitmentFields = (commitmentNumber: bigint, obscuringFactor: bigint): { readonly locktime: number; readonly sequence: number } => {
  if (commitmentNumber >= 0n && commitmentNumber <= MASK48 && obscuringFactor >= 0n && obscuringFactor <= MASK48) {
    // Both 48-bit (every commitment): exact doubles, XORed 24 bits at a time without BigInt arithmetic (each operation allocates).
    const n = Number(commitmentNumber)
    const f = Number(obscuringFactor)
    return { locktime: 0x20000000 + ((n % TWO_24) ^ (f % TWO_24)), sequence: 0x80000000 + (Math.floor(n / TWO_24) ^ Math.floor(f / TWO_24)) }
  }
  const obscured = (commitmentNumber ^ obscuringFactor) & MASK48
  return {
    locktime: Number((0x20n << 24n) | (obscured & 0xffffffn)),
    sequence: Number((0x80n << 24n) | (obscured >> 24n))
  }
}

/**
 * Recovers the commitment number from a transaction's nLockTime/nSequence (to recognise a
 * broadcast commitment, e.g. a revoked one); undefined if the upper bytes are not 0x20 / 0x80.
 */
export const commitmentNumberFromFields = (locktime: number, sequence: number, obscuringFactor: bigint): bigint | undefined => {
  if (locktime >>> 24 !== 0x20 || sequence >>> 24 !== 0x80) return undefined
  const obscured = (BigInt(sequence & 0xffffff) << 24n) | BigInt(locktime & 0xffffff)
  return (obscured ^ obscuringFactor) & MASK48
}

/** An HTLC as the commitment builder needs it; extra fields of `H` are carried through untouched. */
export interface CommitmentHtlc {
  /** Offered or received from the point of view of the commitment owner. */
  readonly direction: HtlcDirection
  readonly amount: Msat
  readonly paymentHash: Uint8Array
  readonly cltvExpiry: number
}

export interface CommitmentParams<H extends CommitmentHtlc = CommitmentHtlc> {
  readonly channelType: ChannelType
  readonly fundingOutpoint: OutPoint
  readonly fundingAmount: Sat
  /** The owner's and the counterparty's funding pubkeys (anchor outputs lock to them). */
  readonly localFundingPubkey: PublicKey
  readonly remoteFundingPubkey: PublicKey
  readonly commitmentNumber: bigint
  readonly obscuringFactor: bigint
  /** Whether the owner of this commitment is the channel funder (opener), who pays the fee. */
  readonly localIsFunder: boolean
  /** Balances excluding HTLCs in flight: to_local belongs to the owner. */
  readonly toLocal: Msat
  readonly toRemote: Msat
  readonly htlcs: ReadonlyArray<H>
  readonly feeratePerKw: number
  /** The owner's `dust_limit_satoshis`. */
  readonly dustLimit: Sat
  /** The delay on the owner's outputs: the `to_self_delay` the counterparty asked for. */
  readonly toSelfDelay: number
  readonly keys: CommitmentKeys
}

export type CommitmentOutputKind = "to_local" | "to_remote" | "local_anchor" | "remote_anchor" | "offered_htlc" | "received_htlc"

export interface CommitmentOutput<H extends CommitmentHtlc = CommitmentHtlc> {
  /** Index in the transaction's outputs. */
  readonly index: number
  readonly kind: CommitmentOutputKind
  readonly amount: Sat
  readonly scriptPubKey: Uint8Array
  /** Witness script of a P2WSH output (undefined for the legacy P2WPKH to_remote). */
  readonly witnessScript: Uint8Array | undefined
  /** The HTLC of an HTLC output. */
  readonly htlc: H | undefined
}

export interface CommitmentTransaction<H extends CommitmentHtlc = CommitmentHtlc> {
  readonly params: CommitmentParams<H>
  /** Unsigned: the funding input has an empty witness (see `signing.ts` to complete it). */
  readonly tx: Transaction
  /** Every output in transaction order. */
  readonly outputs: ReadonlyArray<CommitmentOutput<H>>
  /** HTLC outputs in transaction order: the order of `htlc_signatures` in `commitment_signed`. */
  readonly htlcOutputs: ReadonlyArray<CommitmentOutput<H> & { readonly htlc: H }>
  /** HTLCs without an output (their value goes to fees). */
  readonly trimmedHtlcs: ReadonlyArray<H>
  /** Fee from the expected weight, before anchors, rounding and trimmed amounts. */
  readonly baseFee: Sat
  /** What the transaction really pays: funding amount minus the sum of outputs. */
  readonly fee: Sat
  /** to_local / to_remote amounts after fee and anchors (sat, rounded down), present or not. */
  readonly toLocalAmount: Sat
  readonly toRemoteAmount: Sat
  readonly hasToLocal: boolean
  readonly hasToRemote: boolean
}

export class CommitmentError extends Data.TaggedError("CommitmentError")<{ readonly reason: string }> {}

const MAX_FEERATE = 0xffffffff

/**
 * The output specs that depend on the channel's keys alone: the two anchors (on the funding
 * pubkeys) and, with anchors, the to_remote (on `remotepubkey`, untweaked under
 * option_static_remotekey). They are the same for every commitment of one channel side, so each
 * is compiled and hashed once per side, not for each commitment: kept for the owner's funding key
 * array (by identity) with the channel type and the bytes of the three keys they were made of
 * (one array, `packBytes`), compared on each use. One lookup per commitment built (three before,
 * one per spec and key array: the lookups of cold keys cost the 300-node simulation ~0.4% of its
 * time). Each spec is made when first needed. Only 33-byte keys (every `PublicKey`) are kept, so
 * each key is at a fixed place in the array; others get their specs made afresh. Weak: an entry
 * lives as long as its key array.
 */
interface KeyedSpecs {
  readonly type: ChannelType
  /** The local funding key, the remote one and `remotepubkey`, as the specs were made of them. */
  readonly keys: Uint8Array
  localAnchor: OutputSpec | undefined
  remoteAnchor: OutputSpec | undefined
  toRemote: OutputSpec | undefined
}
const keyedSpecs = new WeakMap<Uint8Array, KeyedSpecs>()
const NO_KEYS = new Uint8Array(0)
const KEY_LENGTH = 33

/** The specs' record for the params' keys and type (a fresh one, not kept, for keys of other lengths). */
const keyedSpecsOf = (type: ChannelType, local: Uint8Array, remote: Uint8Array, remotePayment: Uint8Array): KeyedSpecs => {
  const kept = local.length === KEY_LENGTH && remote.length === KEY_LENGTH && remotePayment.length === KEY_LENGTH
  if (kept) {
    const held = keyedSpecs.get(local)
    if (held !== undefined && held.type === type && packedHas(held.keys, 0, local) && packedHas(held.keys, KEY_LENGTH, remote) && packedHas(held.keys, 2 * KEY_LENGTH, remotePayment))
      return held
  }
  const fresh: KeyedSpecs = { type, keys: kept ? packBytes([local, remote, remotePayment]) : NO_KEYS, localAnchor: undefined, remoteAnchor: undefined, toRemote: undefined }
  if (kept) keyedSpecs.set(local, fresh)
  return fresh
}

/** The builder's failure (a function, not a closure made per build). */
const failed = (reason: string): Result.Result<never, CommitmentError> => Result.fail(new CommitmentError({ reason }))

/**
 * An output being made. Its fields are those of `CommitmentOutput`, in its order (it is handed
 * out as one once `index` is set after sorting): no second object per output.
 */
interface Pending<H extends CommitmentHtlc> {
  index: number
  readonly kind: CommitmentOutputKind
  readonly amount: Sat
  readonly scriptPubKey: Uint8Array
  readonly witnessScript: Uint8Array | undefined
  readonly htlc: H | undefined
}

const pendingOf = <H extends CommitmentHtlc>(kind: CommitmentOutputKind, amount: Sat, spec: OutputSpec, htlc: H | undefined): Pending<H> => ({
  index: -1,
  kind,
  amount,
  scriptPubKey: spec.scriptPubKey,
  witnessScript: spec.witnessScript,
  htlc
})

/**
 * BOLT 3 output order, `compareOutputs`'s (BIP 69 value, then scriptPubKey, then an HTLC's
 * `cltv_expiry`) read from the outputs as they are (no object made per comparison).
 */
const comparePending = <H extends CommitmentHtlc>(a: Pending<H>, b: Pending<H>): number => {
  if (a.amount !== b.amount) return a.amount < b.amount ? -1 : 1
  const c = compareBytes(a.scriptPubKey, b.scriptPubKey)
  if (c !== 0) return c
  return (a.htlc?.cltvExpiry ?? 0) - (b.htlc?.cltvExpiry ?? 0)
}

/** Whether the output is an HTLC's (a type guard: the same object goes in both lists). */
const isHtlcOutput = <H extends CommitmentHtlc>(p: Pending<H>): p is Pending<H> & { readonly htlc: H } => p.htlc !== undefined

/** Beyond this many outputs the engine's sort (O(n log n)) is used; below, an insertion sort. */
const INSERTION_SORT_MAX = 16

/**
 * Sorts in place, stable (equal outputs keep their order, as `Array.prototype.sort`). A commitment
 * has a handful of outputs: V8's sort allocates its merge state on every call (~1 KB, about a
 * sixth of a build's garbage), an insertion sort nothing.
 */
const sortPending = <H extends CommitmentHtlc>(pending: Array<Pending<H>>): void => {
  if (pending.length > INSERTION_SORT_MAX) {
    pending.sort(comparePending)
    return
  }
  for (let i = 1; i < pending.length; i++) {
    const x = pending[i]
    if (x === undefined) continue
    let j = i - 1
    for (let y = pending[j]; y !== undefined && comparePending(y, x) > 0; y = pending[--j]) pending[j + 1] = y
    pending[j + 1] = x
  }
}

/**
 * Builds the commitment transaction. Fails (without throwing) if balances and HTLCs do not add
 * up to the funding amount, or a parameter is out of range.
 */
export const buildCommitmentTransaction = <H extends CommitmentHtlc>(
  params: CommitmentParams<H>
): Result.Result<CommitmentTransaction<H>, CommitmentError> => {
  const { channelType: type, feeratePerKw, dustLimit, keys } = params
  if (!Number.isInteger(feeratePerKw) || feeratePerKw < 0 || feeratePerKw > MAX_FEERATE) return failed("feerate out of range")
  if (params.commitmentNumber < 0n || params.commitmentNumber > MASK48) return failed("commitment number out of range")
  if (params.toLocal < 0n || params.toRemote < 0n) return failed("negative balance")
  // A negative dust limit would keep HTLC outputs worth less than their second-stage fee.
  if (dustLimit < 0n) return failed("negative dust limit")
  if (!Number.isInteger(params.toSelfDelay) || params.toSelfDelay < 0 || params.toSelfDelay > 0xffff) return failed("to_self_delay out of range")
  // Indexed loops over the HTLCs, not `for...of`: this runs once per commitment, in code V8
  // compiles only with Maglev, where each step of an array iterator allocates its result.
  const htlcs = params.htlcs
  let inFlight = 0n
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h === undefined) return failed("missing HTLC")
    if (h.amount <= 0n) return failed("HTLC amount must be positive")
    if (h.paymentHash.length !== 32) return failed("payment hash must be 32 bytes")
    if (!Number.isInteger(h.cltvExpiry) || h.cltvExpiry < 0 || h.cltvExpiry >= 500_000_000) return failed("cltv_expiry out of range")
    inFlight += h.amount
  }
  if (params.toLocal + params.toRemote + inFlight !== params.fundingAmount * 1000n)
    return failed("balances and HTLCs do not add up to the funding amount")

  const untrimmed: Array<H> = []
  const trimmedHtlcs: Array<H> = []
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h === undefined) continue
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

  // With HTLC outputs, their witness scripts and to_local's in one buffer (`ScriptArena`); without,
  // to_local's alone is its own array (a buffer and a view of it would cost more than one array).
  const arena = untrimmed.length === 0 ? undefined : new ScriptArena((hasToLocal ? TO_LOCAL_SCRIPT_MAX : 0) + HTLC_SCRIPT_MAX * untrimmed.length)
  const pending: Array<Pending<H>> = []
  for (let i = 0; i < untrimmed.length; i++) {
    const h = untrimmed[i]
    if (h === undefined) continue
    if (h.direction === "offered") pending.push(pendingOf("offered_htlc", msatToSat(h.amount), type.scripts.offeredHtlc(keys, h.paymentHash, arena), h))
    else pending.push(pendingOf("received_htlc", msatToSat(h.amount), type.scripts.receivedHtlc(keys, h.paymentHash, h.cltvExpiry, arena), h))
  }
  if (hasToLocal) pending.push(pendingOf<H>("to_local", sat(toLocalAmount), type.scripts.toLocal(keys, params.toSelfDelay, arena), undefined))
  const local = params.localFundingPubkey
  const remote = params.remoteFundingPubkey
  const specs = hasToRemote || type.anchors ? keyedSpecsOf(type, local, remote, keys.remotePaymentPubkey) : undefined
  if (hasToRemote && specs !== undefined) pending.push(pendingOf<H>("to_remote", sat(toRemoteAmount), (specs.toRemote ??= type.scripts.toRemote(keys)), undefined))
  if (type.anchors && specs !== undefined) {
    if (hasToLocal || untrimmed.length > 0) pending.push(pendingOf<H>("local_anchor", type.anchorAmount, (specs.localAnchor ??= type.scripts.anchor(local)), undefined))
    if (hasToRemote || untrimmed.length > 0) pending.push(pendingOf<H>("remote_anchor", type.anchorAmount, (specs.remoteAnchor ??= type.scripts.anchor(remote)), undefined))
  }

  // `pending` is ours: sorted in place, then numbered; each is the output handed out.
  sortPending(pending)
  const htlcOutputs: Array<CommitmentOutput<H> & { readonly htlc: H }> = []
  const txOutputs: Array<TxOutput> = []
  let total = 0n
  for (let index = 0; index < pending.length; index++) {
    const p = pending[index]
    if (p === undefined) continue
    p.index = index
    if (isHtlcOutput(p)) htlcOutputs.push(p)
    txOutputs.push({ value: p.amount, scriptPubKey: p.scriptPubKey })
    total += p.amount
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
    outputs: pending,
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
