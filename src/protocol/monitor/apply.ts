/**
 * Applying `MonitorUpdate`s to a `MonitorState`: pure, total, and all-or-nothing. An update
 * that is out of order or contradicts the state is a typed `MonitorError` and the state is
 * left as it was (values are immutable; a new state is returned on success).
 *
 * Rules, per update (BOLT 2 "Normal Operation", BOLT 3 "Per-commitment Secret Requirements"):
 * - every update has `updateId` = `latestUpdateId + 1`; `Opened` starts a log at 0 and only there;
 * - `HolderCommitment`: our commitment number advances by exactly one (one `commitment_signed`
 *   received per number);
 * - `CounterpartyCommitment`: their commitment number advances by exactly one, and only once
 *   they revoked the previous one (a node does not send `commitment_signed` while awaiting
 *   `revoke_and_ack`);
 * - `CommitmentSecret`: only for their current commitment once a next one exists (they revoke
 *   the older of two unrevoked commitments); the secret must fit the shachain of the secrets
 *   already revealed and its point (secret * G) must be the per-commitment point we signed that
 *   commitment at. The next commitment becomes current; the revoked one's HTLCs and txid are kept;
 * - `ShutdownScript`: a side's script may change (`option_simple_close` lets `closing_complete`
 *   change it), but not away from a non-empty `upfront_shutdown_script` of that side;
 * - `ForceClose` only while open; after it no new commitment is recorded, but secrets and
 *   preimages still are (both matter on chain); after `ChannelClosed` nothing is applied.
 * Preimages are kept while an HTLC with their hash is in a commitment that can still be
 * broadcast (our latest, their current or next); a revoked commitment is claimed whole by
 * justice and needs none.
 */
import { Data, Result, type Types } from "effect"
import { equalBytes } from "../bytes.ts"
import { paymentHashOf } from "../channel/payment-hash.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { sharedPerCommitmentPoints } from "../keys/per-commitment-points.ts"
import { indexOfCommitment, insertSecret, emptySecretStore, type ShachainError } from "../keys/shachain.ts"
import type { CounterpartyCommitment, MonitorHtlc, MonitorState, PreimageEntry } from "./state.ts"
import { RevokedCommitments } from "./revoked.ts"
import type {
  CommitmentSecretUpdate,
  CounterpartyCommitmentUpdate,
  HolderCommitmentUpdate,
  MonitorUpdate,
  MonitorUpdateTag,
  OpenedUpdate,
  PaymentPreimageUpdate,
  ShutdownScriptUpdate
} from "./update.ts"

/** `updateId` is not the one expected (a gap, a replay of an old id, or `Opened` not at 0). */
export class MonitorUpdateOutOfOrder extends Data.TaggedError("MonitorUpdateOutOfOrder")<{
  readonly expected: bigint
  readonly received: bigint
}> {
  override get message(): string {
    return `monitor update ${this.received} out of order: expected ${this.expected}`
  }
}

/** `Opened` applied to a monitor that already exists. */
export class MonitorAlreadyOpened extends Data.TaggedError("MonitorAlreadyOpened")<{ readonly updateId: bigint }> {}

/** A log whose first update is not `Opened` (or an empty log). */
export class MonitorNotOpened extends Data.TaggedError("MonitorNotOpened")<{ readonly first: MonitorUpdateTag | undefined }> {}

/** A commitment number that does not advance by exactly one (going back, repeating, or skipping). */
export class CommitmentNumberMismatch extends Data.TaggedError("CommitmentNumberMismatch")<{
  readonly side: "holder" | "counterparty"
  readonly expected: bigint
  readonly received: bigint
}> {
  override get message(): string {
    return `${this.side} commitment number ${this.received}: expected ${this.expected}`
  }
}

/** A new counterparty commitment while the previous next one is not yet acknowledged by a revocation. */
export class CounterpartyCommitmentPending extends Data.TaggedError("CounterpartyCommitmentPending")<{
  readonly pending: bigint
}> {}

/**
 * A revealed secret for a commitment that is not the one to revoke now: not their current
 * commitment, or no next commitment was signed yet (`expected` is then undefined).
 */
export class UnexpectedRevocation extends Data.TaggedError("UnexpectedRevocation")<{
  readonly commitmentNumber: bigint
  readonly expected: bigint | undefined
}> {}

/**
 * A revealed secret that is wrong: it does not fit the shachain of the earlier secrets
 * (`InconsistentSecret`...: the `ShachainError` reason), is not a valid scalar, or does not give
 * the per-commitment point of that commitment (`PointMismatch`).
 */
export class InvalidCommitmentSecret extends Data.TaggedError("InvalidCommitmentSecret")<{
  readonly commitmentNumber: bigint
  readonly reason: ShachainError["reason"] | "InvalidSecret" | "PointMismatch"
}> {
  override get message(): string {
    return `invalid secret for counterparty commitment ${this.commitmentNumber}: ${this.reason}`
  }
}

/** A shutdown script that differs from the non-empty `upfront_shutdown_script` of that side. */
export class ShutdownScriptConflict extends Data.TaggedError("ShutdownScriptConflict")<{
  readonly side: "holder" | "counterparty"
}> {}

/** An update that the closing status no longer admits (a commitment after `ForceClose`, anything after `ChannelClosed`). */
export class MonitorClosed extends Data.TaggedError("MonitorClosed")<{
  readonly status: "ForceClosed" | "Closed"
  readonly update: MonitorUpdateTag
}> {}

export type MonitorError =
  | MonitorUpdateOutOfOrder
  | MonitorAlreadyOpened
  | MonitorNotOpened
  | CommitmentNumberMismatch
  | CounterpartyCommitmentPending
  | UnexpectedRevocation
  | InvalidCommitmentSecret
  | ShutdownScriptConflict
  | MonitorClosed

type Applied = Result.Result<MonitorState, MonitorError>

const hasHash = (htlcs: ReadonlyArray<MonitorHtlc>, hash: Uint8Array): boolean => {
  // (Indexed: where V8 does not optimize a `for...of` away, it allocates an iterator and a result per element.)
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h !== undefined && equalBytes(h.paymentHash, hash)) return true
  }
  return false
}

/** Below this many (preimage, HTLC) pairs the hashes are compared directly, without a map. */
const DIRECT_COMPARISONS = 64

/** The first 30 bits of a payment hash: a small number, a table key made without a string. */
const hashPrefix = (hash: Uint8Array): number => (((hash[0] ?? 0) & 0x3f) << 24) | ((hash[1] ?? 0) << 16) | ((hash[2] ?? 0) << 8) | (hash[3] ?? 0)

/**
 * The preimages of a state indexed by their hash's first 30 bits, in one `Int32Array` (one
 * allocation per prune, where a `Map` grew entry by entry and cost a builtin call per HTLC looked
 * up): an open-addressed table of `1 << bits` slots (Fibonacci hashing of the key, linear
 * probing), each slot the last preimage with its key (index + 1; 0: empty); then per preimage its
 * key, the one before it with the same key (-1: none) and whether an HTLC has its hash (1: live).
 */
class PreimageIndex {
  readonly #preimages: ReadonlyArray<PreimageEntry>
  readonly #t: Int32Array
  readonly #mask: number
  readonly #shift: number
  /** How many preimages are live so far. */
  live = 0

  constructor(preimages: ReadonlyArray<PreimageEntry>) {
    const n = preimages.length
    // At least twice as many slots as preimages: probes stay short.
    const bits = Math.max(3, 32 - Math.clz32(2 * n - 1))
    this.#preimages = preimages
    this.#mask = (1 << bits) - 1
    this.#shift = 32 - bits
    const t = (this.#t = new Int32Array(this.#mask + 1 + 3 * n))
    const keys = this.#mask + 1
    for (let i = 0; i < n; i++) {
      const p = preimages[i]
      if (p === undefined) continue
      const key = hashPrefix(p.paymentHash)
      const slot = this.#slot(key)
      t[keys + i] = key
      t[keys + n + i] = (t[slot] ?? 0) - 1
      t[slot] = i + 1
    }
  }

  /** The slot holding `key`'s last preimage, or the empty slot where it would go. */
  #slot(key: number): number {
    const t = this.#t
    const keys = this.#mask + 1
    let slot = Math.imul(key, 0x9e3779b1) >>> this.#shift
    for (;;) {
      const held = t[slot] ?? 0
      if (held === 0 || t[keys + held - 1] === key) return slot
      slot = (slot + 1) & this.#mask
    }
  }

  /** Marks live each preimage whose payment hash an HTLC of `htlcs` has (found by its key, confirmed byte for byte). */
  markLive(htlcs: ReadonlyArray<MonitorHtlc>): void {
    const t = this.#t
    const n = this.#preimages.length
    const earlier = this.#mask + 1 + n
    const live = earlier + n
    for (let k = 0; k < htlcs.length && this.live < n; k++) {
      const hash = htlcs[k]?.paymentHash
      if (hash === undefined) continue
      for (let i = (t[this.#slot(hashPrefix(hash))] ?? 0) - 1; i >= 0; i = t[earlier + i] ?? -1) {
        const p = this.#preimages[i]
        if (t[live + i] === 0 && p !== undefined && equalBytes(p.paymentHash, hash)) {
          t[live + i] = 1
          this.live++
        }
      }
    }
  }

  /** The live preimages, in order. */
  kept(): Array<PreimageEntry> {
    const t = this.#t
    const n = this.#preimages.length
    const live = this.#mask + 1 + 2 * n
    const kept = new Array<PreimageEntry>(this.live)
    let j = 0
    for (let i = 0; i < n; i++) {
      const p = this.#preimages[i]
      if (t[live + i] === 1 && p !== undefined) kept[j++] = p
    }
    return kept
  }
}

/**
 * Drops preimages no broadcastable commitment can use any more. Many (preimage, HTLC) pairs: the
 * preimages indexed by their hash's first 30 bits (`PreimageIndex`), each HTLC's hash looked up
 * there, no more once every preimage is found live; not a set of a string key per HTLC of the two
 * or three commitments, made at every commitment and revocation (with 50 HTLCs in flight that was
 * two thirds of a monitor's work).
 */
export const prunePreimages = (state: MonitorState): MonitorState => {
  // Mutation testing: this shortcut (and, below, returning `state` when nothing was dropped) are
  // equivalent mutants when disabled: the result is then an equal copy.
  const preimages = state.preimages
  if (preimages.length === 0) return state
  const next = state.counterpartyNext
  const htlcCount = state.holderCommitment.htlcs.length + state.counterpartyCurrent.htlcs.length + (next === undefined ? 0 : next.htlcs.length)
  let kept: ReadonlyArray<PreimageEntry>
  if (preimages.length * htlcCount <= DIRECT_COMPARISONS) {
    kept = preimages.filter(
      (p) =>
        hasHash(state.holderCommitment.htlcs, p.paymentHash) ||
        hasHash(state.counterpartyCurrent.htlcs, p.paymentHash) ||
        (next !== undefined && hasHash(next.htlcs, p.paymentHash))
    )
  } else {
    const index = new PreimageIndex(preimages)
    index.markLive(state.holderCommitment.htlcs)
    index.markLive(state.counterpartyCurrent.htlcs)
    if (next !== undefined) index.markLive(next.htlcs)
    if (index.live === preimages.length) return state
    kept = index.kept()
  }
  return kept.length === preimages.length ? state : { ...state, preimages: kept }
}

/** The initial state from an `Opened` update (which must have `updateId` 0). */
export const open = (update: OpenedUpdate): Applied =>
  update.updateId !== 0n
    ? Result.fail(new MonitorUpdateOutOfOrder({ expected: 0n, received: update.updateId }))
    : Result.succeed({
        params: update.params,
        fundingScript: update.fundingScript,
        latestUpdateId: 0n,
        holderCommitment: update.holderCommitment,
        counterpartyCurrent: update.counterpartyCommitment,
        counterpartySecrets: emptySecretStore,
        revokedCommitments: RevokedCommitments.empty,
        preimages: [],
        closing: { _tag: "Open" }
      })

const closedFor = (state: MonitorState, update: MonitorUpdate, allowedWhileForceClosed: boolean): MonitorClosed | undefined => {
  switch (state.closing._tag) {
    // Mutation testing: `case ""` for `case "Open"` is an equivalent mutant (no case matches and
    // the switch falls through to the same `undefined`).
    case "Open":
      return undefined
    case "ForceClosed":
      return allowedWhileForceClosed ? undefined : new MonitorClosed({ status: "ForceClosed", update: update._tag })
    case "Closed":
      return new MonitorClosed({ status: "Closed", update: update._tag })
  }
}

const applyHolderCommitment = (state: MonitorState, update: HolderCommitmentUpdate): Applied => {
  const expected = state.holderCommitment.commitmentNumber + 1n
  if (update.commitment.commitmentNumber !== expected)
    return Result.fail(new CommitmentNumberMismatch({ side: "holder", expected, received: update.commitment.commitmentNumber }))
  return Result.succeed(prunePreimages({ ...state, holderCommitment: update.commitment, latestUpdateId: update.updateId }))
}

const applyCounterpartyCommitment = (state: MonitorState, update: CounterpartyCommitmentUpdate): Applied => {
  if (state.counterpartyNext !== undefined)
    return Result.fail(new CounterpartyCommitmentPending({ pending: state.counterpartyNext.commitmentNumber }))
  const expected = state.counterpartyCurrent.commitmentNumber + 1n
  if (update.commitment.commitmentNumber !== expected)
    return Result.fail(
      new CommitmentNumberMismatch({ side: "counterparty", expected, received: update.commitment.commitmentNumber })
    )
  return Result.succeed({ ...state, counterpartyNext: update.commitment, latestUpdateId: update.updateId })
}

const applyCommitmentSecret = (secp: Secp256k1 | undefined, state: MonitorState, update: CommitmentSecretUpdate): Applied => {
  const n = update.commitmentNumber
  const next: CounterpartyCommitment | undefined = state.counterpartyNext
  if (next === undefined) return Result.fail(new UnexpectedRevocation({ commitmentNumber: n, expected: undefined }))
  const current = state.counterpartyCurrent
  if (n !== current.commitmentNumber)
    return Result.fail(new UnexpectedRevocation({ commitmentNumber: n, expected: current.commitmentNumber }))
  const inserted = insertSecret(state.counterpartySecrets, update.secret, indexOfCommitment(n))
  if (Result.isFailure(inserted))
    return Result.fail(new InvalidCommitmentSecret({ commitmentNumber: n, reason: inserted.failure.reason }))
  if (secp !== undefined) {
    // Through the shared memo: the channel's `receiveRevoke` computed this point already (a lookup, not a multiplication).
    const derived = sharedPerCommitmentPoints.pointOf(secp, update.secret)
    if (Result.isFailure(derived)) return Result.fail(new InvalidCommitmentSecret({ commitmentNumber: n, reason: "InvalidSecret" }))
    if (!equalBytes(derived.success, current.perCommitmentPoint))
      return Result.fail(new InvalidCommitmentSecret({ commitmentNumber: n, reason: "PointMismatch" }))
  }
  // The state without `counterpartyNext`, written out field by field: an object rest
  // (`{ counterpartyNext, ...rest }`) copies through a slow generic path on every revocation.
  const revoked: Types.Mutable<MonitorState> = {
    params: state.params,
    fundingScript: state.fundingScript,
    latestUpdateId: update.updateId,
    holderCommitment: state.holderCommitment,
    counterpartyCurrent: next,
    counterpartySecrets: inserted.success,
    // appended in place to the newest list (amortized O(1); `./revoked.ts`)
    revokedCommitments: current.htlcs.length === 0 ? state.revokedCommitments : state.revokedCommitments.append(n, current.txid, current.htlcs),
    preimages: state.preimages,
    closing: state.closing
  }
  if (state.holderShutdownScript !== undefined) revoked.holderShutdownScript = state.holderShutdownScript
  if (state.counterpartyShutdownScript !== undefined) revoked.counterpartyShutdownScript = state.counterpartyShutdownScript
  return Result.succeed(prunePreimages(revoked))
}

const applyPaymentPreimage = (state: MonitorState, update: PaymentPreimageUpdate): Applied => {
  // (The channel hashed this preimage object a moment ago: `paymentHashOf` keeps that hash.)
  const paymentHash = paymentHashOf(update.preimage)
  if (state.preimages.some((p) => equalBytes(p.paymentHash, paymentHash))) return Result.succeed({ ...state, latestUpdateId: update.updateId })
  const entry: PreimageEntry = { paymentHash, preimage: update.preimage }
  return Result.succeed({ ...state, latestUpdateId: update.updateId, preimages: [...state.preimages, entry] })
}

const applyShutdownScript = (state: MonitorState, update: ShutdownScriptUpdate): Applied => {
  const upfront = update.side === "holder" ? state.params.local.upfrontShutdownScript : state.params.remote.upfrontShutdownScript
  if (upfront !== undefined && upfront.length > 0 && !equalBytes(upfront, update.script))
    return Result.fail(new ShutdownScriptConflict({ side: update.side }))
  return Result.succeed(
    update.side === "holder"
      ? { ...state, latestUpdateId: update.updateId, holderShutdownScript: update.script }
      : { ...state, latestUpdateId: update.updateId, counterpartyShutdownScript: update.script }
  )
}

/**
 * Applies one update. `secp` derives the per-commitment point of a revealed secret. On error
 * the caller keeps `state` (it is never modified).
 */
export const apply = (secp: Secp256k1, state: MonitorState, update: MonitorUpdate): Applied => applyWith(secp, state, update)

/**
 * Applies one update of a log that was already accepted (a persister folding its log into a
 * snapshot): every rule of `apply` but the point check of a revealed secret (which needs
 * secp256k1; the shachain check stays). Never for updates from a peer's messages.
 */
export const applyAccepted = (state: MonitorState, update: MonitorUpdate): Applied => applyWith(undefined, state, update)

const applyWith = (secp: Secp256k1 | undefined, state: MonitorState, update: MonitorUpdate): Applied => {
  if (update._tag === "Opened") return Result.fail(new MonitorAlreadyOpened({ updateId: update.updateId }))
  const expected = state.latestUpdateId + 1n
  if (update.updateId !== expected) return Result.fail(new MonitorUpdateOutOfOrder({ expected, received: update.updateId }))
  const closed = closedFor(state, update, update._tag === "CommitmentSecret" || update._tag === "PaymentPreimage" || update._tag === "ChannelClosed")
  if (closed !== undefined) return Result.fail(closed)
  // Each case returns the next state with `latestUpdateId` set, in its one copy of the state.
  switch (update._tag) {
    case "HolderCommitment":
      return applyHolderCommitment(state, update)
    case "CounterpartyCommitment":
      return applyCounterpartyCommitment(state, update)
    case "CommitmentSecret":
      return applyCommitmentSecret(secp, state, update)
    case "PaymentPreimage":
      return applyPaymentPreimage(state, update)
    case "ShutdownScript":
      return applyShutdownScript(state, update)
    case "ForceClose":
      return Result.succeed({ ...state, latestUpdateId: update.updateId, closing: { _tag: "ForceClosed", reason: update.reason } })
    case "ChannelClosed":
      return Result.succeed({
        ...state,
        latestUpdateId: update.updateId,
        closing: update.closingTxid === undefined ? { _tag: "Closed" } : { _tag: "Closed", closingTxid: update.closingTxid }
      })
  }
}

/** Applies `updates` in order to `state`; the first error stops (and is returned). */
export const replayFrom = (secp: Secp256k1, state: MonitorState, updates: Iterable<MonitorUpdate>): Applied => {
  let s = state
  for (const u of updates) {
    const r = apply(secp, s, u)
    if (Result.isFailure(r)) return r
    s = r.success
  }
  return Result.succeed(s)
}

/** Builds a state from a whole log: `Opened` (id 0) then every later update in order. */
export const replay = (secp: Secp256k1, updates: ReadonlyArray<MonitorUpdate>): Applied => {
  const first = updates[0]
  if (first === undefined || first._tag !== "Opened") return Result.fail(new MonitorNotOpened({ first: first?._tag }))
  const opened = open(first)
  return Result.isFailure(opened) ? opened : replayFrom(secp, opened.success, updates.slice(1))
}

/**
 * Folds an accepted log into a snapshot: from `snapshot` (or from its `Opened` when there is
 * none) through every update, with `applyAccepted`. A persister's compaction.
 */
export const foldAccepted = (snapshot: MonitorState | undefined, updates: ReadonlyArray<MonitorUpdate>): Applied => {
  let rest = updates
  let s: MonitorState
  if (snapshot === undefined) {
    const first = updates[0]
    if (first === undefined || first._tag !== "Opened") return Result.fail(new MonitorNotOpened({ first: first?._tag }))
    const opened = open(first)
    if (Result.isFailure(opened)) return opened
    s = opened.success
    rest = updates.slice(1)
  } else s = snapshot
  for (const u of rest) {
    const r = applyWith(undefined, s, u)
    if (Result.isFailure(r)) return r
    s = r.success
  }
  return Result.succeed(s)
}
