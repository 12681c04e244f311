/**
 * `MonitorUpdate`: the only way a monitor's state changes (rust-lightning's
 * `ChannelMonitorUpdateStep`, as a closed Schema union). The channel emits one per step that
 * changes what enforcement needs, in order, each with `updateId` one more than the last
 * (`Opened` is 0). The channel state and its updates are persisted together; a remote monitor
 * (watchtower) receives the same updates. See `./apply.ts` for the rules.
 */
import { Schema } from "effect"
import { ChannelParamsSchema } from "../channel/params.ts"
import {
  Bytes32Schema,
  BytesSchema,
  CounterpartyCommitmentSchema,
  HolderCommitmentSchema,
  TxidSchema,
  U64Schema
} from "./state.ts"

/**
 * The channel exists on our side and both first commitments are signed (BOLT 2: after
 * `funding_signed` is sent or verified, before the funding transaction is broadcast).
 */
export const OpenedUpdateSchema = Schema.TaggedStruct("Opened", {
  updateId: U64Schema,
  params: ChannelParamsSchema,
  /** The funding output's scriptPubKey. */
  fundingScript: BytesSchema,
  holderCommitment: HolderCommitmentSchema,
  counterpartyCommitment: CounterpartyCommitmentSchema
})
export type OpenedUpdate = typeof OpenedUpdateSchema.Type

/** The counterparty signed our next commitment (`commitment_signed` received and verified). */
export const HolderCommitmentUpdateSchema = Schema.TaggedStruct("HolderCommitment", {
  updateId: U64Schema,
  commitment: HolderCommitmentSchema
})
export type HolderCommitmentUpdate = typeof HolderCommitmentUpdateSchema.Type

/** We signed the counterparty's next commitment (`commitment_signed` about to be sent). */
export const CounterpartyCommitmentUpdateSchema = Schema.TaggedStruct("CounterpartyCommitment", {
  updateId: U64Schema,
  commitment: CounterpartyCommitmentSchema
})
export type CounterpartyCommitmentUpdate = typeof CounterpartyCommitmentUpdateSchema.Type

/** The counterparty revoked its commitment `commitmentNumber` (`revoke_and_ack` received). */
export const CommitmentSecretUpdateSchema = Schema.TaggedStruct("CommitmentSecret", {
  updateId: U64Schema,
  commitmentNumber: U64Schema,
  secret: Bytes32Schema
})
export type CommitmentSecretUpdate = typeof CommitmentSecretUpdateSchema.Type

/** We learned (or, as the payee, released) the preimage of an HTLC (`update_fulfill_htlc`). */
export const PaymentPreimageUpdateSchema = Schema.TaggedStruct("PaymentPreimage", {
  updateId: U64Schema,
  preimage: Bytes32Schema
})
export type PaymentPreimageUpdate = typeof PaymentPreimageUpdateSchema.Type

/** A `shutdown` script, ours (sent) or theirs (received). */
export const ShutdownScriptUpdateSchema = Schema.TaggedStruct("ShutdownScript", {
  updateId: U64Schema,
  side: Schema.Literals(["holder", "counterparty"]),
  script: BytesSchema
})
export type ShutdownScriptUpdate = typeof ShutdownScriptUpdateSchema.Type

/** Broadcast our latest commitment (BOLT 2/5: failing the channel). */
export const ForceCloseUpdateSchema = Schema.TaggedStruct("ForceClose", {
  updateId: U64Schema,
  reason: Schema.String
})
export type ForceCloseUpdate = typeof ForceCloseUpdateSchema.Type

/** The channel is over: a mutual close transaction (its txid, if known) or a resolved force close. */
export const ChannelClosedUpdateSchema = Schema.TaggedStruct("ChannelClosed", {
  updateId: U64Schema,
  closingTxid: Schema.optionalKey(TxidSchema)
})
export type ChannelClosedUpdate = typeof ChannelClosedUpdateSchema.Type

export const MonitorUpdateSchema = Schema.Union([
  OpenedUpdateSchema,
  HolderCommitmentUpdateSchema,
  CounterpartyCommitmentUpdateSchema,
  CommitmentSecretUpdateSchema,
  PaymentPreimageUpdateSchema,
  ShutdownScriptUpdateSchema,
  ForceCloseUpdateSchema,
  ChannelClosedUpdateSchema
])
export type MonitorUpdate = typeof MonitorUpdateSchema.Type
export type MonitorUpdateTag = MonitorUpdate["_tag"]
