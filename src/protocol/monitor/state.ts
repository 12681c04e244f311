/**
 * The state of a channel monitor: what enforcing one channel on chain needs, and nothing more
 * (the channel's negotiation state, update logs and pending HTLC bookkeeping stay in the
 * channel). BOLT 5 reactions to chain facts read it; BOLT 2 messages never touch it directly:
 * it changes only through `MonitorUpdate`s (`./update.ts`, `./apply.ts`).
 *
 * - Our ("holder") latest commitment, with the counterparty's signatures, so we can broadcast
 *   it (BOLT 5 "Unilateral Close Handling: Local Commitment Transaction").
 * - The counterparty's unrevoked commitments, current and (after our `commitment_signed`, before
 *   their `revoke_and_ack`) next, with their per-commitment points: either may be broadcast
 *   (BOLT 5 "Remote Commitment Transaction").
 * - Their revealed per-commitment secrets in shachain storage (BOLT 3), and the HTLCs of each
 *   revoked commitment of theirs that had any, with its txid: what justice needs (BOLT 5
 *   "Revoked Transaction Close Handling"). A revoked commitment without HTLCs needs no entry:
 *   its number is in its locktime and sequence (BOLT 3 obscured commitment number) and its
 *   secret in the shachain.
 * - Payment preimages, for HTLCs still in a commitment that can be broadcast.
 * - Shutdown scripts (BOLT 2 `shutdown`) and the closing status.
 *
 * Sides: "holder" is this node, "counterparty" the peer (as in `ChannelSigner`). Inside a
 * commitment, balances and HTLC directions are seen from the commitment's OWNER (BOLT 3
 * "local"): `toLocal` of a counterparty commitment is THEIR balance, and an HTLC they offered
 * is `offered` there. This is the shape of `ChannelSigner`'s `CommitmentState`.
 *
 * Immutable data with a Schema (plain but for the packed revoked list): persisted, replicated and
 * compared as JSON.
 */
import { Schema, SchemaTransformation } from "effect"
import { u64 } from "../codec/fields.ts"
import { ChannelParamsSchema, MsatSchema, PublicKeySchema } from "../channel/params.ts"
import { type SpecHtlc, SpecHtlcSchema } from "../channel/commitments.ts"
import { SecretStoreSchema } from "./secrets.ts"
import { RevokedCommitments } from "./revoked.ts"

const hexOfLength = (n: number) => Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(n, n)))

/** Any byte string (scripts), as hex. */
export const BytesSchema = Schema.Uint8ArrayFromHex
/** 32 bytes: payment hashes, preimages, per-commitment secrets. */
export const Bytes32Schema = hexOfLength(32)
/** A txid in internal byte order (as `Txid` in tx/bitcoin), as hex of those bytes. */
export const TxidSchema = hexOfLength(32).pipe(Schema.brand("Txid"))
/** A 64-byte compact ECDSA signature (r || s), as `CompactSignature` in `ChannelSigner`. */
export const CompactSignatureSchema = hexOfLength(64).pipe(Schema.brand("CompactSignature"))
/** u64 as a decimal string: update ids, commitment numbers, HTLC ids. */
export const U64Schema = u64.schema
const U32Schema = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff })))

/**
 * One HTLC of a commitment: the channel's own `SpecHtlc` (BOLT 3 offered/received HTLC output
 * plus its BOLT 2 id, `direction` seen from the commitment's owner), so a monitor update carries
 * the channel's HTLCs as they are.
 */
export const MonitorHtlcSchema = SpecHtlcSchema
export type MonitorHtlc = SpecHtlc

/**
 * Our commitment `commitmentNumber` as the counterparty signed it (BOLT 2 `commitment_signed`):
 * what `ChannelSigner.validateHolderCommitment` took, kept to broadcast it.
 * `counterpartyHtlcSignatures` are in the commitment's HTLC output order, as on the wire.
 */
export const HolderCommitmentSchema = Schema.Struct({
  commitmentNumber: U64Schema,
  feeratePerKw: U32Schema,
  toLocal: MsatSchema,
  toRemote: MsatSchema,
  htlcs: Schema.Array(MonitorHtlcSchema),
  counterpartySignature: CompactSignatureSchema,
  counterpartyHtlcSignatures: Schema.Array(CompactSignatureSchema)
})
export type HolderCommitment = typeof HolderCommitmentSchema.Type

/**
 * A commitment of the counterparty that we signed (BOLT 2 `commitment_signed` sent), at their
 * per-commitment point for that number, with its txid (what a chain watcher matches).
 */
export const CounterpartyCommitmentSchema = Schema.Struct({
  commitmentNumber: U64Schema,
  perCommitmentPoint: PublicKeySchema,
  feeratePerKw: U32Schema,
  toLocal: MsatSchema,
  toRemote: MsatSchema,
  htlcs: Schema.Array(MonitorHtlcSchema),
  txid: TxidSchema
})
export type CounterpartyCommitment = typeof CounterpartyCommitmentSchema.Type

/** A revoked counterparty commitment that had HTLC outputs: what justice on them needs. */
export const RevokedCommitmentSchema = Schema.Struct({
  commitmentNumber: U64Schema,
  txid: TxidSchema,
  htlcs: Schema.Array(MonitorHtlcSchema)
})
export type RevokedCommitment = typeof RevokedCommitmentSchema.Type

/** The JSON array of the entries <-> the packed list (`./revoked.ts`). */
export const RevokedCommitmentsSchema = Schema.Array(RevokedCommitmentSchema).pipe(
  Schema.decodeTo(
    Schema.declare((u): u is RevokedCommitments => u instanceof RevokedCommitments),
    SchemaTransformation.transform({ decode: (entries) => RevokedCommitments.of(entries), encode: (list) => [...list] })
  )
)

export const PreimageEntrySchema = Schema.Struct({
  paymentHash: Bytes32Schema,
  preimage: Bytes32Schema
})
export type PreimageEntry = typeof PreimageEntrySchema.Type

/**
 * `Open`: the channel may still change. `ForceClosed`: we decided to broadcast our latest
 * commitment (no new commitment is recorded after it; secrets and preimages still are).
 * `Closed`: the channel is over (mutual close, or the force close resolved); nothing changes.
 */
export const ClosingStatusSchema = Schema.Union([
  Schema.TaggedStruct("Open", {}),
  Schema.TaggedStruct("ForceClosed", { reason: Schema.String }),
  Schema.TaggedStruct("Closed", { closingTxid: Schema.optionalKey(TxidSchema) })
])
export type ClosingStatus = typeof ClosingStatusSchema.Type

export const MonitorStateSchema = Schema.Struct({
  /** The channel's fixed parameters; `params.fundingOutpoint` is the output the monitor watches. */
  params: ChannelParamsSchema,
  /** The funding output's scriptPubKey (P2WSH of the BOLT 3 2-of-2 funding script). */
  fundingScript: BytesSchema,
  /** The `updateId` of the last update applied; the next one must be this + 1. */
  latestUpdateId: U64Schema,
  holderCommitment: HolderCommitmentSchema,
  counterpartyCurrent: CounterpartyCommitmentSchema,
  /** Signed by us, not yet acknowledged by their `revoke_and_ack` of `counterpartyCurrent`. */
  counterpartyNext: Schema.optionalKey(CounterpartyCommitmentSchema),
  counterpartySecrets: SecretStoreSchema,
  /** In increasing commitment number. */
  revokedCommitments: RevokedCommitmentsSchema,
  preimages: Schema.Array(PreimageEntrySchema),
  holderShutdownScript: Schema.optionalKey(BytesSchema),
  counterpartyShutdownScript: Schema.optionalKey(BytesSchema),
  closing: ClosingStatusSchema
})
export type MonitorState = typeof MonitorStateSchema.Type
