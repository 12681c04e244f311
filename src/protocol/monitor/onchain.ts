/**
 * BOLT 5 on-chain enforcement, the pure half: from a channel's `MonitorState` and the chain
 * transactions that touch the channel, what happened on chain and what we must claim.
 *
 * Model. `OnchainState` keeps the relevant transactions of the best chain (with their heights)
 * and the preimages learned from the chain; nothing else. Every decision is DERIVED from it by
 * `resolve` (a pure function of the monitor state, the on-chain state and the tip height), so
 * a reorg is handled by dropping the transactions of the disconnected blocks
 * (`blockDisconnected`) and resolving again: claims that depended on an unconfirmed commitment
 * disappear, claims on a new one appear (BOLT 5 "General Nomenclature": a node "MUST be
 * prepared to resolve outputs multiple times, in case of blockchain reorganizations").
 *
 * A transaction is relevant when it spends the funding output (level 1), an output of a level
 * 1 transaction (level 2: our claims, their HTLC transactions, ours) or an output of a level 2
 * transaction (level 3: claims of second-stage outputs). Deeper spends are the wallet's.
 *
 * What `resolve` derives (BOLT 5 sections in brackets):
 * - the funding spend's kind [Mutual Close Handling; Unilateral Close Handling: Local / Remote
 *   Commitment Transaction; Revoked Transaction Close Handling; General Requirements (unknown)],
 *   from the obscured commitment number in nLockTime/nSequence and the txids we know;
 * - every output we must watch or claim, with the claim (a `Claim`: which path, which key for
 *   the signer), the height from which it can be mined (`readyAt`), a deadline after which the
 *   other side can take it (`deadline`, for the fee target), and its status (unspent, or spent
 *   by us or by them, at which height);
 * - second-stage outputs when their transactions confirm: our HTLC-success/timeout outputs
 *   (claimed after `to_self_delay`), and the outputs of THEIR HTLC transactions spending a
 *   revoked commitment (claimed at once with the revocation key).
 *
 * Preimages: any 32-byte witness item of a relevant transaction whose SHA-256 is the payment
 * hash of one of the channel's HTLCs is a preimage learned on chain [HTLC Output Handling:
 * "MUST extract the payment preimage from the transaction input witness"]; `blockConnected`
 * returns the new ones so the shell can hand them upstream, and they are kept (a reorg does not
 * make a preimage unknown).
 *
 * Sides: "holder" is us; a counterparty commitment's HTLC directions are its owner's (theirs).
 */
import { Result, Schema } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { equalBytes, toHex } from "../bytes.ts"
import { channelTypeByName, type ChannelParams } from "../channel/params.ts"
import type { ChannelType } from "../channel-type.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import type { ChannelBasepoints, CommitmentKeys } from "../keys/commitment-keys.ts"
import { sharedCommitmentKeysCache } from "../keys/commitment-keys-cache.ts"
import type { PublicKey } from "../keys/keys.ts"
import { sharedPerCommitmentPoints } from "../keys/per-commitment-points.ts"
import { p2wpkhScript, p2wshScript } from "../tx/bitcoin/script.ts"
import { decodeTransaction, serializeTransaction, txid as computeTxid, type OutPoint, type Transaction, type Txid } from "../tx/bitcoin/transaction.ts"
import type { ClaimInput } from "../tx/claims.ts"
import { sharedCommitmentBuilds, commitmentTxid } from "../tx/commitment-builds.ts"
import { commitmentNumberFromFields, commitmentNumberObscuringFactor, type CommitmentHtlc, type CommitmentTransaction } from "../tx/commitment.ts"
import { toLocalScript, toRemoteAnchorsScript } from "../tx/scripts.ts"
import { sat, type Msat, type Sat } from "../units.ts"
import { counterpartySecret, isRevoked, preimageOf, revokedCommitmentByNumber } from "./query.ts"
import { PreimageEntrySchema, type MonitorHtlc, type MonitorState, type PreimageEntry } from "./state.ts"

// ---- state -----------------------------------------------------------------------------------

/** A relevant transaction on the best chain. */
export interface ChainTx {
  readonly height: number
  /** 1: spends the funding output; 2: spends a level 1 output; 3: spends a level 2 output. */
  readonly level: number
  readonly txid: Txid
  readonly tx: Transaction
}

export interface OnchainState {
  /** Relevant transactions, in chain order. */
  readonly txs: ReadonlyArray<ChainTx>
  /** Preimages learned from witnesses on chain (kept across reorgs). */
  readonly learned: ReadonlyArray<PreimageEntry>
}

export const emptyOnchainState: OnchainState = { txs: [], learned: [] }

/** The persisted form: transactions as raw bytes (hex). */
export const OnchainStateJsonSchema = Schema.Struct({
  txs: Schema.Array(Schema.Struct({ height: Schema.Int, level: Schema.Int, tx: Schema.Uint8ArrayFromHex })),
  learned: Schema.Array(PreimageEntrySchema)
})
export type OnchainStateJson = typeof OnchainStateJsonSchema.Type

export const onchainToJson = (s: OnchainState): OnchainStateJson => ({
  txs: s.txs.map((t) => ({ height: t.height, level: t.level, tx: serializeTransaction(t.tx) })),
  learned: s.learned
})

/** Decodes a persisted state; a transaction that does not parse fails the whole state. */
export const onchainFromJson = (j: OnchainStateJson): Result.Result<OnchainState, string> => {
  const txs: Array<ChainTx> = []
  for (const t of j.txs) {
    const decoded = decodeTransaction(t.tx)
    if (Result.isFailure(decoded)) return Result.fail(`stored transaction does not parse: ${decoded.failure.reason}`)
    txs.push({ height: t.height, level: t.level, tx: decoded.success, txid: computeTxid(decoded.success) })
  }
  return Result.succeed({ txs, learned: j.learned })
}

const outpointKey = (o: OutPoint): string => `${toHex(o.txid)}:${o.vout}`

/** The outpoints whose spends are relevant: the funding output and the outputs of level 1 and 2 transactions. */
export const watchedOutpoints = (monitor: MonitorState, onchain: OnchainState): ReadonlyArray<OutPoint> => {
  const out: Array<OutPoint> = [monitor.params.fundingOutpoint]
  for (const t of onchain.txs) {
    if (t.level >= 3) continue
    t.tx.outputs.forEach((_, vout) => out.push({ txid: t.txid, vout }))
  }
  return out
}

/** Every payment hash of the channel's HTLCs (hex), for preimage extraction. */
const knownHashes = (monitor: MonitorState): Set<string> => {
  const s = new Set<string>()
  const add = (hs: ReadonlyArray<MonitorHtlc>) => {
    for (const h of hs) s.add(toHex(h.paymentHash))
  }
  add(monitor.holderCommitment.htlcs)
  add(monitor.counterpartyCurrent.htlcs)
  if (monitor.counterpartyNext !== undefined) add(monitor.counterpartyNext.htlcs)
  for (const r of monitor.revokedCommitments) add(r.htlcs)
  return s
}

/** Preimages in a transaction's witnesses that open one of `hashes`. */
const preimagesIn = (tx: Transaction, hashes: ReadonlySet<string>): ReadonlyArray<PreimageEntry> => {
  const found: Array<PreimageEntry> = []
  for (const input of tx.inputs) {
    for (const item of input.witness) {
      if (item.length !== 32) continue
      const hash = sha256(item)
      if (hashes.has(toHex(hash))) found.push({ paymentHash: hash, preimage: Uint8Array.from(item) })
    }
  }
  return found
}

/**
 * A block's transactions applied to the state: the relevant ones are kept (a transaction
 * spending an output of one earlier in the same block included), and preimages are extracted.
 * `learned` lists the preimages new to the state (to hand upstream).
 */
export const blockConnected = (
  monitor: MonitorState,
  onchain: OnchainState,
  height: number,
  txs: ReadonlyArray<{ readonly tx: Transaction; readonly txid: Txid }>
): { readonly state: OnchainState; readonly learned: ReadonlyArray<PreimageEntry> } => {
  const levels = new Map<string, number>()
  levels.set(outpointKey(monitor.params.fundingOutpoint), 0)
  const known = new Set<string>()
  const addOutputs = (t: ChainTx) => {
    known.add(toHex(t.txid))
    if (t.level < 3) t.tx.outputs.forEach((_, vout) => levels.set(outpointKey({ txid: t.txid, vout }), t.level))
  }
  for (const t of onchain.txs) addOutputs(t)
  const added: Array<ChainTx> = []
  for (const { tx, txid } of txs) {
    if (known.has(toHex(txid))) continue
    let level: number | undefined
    for (const input of tx.inputs) {
      const l = levels.get(outpointKey(input.prevout))
      if (l !== undefined && (level === undefined || l + 1 < level)) level = l + 1 // (`<=` would assign the same level)
    }
    if (level === undefined) continue
    const t: ChainTx = { height, level, txid, tx }
    added.push(t)
    addOutputs(t)
  }
  if (added.length === 0) return { state: onchain, learned: [] }
  const hashes = knownHashes(monitor)
  const have = new Set(onchain.learned.map((p) => toHex(p.paymentHash)))
  const learned: Array<PreimageEntry> = []
  for (const t of added) {
    for (const p of preimagesIn(t.tx, hashes)) {
      const k = toHex(p.paymentHash)
      if (have.has(k) || preimageOf(monitor, p.paymentHash) !== undefined) continue
      have.add(k)
      learned.push(p)
    }
  }
  return { state: { txs: [...onchain.txs, ...added], learned: [...onchain.learned, ...learned] }, learned }
}

/** The block at `height` left the best chain: its transactions (and those above it) are forgotten. */
export const blockDisconnected = (onchain: OnchainState, height: number): OnchainState => {
  const kept = onchain.txs.filter((t) => t.height < height)
  return kept.length === onchain.txs.length ? onchain : { ...onchain, txs: kept }
}

// ---- claims ----------------------------------------------------------------------------------

/** Which key signs a claim (the `ChannelSigner`'s `SpendDescriptor`, as plain data). */
export type ClaimKey =
  | { readonly _tag: "HolderDelayed"; readonly commitmentNumber: bigint }
  | { readonly _tag: "CounterpartyToRemote" }
  | { readonly _tag: "CounterpartyHtlc"; readonly perCommitmentPoint: PublicKey; readonly htlc: CommitmentHtlc }
  | {
      readonly _tag: "Revoked"
      readonly perCommitmentSecret: Uint8Array
      readonly output: { readonly _tag: "ToLocal" } | { readonly _tag: "HtlcTxOutput" } | { readonly _tag: "Htlc"; readonly htlc: CommitmentHtlc }
    }

/**
 * What we broadcast to take an output: a one-input sweep to our script (`Sweep`), or our own
 * pre-signed HTLC-success / HTLC-timeout transaction (`HolderHtlcTx`, signed by the signer
 * from the counterparty's HTLC signature; `htlcIndex` in `htlc_signatures` order).
 */
export type Claim =
  | { readonly _tag: "Sweep"; readonly input: ClaimInput; readonly key: ClaimKey }
  | { readonly _tag: "HolderHtlcTx"; readonly commitmentNumber: bigint; readonly htlcIndex: number; readonly preimage: Uint8Array | undefined }

export type TrackedOutputKind =
  /** Our commitment: our delayed balance. */
  | "to_local"
  /** Their commitment (current, next, revoked or unknown): our balance. */
  | "to_remote"
  /** An HTLC output; `htlc.direction` is the commitment owner's. */
  | "offered_htlc"
  | "received_htlc"
  /** The output of our HTLC-success / HTLC-timeout transaction (delayed). */
  | "htlc_tx_output"
  /** Their revoked commitment: their balance, ours by the revocation key. */
  | "revoked_to_local"
  /** Their revoked commitment: an HTLC output, ours by the revocation key. */
  | "revoked_htlc"
  /** The output of their HTLC transaction spending a revoked commitment: ours by the revocation key. */
  | "revoked_htlc_tx_output"
  /** Our output of a mutual close. */
  | "closing_output"

export type OutputStatus =
  | { readonly _tag: "Unspent" }
  | { readonly _tag: "Spent"; readonly txid: Txid; readonly height: number; readonly vin: number; readonly byUs: boolean }

export interface TrackedOutput {
  readonly outpoint: OutPoint
  readonly amount: Sat
  readonly kind: TrackedOutputKind
  /** The HTLC of an HTLC output (direction as the commitment owner sees it; `id` is the offerer's). */
  readonly htlc: MonitorHtlc | undefined
  /** Whose commitment holds it (for HTLC outputs: which side's HTLC transaction may spend it). */
  readonly commitment: "holder" | "counterparty"
  /** Height of the transaction holding the output. */
  readonly confirmedAt: number
  /** How we take it now, if we can (undefined: nothing to do, e.g. waiting for a preimage). */
  readonly claim: Claim | undefined
  /** First block height the claim can be mined in. */
  readonly readyAt: number | undefined
  /** Height after which the other side may take it: fees rise as it nears. */
  readonly deadline: number | undefined
  readonly status: OutputStatus
}

export type FundingSpendKind = "MutualClose" | "HolderCommitment" | "CounterpartyCommitment" | "RevokedCommitment" | "Unknown"

export interface FundingSpend {
  readonly kind: FundingSpendKind
  readonly txid: Txid
  readonly height: number
  /** The commitment number from nLockTime/nSequence (commitments only). */
  readonly commitmentNumber: bigint | undefined
}

export interface Resolution {
  /** What spent the funding output on the best chain, if anything. */
  readonly spend: FundingSpend | undefined
  readonly outputs: ReadonlyArray<TrackedOutput>
}

/** What `resolve` needs besides the states. */
export interface ResolveContext {
  readonly secp: Secp256k1
  /** Our per-commitment point of `monitor.holderCommitment` (from the `ChannelSigner`): to recognise our commitment. */
  readonly holderPoint: PublicKey | undefined
}

const RBF_SEQUENCE = 0xfffffffd

/** The commitment of `owner` in `state`, as the signer builds it (shared memos: cheap when recent). */
const buildCommitment = (
  secp: Secp256k1,
  params: ChannelParams,
  owner: "holder" | "counterparty",
  c: { readonly commitmentNumber: bigint; readonly feeratePerKw: number; readonly toLocal: Msat; readonly toRemote: Msat; readonly htlcs: ReadonlyArray<MonitorHtlc> },
  point: PublicKey
): { readonly commitment: CommitmentTransaction<MonitorHtlc>; readonly keys: CommitmentKeys } | undefined => {
  const type = channelTypeByName(params.channelType)
  const ours = params.local.basepoints
  const theirs = params.remote.basepoints
  const holder = owner === "holder"
  const keys = sharedCommitmentKeysCache.derive(secp, holder ? ours : theirs, holder ? theirs : ours, point)
  if (Result.isFailure(keys)) return undefined // unreachable for stored points (checked on receipt)
  const built = sharedCommitmentBuilds.build<MonitorHtlc>({
    channelType: type,
    fundingOutpoint: params.fundingOutpoint,
    fundingAmount: params.fundingAmount,
    localFundingPubkey: holder ? ours.fundingPubkey : theirs.fundingPubkey,
    remoteFundingPubkey: holder ? theirs.fundingPubkey : ours.fundingPubkey,
    commitmentNumber: c.commitmentNumber,
    obscuringFactor: obscuringFactorOf(params),
    localIsFunder: holder ? params.localIsFunder : !params.localIsFunder,
    toLocal: c.toLocal,
    toRemote: c.toRemote,
    htlcs: c.htlcs,
    feeratePerKw: c.feeratePerKw,
    dustLimit: holder ? params.local.dustLimit : params.remote.dustLimit,
    toSelfDelay: holder ? params.remote.toSelfDelay : params.local.toSelfDelay,
    keys: keys.success
  })
  return Result.isFailure(built) ? undefined : { commitment: built.success, keys: keys.success }
}

/** BOLT 3: SHA256(opener payment_basepoint || accepter payment_basepoint), lower 48 bits. */
export const obscuringFactorOf = (params: ChannelParams): bigint =>
  params.localIsFunder
    ? commitmentNumberObscuringFactor(params.local.basepoints.paymentBasepoint, params.remote.basepoints.paymentBasepoint)
    : commitmentNumberObscuringFactor(params.remote.basepoints.paymentBasepoint, params.local.basepoints.paymentBasepoint)

/** Our `to_remote` on any commitment of theirs (static remote key: our payment basepoint, untweaked). */
const ourToRemote = (type: ChannelType, ours: ChannelBasepoints): { readonly scriptPubKey: Uint8Array; readonly witnessScript: Uint8Array | undefined } =>
  type.anchors
    ? { scriptPubKey: p2wshScript(toRemoteAnchorsScript(ours.paymentBasepoint)), witnessScript: toRemoteAnchorsScript(ours.paymentBasepoint) }
    : { scriptPubKey: p2wpkhScript(ours.paymentBasepoint), witnessScript: undefined }

/** The kind of spend a witness shows (BOLT 3 witnesses): which path was used. */
type SpendPath = "HtlcTx" | "DelayedOrTimeout" | "Revocation" | "RevokedHtlc" | "Preimage" | "Other"
const spendPath = (witness: ReadonlyArray<Uint8Array>): SpendPath => {
  if (witness.length === 5) return "HtlcTx"
  if (witness.length !== 3) return "Other"
  const second = witness[1]
  if (second === undefined) return "Other" // unreachable: three items (the name "Other" only has to differ from the others)
  if (second.length === 0) return "DelayedOrTimeout"
  if (second.length === 1 && second[0] === 1) return "Revocation"
  if (second.length === 33) return "RevokedHtlc"
  if (second.length === 32) return "Preimage"
  return "Other"
}

/** Whether a spend by this path is ours, per output kind. */
const spentByUs = (kind: TrackedOutputKind, path: SpendPath): boolean => {
  switch (kind) {
    case "to_local":
    case "htlc_tx_output":
      return path === "DelayedOrTimeout"
    case "to_remote":
    case "closing_output":
      return true
    case "offered_htlc":
    case "received_htlc":
      // Set per commitment by the caller (see `htlcSpentByUs`): never reached, kept for an exhaustive switch.
      return false
    case "revoked_to_local":
    case "revoked_htlc_tx_output":
      return path === "Revocation"
    case "revoked_htlc":
      return path === "RevokedHtlc" || path === "Preimage" || path === "DelayedOrTimeout"
  }
}

/**
 * HTLC outputs: on our commitment our HTLC transaction (5-item witness) is ours; on theirs our
 * spends are the 3-item preimage / timeout paths.
 */
const htlcSpentByUs = (commitment: "holder" | "counterparty", path: SpendPath): boolean =>
  commitment === "holder" ? path === "HtlcTx" : path === "Preimage" || path === "DelayedOrTimeout"

interface Spender {
  readonly t: ChainTx
  readonly vin: number
}

const spenderIndex = (onchain: OnchainState): Map<string, Spender> => {
  const m = new Map<string, Spender>()
  for (const t of onchain.txs) t.tx.inputs.forEach((input, vin) => m.set(outpointKey(input.prevout), { t, vin }))
  return m
}

const preimageFor = (monitor: MonitorState, onchain: OnchainState, hash: Uint8Array): Uint8Array | undefined =>
  preimageOf(monitor, hash) ?? onchain.learned.find((p) => equalBytes(p.paymentHash, hash))?.preimage

/**
 * Classifies the funding spend: our commitment (txid of `holderCommitment` at our point), their
 * current or next commitment (txids we signed), their revoked commitment (a commitment number at
 * or below the last revealed secret), a mutual close (no obscured commitment number), or unknown.
 */
export const classifyFundingSpend = (ctx: ResolveContext, monitor: MonitorState, t: ChainTx): FundingSpend => {
  const input = t.tx.inputs[0]
  const n = input === undefined ? undefined : commitmentNumberFromFields(t.tx.locktime, input.sequence, obscuringFactorOf(monitor.params))
  const base = { txid: t.txid, height: t.height, commitmentNumber: n }
  if (n === undefined) return { ...base, kind: "MutualClose" }
  const theirs = monitor.counterpartyNext === undefined ? [monitor.counterpartyCurrent] : [monitor.counterpartyCurrent, monitor.counterpartyNext]
  if (theirs.some((c) => equalBytes(c.txid, t.txid))) return { ...base, kind: "CounterpartyCommitment" }
  // (The number test only saves a build: another number's commitment never has our latest txid.)
  if (ctx.holderPoint !== undefined && n === monitor.holderCommitment.commitmentNumber) {
    const built = buildCommitment(ctx.secp, monitor.params, "holder", monitor.holderCommitment, ctx.holderPoint)
    if (built !== undefined && equalBytes(commitmentTxid(built.commitment), t.txid)) return { ...base, kind: "HolderCommitment" }
  }
  if (isRevoked(monitor, n)) return { ...base, kind: "RevokedCommitment" }
  return { ...base, kind: "Unknown" }
}

/** A tracked output before its status is known. */
type Draft = Omit<TrackedOutput, "status">

/**
 * Everything the chain says about the channel now: the funding spend and each output to watch
 * or claim with its status (see the module comment). Pure; the tip height matters only to `claimsDue` and balances.
 */
export const resolve = (ctx: ResolveContext, monitor: MonitorState, onchain: OnchainState): Resolution => {
  const params = monitor.params
  const funding = params.fundingOutpoint
  // (Level 1 already means spending the funding output, and comes first: the input test only says so.)
  const fundingSpend = onchain.txs.find((t) => t.level === 1 && t.tx.inputs.some((i) => equalBytes(i.prevout.txid, funding.txid) && i.prevout.vout === funding.vout))
  if (fundingSpend === undefined) return { spend: undefined, outputs: [] }
  const spend = classifyFundingSpend(ctx, monitor, fundingSpend)
  const type = channelTypeByName(params.channelType)
  const holderDelay = params.remote.toSelfDelay
  const theirDelay = params.local.toSelfDelay
  const h = fundingSpend.height
  const tx = fundingSpend.tx
  const drafts: Array<Draft> = []
  const at = (vout: number): { readonly outpoint: OutPoint; readonly amount: Sat } => ({ outpoint: { txid: fundingSpend.txid, vout }, amount: tx.outputs[vout]?.value ?? sat(0n) })
  const htlcSequence = type.anchors ? 1 : RBF_SEQUENCE
  /** Follow-ups when an output is spent (second-stage outputs), by outpoint key. */
  const secondStage = new Map<string, (spender: Spender) => ReadonlyArray<Draft>>()

  const addToRemote = () => {
    const spec = ourToRemote(type, params.local.basepoints)
    tx.outputs.forEach((o, vout) => {
      if (!equalBytes(o.scriptPubKey, spec.scriptPubKey)) return
      drafts.push({
        ...at(vout),
        kind: "to_remote",
        htlc: undefined,
        commitment: "counterparty",
        confirmedAt: h,
        claim: {
          _tag: "Sweep",
          input: {
            ...at(vout),
            sequence: type.anchors ? 1 : RBF_SEQUENCE,
            locktime: 0,
            witnessScript: spec.witnessScript,
            witness: type.anchors ? { _tag: "ToRemoteAnchors" } : { _tag: "ToRemoteP2wpkh", pubkey: params.local.basepoints.paymentBasepoint }
          },
          key: { _tag: "CounterpartyToRemote" }
        },
        readyAt: h + 1,
        deadline: undefined
      })
    })
  }

  switch (spend.kind) {
    case "MutualClose": {
      const script = monitor.holderShutdownScript ?? params.local.upfrontShutdownScript
      if (script !== undefined && script.length > 0) {
        tx.outputs.forEach((o, vout) => {
          if (equalBytes(o.scriptPubKey, script))
            drafts.push({ ...at(vout), kind: "closing_output", htlc: undefined, commitment: "holder", confirmedAt: h, claim: undefined, readyAt: undefined, deadline: undefined })
        })
      }
      break
    }
    case "HolderCommitment": {
      const built = ctx.holderPoint === undefined ? undefined : buildCommitment(ctx.secp, params, "holder", monitor.holderCommitment, ctx.holderPoint)
      if (built === undefined) break
      const n = monitor.holderCommitment.commitmentNumber
      const delayedSpec = type.scripts.htlcTxOutput(built.keys, holderDelay)
      for (const o of built.commitment.outputs) {
        if (o.kind === "to_local") {
          drafts.push({
            ...at(o.index),
            kind: "to_local",
            htlc: undefined,
            commitment: "holder",
            confirmedAt: h,
            claim: {
              _tag: "Sweep",
              input: { ...at(o.index), sequence: holderDelay, locktime: 0, witnessScript: o.witnessScript, witness: { _tag: "Delayed" } },
              key: { _tag: "HolderDelayed", commitmentNumber: n }
            },
            readyAt: h + holderDelay,
            deadline: undefined
          })
        } else if (o.htlc !== undefined) {
          const htlc = o.htlc
          const htlcIndex = built.commitment.htlcOutputs.findIndex((x) => x.index === o.index)
          const offered = htlc.direction === "offered"
          const preimage = offered ? undefined : preimageFor(monitor, onchain, htlc.paymentHash)
          drafts.push({
            ...at(o.index),
            kind: offered ? "offered_htlc" : "received_htlc",
            htlc,
            commitment: "holder",
            confirmedAt: h,
            claim: offered || preimage !== undefined ? { _tag: "HolderHtlcTx", commitmentNumber: n, htlcIndex, preimage } : undefined,
            readyAt: offered ? Math.max(h + 1, htlc.cltvExpiry + 1) : h + 1,
            deadline: offered ? undefined : htlc.cltvExpiry
          })
          // Our HTLC transaction's output (at the input's index: SINGLE pairs them) is delayed to us.
          secondStage.set(outpointKey(at(o.index).outpoint), (s) => {
            if (spendPath(s.t.tx.inputs[s.vin]?.witness ?? []) !== "HtlcTx") return []
            const out = s.t.tx.outputs[s.vin]
            if (out === undefined || !equalBytes(out.scriptPubKey, delayedSpec.scriptPubKey)) return []
            const outpoint = { txid: s.t.txid, vout: s.vin }
            return [{
              outpoint,
              amount: out.value,
              kind: "htlc_tx_output",
              htlc,
              commitment: "holder",
              confirmedAt: s.t.height,
              claim: {
                _tag: "Sweep",
                input: { outpoint, amount: out.value, sequence: holderDelay, locktime: 0, witnessScript: delayedSpec.witnessScript, witness: { _tag: "Delayed" } },
                key: { _tag: "HolderDelayed", commitmentNumber: n }
              },
              readyAt: s.t.height + holderDelay,
              deadline: undefined
            }]
          })
        }
      }
      break
    }
    case "CounterpartyCommitment": {
      const c = [monitor.counterpartyCurrent, monitor.counterpartyNext].find((x) => x !== undefined && equalBytes(x.txid, spend.txid))
      if (c === undefined) break
      const built = buildCommitment(ctx.secp, params, "counterparty", c, c.perCommitmentPoint)
      addToRemote()
      if (built === undefined) break
      for (const o of built.commitment.htlcOutputs) {
        const htlc = o.htlc
        const theyOffered = htlc.direction === "offered"
        const preimage = theyOffered ? preimageFor(monitor, onchain, htlc.paymentHash) : undefined
        const key: ClaimKey = { _tag: "CounterpartyHtlc", perCommitmentPoint: c.perCommitmentPoint, htlc: { direction: htlc.direction, amount: htlc.amount, paymentHash: htlc.paymentHash, cltvExpiry: htlc.cltvExpiry } }
        drafts.push({
          ...at(o.index),
          kind: theyOffered ? "offered_htlc" : "received_htlc",
          htlc,
          commitment: "counterparty",
          confirmedAt: h,
          claim: theyOffered
            ? preimage === undefined
              ? undefined
              : { _tag: "Sweep", input: { ...at(o.index), sequence: htlcSequence, locktime: 0, witnessScript: o.witnessScript, witness: { _tag: "Preimage", preimage } }, key }
            : { _tag: "Sweep", input: { ...at(o.index), sequence: htlcSequence, locktime: htlc.cltvExpiry, witnessScript: o.witnessScript, witness: { _tag: "Timeout" } }, key },
          readyAt: theyOffered ? h + 1 : Math.max(h + 1, htlc.cltvExpiry + 1),
          deadline: theyOffered ? htlc.cltvExpiry : undefined
        })
      }
      break
    }
    case "RevokedCommitment": {
      const n = spend.commitmentNumber
      if (n === undefined) break
      const secret = counterpartySecret(monitor, n)
      if (Result.isFailure(secret)) break
      const point = sharedPerCommitmentPoints.pointOf(ctx.secp, secret.success)
      if (Result.isFailure(point)) break
      const keys = sharedCommitmentKeysCache.derive(ctx.secp, params.remote.basepoints, params.local.basepoints, point.success)
      if (Result.isFailure(keys)) break
      const k = keys.success
      const perCommitmentSecret = secret.success
      addToRemote()
      const toLocalWitnessScript = toLocalScript(k.revocationPubkey, theirDelay, k.localDelayedPubkey)
      const toLocalPk = p2wshScript(toLocalWitnessScript)
      const taken = new Set<number>()
      tx.outputs.forEach((o, vout) => {
        if (!equalBytes(o.scriptPubKey, toLocalPk)) return
        taken.add(vout)
        drafts.push({
          ...at(vout),
          kind: "revoked_to_local",
          htlc: undefined,
          commitment: "counterparty",
          confirmedAt: h,
          claim: {
            _tag: "Sweep",
            input: { ...at(vout), sequence: RBF_SEQUENCE, locktime: 0, witnessScript: toLocalWitnessScript, witness: { _tag: "Revocation" } },
            key: { _tag: "Revoked", perCommitmentSecret, output: { _tag: "ToLocal" } }
          },
          readyAt: h + 1,
          deadline: h + theirDelay
        })
      })
      const revoked = revokedCommitmentByNumber(monitor, n)
      for (const htlc of revoked?.htlcs ?? []) {
        const spec = htlc.direction === "offered" ? type.scripts.offeredHtlc(k, htlc.paymentHash) : type.scripts.receivedHtlc(k, htlc.paymentHash, htlc.cltvExpiry)
        const vout = tx.outputs.findIndex((o, i) => !taken.has(i) && equalBytes(o.scriptPubKey, spec.scriptPubKey))
        if (vout < 0) continue // trimmed
        taken.add(vout)
        const plain: CommitmentHtlc = { direction: htlc.direction, amount: htlc.amount, paymentHash: htlc.paymentHash, cltvExpiry: htlc.cltvExpiry }
        drafts.push({
          ...at(vout),
          kind: "revoked_htlc",
          htlc,
          commitment: "counterparty",
          confirmedAt: h,
          claim: {
            _tag: "Sweep",
            input: { ...at(vout), sequence: RBF_SEQUENCE, locktime: 0, witnessScript: spec.witnessScript, witness: { _tag: "RevokedHtlc", revocationPubkey: k.revocationPubkey } },
            key: { _tag: "Revoked", perCommitmentSecret, output: { _tag: "Htlc", htlc: plain } }
          },
          readyAt: h + 1,
          // They can take an HTLC they received at once (with the preimage), one they offered after its expiry.
          deadline: htlc.direction === "offered" ? htlc.cltvExpiry : h + 1
        })
        // Their HTLC transaction on a revoked commitment: its output is ours by the revocation key.
        const secondSpec = type.scripts.htlcTxOutput(k, theirDelay)
        secondStage.set(outpointKey(at(vout).outpoint), (s) => {
          if (spendPath(s.t.tx.inputs[s.vin]?.witness ?? []) !== "HtlcTx") return []
          const out = s.t.tx.outputs[s.vin]
          if (out === undefined || !equalBytes(out.scriptPubKey, secondSpec.scriptPubKey)) return []
          const outpoint = { txid: s.t.txid, vout: s.vin }
          return [{
            outpoint,
            amount: out.value,
            kind: "revoked_htlc_tx_output",
            htlc,
            commitment: "counterparty",
            confirmedAt: s.t.height,
            claim: {
              _tag: "Sweep",
              input: { outpoint, amount: out.value, sequence: RBF_SEQUENCE, locktime: 0, witnessScript: secondSpec.witnessScript, witness: { _tag: "Revocation" } },
              key: { _tag: "Revoked", perCommitmentSecret, output: { _tag: "HtlcTxOutput" } }
            },
            readyAt: s.t.height + 1,
            deadline: s.t.height + theirDelay
          }]
        })
      }
      break
    }
    case "Unknown":
      // BOLT 5 "General Requirements": warn of potentially lost funds (the shell logs it); what
      // is surely ours on a commitment we do not know (data loss) is the static to_remote.
      addToRemote()
      break
  }

  const spenders = spenderIndex(onchain)
  const outputs: Array<TrackedOutput> = []
  const queue = [...drafts]
  for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
    const s = spenders.get(outpointKey(d.outpoint))
    if (s === undefined) {
      outputs.push({ ...d, status: { _tag: "Unspent" } })
      continue
    }
    const path = spendPath(s.t.tx.inputs[s.vin]?.witness ?? [])
    const byUs = d.kind === "offered_htlc" || d.kind === "received_htlc" ? htlcSpentByUs(d.commitment, path) : spentByUs(d.kind, path)
    outputs.push({ ...d, status: { _tag: "Spent", txid: s.t.txid, height: s.t.height, vin: s.vin, byUs } })
    const follow = secondStage.get(outpointKey(d.outpoint))
    if (follow !== undefined) queue.push(...follow(s))
  }
  return { spend, outputs }
}

/** Whether a claim can go into the next block (tip + 1). */
export const isClaimable = (o: TrackedOutput, tip: number): boolean =>
  o.claim !== undefined && o.status._tag === "Unspent" && (o.readyAt === undefined || o.readyAt <= tip + 1)

/** The claims to broadcast now: unspent outputs whose claim can be mined in the next block. */
export const claimsDue = (resolution: Resolution, tip: number): ReadonlyArray<TrackedOutput> => resolution.outputs.filter((o) => isClaimable(o, tip))

/**
 * The confirmation target for a claim's fee: the blocks left before its deadline (at least 1),
 * at most `relaxed` when there is no deadline or it is far.
 */
export const claimTarget = (o: TrackedOutput, tip: number, relaxed = 12): number =>
  o.deadline === undefined ? relaxed : Math.max(1, Math.min(relaxed, o.deadline - tip))

/**
 * Whether everything is over: the funding spend and every spend of a tracked output have
 * `finalityDepth` confirmations, and no output of ours is left unspent (an HTLC we could only
 * take with a preimage we lack counts as theirs once its expiry is `finalityDepth` deep).
 */
export const isResolved = (resolution: Resolution, tip: number, finalityDepth: number): boolean => {
  const deep = (height: number) => tip - height + 1 >= finalityDepth
  if (resolution.spend === undefined || !deep(resolution.spend.height)) return false
  return resolution.outputs.every((o) => {
    if (o.status._tag === "Spent") return deep(o.status.height)
    if (o.kind === "closing_output" || (o.kind === "to_remote" && o.claim === undefined)) return true
    if (o.claim === undefined) return o.htlc !== undefined && deep(o.htlc.cltvExpiry)
    return false
  })
}

/** How an HTLC we offered ended on chain (what the payment layer needs to settle the upstream HTLC). */
export interface OfferedHtlcOutcome {
  /** Our id of the HTLC (BOLT 2 `id` of `update_add_htlc`). */
  readonly htlcId: bigint
  readonly paymentHash: Uint8Array
  readonly result: { readonly _tag: "Fulfilled"; readonly preimage: Uint8Array } | { readonly _tag: "Failed" }
}

/**
 * The outcome of each HTLC we offered that the chain decided: `Fulfilled` as soon as its
 * preimage is seen on chain (BOLT 5: "MUST extract the payment preimage"), `Failed` once the
 * closing commitment is `finalityDepth` deep and either holds no output for it (trimmed, or not
 * in that commitment) or its output was taken back by us (HTLC-timeout, timeout claim or
 * penalty) at least `finalityDepth` deep (BOLT 5: "once the resolving transaction has reached
 * reasonable depth: MUST fail the corresponding incoming HTLC"). Only HTLCs of the latest
 * commitments count (one settled off chain long ago may still sit in a revoked commitment).
 */
export const offeredHtlcOutcomes = (
  monitor: MonitorState,
  onchain: OnchainState,
  resolution: Resolution,
  tip: number,
  finalityDepth: number
): ReadonlyArray<OfferedHtlcOutcome> => {
  const spend = resolution.spend
  if (spend === undefined || spend.kind === "MutualClose") return []
  const deep = (height: number) => tip - height + 1 >= finalityDepth
  const ours = new Map<string, MonitorHtlc>()
  for (const h of monitor.holderCommitment.htlcs) if (h.direction === "offered") ours.set(`${h.id}`, h)
  for (const c of [monitor.counterpartyCurrent, monitor.counterpartyNext]) {
    for (const h of c?.htlcs ?? []) if (h.direction === "received") ours.set(`${h.id}`, h)
  }
  const out: Array<OfferedHtlcOutcome> = []
  for (const h of ours.values()) {
    const preimage = onchain.learned.find((p) => equalBytes(p.paymentHash, h.paymentHash))?.preimage
    if (preimage !== undefined) {
      out.push({ htlcId: h.id, paymentHash: h.paymentHash, result: { _tag: "Fulfilled", preimage } })
      continue
    }
    if (!deep(spend.height)) continue
    const outputs = resolution.outputs.filter((o) => o.htlc !== undefined && o.htlc.id === h.id && o.htlc.direction === h.direction && equalBytes(o.htlc.paymentHash, h.paymentHash))
    const settled = outputs.every((o) => {
      if (o.status._tag !== "Spent") return false
      if (!o.status.byUs) return false
      // Our HTLC-timeout transaction: its delayed output is ours whatever follows.
      return deep(o.status.height)
    })
    if (settled) out.push({ htlcId: h.id, paymentHash: h.paymentHash, result: { _tag: "Failed" } })
  }
  return out
}

/**
 * Our anchor on our latest commitment (option_anchors): its output index, amount and witness
 * script, to pay for the commitment by CPFP (BOLT 3 "to_local_anchor and to_remote_anchor
 * Output"). Undefined without anchors or when the commitment has none.
 */
export const holderAnchorOutput = (
  secp: Secp256k1,
  monitor: MonitorState,
  holderPoint: PublicKey
): { readonly index: number; readonly amount: Sat; readonly witnessScript: Uint8Array } | undefined => {
  const built = buildCommitment(secp, monitor.params, "holder", monitor.holderCommitment, holderPoint)
  const anchor = built?.commitment.outputs.find((o) => o.kind === "local_anchor")
  return anchor === undefined || anchor.witnessScript === undefined ? undefined : { index: anchor.index, amount: anchor.amount, witnessScript: anchor.witnessScript }
}

/**
 * The height by which our commitment should confirm: the earliest expiry of its HTLCs (after it
 * the HTLCs we offered can be claimed by the peer with a preimage, those offered to us taken
 * back). Undefined without HTLCs (no deadline: `to_local` waits anyway).
 */
export const holderCommitmentDeadline = (monitor: MonitorState): number | undefined =>
  monitor.holderCommitment.htlcs.reduce<number | undefined>((m, h) => (m === undefined || h.cltvExpiry < m ? h.cltvExpiry : m), undefined)
