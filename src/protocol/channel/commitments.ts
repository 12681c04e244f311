/**
 * BOLT 2 "Normal Operation": the two commitments of a channel and the update bookkeeping that
 * moves them, as pure functions over plain data.
 *
 * Each update traverses these states (BOLT 2 "Normal Operation"), which the update logs name:
 *
 *     our update (localChanges)             their update (remoteChanges)
 *     proposed: sent, not yet signed         proposed: received, not yet in a commitment_signed of theirs
 *     signed:   in their next commitment,    acked:    in our current commitment, and we revoked the
 *               awaiting their revocation               previous one: it goes in their next commitment
 *     acked:    they revoked: it goes in     signed:   in their next commitment (we signed it),
 *               our next commitment                     awaiting their revocation
 *
 * so our next commitment is our current one plus `localChanges.acked` and `remoteChanges.proposed`,
 * and theirs is their current one plus `remoteChanges.acked` and `localChanges.proposed`.
 *
 * One function per message or command, each citing its BOLT 2 section and checking its rules
 * in the spec's order. Each returns `Result<{ commitments, ... }, CommitmentsError>`: on failure
 * the input is untouched (it is immutable), so a rejected message changes nothing.
 *
 * The pure code never signs. Sending `commitment_signed` is two calls: `prepareCommit` (the
 * state to sign, for the `ChannelSigner`) and `completeCommit` (with its signatures). Receiving
 * `commitment_signed` is verified here with public keys only (`receiveCommit`), and produces the
 * request for the signer to validate our new commitment and release the old secret; then
 * `completeRevoke` builds `revoke_and_ack`.
 *
 * Naming (as `params.ts` and `tx/view.ts`): "local" is this node, "remote" the peer. A spec is
 * always stated from its commitment's OWNER's point of view: `localCommit.spec.toLocal` is our
 * balance, `remoteCommit.spec.toLocal` is theirs, and HTLC directions flip accordingly.
 */
import { Result, Schema, SchemaTransformation } from "effect"
import { equalBytes } from "../bytes.ts"
import type { ChannelType } from "../channel-type.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { sharedPerCommitmentPoints } from "../keys/per-commitment-points.ts"
import { parsePublicKey, type PublicKey } from "../keys/keys.ts"
import { decodeSecretStore, emptySecretStore, encodeSecretStore, indexOfCommitment, insertSecret, type SecretStore } from "../keys/shachain.ts"
import {
  CommitmentSigned,
  RevokeAndAck,
  UpdateAddHtlc,
  UpdateFailHtlc,
  UpdateFailMalformedHtlc,
  UpdateFee,
  UpdateFulfillHtlc
} from "../messages/channel.ts"
import { BADONION } from "../onion/failure.ts"
import type { CommitmentHtlc } from "../tx/commitment.ts"
import { commitmentFee, htlcSuccessFee, htlcTimeoutFee, isHtlcTrimmed, type HtlcDirection } from "../tx/fees.ts"
import { commitmentTxid, htlcTransactions } from "../tx/commitment-builds.ts"
import { verifyCommitmentSignature, verifyRemoteHtlcSignature } from "../tx/signing.ts"
import { buildCommitmentForSide } from "../tx/view.ts"
import { msat, type Msat, type Sat } from "../units.ts"
import {
  AwaitingRevocation,
  CommitmentNotBuildable,
  CommitmentSignedBeforeRevocation,
  CommitmentSignedWithoutChanges,
  type CommitmentsError,
  DustExposureExceeded,
  FailMalformedWithoutBadOnion,
  FeerateNotAffordable,
  FeerateTooHigh,
  FeerateTooLow,
  FeeSpikeBufferNotMet,
  FunderCannotAffordFees,
  HtlcAlreadyRemoved,
  HtlcAmountBelowMinimum,
  HtlcAmountZero,
  HtlcCltvExpiryTooHigh,
  HtlcNotAffordable,
  HtlcNotIrrevocablyCommitted,
  HtlcValueInFlightExceeded,
  InvalidCommitmentSignature,
  InvalidHtlcSignature,
  InvalidNextPerCommitmentPoint,
  InvalidPaymentPreimage,
  InvalidRevocationSecret,
  NoRevocationOwed,
  NoSignatureRequested,
  NothingToSign,
  RevocationSecretNotFromShachain,
  SignerSecretMismatch,
  TooManyAcceptedHtlcs,
  UnexpectedHtlcId,
  UnexpectedRevokeAndAck,
  UnknownHtlcId,
  UpdateFeeFromNonFunder,
  WrongHtlcSignatureCount
} from "./errors.ts"
import { paymentHashOf } from "./payment-hash.ts"
import { channelTypeByName, ChannelParamsSchema, channelView, MsatSchema, PublicKeySchema, type ChannelParams } from "./params.ts"

// ---- Data model ----------------------------------------------------------------------------------

const bytesOfLength = (n: number) => Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(n, n)))
const U64Schema = Schema.BigIntFromString.pipe(Schema.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 0xffffffffffffffffn })))

/** BOLT 2: `cltv_expiry` at or above this is a time in seconds, which the protocol does not support. */
export const MAX_CLTV_EXPIRY = 500_000_000
/** The relay floor (sat per 1000 weight): no commitment feerate goes below it. */
export const MIN_FEERATE_PER_KW = 253

/** An HTLC in a commitment, its `direction` as the commitment's owner sees it. No onion: see the update logs. */
export const SpecHtlcSchema = Schema.Struct({
  direction: Schema.Literals(["offered", "received"]),
  /** The offerer's `id` (ids of the two directions are separate counters). */
  id: U64Schema,
  amount: MsatSchema,
  paymentHash: bytesOfLength(32),
  cltvExpiry: Schema.Int
})
export type SpecHtlc = typeof SpecHtlcSchema.Type

/** What a commitment holds, from its owner's point of view: feerate, balances outside HTLCs, HTLCs. */
export const CommitmentSpecSchema = Schema.Struct({
  feeratePerKw: Schema.Int,
  toLocal: MsatSchema,
  toRemote: MsatSchema,
  htlcs: Schema.Array(SpecHtlcSchema)
})
export type CommitmentSpec = typeof CommitmentSpecSchema.Type

/** Our current commitment, with the counterparty's signatures that make it broadcastable. */
export const LocalCommitSchema = Schema.Struct({
  number: U64Schema,
  spec: CommitmentSpecSchema,
  perCommitmentPoint: PublicKeySchema,
  /** Txid of the (unsigned) commitment transaction, internal byte order. */
  txid: bytesOfLength(32),
  remoteSignature: bytesOfLength(64),
  /** In the commitment's HTLC output order (`htlc_signature`). */
  remoteHtlcSignatures: Schema.Array(bytesOfLength(64))
})
export type LocalCommit = typeof LocalCommitSchema.Type

/** A commitment of the counterparty: number, spec (their view) and their per-commitment point. */
export const RemoteCommitSchema = Schema.Struct({
  number: U64Schema,
  spec: CommitmentSpecSchema,
  perCommitmentPoint: PublicKeySchema
})
export type RemoteCommit = typeof RemoteCommitSchema.Type

/**
 * Where our next `commitment_signed` stands: we hold their next per-commitment point (we may
 * sign); or we are signing their next commitment (`prepareCommit` done, signatures awaited); or
 * we sent it and await their `revoke_and_ack` (the signatures kept for retransmission).
 */
export const RemoteNextCommitInfoSchema = Schema.Union([
  Schema.TaggedStruct("NextPoint", { perCommitmentPoint: PublicKeySchema }),
  Schema.TaggedStruct("Signing", { next: RemoteCommitSchema }),
  Schema.TaggedStruct("WaitingForRevocation", {
    next: RemoteCommitSchema,
    signature: bytesOfLength(64),
    htlcSignatures: Schema.Array(bytesOfLength(64))
  })
])
export type RemoteNextCommitInfo = typeof RemoteNextCommitInfoSchema.Type

/** The update messages, kept as sent or received (retransmission after reconnection resends them as they were). */
export const UpdateMessageSchema = Schema.Union([
  UpdateAddHtlc.schema,
  UpdateFulfillHtlc.schema,
  UpdateFailHtlc.schema,
  UpdateFailMalformedHtlc.schema,
  UpdateFee.schema
])
export type UpdateMessage = UpdateAddHtlc | UpdateFulfillHtlc | UpdateFailHtlc | UpdateFailMalformedHtlc | UpdateFee

/**
 * The messages we send are written out here as literals (the def's `make` value: `_tag`, the
 * fields in order, `tlvs`), not made by `make`: one `make` body serves every message type, so
 * its `{ _tag, ...fields, tlvs }` spread is megamorphic in a running node (~300 ns a message,
 * against a plain allocation for a literal; ten messages a round trip). `noExtension` is the
 * extension `make` gives a message sent without one: an empty stream (no records), frozen.
 */
const noExtension: { readonly unknown?: never } = Object.freeze({})

export const LocalChangesSchema = Schema.Struct({
  proposed: Schema.Array(UpdateMessageSchema),
  signed: Schema.Array(UpdateMessageSchema),
  acked: Schema.Array(UpdateMessageSchema)
})
export type LocalChanges = typeof LocalChangesSchema.Type

export const RemoteChangesSchema = Schema.Struct({
  proposed: Schema.Array(UpdateMessageSchema),
  acked: Schema.Array(UpdateMessageSchema),
  signed: Schema.Array(UpdateMessageSchema)
})
export type RemoteChanges = typeof RemoteChangesSchema.Type

const isSecretStore = (u: unknown): u is SecretStore =>
  typeof u === "object" && u !== null && "buckets" in u && Array.isArray(u.buckets) && "lastIndex" in u
/** The counterparty's revealed secrets (BOLT 3 compact storage); JSON: hex of `encodeSecretStore`. */
export const SecretStoreSchema: Schema.Codec<SecretStore, string> = Schema.Uint8ArrayFromHex.pipe(
  Schema.check(Schema.makeFilter((b: Uint8Array) => Result.isSuccess(decodeSecretStore(b)) || "not a valid per-commitment secret storage")),
  Schema.decodeTo(
    Schema.declare(isSecretStore),
    SchemaTransformation.transform({
      // The filter above guarantees the decoding succeeds; the empty storage is unreachable.
      // Stryker disable next-line ArrowFunction: equivalent, the filter above lets only decodable bytes through, the fallback never runs.
      decode: (b: Uint8Array) => Result.getOrElse(decodeSecretStore(b), () => emptySecretStore),
      encode: encodeSecretStore
    })
  )
)

/** The revocation we owe after accepting a `commitment_signed` (until `completeRevoke`). */
export const OwedRevocationSchema = Schema.Struct({ commitmentNumber: U64Schema, perCommitmentPoint: PublicKeySchema })
export type OwedRevocation = typeof OwedRevocationSchema.Type

export const CommitmentsSchema = Schema.Struct({
  params: ChannelParamsSchema,
  localCommit: LocalCommitSchema,
  remoteCommit: RemoteCommitSchema,
  remoteNextCommitInfo: RemoteNextCommitInfoSchema,
  /** Our per-commitment point for `localCommit.number + 1`, which the peer has (it signs with it). */
  localNextPerCommitmentPoint: PublicKeySchema,
  /** Set between `receiveCommit` and `completeRevoke`: the commitment whose secret we owe. */
  owedRevocation: Schema.NullOr(OwedRevocationSchema),
  localChanges: LocalChangesSchema,
  remoteChanges: RemoteChangesSchema,
  localNextHtlcId: U64Schema,
  remoteNextHtlcId: U64Schema,
  remotePerCommitmentSecrets: SecretStoreSchema
})
export type Commitments = typeof CommitmentsSchema.Type

/** Policy the receive and send checks read that is not negotiated (ours alone). */
export interface HtlcLimits {
  /** `max_dust_htlc_exposure_msat` (BOLT 2 "Bounding exposure to trimmed in-flight HTLCs"). */
  readonly maxDustHtlcExposure: Msat
}

/**
 * Feerate sanity for a received `update_fee`: relative to our current estimate (the same
 * percentages as `ChannelPolicy.feerateMinPercent` / `feerateMaxPercent`), never below the relay floor.
 */
export interface FeerateBounds {
  readonly estimatedFeeratePerKw: number
  readonly minPercent: number
  readonly maxPercent: number
}

/**
 * The channel after `channel_ready`: both commitments number 0 signed, both next points known
 * (ours: the `second_per_commitment_point` we sent, theirs: the one they sent), nothing pending.
 */
export const makeCommitments = (input: {
  readonly params: ChannelParams
  readonly localCommit: LocalCommit
  readonly remoteCommit: RemoteCommit
  readonly localNextPerCommitmentPoint: PublicKey
  readonly remoteNextPerCommitmentPoint: PublicKey
}): Commitments => ({
  params: input.params,
  localCommit: input.localCommit,
  remoteCommit: input.remoteCommit,
  remoteNextCommitInfo: { _tag: "NextPoint", perCommitmentPoint: input.remoteNextPerCommitmentPoint },
  localNextPerCommitmentPoint: input.localNextPerCommitmentPoint,
  owedRevocation: null,
  localChanges: { proposed: [], signed: [], acked: [] },
  remoteChanges: { proposed: [], acked: [], signed: [] },
  localNextHtlcId: 0n,
  remoteNextHtlcId: 0n,
  remotePerCommitmentSecrets: emptySecretStore
})

// ---- Specs: applying updates ---------------------------------------------------------------------

const isAdd = (u: UpdateMessage): u is UpdateAddHtlc => u._tag === "UpdateAddHtlc"
const isFee = (u: UpdateMessage): u is UpdateFee => u._tag === "UpdateFee"
type Removal = UpdateFulfillHtlc | UpdateFailHtlc | UpdateFailMalformedHtlc
const isRemoval = (u: UpdateMessage): u is Removal =>
  u._tag === "UpdateFulfillHtlc" || u._tag === "UpdateFailHtlc" || u._tag === "UpdateFailMalformedHtlc"

const htlcOfAdd = (add: UpdateAddHtlc, direction: HtlcDirection): SpecHtlc => ({
  direction,
  id: add.id,
  amount: add.amountMsat,
  paymentHash: add.paymentHash,
  cltvExpiry: add.cltvExpiry
})

/**
 * An HTLC id as a key of the maps by id: the id as a number where that is exact (|id| < 2^53:
 * every real id), the bigint beyond. A number and a bigint are never the same key, so keys are
 * equal exactly when ids are. A map's set, get and delete by small numbers cost ~35% less than by
 * bigints (measured with 25 removals and 50 lookups), and with many HTLCs in flight every batch
 * of removals is looked up through one (`reduceSpec`).
 */
export const idKey = (id: bigint): number | bigint => (id <= MAX_EXACT_ID && id >= -MAX_EXACT_ID ? Number(id) : id)
const MAX_EXACT_ID = BigInt(Number.MAX_SAFE_INTEGER)

/** The removals of `changes` by HTLC id (`idKey`), the first of each id (the receive checks refuse a second one); undefined when there is none (no map made). */
const removalsOf = (changes: ReadonlyArray<UpdateMessage>): Map<number | bigint, Removal> | undefined => {
  let removals: Map<number | bigint, Removal> | undefined
  for (let i = 0; i < changes.length; i++) {
    const u = changes[i]
    if (u === undefined || !isRemoval(u)) continue
    removals ??= new Map()
    const key = idKey(u.id)
    if (!removals.has(key)) removals.set(key, u)
  }
  return removals
}

/**
 * `htlcs` followed by the `added` HTLCs the owner's adds offer, then those the counterparty's adds
 * offer (received). Exactly as long as that: an array grown by `push` keeps spare slots, and specs
 * stay in states and, shared, in monitor updates and states.
 */
const withAdds = (
  htlcs: ReadonlyArray<SpecHtlc>,
  ownerChanges: ReadonlyArray<UpdateMessage>,
  counterpartyChanges: ReadonlyArray<UpdateMessage>,
  added: number
): Array<SpecHtlc> => {
  const all = new Array<SpecHtlc>(htlcs.length + added)
  let i = 0
  for (let k = 0; k < htlcs.length; k++) {
    const h = htlcs[k]
    if (h !== undefined) all[i++] = h
  }
  for (let k = 0; k < ownerChanges.length; k++) {
    const u = ownerChanges[k]
    if (u !== undefined && isAdd(u)) all[i++] = htlcOfAdd(u, "offered")
  }
  for (let k = 0; k < counterpartyChanges.length; k++) {
    const u = counterpartyChanges[k]
    if (u !== undefined && isAdd(u)) all[i++] = htlcOfAdd(u, "received")
  }
  return all
}

/**
 * The spec after the owner's and the counterparty's updates: adds first (an HTLC is removed in
 * a later batch than the one adding it), then removals (a fulfill pays the HTLC to its
 * receiver, a fail refunds its offerer), and the last `update_fee` sets the feerate (only the
 * funder sends them). Removals of unknown HTLCs are skipped: the receive checks refuse them.
 *
 * Without adds or removals the spec's own HTLC array is kept (specs are immutable: no copy).
 */
export const reduceSpec = (
  spec: CommitmentSpec,
  ownerChanges: ReadonlyArray<UpdateMessage>,
  counterpartyChanges: ReadonlyArray<UpdateMessage>
): CommitmentSpec => {
  let toLocal: bigint = spec.toLocal
  let toRemote: bigint = spec.toRemote
  let feeratePerKw = spec.feeratePerKw
  // One pass per side: balances of the adds, whether there is a removal, the last fee (the
  // counterparty's last one wins over the owner's, as when the owner's are read first).
  let adds = 0
  let removals = 0
  // (Indexed loops, here and in the helpers: where V8 does not optimize a `for...of` away, it
  // allocates an iterator and a result per element.)
  for (let k = 0; k < ownerChanges.length; k++) {
    const u = ownerChanges[k]
    if (u === undefined) continue
    if (isAdd(u)) {
      toLocal -= u.amountMsat
      adds++
    } else if (isFee(u)) feeratePerKw = u.feeratePerKw
    else removals++
  }
  for (let k = 0; k < counterpartyChanges.length; k++) {
    const u = counterpartyChanges[k]
    if (u === undefined) continue
    if (isAdd(u)) {
      toRemote -= u.amountMsat
      adds++
    } else if (isFee(u)) feeratePerKw = u.feeratePerKw
    else removals++
  }
  const htlcs = adds > 0 ? withAdds(spec.htlcs, ownerChanges, counterpartyChanges, adds) : spec.htlcs
  if (removals === 0) return { feeratePerKw, toLocal: msat(toLocal), toRemote: msat(toRemote), htlcs }
  // The owner removes HTLCs the counterparty offered (received, in the owner's view), and back;
  // the first removal of an id counts (the receive checks refuse a second one), and applies to
  // the first HTLC of that direction and id only. Few (HTLC, update) pairs, the usual case:
  // each HTLC's removal is looked up in its batch; many: one map per side with a removal, so a
  // batch of n removals costs O(n), not O(n^2). (A map keyed by bigints cost ~1 us for a
  // removal's set, get and delete: more than the whole reduction of a small batch.)
  const direct = htlcs.length * (ownerChanges.length + counterpartyChanges.length) <= DIRECT_REMOVAL_LOOKUPS
  const ownerRemovals = direct ? undefined : removalsOf(ownerChanges)
  const counterpartyRemovals = direct ? undefined : removalsOf(counterpartyChanges)
  // In a valid state each removal removes one HTLC: the array is made that long (kept in states
  // and, shared, in monitor updates: no spare slots, as `push` would leave), and cut or grown
  // to the kept ones otherwise.
  const kept = new Array<SpecHtlc>(Math.max(0, htlcs.length - removals))
  let keptCount = 0
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h === undefined) continue
    const removal = direct
      ? directRemovalOf(htlcs, i, h, h.direction === "received" ? ownerChanges : counterpartyChanges)
      : removalTaken(h.direction === "received" ? ownerRemovals : counterpartyRemovals, h.id)
    if (removal === undefined) {
      kept[keptCount++] = h
      continue
    }
    const fulfilled = removal._tag === "UpdateFulfillHtlc"
    // A fulfill pays the HTLC to its receiver, a fail refunds its offerer.
    if (h.direction === "received") {
      if (fulfilled) toLocal += h.amount
      else toRemote += h.amount
    } else if (fulfilled) toRemote += h.amount
    else toLocal += h.amount
  }
  if (kept.length !== keptCount) kept.length = keptCount
  return { feeratePerKw, toLocal: msat(toLocal), toRemote: msat(toRemote), htlcs: kept }
}
/** Up to this many (HTLC, update) pairs a removal is looked up in its batch, without a map. */
const DIRECT_REMOVAL_LOOKUPS = 64

/**
 * The removal `changes` make of `h` (`htlcs[i]`), as the maps find it: the first removal of its
 * id, unless an earlier HTLC of the same direction and id took it (never in a valid state: ids
 * are unique per direction).
 */
const directRemovalOf = (htlcs: ReadonlyArray<SpecHtlc>, i: number, h: SpecHtlc, changes: ReadonlyArray<UpdateMessage>): Removal | undefined => {
  let removal: Removal | undefined
  for (let k = 0; k < changes.length; k++) {
    const u = changes[k]
    if (u !== undefined && isRemoval(u) && u.id === h.id) {
      removal = u
      break
    }
  }
  if (removal === undefined) return undefined
  for (let j = 0; j < i && j < htlcs.length; j++) {
    const e = htlcs[j]
    if (e !== undefined && e.id === h.id && e.direction === h.direction) return undefined
  }
  return removal
}

/** The removal of `id` in `removals`, taken out (each removal applies to one HTLC only: ids are unique per direction). */
const removalTaken = (removals: Map<number | bigint, Removal> | undefined, id: bigint): Removal | undefined => {
  if (removals === undefined) return undefined
  const key = idKey(id)
  const removal = removals.get(key)
  // Stryker disable next-line CallExpression: equivalent in every valid state, ids are unique per direction (receiveAdd), so no second HTLC could match.
  if (removal !== undefined) removals.delete(key)
  return removal
}

/** The same commitment seen by the other party: balances swap, HTLC directions flip. */
export const mirrorSpec = (spec: CommitmentSpec): CommitmentSpec => ({
  feeratePerKw: spec.feeratePerKw,
  toLocal: spec.toRemote,
  toRemote: spec.toLocal,
  htlcs: spec.htlcs.map((h) => ({ ...h, direction: h.direction === "offered" ? "received" : "offered" }))
})

/**
 * Two update lists one after the other, for `reduceSpec` (which only reads them): a list as it is
 * when the other is empty (most are: a batch is a few updates on one side), a new array otherwise.
 */
const joined = (a: ReadonlyArray<UpdateMessage>, b: ReadonlyArray<UpdateMessage>): ReadonlyArray<UpdateMessage> =>
  a.length === 0 ? b : b.length === 0 ? a : a.concat(b)

/** Their latest commitment: the one we signed (or are signing) if any, else their current one. */
export const latestRemoteCommit = (c: Commitments): RemoteCommit =>
  c.remoteNextCommitInfo._tag === "NextPoint" ? c.remoteCommit : c.remoteNextCommitInfo.next

/** Our next commitment as it stands: what their next `commitment_signed` must sign. */
// Stryker disable next-line ArrayDeclaration: equivalent, Stryker's `["Stryker was here"]` holds no update message and reduceSpec skips it.
export const nextLocalSpec = (c: Commitments, extraRemote: ReadonlyArray<UpdateMessage> = []): CommitmentSpec =>
  reduceSpec(c.localCommit.spec, c.localChanges.acked, joined(c.remoteChanges.proposed, extraRemote))

/** Their next commitment as it stands (their view): what our next `commitment_signed` signs. */
// Stryker disable next-line ArrayDeclaration: equivalent, Stryker's `["Stryker was here"]` holds no update message and reduceSpec skips it.
export const nextRemoteSpec = (c: Commitments, extraLocal: ReadonlyArray<UpdateMessage> = []): CommitmentSpec =>
  reduceSpec(latestRemoteCommit(c).spec, c.remoteChanges.acked, joined(c.localChanges.proposed, extraLocal))

/** Our commitment once every pending update of both sides is in it. */
// Stryker disable next-line ArrayDeclaration: equivalent, every caller passes the update it checks, the default `[]` is never used.
const projectedLocalSpec = (c: Commitments, extraLocal: ReadonlyArray<UpdateMessage> = []): CommitmentSpec =>
  reduceSpec(
    c.localCommit.spec,
    joined(joined(c.localChanges.acked, c.localChanges.signed), joined(c.localChanges.proposed, extraLocal)),
    c.remoteChanges.proposed
  )

/** Their commitment (their view) once every pending update of both sides is in it. */
// Stryker disable next-line ArrayDeclaration: equivalent, every caller passes the update it checks, the default `[]` is never used.
const projectedRemoteSpec = (c: Commitments, extraRemote: ReadonlyArray<UpdateMessage> = []): CommitmentSpec =>
  reduceSpec(latestRemoteCommit(c).spec, joined(joined(c.remoteChanges.acked, c.remoteChanges.proposed), extraRemote), c.localChanges.proposed)

/** `feeratePerKw` after the `update_fee`s of `changes`: the last one's, else `feeratePerKw` as it is. */
const feerateAfter = (feeratePerKw: number, changes: ReadonlyArray<UpdateMessage>): number => {
  let feerate = feeratePerKw
  for (let i = 0; i < changes.length; i++) {
    const u = changes[i]
    if (u !== undefined && isFee(u)) feerate = u.feeratePerKw
  }
  return feerate
}

/**
 * `projectedLocalSpec(c, extraLocal).feeratePerKw` without the spec: the last `update_fee` of
 * the updates in the order `reduceSpec` reads them (the owner's, then the counterparty's). The
 * add checks need only the feerate of the projected commitments (whether the new HTLC is
 * trimmed there) unless the HTLC is dust; making the whole spec copied every HTLC of it per add.
 */
export const projectedLocalFeerate = (c: Commitments, extraLocal: ReadonlyArray<UpdateMessage>): number =>
  feerateAfter(
    feerateAfter(
      feerateAfter(feerateAfter(feerateAfter(c.localCommit.spec.feeratePerKw, c.localChanges.acked), c.localChanges.signed), c.localChanges.proposed),
      extraLocal
    ),
    c.remoteChanges.proposed
  )

/** `projectedRemoteSpec(c, extraRemote).feeratePerKw` without the spec (see `projectedLocalFeerate`). */
export const projectedRemoteFeerate = (c: Commitments, extraRemote: ReadonlyArray<UpdateMessage>): number =>
  feerateAfter(
    feerateAfter(feerateAfter(feerateAfter(latestRemoteCommit(c).spec.feeratePerKw, c.remoteChanges.acked), c.remoteChanges.proposed), extraRemote),
    c.localChanges.proposed
  )

/** Whether we have something to sign (BOLT 2: no `commitment_signed` without updates). */
export const hasChangesToSign = (c: Commitments): boolean => c.localChanges.proposed.length > 0 || c.remoteChanges.acked.length > 0

// ---- Fees, reserve and dust ----------------------------------------------------------------------

const satMsat = (s: Sat): bigint => s * 1000n

/**
 * The smallest amount (msat) of an HTLC of `direction` that a commitment whose owner has
 * `dustLimit` keeps at `feeratePerKw`: `isHtlcTrimmed` (BOLT 3 "Trimmed Outputs": trimmed when
 * the amount in sat, rounded down, minus the second-stage fee is below the dust limit) is, for
 * an amount of whole msat at or above zero (every HTLC's: `MsatSchema` is a u64), `amount <
 * (dustLimit + fee) * 1000`. Computed at most once per commitment and direction, so that reading a
 * commitment's HTLCs is one comparison each, not a BigInt division and subtraction (each
 * allocates) per HTLC per check: the add checks read every HTLC of two commitments several
 * times, ~50 per add with 50 in flight.
 */
const keptFrom = (type: ChannelType, feeratePerKw: number, dustLimit: Sat, direction: HtlcDirection): bigint =>
  (dustLimit + (direction === "offered" ? htlcTimeoutFee(type, feeratePerKw) : htlcSuccessFee(type, feeratePerKw))) * 1000n

/**
 * BOLT 3 "Fee Calculation" / "Fee Payment": what the funder pays out of its balance on a
 * commitment whose owner has `dustLimit`: the fee for the untrimmed HTLCs at `feeratePerKw`
 * (plus `extraHtlcs` hypothetical non-dust ones) and, with anchors, the two anchor outputs.
 */
export const funderCharge = (
  params: ChannelParams,
  spec: CommitmentSpec,
  dustLimit: Sat,
  feeratePerKw: number = spec.feeratePerKw,
  extraHtlcs = 0
): Msat => {
  const type = channelTypeByName(params.channelType)
  // Each bound when an HTLC first needs it (most commitments hold none, or HTLCs of one direction).
  let offeredKept: bigint | undefined
  let receivedKept: bigint | undefined
  let untrimmed = 0
  const htlcs = spec.htlcs
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h === undefined) continue
    const kept = h.direction === "offered"
      ? (offeredKept ??= keptFrom(type, feeratePerKw, dustLimit, "offered"))
      : (receivedKept ??= keptFrom(type, feeratePerKw, dustLimit, "received"))
    if (h.amount >= kept) untrimmed++
  }
  return chargeFor(type, feeratePerKw, untrimmed + extraHtlcs)
}

/** `funderCharge` of a commitment that keeps `untrimmed` HTLC outputs at `feeratePerKw`: the fee and, with anchors, the two anchors. */
const chargeFor = (type: ChannelType, feeratePerKw: number, untrimmed: number): Msat =>
  msat(satMsat(commitmentFee(type, feeratePerKw, untrimmed)) + 2n * satMsat(type.anchorAmount))

/** The value of the HTLCs trimmed from a commitment whose owner has `dustLimit` (they go to fees). */
export const dustExposure = (params: ChannelParams, spec: CommitmentSpec, dustLimit: Sat, feeratePerKw: number = spec.feeratePerKw): Msat => {
  const type = channelTypeByName(params.channelType)
  let offeredKept: bigint | undefined
  let receivedKept: bigint | undefined
  let total = 0n
  const htlcs = spec.htlcs
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h === undefined) continue
    const kept = h.direction === "offered"
      ? (offeredKept ??= keptFrom(type, feeratePerKw, dustLimit, "offered"))
      : (receivedKept ??= keptFrom(type, feeratePerKw, dustLimit, "received"))
    if (h.amount < kept) total += h.amount
  }
  return msat(total)
}

const isTrimmedIn = (params: ChannelParams, feeratePerKw: number, dustLimit: Sat, direction: HtlcDirection, amount: Msat): boolean =>
  isHtlcTrimmed(channelTypeByName(params.channelType), feeratePerKw, dustLimit, direction, amount)

// Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, every caller checks `v < 0n` first, so `v <= 0n` or `true` change nothing.
const negative = (v: bigint): Msat => msat(v < 0n ? -v : 0n)

/**
 * What the add checks read of a commitment whose owner has `dustLimit`, in one pass over its
 * HTLCs (`loadAfter`; three passes were made per add: the limits, the fee, the fee spike buffer): the HTLCs
 * offered to its owner (its "received" ones) and their total value, what `max_accepted_htlcs` and
 * `max_htlc_value_in_flight_msat` bound; and, for `chargeFor`, the HTLCs it keeps at its feerate
 * (`feerates` >= 1) and at twice it (`feerates` 2, the funder's fee spike buffer, BOLT 2).
 * Counts not asked for are 0.
 */
export interface HtlcLoad {
  readonly receivedCount: number
  readonly receivedValue: bigint
  readonly untrimmed: number
  readonly untrimmedAtDouble: number
}

/** An `HtlcLoad` counted HTLC by HTLC (`count`), each trim bound computed when an HTLC first needs it (`keptFrom`). */
class HtlcTally implements HtlcLoad {
  receivedCount = 0
  receivedValue = 0n
  untrimmed = 0
  untrimmedAtDouble = 0
  readonly #type: ChannelType
  readonly #feeratePerKw: number
  readonly #dustLimit: Sat
  readonly #feerates: 0 | 1 | 2
  #offeredKept: bigint | undefined = undefined
  #receivedKept: bigint | undefined = undefined
  #offeredKeptAtDouble: bigint | undefined = undefined
  #receivedKeptAtDouble: bigint | undefined = undefined

  constructor(type: ChannelType, feeratePerKw: number, dustLimit: Sat, feerates: 0 | 1 | 2) {
    this.#type = type
    this.#feeratePerKw = feeratePerKw
    this.#dustLimit = dustLimit
    this.#feerates = feerates
  }

  count(direction: HtlcDirection, amount: bigint): void {
    const offered = direction === "offered"
    if (direction === "received") {
      this.receivedCount++
      this.receivedValue += amount
    }
    if (this.#feerates === 0) return
    const kept = offered
      ? (this.#offeredKept ??= keptFrom(this.#type, this.#feeratePerKw, this.#dustLimit, "offered"))
      : (this.#receivedKept ??= keptFrom(this.#type, this.#feeratePerKw, this.#dustLimit, "received"))
    if (amount >= kept) this.untrimmed++
    if (this.#feerates === 1) return
    const keptAtDouble = offered
      ? (this.#offeredKeptAtDouble ??= keptFrom(this.#type, 2 * this.#feeratePerKw, this.#dustLimit, "offered"))
      : (this.#receivedKeptAtDouble ??= keptFrom(this.#type, 2 * this.#feeratePerKw, this.#dustLimit, "received"))
    if (amount >= keptAtDouble) this.untrimmedAtDouble++
  }
}

/** A commitment's feerate, balances and `HtlcLoad`, without its HTLC list (`loadAfter`). */
export interface SpecLoad {
  readonly feeratePerKw: number
  readonly toLocal: Msat
  readonly toRemote: Msat
  readonly load: HtlcLoad
}

/**
 * What `reduceSpec(spec, ownerChanges, [...counterpartyChanges, add])` holds, as the add checks
 * read it: its feerate, balances and `HtlcLoad`, without making its HTLC list. The add checks
 * made that list per add only to read it once: a copy of every HTLC of the commitment and a new
 * HTLC object per pending add (with 50 in flight, ~50 slots and up to ~25 objects per add, each
 * side). The HTLCs are met in the spec's order (the spec's, the owner's adds, the counterparty's,
 * `add` last) and each removal takes the first HTLC of its id and direction that it finds, as
 * `reduceSpec` does (its plain form: removal maps always made).
 *
 * A count that continues one of the last two (`resumed`) meets `add` alone: the checks of a batch
 * of adds read one commitment with the same owner's updates, the counterparty's list one add
 * longer each time (the add checked last, appended once accepted), so counting every HTLC again
 * made a batch of n adds O(n^2) (with 50 in flight this was the add checks' largest cost).
 */
export const loadAfter = (
  type: ChannelType,
  spec: CommitmentSpec,
  ownerChanges: ReadonlyArray<UpdateMessage>,
  counterpartyChanges: ReadonlyArray<UpdateMessage>,
  add: UpdateAddHtlc,
  dustLimit: Sat,
  feerates: 0 | 1 | 2
): SpecLoad => {
  const resumed = resumedCount(type, spec, ownerChanges, counterpartyChanges, dustLimit, feerates)
  if (resumed !== undefined) {
    resumed.resume(counterpartyChanges, add)
    return resumed.result()
  }
  // (`add` is no `update_fee`: the feerate is the last one of the lists.)
  const feeratePerKw = feerateAfter(feerateAfter(spec.feeratePerKw, ownerChanges), counterpartyChanges)
  const t = new SpecTally(type, spec, ownerChanges, counterpartyChanges, feeratePerKw, dustLimit, feerates)
  // Indexed loops: V8 allocates an iterator result per `for...of` step where it does not optimize
  // the loop away (measured here: as many bytes as the HTLC list this replaces).
  const htlcs = spec.htlcs
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h !== undefined) t.meet(h.direction, h.id, h.amount)
  }
  for (let i = 0; i < ownerChanges.length; i++) {
    const u = ownerChanges[i]
    if (u !== undefined && isAdd(u)) {
      t.toLocal -= u.amountMsat
      t.meet("offered", u.id, u.amountMsat)
    }
  }
  for (let i = 0; i < counterpartyChanges.length; i++) {
    const u = counterpartyChanges[i]
    if (u !== undefined && isAdd(u)) {
      t.toRemote -= u.amountMsat
      t.meet("received", u.id, u.amountMsat)
    }
  }
  t.meetAdd(add)
  lastCounts[nextCountSlot] = t
  nextCountSlot = 1 - nextCountSlot
  return t.result()
}

/**
 * The last two counts (`SpecTally`, each as it ended: after its `add`), so a sender's and a
 * receiver's checks in one process (or two channels' batches) each find theirs; a new count
 * replaces the one used least recently. Two slots whatever the number of channels: what they
 * hold (two tallies, the lists they read) is freed by the next two counts.
 */
const lastCounts: Array<SpecTally | undefined> = [undefined, undefined]
let nextCountSlot = 0

/**
 * A held count that `loadAfter(type, spec, ownerChanges, counterpartyChanges, ...)` continues:
 * the same commitment spec and owner's list (immutable: the same objects hold the same updates),
 * the same channel type, dust limit and feerates asked, and `counterpartyChanges` the count's
 * list with its `add` appended. It met exactly the HTLCs that count meets before its `add`,
 * with the same removals taken; the list's feerate is the same (an add is no `update_fee`).
 */
const resumedCount = (
  type: ChannelType,
  spec: CommitmentSpec,
  ownerChanges: ReadonlyArray<UpdateMessage>,
  counterpartyChanges: ReadonlyArray<UpdateMessage>,
  dustLimit: Sat,
  feerates: 0 | 1 | 2
): SpecTally | undefined => {
  for (let k = 0; k < lastCounts.length; k++) {
    const t = lastCounts[k]
    if (t !== undefined && t.spec === spec && t.ownerChanges === ownerChanges && t.type === type && t.dustLimit === dustLimit && t.feerates === feerates && t.continuedBy(counterpartyChanges)) {
      // The other slot is the one the next new count replaces (the one used least recently).
      nextCountSlot = 1 - k
      return t
    }
  }
  return undefined
}

/** The balances and HTLCs of a spec being reduced (`loadAfter`), HTLC by HTLC, with what it read (to be resumed). */
class SpecTally {
  toLocal: bigint
  toRemote: bigint
  readonly type: ChannelType
  readonly spec: CommitmentSpec
  readonly ownerChanges: ReadonlyArray<UpdateMessage>
  /** The counterparty's updates met (before `add`). */
  counterpartyChanges: ReadonlyArray<UpdateMessage>
  /** The add met last, after `counterpartyChanges` (undefined: none yet). */
  add: UpdateAddHtlc | undefined = undefined
  readonly feeratePerKw: number
  readonly dustLimit: Sat
  readonly feerates: 0 | 1 | 2
  readonly #ownerRemovals: Map<number | bigint, Removal> | undefined
  readonly #counterpartyRemovals: Map<number | bigint, Removal> | undefined
  readonly load: HtlcTally

  constructor(
    type: ChannelType,
    spec: CommitmentSpec,
    ownerChanges: ReadonlyArray<UpdateMessage>,
    counterpartyChanges: ReadonlyArray<UpdateMessage>,
    feeratePerKw: number,
    dustLimit: Sat,
    feerates: 0 | 1 | 2
  ) {
    this.toLocal = spec.toLocal
    this.toRemote = spec.toRemote
    this.type = type
    this.spec = spec
    this.ownerChanges = ownerChanges
    this.counterpartyChanges = counterpartyChanges
    this.feeratePerKw = feeratePerKw
    this.dustLimit = dustLimit
    this.feerates = feerates
    this.#ownerRemovals = removalsOf(ownerChanges)
    this.#counterpartyRemovals = removalsOf(counterpartyChanges)
    this.load = new HtlcTally(type, feeratePerKw, dustLimit, feerates)
  }

  /** One HTLC of the reduced spec: kept (counted), or removed (paid to its receiver on a fulfill, refunded to its offerer otherwise), as in `reduceSpec`. */
  meet(direction: HtlcDirection, id: bigint, amount: bigint): void {
    const removal = removalTaken(direction === "received" ? this.#ownerRemovals : this.#counterpartyRemovals, id)
    if (removal === undefined) return this.load.count(direction, amount)
    const fulfilled = removal._tag === "UpdateFulfillHtlc"
    if (direction === "received") {
      if (fulfilled) this.toLocal += amount
      else this.toRemote += amount
    } else if (fulfilled) this.toRemote += amount
    else this.toLocal += amount
  }

  /** The counterparty's `add`, after its other updates: met, and held as the last one read. */
  meetAdd(add: UpdateAddHtlc): void {
    this.add = add
    this.toRemote -= add.amountMsat
    this.meet("received", add.id, add.amountMsat)
  }

  /** Goes on with `changes` (`continuedBy` them: the updates met and the last add) and `add` after them. */
  resume(changes: ReadonlyArray<UpdateMessage>, add: UpdateAddHtlc): void {
    this.counterpartyChanges = changes
    this.meetAdd(add)
  }

  /** Whether `changes` are the counterparty's updates met, `add` included, in order (the same objects). */
  continuedBy(changes: ReadonlyArray<UpdateMessage>): boolean {
    const met = this.counterpartyChanges
    const n = met.length
    if (this.add === undefined || changes.length !== n + 1 || changes[n] !== this.add) return false
    for (let i = 0; i < n; i++) if (changes[i] !== met[i]) return false
    return true
  }

  /** What `loadAfter` answers, the counts copied (this tally goes on counting when resumed). */
  result(): SpecLoad {
    const l = this.load
    return {
      feeratePerKw: this.feeratePerKw,
      toLocal: msat(this.toLocal),
      toRemote: msat(this.toRemote),
      load: { receivedCount: l.receivedCount, receivedValue: l.receivedValue, untrimmed: l.untrimmed, untrimmedAtDouble: l.untrimmedAtDouble }
    }
  }
}

// ---- update_add_htlc (BOLT 2 "Adding an HTLC: update_add_htlc") ----------------------------------

export interface AddHtlcCommand {
  readonly amount: Msat
  readonly paymentHash: Uint8Array
  readonly cltvExpiry: number
  readonly onionRoutingPacket: Uint8Array
  /** `path_key` when relaying inside a blinded route (the `blinded_path` TLV); undefined: none. */
  readonly pathKey?: Uint8Array | undefined
}

/**
 * Offers an HTLC (BOLT 2 "Adding an HTLC", sending node): amount > 0 and at least their
 * `htlc_minimum_msat`, `cltv_expiry` < 500000000, at most their `max_accepted_htlcs` and
 * `max_htlc_value_in_flight_msat` in their commitment, affordable with our reserve (and, as
 * funder, the fee, the anchors and the fee spike buffer at twice the feerate); as non-funder,
 * the funder must still afford the fee. SHOULD NOT send when the dust exposure would exceed
 * `limits.maxDustHtlcExposure`. The `id` is the next of ours.
 */
export const sendAdd = (
  c: Commitments,
  cmd: AddHtlcCommand,
  limits: HtlcLimits
): Result.Result<{ readonly commitments: Commitments; readonly message: UpdateAddHtlc }, CommitmentsError> => {
  const { params } = c
  const id = c.localNextHtlcId
  if (cmd.amount <= 0n) return Result.fail(new HtlcAmountZero({ id }))
  if (cmd.amount < params.remote.htlcMinimum)
    return Result.fail(new HtlcAmountBelowMinimum({ id, amount: cmd.amount, minimum: params.remote.htlcMinimum }))
  if (cmd.cltvExpiry >= MAX_CLTV_EXPIRY) return Result.fail(new HtlcCltvExpiryTooHigh({ id, cltvExpiry: cmd.cltvExpiry }))
  const message: UpdateAddHtlc = {
    _tag: "UpdateAddHtlc",
    channelId: params.channelId,
    id,
    amountMsat: cmd.amount,
    paymentHash: cmd.paymentHash,
    cltvExpiry: cmd.cltvExpiry,
    onionRoutingPacket: cmd.onionRoutingPacket,
    tlvs: cmd.pathKey === undefined ? {} : { blindedPath: cmd.pathKey }
  }
  // Their next commitment (their view: our HTLCs are "received").
  const type = channelTypeByName(params.channelType)
  // Their next commitment with the add, as `nextRemoteSpec(c, [message])` holds it (their fee
  // counts on either side; the buffer only when we are the funder).
  const theirs = loadAfter(type, latestRemoteCommit(c).spec, c.remoteChanges.acked, c.localChanges.proposed, message, params.remote.dustLimit, params.localIsFunder ? 2 : 1)
  const load = theirs.load
  if (load.receivedCount > params.remote.maxAcceptedHtlcs)
    return Result.fail(new TooManyAcceptedHtlcs({ limit: params.remote.maxAcceptedHtlcs, count: load.receivedCount }))
  const inFlight = load.receivedValue
  if (inFlight > params.remote.maxHtlcValueInFlight)
    return Result.fail(new HtlcValueInFlightExceeded({ limit: params.remote.maxHtlcValueInFlight, value: msat(inFlight) }))
  const reserve = satMsat(params.remote.channelReserve)
  const fees = params.localIsFunder ? chargeFor(type, theirs.feeratePerKw, load.untrimmed) : msat(0n)
  const missing = theirs.toRemote - fees - reserve
  if (missing < 0n) return Result.fail(new HtlcNotAffordable({ id, missing: negative(missing), reserve: msat(reserve), fees }))
  if (params.localIsFunder) {
    const buffer = chargeFor(type, 2 * theirs.feeratePerKw, load.untrimmedAtDouble + 1)
    const short = theirs.toRemote - buffer - reserve
    if (short < 0n) return Result.fail(new FeeSpikeBufferNotMet({ missing: negative(short) }))
  } else {
    const short = theirs.toLocal - chargeFor(type, theirs.feeratePerKw, load.untrimmed) - satMsat(params.local.channelReserve)
    if (short < 0n) return Result.fail(new FunderCannotAffordFees({ missing: negative(short) }))
  }
  // Stryker disable next-line StringLiteral: equivalent, isHtlcTrimmed treats every direction but "offered" as "received", so "" is "received".
  if (isTrimmedIn(params, theirs.feeratePerKw, params.remote.dustLimit, "received", cmd.amount)) {
    const exposure = dustExposure(params, nextRemoteSpec(c, [message]), params.remote.dustLimit)
    if (exposure > limits.maxDustHtlcExposure)
      return Result.fail(new DustExposureExceeded({ commitment: "remote", exposure, limit: limits.maxDustHtlcExposure }))
  }
  // Our commitment once everything pending is in it: made only when the HTLC is dust there.
  if (isTrimmedIn(params, projectedLocalFeerate(c, [message]), params.local.dustLimit, "offered", cmd.amount)) {
    const exposure = dustExposure(params, projectedLocalSpec(c, [message]), params.local.dustLimit)
    if (exposure > limits.maxDustHtlcExposure)
      return Result.fail(new DustExposureExceeded({ commitment: "local", exposure, limit: limits.maxDustHtlcExposure }))
  }
  return Result.succeed({
    commitments: {
      ...c,
      localChanges: { ...c.localChanges, proposed: [...c.localChanges.proposed, message] },
      localNextHtlcId: id + 1n
    },
    message
  })
}

/**
 * Receives an HTLC (BOLT 2 "Adding an HTLC", receiving node), checked against our next
 * commitment: the `id` is the next one; `amount_msat` > 0 and >= our `htlc_minimum_msat`;
 * `cltv_expiry` < 500000000; at most our `max_accepted_htlcs` HTLCs and our
 * `max_htlc_value_in_flight_msat` offered to us; the sender can afford it while keeping the
 * reserve we require (and, as funder, the fee and the anchors).
 *
 * Dust exposure is not a reason to reject the message: BOLT 2 says the receiver SHOULD fail
 * such an HTLC once it is committed and not reveal its preimage. `dustExposureExceeded` tells
 * the caller to do so.
 */
export const receiveAdd = (
  c: Commitments,
  add: UpdateAddHtlc,
  limits: HtlcLimits
): Result.Result<
  { readonly commitments: Commitments; readonly dustExposureExceeded: DustExposureExceeded | undefined },
  CommitmentsError
> => {
  const { params } = c
  const id = add.id
  if (id !== c.remoteNextHtlcId) return Result.fail(new UnexpectedHtlcId({ expected: c.remoteNextHtlcId, received: id }))
  if (add.amountMsat === 0n) return Result.fail(new HtlcAmountZero({ id }))
  if (add.amountMsat < params.local.htlcMinimum)
    return Result.fail(new HtlcAmountBelowMinimum({ id, amount: add.amountMsat, minimum: params.local.htlcMinimum }))
  if (add.cltvExpiry >= MAX_CLTV_EXPIRY) return Result.fail(new HtlcCltvExpiryTooHigh({ id, cltvExpiry: add.cltvExpiry }))
  const type = channelTypeByName(params.channelType)
  // Our next commitment with the add, as `nextLocalSpec(c, [add])` holds it (the fee counts when
  // they are the funder).
  const ours = loadAfter(type, c.localCommit.spec, c.localChanges.acked, c.remoteChanges.proposed, add, params.local.dustLimit, params.localIsFunder ? 0 : 1)
  const load = ours.load
  if (load.receivedCount > params.local.maxAcceptedHtlcs)
    return Result.fail(new TooManyAcceptedHtlcs({ limit: params.local.maxAcceptedHtlcs, count: load.receivedCount }))
  const inFlight = load.receivedValue
  if (inFlight > params.local.maxHtlcValueInFlight)
    return Result.fail(new HtlcValueInFlightExceeded({ limit: params.local.maxHtlcValueInFlight, value: msat(inFlight) }))
  const reserve = satMsat(params.local.channelReserve)
  const fees = params.localIsFunder ? msat(0n) : chargeFor(type, ours.feeratePerKw, load.untrimmed)
  const missing = ours.toRemote - fees - reserve
  if (missing < 0n) return Result.fail(new HtlcNotAffordable({ id, missing: negative(missing), reserve: msat(reserve), fees }))

  let dustExposureExceeded: DustExposureExceeded | undefined = undefined
  // Stryker disable next-line StringLiteral: equivalent, isHtlcTrimmed treats every direction but "offered" as "received", so "" is "received".
  if (isTrimmedIn(params, ours.feeratePerKw, params.local.dustLimit, "received", add.amountMsat)) {
    const exposure = dustExposure(params, nextLocalSpec(c, [add]), params.local.dustLimit)
    if (exposure > limits.maxDustHtlcExposure)
      dustExposureExceeded = new DustExposureExceeded({ commitment: "local", exposure, limit: limits.maxDustHtlcExposure })
  }
  // Their commitment once everything pending is in it: made only when the HTLC is dust there.
  if (dustExposureExceeded === undefined && isTrimmedIn(params, projectedRemoteFeerate(c, [add]), params.remote.dustLimit, "offered", add.amountMsat)) {
    const exposure = dustExposure(params, projectedRemoteSpec(c, [add]), params.remote.dustLimit)
    if (exposure > limits.maxDustHtlcExposure)
      dustExposureExceeded = new DustExposureExceeded({ commitment: "remote", exposure, limit: limits.maxDustHtlcExposure })
  }
  return Result.succeed({
    commitments: {
      ...c,
      remoteChanges: { ...c.remoteChanges, proposed: [...c.remoteChanges.proposed, add] },
      remoteNextHtlcId: id + 1n
    },
    dustExposureExceeded
  })
}

// ---- Removing an HTLC (BOLT 2 "Removing an HTLC: update_fulfill_htlc, update_fail_htlc, and update_fail_malformed_htlc")

/** Whether `changes` hold a removal of HTLC `id`. */
const removes = (changes: ReadonlyArray<UpdateMessage>, id: bigint): boolean => {
  for (let i = 0; i < changes.length; i++) {
    const u = changes[i]
    if (u !== undefined && isRemoval(u) && u.id === id) return true
  }
  return false
}

/** (Through the one-slot memo: the monitor hashes the same preimage object right after, `payment-hash.ts`.) */
const preimageOpens = (preimage: Uint8Array, paymentHash: Uint8Array): boolean =>
  preimage.length === 32 && equalBytes(paymentHashOf(preimage), paymentHash)

/**
 * The HTLC they offered us that we may remove (BOLT 2: "until the corresponding HTLC is
 * irrevocably committed in both sides' commitment transactions: MUST NOT send" a removal):
 * in our current commitment with the previous one revoked, in their current commitment (whose
 * predecessor they revoked), and not already removed by us.
 */
const incomingToRemove = (c: Commitments, id: bigint): Result.Result<SpecHtlc, CommitmentsError> => {
  const htlc = htlcIn(c.localCommit.spec.htlcs, "received", id)
  if (htlc === undefined) return Result.fail(new UnknownHtlcId({ id }))
  const { proposed, signed, acked } = c.localChanges
  if (removes(proposed, id) || removes(signed, id) || removes(acked, id)) return Result.fail(new HtlcAlreadyRemoved({ id }))
  const inTheirs = htlcIn(c.remoteCommit.spec.htlcs, "offered", id) !== undefined
  if (!inTheirs || c.owedRevocation !== null) return Result.fail(new HtlcNotIrrevocablyCommitted({ id }))
  return Result.succeed(htlc)
}

/** The first HTLC of `direction` and `id` in `htlcs` (a loop, no closure per call: one per removal sent or received, over every HTLC in flight). */
const htlcIn = (htlcs: ReadonlyArray<SpecHtlc>, direction: HtlcDirection, id: bigint): SpecHtlc | undefined => {
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h !== undefined && h.id === id && h.direction === direction) return h
  }
  return undefined
}

/**
 * The HTLC we offered that they remove (BOLT 2 receiving node: "if the id does not correspond
 * to an HTLC in its current commitment transaction"): in our current commitment, not already
 * removed by them.
 */
const outgoingRemoved = (c: Commitments, id: bigint): Result.Result<SpecHtlc, CommitmentsError> => {
  const htlc = htlcIn(c.localCommit.spec.htlcs, "offered", id)
  if (htlc === undefined) return Result.fail(new UnknownHtlcId({ id }))
  const { proposed, acked, signed } = c.remoteChanges
  if (removes(proposed, id) || removes(acked, id) || removes(signed, id)) return Result.fail(new HtlcAlreadyRemoved({ id }))
  return Result.succeed(htlc)
}

const proposeLocal = (c: Commitments, u: UpdateMessage): Commitments => ({
  ...c,
  localChanges: { ...c.localChanges, proposed: [...c.localChanges.proposed, u] }
})
const proposeRemote = (c: Commitments, u: UpdateMessage): Commitments => ({
  ...c,
  remoteChanges: { ...c.remoteChanges, proposed: [...c.remoteChanges.proposed, u] }
})

/** Fulfills an HTLC they offered us with its preimage (BOLT 2 "Removing an HTLC", sending). */
export const sendFulfill = (
  c: Commitments,
  cmd: { readonly id: bigint; readonly paymentPreimage: Uint8Array; readonly attributionData?: Uint8Array | undefined }
): Result.Result<{ readonly commitments: Commitments; readonly message: UpdateFulfillHtlc; readonly htlc: SpecHtlc }, CommitmentsError> => {
  // (Tests, not `Result.flatMap` with a callback, here and in the removals below: the callback
  // captured the arguments, a closure and a context allocated per removal.)
  const found = incomingToRemove(c, cmd.id)
  if (Result.isFailure(found)) return Result.fail(found.failure)
  const htlc = found.success
  if (!preimageOpens(cmd.paymentPreimage, htlc.paymentHash)) return Result.fail(new InvalidPaymentPreimage({ id: cmd.id }))
  const message: UpdateFulfillHtlc = {
    _tag: "UpdateFulfillHtlc",
    channelId: c.params.channelId,
    id: cmd.id,
    paymentPreimage: cmd.paymentPreimage,
    tlvs: cmd.attributionData === undefined ? {} : { attributionData: cmd.attributionData }
  }
  return Result.succeed({ commitments: proposeLocal(c, message), message, htlc })
}

/**
 * Receives a fulfill of an HTLC we offered (BOLT 2 "Removing an HTLC", receiving node): the
 * `id` must be an HTLC of ours in our current commitment, and the `payment_preimage` must
 * SHA256-hash to its `payment_hash`. The preimage is known from here on (relay it upstream).
 */
export const receiveFulfill = (
  c: Commitments,
  msg: UpdateFulfillHtlc
): Result.Result<{ readonly commitments: Commitments; readonly htlc: SpecHtlc }, CommitmentsError> => {
  const found = outgoingRemoved(c, msg.id)
  if (Result.isFailure(found)) return Result.fail(found.failure)
  const htlc = found.success
  return preimageOpens(msg.paymentPreimage, htlc.paymentHash)
    ? Result.succeed({ commitments: proposeRemote(c, msg), htlc })
    : Result.fail(new InvalidPaymentPreimage({ id: msg.id }))
}

/** Fails an HTLC they offered us (BOLT 2 "Removing an HTLC", sending): `reason` is the encrypted BOLT 4 failure. */
export const sendFail = (
  c: Commitments,
  cmd: { readonly id: bigint; readonly reason: Uint8Array; readonly attributionData?: Uint8Array | undefined }
): Result.Result<{ readonly commitments: Commitments; readonly message: UpdateFailHtlc; readonly htlc: SpecHtlc }, CommitmentsError> => {
  const found = incomingToRemove(c, cmd.id)
  if (Result.isFailure(found)) return Result.fail(found.failure)
  const message: UpdateFailHtlc = {
    _tag: "UpdateFailHtlc",
    channelId: c.params.channelId,
    id: cmd.id,
    reason: cmd.reason,
    tlvs: cmd.attributionData === undefined ? {} : { attributionData: cmd.attributionData }
  }
  return Result.succeed({ commitments: proposeLocal(c, message), message, htlc: found.success })
}

/** Receives a fail of an HTLC we offered (BOLT 2 "Removing an HTLC", receiving node): the `id` must be known. */
export const receiveFail = (
  c: Commitments,
  msg: UpdateFailHtlc
): Result.Result<{ readonly commitments: Commitments; readonly htlc: SpecHtlc }, CommitmentsError> => {
  const found = outgoingRemoved(c, msg.id)
  if (Result.isFailure(found)) return Result.fail(found.failure)
  return Result.succeed({ commitments: proposeRemote(c, msg), htlc: found.success })
}

/** Fails an HTLC whose onion we could not parse (BOLT 2 "Removing an HTLC"): `failure_code` must have BADONION. */
export const sendFailMalformed = (
  c: Commitments,
  cmd: { readonly id: bigint; readonly sha256OfOnion: Uint8Array; readonly failureCode: number }
): Result.Result<
  { readonly commitments: Commitments; readonly message: UpdateFailMalformedHtlc; readonly htlc: SpecHtlc },
  CommitmentsError
> => {
  if ((cmd.failureCode & BADONION) === 0) return Result.fail(new FailMalformedWithoutBadOnion({ id: cmd.id, failureCode: cmd.failureCode }))
  const found = incomingToRemove(c, cmd.id)
  if (Result.isFailure(found)) return Result.fail(found.failure)
  const message: UpdateFailMalformedHtlc = {
    _tag: "UpdateFailMalformedHtlc",
    channelId: c.params.channelId,
    id: cmd.id,
    sha256OfOnion: cmd.sha256OfOnion,
    failureCode: cmd.failureCode,
    tlvs: noExtension
  }
  return Result.succeed({ commitments: proposeLocal(c, message), message, htlc: found.success })
}

/**
 * Receives `update_fail_malformed_htlc` (BOLT 2 "Removing an HTLC", receiving node): the
 * `BADONION` bit of `failure_code` must be set, and the `id` known. The caller relays the
 * failure upstream as an `update_fail_htlc` with that code and `sha256_of_onion`.
 */
export const receiveFailMalformed = (
  c: Commitments,
  msg: UpdateFailMalformedHtlc
): Result.Result<{ readonly commitments: Commitments; readonly htlc: SpecHtlc }, CommitmentsError> => {
  if ((msg.failureCode & BADONION) === 0) return Result.fail(new FailMalformedWithoutBadOnion({ id: msg.id, failureCode: msg.failureCode }))
  const found = outgoingRemoved(c, msg.id)
  if (Result.isFailure(found)) return Result.fail(found.failure)
  return Result.succeed({ commitments: proposeRemote(c, msg), htlc: found.success })
}

// ---- update_fee (BOLT 2 "Updating Fees: update_fee") ---------------------------------------------

const dustOnFeeChange = (
  c: Commitments,
  local: CommitmentSpec,
  remote: CommitmentSpec,
  limits: HtlcLimits
): DustExposureExceeded | undefined => {
  // With anchors (zero-fee HTLC transactions) the feerate does not move the trim threshold.
  if (channelTypeByName(c.params.channelType).anchors) return undefined
  const localExposure = dustExposure(c.params, local, c.params.local.dustLimit)
  if (localExposure > limits.maxDustHtlcExposure)
    return new DustExposureExceeded({ commitment: "local", exposure: localExposure, limit: limits.maxDustHtlcExposure })
  const remoteExposure = dustExposure(c.params, remote, c.params.remote.dustLimit)
  if (remoteExposure > limits.maxDustHtlcExposure)
    return new DustExposureExceeded({ commitment: "remote", exposure: remoteExposure, limit: limits.maxDustHtlcExposure })
  return undefined
}

/**
 * Proposes a new commitment feerate (BOLT 2 "Updating Fees", sending): only the funder sends
 * `update_fee`; it must afford the fee on their next commitment while keeping its reserve; not
 * below the relay floor; and (without anchors) MAY NOT send when the dust exposure at the new
 * feerate exceeds the limit.
 */
export const sendFee = (
  c: Commitments,
  feeratePerKw: number,
  limits: HtlcLimits
): Result.Result<{ readonly commitments: Commitments; readonly message: UpdateFee }, CommitmentsError> => {
  const { params } = c
  if (!params.localIsFunder) return Result.fail(new UpdateFeeFromNonFunder({ sender: "local" }))
  if (feeratePerKw < MIN_FEERATE_PER_KW) return Result.fail(new FeerateTooLow({ feeratePerKw, minimum: MIN_FEERATE_PER_KW }))
  const message: UpdateFee = { _tag: "UpdateFee", channelId: params.channelId, feeratePerKw, tlvs: noExtension }
  const theirs = nextRemoteSpec(c, [message])
  const missing = theirs.toRemote - funderCharge(params, theirs, params.remote.dustLimit) - satMsat(params.remote.channelReserve)
  if (missing < 0n) return Result.fail(new FeerateNotAffordable({ feeratePerKw, missing: negative(missing) }))
  const dust = dustOnFeeChange(c, projectedLocalSpec(c, [message]), theirs, limits)
  if (dust !== undefined) return Result.fail(dust)
  return Result.succeed({ commitments: proposeLocal(c, message), message })
}

/**
 * Receives `update_fee` (BOLT 2 "Updating Fees", receiving node): the sender must be the
 * funder; the feerate neither too low for timely processing (below `minPercent` of our
 * estimate or the relay floor) nor unreasonably large (above `maxPercent` of it); the funder
 * must afford it on our next commitment while keeping its reserve; without anchors, a dust
 * exposure above the limit at the new feerate fails (a MAY of BOLT 2, taken).
 */
export const receiveFee = (
  c: Commitments,
  msg: UpdateFee,
  bounds: FeerateBounds,
  limits: HtlcLimits
): Result.Result<{ readonly commitments: Commitments }, CommitmentsError> => {
  const { params } = c
  const feeratePerKw = msg.feeratePerKw
  if (params.localIsFunder) return Result.fail(new UpdateFeeFromNonFunder({ sender: "remote" }))
  const minimum = Math.max(MIN_FEERATE_PER_KW, Math.floor((bounds.estimatedFeeratePerKw * bounds.minPercent) / 100))
  if (feeratePerKw < minimum) return Result.fail(new FeerateTooLow({ feeratePerKw, minimum }))
  const maximum = Math.ceil((bounds.estimatedFeeratePerKw * bounds.maxPercent) / 100)
  if (feeratePerKw > maximum) return Result.fail(new FeerateTooHigh({ feeratePerKw, maximum }))
  const ours = nextLocalSpec(c, [msg])
  const missing = ours.toRemote - funderCharge(params, ours, params.local.dustLimit) - satMsat(params.local.channelReserve)
  if (missing < 0n) return Result.fail(new FeerateNotAffordable({ feeratePerKw, missing: negative(missing) }))
  const dust = dustOnFeeChange(c, ours, projectedRemoteSpec(c, [msg]), limits)
  if (dust !== undefined) return Result.fail(dust)
  return Result.succeed({ commitments: proposeRemote(c, msg) })
}

// ---- commitment_signed (BOLT 2 "Committing Updates So Far: commitment_signed") -------------------

/**
 * A commitment as the `ChannelSigner` takes it (`CommitmentState` in src/services/ChannelSigner.ts,
 * the same shape): stated from the commitment owner's point of view.
 */
export interface CommitmentStateRequest {
  readonly commitmentNumber: bigint
  readonly feeratePerKw: number
  readonly toLocal: Msat
  readonly toRemote: Msat
  readonly htlcs: ReadonlyArray<CommitmentHtlc>
}

/**
 * The request for a spec. Its HTLCs are the spec's own (immutable) array, not copies without the
 * ids: a `SpecHtlc` is a `CommitmentHtlc` with its id, which neither encoding of a request writes
 * (both write a request HTLC's four fields: `state-json.ts`, the Schema), and the signer copies
 * what it keeps. A copy per HTLC per commitment signed or received was ~100 objects per
 * commitment round with 50 HTLCs in flight.
 */
const commitmentState = (commitmentNumber: bigint, spec: CommitmentSpec): CommitmentStateRequest => ({
  commitmentNumber,
  feeratePerKw: spec.feeratePerKw,
  toLocal: spec.toLocal,
  toRemote: spec.toRemote,
  htlcs: spec.htlcs
})

/** What the signer must sign for our `commitment_signed`: `signCounterpartyCommitment(keyId, commitment, theirPerCommitmentPoint)`. */
export interface SignCommitmentRequest {
  readonly commitment: CommitmentStateRequest
  readonly theirPerCommitmentPoint: PublicKey
}

/**
 * First half of sending `commitment_signed` (BOLT 2 "Committing Updates So Far", sending node):
 * fixes their next commitment (their current one with `remoteChanges.acked` and
 * `localChanges.proposed`) and asks for its signatures. MUST NOT send one without updates; and
 * one at a time (their next per-commitment point comes with their `revoke_and_ack`). The
 * updates signed move from proposed/acked to signed now, so updates made while the signer
 * works go in the next commitment.
 */
export const prepareCommit = (
  c: Commitments
): Result.Result<{ readonly commitments: Commitments; readonly request: SignCommitmentRequest }, CommitmentsError> => {
  const info = c.remoteNextCommitInfo
  if (info._tag !== "NextPoint") return Result.fail(new AwaitingRevocation())
  if (!hasChangesToSign(c)) return Result.fail(new NothingToSign())
  const next: RemoteCommit = {
    number: c.remoteCommit.number + 1n,
    spec: nextRemoteSpec(c),
    perCommitmentPoint: info.perCommitmentPoint
  }
  return Result.succeed({
    commitments: {
      ...c,
      remoteNextCommitInfo: { _tag: "Signing", next },
      localChanges: { proposed: [], signed: c.localChanges.proposed, acked: c.localChanges.acked },
      remoteChanges: { proposed: c.remoteChanges.proposed, acked: [], signed: c.remoteChanges.acked }
    },
    request: { commitment: commitmentState(next.number, next.spec), theirPerCommitmentPoint: info.perCommitmentPoint }
  })
}

/**
 * Second half: the signer's signatures for their next commitment (one per HTLC output, in
 * output order) make our `commitment_signed` (with `funding_txid`, BOLT 2 MUST).
 */
export const completeCommit = (
  c: Commitments,
  signatures: { readonly signature: Uint8Array; readonly htlcSignatures: ReadonlyArray<Uint8Array> }
): Result.Result<{ readonly commitments: Commitments; readonly message: CommitmentSigned }, CommitmentsError> => {
  const info = c.remoteNextCommitInfo
  if (info._tag !== "Signing") return Result.fail(new NoSignatureRequested({ reason: `no commitment being signed (${info._tag})` }))
  const message: CommitmentSigned = {
    _tag: "CommitmentSigned",
    channelId: c.params.channelId,
    signature: signatures.signature,
    htlcSignatures: signatures.htlcSignatures,
    tlvs: { fundingTxid: c.params.fundingOutpoint.txid }
  }
  return Result.succeed({
    commitments: {
      ...c,
      remoteNextCommitInfo: {
        _tag: "WaitingForRevocation",
        next: info.next,
        signature: signatures.signature,
        htlcSignatures: signatures.htlcSignatures
      }
    },
    message
  })
}

/**
 * What the actor asks the signer after a valid `commitment_signed`: validate our new
 * commitment with the peer's signatures (`validateHolderCommitment`), then release the secret
 * of `revokeCommitmentNumber` (`releaseCommitmentSecret`) and give the point of
 * `nextCommitmentNumber` (`perCommitmentPoint`), for `completeRevoke`.
 */
export interface RevokeRequest {
  readonly holderCommitment: CommitmentStateRequest
  readonly signature: Uint8Array
  readonly htlcSignatures: ReadonlyArray<Uint8Array>
  readonly revokeCommitmentNumber: bigint
  readonly nextCommitmentNumber: bigint
}

/**
 * Receives `commitment_signed` (BOLT 2 "Committing Updates So Far", receiving node). Once all
 * pending updates are applied to our next commitment: it must contain updates; `signature`
 * must be valid (low-S) for it under their funding key; `num_htlcs` must equal its number of
 * HTLC outputs; every `htlc_signature` must be valid (low-S) for its HTLC transaction. Then
 * our commitment advances and we owe a `revoke_and_ack` (see `RevokeRequest`, `completeRevoke`).
 * Our next per-commitment point is the one the peer has (`localNextPerCommitmentPoint`).
 */
export const receiveCommit = (
  secp: Secp256k1,
  c: Commitments,
  msg: CommitmentSigned
): Result.Result<{ readonly commitments: Commitments; readonly request: RevokeRequest }, CommitmentsError> => {
  if (c.owedRevocation !== null) return Result.fail(new CommitmentSignedBeforeRevocation())
  if (c.localChanges.acked.length === 0 && c.remoteChanges.proposed.length === 0) return Result.fail(new CommitmentSignedWithoutChanges())
  const { params } = c
  const number = c.localCommit.number + 1n
  const spec = nextLocalSpec(c)
  const point = c.localNextPerCommitmentPoint
  const built = buildCommitmentForSide(secp, channelView(params, spec), "local", number, point)
  if (Result.isFailure(built)) return Result.fail(new CommitmentNotBuildable({ reason: built.failure.reason }))
  const commitment = built.success
  if (!verifyCommitmentSignature(secp, commitment, msg.signature, params.remote.basepoints.fundingPubkey))
    return Result.fail(new InvalidCommitmentSignature({ commitmentNumber: number }))
  const htlcTxs = htlcTransactions(commitment)
  if (msg.htlcSignatures.length !== htlcTxs.length)
    return Result.fail(new WrongHtlcSignatureCount({ expected: htlcTxs.length, received: msg.htlcSignatures.length }))
  // The remote HTLC key is read only when there is an HTLC signature to check: keys from the
  // in-process signer derive it on first read, and a commitment without HTLCs never needs it.
  const keys = commitment.params.keys
  for (let index = 0; index < htlcTxs.length; index++) {
    const htlcTx = htlcTxs[index]
    const sig = msg.htlcSignatures[index]
    // Stryker disable next-line ConditionalExpression,LogicalOperator: the `undefined` tests are equivalent, the counts were checked equal just above (they satisfy noUncheckedIndexedAccess).
    if (htlcTx === undefined || sig === undefined || !verifyRemoteHtlcSignature(secp, htlcTx, sig, keys.remoteHtlcPubkey))
      return Result.fail(new InvalidHtlcSignature({ commitmentNumber: number, index }))
  }
  const localCommit: LocalCommit = {
    number,
    spec,
    perCommitmentPoint: point,
    txid: commitmentTxid(commitment),
    remoteSignature: msg.signature,
    remoteHtlcSignatures: msg.htlcSignatures
  }
  return Result.succeed({
    commitments: {
      ...c,
      localCommit,
      owedRevocation: { commitmentNumber: c.localCommit.number, perCommitmentPoint: c.localCommit.perCommitmentPoint },
      localChanges: { ...c.localChanges, acked: [] },
      // (Update lists are immutable: a list moves as it is when the other is empty.)
      remoteChanges: { ...c.remoteChanges, proposed: [], acked: joined(c.remoteChanges.acked, c.remoteChanges.proposed) }
    },
    request: {
      holderCommitment: commitmentState(number, spec),
      signature: msg.signature,
      htlcSignatures: msg.htlcSignatures,
      revokeCommitmentNumber: c.localCommit.number,
      nextCommitmentNumber: number + 1n
    }
  })
}

// ---- revoke_and_ack (BOLT 2 "Completing the Transition to the Updated State: revoke_and_ack") -----

/**
 * Whether `secret` is a valid secret generating `point`. Through the shared memo of points
 * (`keys/per-commitment-points.ts`): the signer computed the point of our own secret when it
 * gave it, and a monitor checks the peer's secret again after this check.
 */
const pointMatches = (secp: Secp256k1, secret: Uint8Array, point: Uint8Array): boolean => {
  const derived = sharedPerCommitmentPoints.pointOf(secp, secret)
  return Result.isSuccess(derived) && equalBytes(derived.success, point)
}

/**
 * Sends `revoke_and_ack` (BOLT 2, sending node) with what the signer gave for the
 * `RevokeRequest`: the secret of our previous commitment (checked against its point) and our
 * point for the commitment after the current one.
 */
export const completeRevoke = (
  secp: Secp256k1,
  c: Commitments,
  perCommitmentSecret: Uint8Array,
  nextPerCommitmentPoint: PublicKey
): Result.Result<{ readonly commitments: Commitments; readonly message: RevokeAndAck }, CommitmentsError> => {
  const owed = c.owedRevocation
  if (owed === null) return Result.fail(new NoRevocationOwed())
  if (!pointMatches(secp, perCommitmentSecret, owed.perCommitmentPoint))
    return Result.fail(new SignerSecretMismatch({ commitmentNumber: owed.commitmentNumber }))
  const message: RevokeAndAck = { _tag: "RevokeAndAck", channelId: c.params.channelId, perCommitmentSecret, nextPerCommitmentPoint, tlvs: noExtension }
  return Result.succeed({ commitments: { ...c, owedRevocation: null, localNextPerCommitmentPoint: nextPerCommitmentPoint }, message })
}

/**
 * Receives `revoke_and_ack` (BOLT 2, receiving node): only after our `commitment_signed`; the
 * `per_commitment_secret` must be a valid secret generating their previous per-commitment
 * point, and fit the BOLT 3 shachain of the earlier ones (stored); `next_per_commitment_point`
 * must be a valid point. Their commitment advances, our signed updates become acked (they go in
 * our next commitment) and their signed updates are irrevocably committed: returned as
 * `irrevocablyCommitted` (their adds may now be relayed, their removals of our HTLCs settled).
 */
export const receiveRevoke = (
  secp: Secp256k1,
  c: Commitments,
  msg: RevokeAndAck
): Result.Result<
  {
    readonly commitments: Commitments
    readonly revokedCommitmentNumber: bigint
    readonly irrevocablyCommitted: ReadonlyArray<UpdateMessage>
  },
  CommitmentsError
> => {
  const info = c.remoteNextCommitInfo
  if (info._tag !== "WaitingForRevocation") return Result.fail(new UnexpectedRevokeAndAck())
  const revoked = c.remoteCommit
  if (!pointMatches(secp, msg.perCommitmentSecret, revoked.perCommitmentPoint))
    return Result.fail(new InvalidRevocationSecret({ commitmentNumber: revoked.number }))
  const secrets = insertSecret(c.remotePerCommitmentSecrets, msg.perCommitmentSecret, indexOfCommitment(revoked.number))
  if (Result.isFailure(secrets))
    return Result.fail(new RevocationSecretNotFromShachain({ commitmentNumber: revoked.number, reason: secrets.failure.reason }))
  const nextPoint = parsePublicKey(secp, msg.nextPerCommitmentPoint)
  if (Result.isFailure(nextPoint)) return Result.fail(new InvalidNextPerCommitmentPoint())
  return Result.succeed({
    commitments: {
      ...c,
      remoteCommit: info.next,
      remoteNextCommitInfo: { _tag: "NextPoint", perCommitmentPoint: nextPoint.success },
      localChanges: { ...c.localChanges, signed: [], acked: joined(c.localChanges.acked, c.localChanges.signed) },
      remoteChanges: { ...c.remoteChanges, signed: [] },
      remotePerCommitmentSecrets: secrets.success
    },
    revokedCommitmentNumber: revoked.number,
    irrevocablyCommitted: c.remoteChanges.signed
  })
}
