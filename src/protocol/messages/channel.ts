/**
 * BOLT 2 (peer protocol for channel management) messages, declared with `defineMessage`: the
 * v1 channel establishment (`open_channel` .. `channel_ready`), quiescence (`stfu`), close
 * (`shutdown`, `closing_complete`/`closing_sig`, legacy `closing_signed`), normal operation
 * (`update_*`, `commitment_signed`, `revoke_and_ack`, `update_fee`) and reestablishment
 * (`channel_reestablish`), each with its TLV extension stream as the current spec lists it.
 *
 * The v2 establishment and interactive-tx messages (`open_channel2`, `accept_channel2`,
 * `tx_*`) and splicing (`splice_*`, `start_batch`) are declared too, in their own groups, so a
 * registry can opt in to them; their flows are not implemented.
 *
 * Field names are the spec's in camelCase (`temporary_channel_id` -> `temporaryChannelId`);
 * a length prefix is folded into the field it counts (`len`+`scriptpubkey` -> `scriptpubkey`,
 * `num_htlcs`+`htlc_signature` -> `htlcSignatures`). Amounts carry their unit brand (`Sat`,
 * `Msat`), txids the `Txid` brand (internal byte order, as on the wire).
 */
import { Brand, Schema } from "effect"
import * as Field from "../codec/fields.ts"
import type { Codec } from "../codec/fields.ts"
import { defineMessage, type MessageType } from "../codec/message.ts"
import { tlvField, tlvStream } from "../codec/tlv.ts"
import type { Txid } from "../tx/bitcoin/transaction.ts"
import { type ChannelId, type Msat, msat, type Sat, sat } from "../units.ts"

// ---- field codecs specific to BOLT 2 --------------------------------------------------------------

const hexOfLength = (n: number) => Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(n, n)))

/** A `u64` amount in satoshis (`*_satoshis`). */
export const satoshis: Codec<Sat> = {
  read: (r) => sat(r.u64()),
  write: Field.u64.write,
  schema: Field.u64.schema.pipe(Schema.brand("Sat")),
  wire: Field.u64.wire
}

/** A `u64` amount in millisatoshis (`*_msat`). */
export const millisatoshis: Codec<Msat> = {
  read: (r) => msat(r.u64()),
  write: Field.u64.write,
  schema: Field.u64.schema.pipe(Schema.brand("Msat")),
  wire: Field.u64.wire
}

/** A txid read as 32 bytes: its length is the reader's, so `Txid`'s check is not run again (every `commitment_signed` carries one). */
const txidOfRead: (bytes: Uint8Array) => Txid = Brand.nominal<Txid>()

/** A `sha256` that is a transaction id, internal byte order (BOLT 2 `funding_txid`...). */
export const txid: Codec<Txid> = {
  read: (r) => txidOfRead(r.bytes(32)),
  write: (w, a) => void w.fixed("sha256", a, 32),
  schema: hexOfLength(32).pipe(Schema.brand("Txid")),
  wire: [{ element: "sha256" }]
}

/** `32*byte temporary_channel_id` (v1 establishment): a channel id until the funding is known. */
export const temporaryChannelId: Codec<ChannelId> = {
  read: Field.channelId.read,
  write: (w, a) => void w.fixed("temporary_channel_id", a, 32),
  schema: Field.ChannelIdSchema,
  wire: [{ element: "byte", count: 32 }]
}

/** BOLT 4: the onion packet is 1366 bytes (version, point, 1300-byte payload, HMAC). */
export const ONION_PACKET_SIZE = 1366

/** `attribution_data` (BOLT 4): `20*u32 htlc_hold_times`, `210*sha256[..4] truncated_hmacs`, kept as its 920 bytes. */
export const ATTRIBUTION_DATA_LENGTH = 20 * 4 + 210 * 4
export const attributionData: Codec<Uint8Array> = {
  read: (r) => r.bytes(ATTRIBUTION_DATA_LENGTH),
  write: (w, a) => void w.fixed("attribution_data", a, ATTRIBUTION_DATA_LENGTH),
  schema: hexOfLength(ATTRIBUTION_DATA_LENGTH),
  wire: [
    { element: "u32", count: 20 },
    { element: "sha256[..4]", count: 210 }
  ]
}

/**
 * A `channel_type` TLV value: a feature bit field (BOLT 9 form, big-endian), kept as its bytes
 * (interpret it with `protocol/features.ts` / `channelTypeFromBits`).
 */
export const channelTypeBits: Codec<Uint8Array> = Field.restBytes

/** The `witness` subtype of `tx_signatures`: `[u16:len][len*byte:witness_data]`. */
export const witness: Codec<Uint8Array> = { ...Field.u16Bytes, wire: [{ element: "witness" }] }

// ---- v1 channel establishment ---------------------------------------------------------------------

/** `open_channel_tlvs` (BOLT 2 "The open_channel Message"). */
export const OpenChannelTlvs = tlvStream("open_channel_tlvs", {
  /** Where our funds go on a mutual close; empty = opted out (`option_upfront_shutdown_script`). */
  upfrontShutdownScript: tlvField(0, Field.restBytes),
  channelType: tlvField(1, channelTypeBits)
})

/** `open_channel` (32): the funder proposes a v1 channel. */
export const OpenChannel = defineMessage({
  type: 32,
  name: "open_channel",
  tag: "OpenChannel",
  fields: {
    chainHash: Field.chainHash,
    temporaryChannelId,
    fundingSatoshis: satoshis,
    pushMsat: millisatoshis,
    dustLimitSatoshis: satoshis,
    maxHtlcValueInFlightMsat: millisatoshis,
    channelReserveSatoshis: satoshis,
    htlcMinimumMsat: millisatoshis,
    feeratePerKw: Field.u32,
    toSelfDelay: Field.u16,
    maxAcceptedHtlcs: Field.u16,
    fundingPubkey: Field.point,
    revocationBasepoint: Field.point,
    paymentBasepoint: Field.point,
    delayedPaymentBasepoint: Field.point,
    htlcBasepoint: Field.point,
    firstPerCommitmentPoint: Field.point,
    channelFlags: Field.u8
  },
  tlvs: OpenChannelTlvs
})
export type OpenChannel = MessageType<typeof OpenChannel>

/** `channel_flags` bit 0: `announce_channel`. */
export const CHANNEL_FLAG_ANNOUNCE = 1

/** `accept_channel_tlvs` (BOLT 2 "The accept_channel Message"). */
export const AcceptChannelTlvs = tlvStream("accept_channel_tlvs", {
  upfrontShutdownScript: tlvField(0, Field.restBytes),
  channelType: tlvField(1, channelTypeBits)
})

/** `accept_channel` (33): the fundee accepts. */
export const AcceptChannel = defineMessage({
  type: 33,
  name: "accept_channel",
  tag: "AcceptChannel",
  fields: {
    temporaryChannelId,
    dustLimitSatoshis: satoshis,
    maxHtlcValueInFlightMsat: millisatoshis,
    channelReserveSatoshis: satoshis,
    htlcMinimumMsat: millisatoshis,
    minimumDepth: Field.u32,
    toSelfDelay: Field.u16,
    maxAcceptedHtlcs: Field.u16,
    fundingPubkey: Field.point,
    revocationBasepoint: Field.point,
    paymentBasepoint: Field.point,
    delayedPaymentBasepoint: Field.point,
    htlcBasepoint: Field.point,
    firstPerCommitmentPoint: Field.point
  },
  tlvs: AcceptChannelTlvs
})
export type AcceptChannel = MessageType<typeof AcceptChannel>

/** `funding_created` (34): the funding outpoint and the funder's signature of the fundee's first commitment. */
export const FundingCreated = defineMessage({
  type: 34,
  name: "funding_created",
  tag: "FundingCreated",
  fields: {
    temporaryChannelId,
    fundingTxid: txid,
    fundingOutputIndex: Field.u16,
    signature: Field.signature
  }
})
export type FundingCreated = MessageType<typeof FundingCreated>

/** `funding_signed` (35): the fundee's signature of the funder's first commitment. */
export const FundingSigned = defineMessage({
  type: 35,
  name: "funding_signed",
  tag: "FundingSigned",
  fields: { channelId: Field.channelId, signature: Field.signature }
})
export type FundingSigned = MessageType<typeof FundingSigned>

/** `channel_ready_tlvs`: `short_channel_id` carries an alias (`option_scid_alias`). */
export const ChannelReadyTlvs = tlvStream("channel_ready_tlvs", {
  shortChannelId: tlvField(1, Field.shortChannelId)
})

/** `channel_ready` (36): the funding is deep enough (or zero-conf); the next per-commitment point. */
export const ChannelReady = defineMessage({
  type: 36,
  name: "channel_ready",
  tag: "ChannelReady",
  fields: { channelId: Field.channelId, secondPerCommitmentPoint: Field.point },
  tlvs: ChannelReadyTlvs
})
export type ChannelReady = MessageType<typeof ChannelReady>

// ---- quiescence -----------------------------------------------------------------------------------

/** `stfu` (2): BOLT 2 "Channel Quiescence"; `initiator` is 1 for the initiator, 0 otherwise. */
export const Stfu = defineMessage({
  type: 2,
  name: "stfu",
  tag: "Stfu",
  fields: { channelId: Field.channelId, initiator: Field.u8 }
})
export type Stfu = MessageType<typeof Stfu>

// ---- close ----------------------------------------------------------------------------------------

/** `shutdown` (38): BOLT 2 "Closing Initiation". */
export const Shutdown = defineMessage({
  type: 38,
  name: "shutdown",
  tag: "Shutdown",
  fields: { channelId: Field.channelId, scriptpubkey: Field.u16Bytes }
})
export type Shutdown = MessageType<typeof Shutdown>

/** `closing_signed_tlvs`: the fee range the sender accepts. */
export const ClosingSignedTlvs = tlvStream("closing_signed_tlvs", {
  feeRange: tlvField(1, Field.struct({ minFeeSatoshis: satoshis, maxFeeSatoshis: satoshis }))
})

/** `closing_signed` (39): BOLT 2 "Legacy Closing Negotiation". */
export const ClosingSigned = defineMessage({
  type: 39,
  name: "closing_signed",
  tag: "ClosingSigned",
  fields: { channelId: Field.channelId, feeSatoshis: satoshis, signature: Field.signature },
  tlvs: ClosingSignedTlvs
})
export type ClosingSigned = MessageType<typeof ClosingSigned>

/** `closing_tlvs` (shared by `closing_complete` and `closing_sig`): one signature per closing-tx variant. */
export const ClosingTlvs = tlvStream("closing_tlvs", {
  closerOutputOnly: tlvField(1, Field.signature),
  closeeOutputOnly: tlvField(2, Field.signature),
  closerAndCloseeOutputs: tlvField(3, Field.signature)
})

const closingFields = {
  channelId: Field.channelId,
  closerScriptpubkey: Field.u16Bytes,
  closeeScriptpubkey: Field.u16Bytes,
  feeSatoshis: satoshis,
  locktime: Field.u32
} as const

/** `closing_complete` (40): BOLT 2 "Closing Negotiation" (`option_simple_close`), from the closer. */
export const ClosingComplete = defineMessage({
  type: 40,
  name: "closing_complete",
  tag: "ClosingComplete",
  fields: closingFields,
  tlvs: ClosingTlvs
})
export type ClosingComplete = MessageType<typeof ClosingComplete>

/** `closing_sig` (41): the closee's signature for one of the variants of `closing_complete`. */
export const ClosingSig = defineMessage({
  type: 41,
  name: "closing_sig",
  tag: "ClosingSig",
  fields: closingFields,
  tlvs: ClosingTlvs
})
export type ClosingSig = MessageType<typeof ClosingSig>

// ---- normal operation -----------------------------------------------------------------------------

/** `update_add_htlc_tlvs`: `blinded_path` carries the `path_key` of a blinded route (BOLT 4). */
export const UpdateAddHtlcTlvs = tlvStream("update_add_htlc_tlvs", {
  blindedPath: tlvField(0, Field.point)
})

/** `update_add_htlc` (128). */
export const UpdateAddHtlc = defineMessage({
  type: 128,
  name: "update_add_htlc",
  tag: "UpdateAddHtlc",
  fields: {
    channelId: Field.channelId,
    id: Field.u64,
    amountMsat: millisatoshis,
    paymentHash: Field.sha256,
    cltvExpiry: Field.u32,
    onionRoutingPacket: Field.fixedBytes(ONION_PACKET_SIZE)
  },
  tlvs: UpdateAddHtlcTlvs
})
export type UpdateAddHtlc = MessageType<typeof UpdateAddHtlc>

/** `update_fulfill_htlc_tlvs`: attribution data of a success (BOLT 4 hold times). */
export const UpdateFulfillHtlcTlvs = tlvStream("update_fulfill_htlc_tlvs", {
  attributionData: tlvField(1, attributionData)
})

/** `update_fulfill_htlc` (130). */
export const UpdateFulfillHtlc = defineMessage({
  type: 130,
  name: "update_fulfill_htlc",
  tag: "UpdateFulfillHtlc",
  fields: { channelId: Field.channelId, id: Field.u64, paymentPreimage: Field.fixedBytes(32) },
  tlvs: UpdateFulfillHtlcTlvs
})
export type UpdateFulfillHtlc = MessageType<typeof UpdateFulfillHtlc>

/** `update_fail_htlc_tlvs`: attribution data of the failure (BOLT 4). */
export const UpdateFailHtlcTlvs = tlvStream("update_fail_htlc_tlvs", {
  attributionData: tlvField(1, attributionData)
})

/** `update_fail_htlc` (131): `reason` is the encrypted failure packet (BOLT 4). */
export const UpdateFailHtlc = defineMessage({
  type: 131,
  name: "update_fail_htlc",
  tag: "UpdateFailHtlc",
  fields: { channelId: Field.channelId, id: Field.u64, reason: Field.u16Bytes },
  tlvs: UpdateFailHtlcTlvs
})
export type UpdateFailHtlc = MessageType<typeof UpdateFailHtlc>

/** `update_fail_malformed_htlc` (135): the onion could not be parsed; `failure_code` has BADONION set. */
export const UpdateFailMalformedHtlc = defineMessage({
  type: 135,
  name: "update_fail_malformed_htlc",
  tag: "UpdateFailMalformedHtlc",
  fields: { channelId: Field.channelId, id: Field.u64, sha256OfOnion: Field.sha256, failureCode: Field.u16 }
})
export type UpdateFailMalformedHtlc = MessageType<typeof UpdateFailMalformedHtlc>

/** `commitment_signed_tlvs`: `funding_txid` names the funding a signature is for (splicing). */
export const CommitmentSignedTlvs = tlvStream("commitment_signed_tlvs", {
  fundingTxid: tlvField(1, txid)
})

/** `commitment_signed` (132): the commitment signature and one signature per HTLC output, in output order. */
export const CommitmentSigned = defineMessage({
  type: 132,
  name: "commitment_signed",
  tag: "CommitmentSigned",
  fields: { channelId: Field.channelId, signature: Field.signature, htlcSignatures: Field.u16Array(Field.signature) },
  tlvs: CommitmentSignedTlvs
})
export type CommitmentSigned = MessageType<typeof CommitmentSigned>

/** `revoke_and_ack` (133): the previous commitment's secret and the next per-commitment point. */
export const RevokeAndAck = defineMessage({
  type: 133,
  name: "revoke_and_ack",
  tag: "RevokeAndAck",
  fields: { channelId: Field.channelId, perCommitmentSecret: Field.fixedBytes(32), nextPerCommitmentPoint: Field.point }
})
export type RevokeAndAck = MessageType<typeof RevokeAndAck>

/** `update_fee` (134): only the funder sends it. */
export const UpdateFee = defineMessage({
  type: 134,
  name: "update_fee",
  tag: "UpdateFee",
  fields: { channelId: Field.channelId, feeratePerKw: Field.u32 }
})
export type UpdateFee = MessageType<typeof UpdateFee>

// ---- reestablishment ------------------------------------------------------------------------------

/** `channel_reestablish_tlvs` (BOLT 2 "Message Retransmission"; the funding TLVs serve splicing / v2). */
export const ChannelReestablishTlvs = tlvStream("channel_reestablish_tlvs", {
  nextFunding: tlvField(1, Field.struct({ nextFundingTxid: txid, retransmitFlags: Field.u8 })),
  myCurrentFundingLocked: tlvField(5, Field.struct({ myCurrentFundingLockedTxid: txid, retransmitFlags: Field.u8 }))
})

/** `channel_reestablish` (136). */
export const ChannelReestablish = defineMessage({
  type: 136,
  name: "channel_reestablish",
  tag: "ChannelReestablish",
  fields: {
    channelId: Field.channelId,
    nextCommitmentNumber: Field.u64,
    nextRevocationNumber: Field.u64,
    yourLastPerCommitmentSecret: Field.fixedBytes(32),
    myCurrentPerCommitmentPoint: Field.point
  },
  tlvs: ChannelReestablishTlvs
})
export type ChannelReestablish = MessageType<typeof ChannelReestablish>

/** The BOLT 2 messages of v1 channels (establishment, quiescence, close, normal operation, reestablish). */
export const channelMessages = [
  OpenChannel,
  AcceptChannel,
  FundingCreated,
  FundingSigned,
  ChannelReady,
  Stfu,
  Shutdown,
  ClosingSigned,
  ClosingComplete,
  ClosingSig,
  UpdateAddHtlc,
  UpdateFulfillHtlc,
  UpdateFailHtlc,
  UpdateFailMalformedHtlc,
  CommitmentSigned,
  RevokeAndAck,
  UpdateFee,
  ChannelReestablish
] as const

export type ChannelMessage =
  | OpenChannel
  | AcceptChannel
  | FundingCreated
  | FundingSigned
  | ChannelReady
  | Stfu
  | Shutdown
  | ClosingSigned
  | ClosingComplete
  | ClosingSig
  | UpdateAddHtlc
  | UpdateFulfillHtlc
  | UpdateFailHtlc
  | UpdateFailMalformedHtlc
  | CommitmentSigned
  | RevokeAndAck
  | UpdateFee
  | ChannelReestablish

// ---- v2 establishment and interactive transaction construction (declared only) -----------------

/** `opening_tlvs` of `open_channel2`. */
export const OpeningTlvs = tlvStream("opening_tlvs", {
  upfrontShutdownScript: tlvField(0, Field.restBytes),
  channelType: tlvField(1, channelTypeBits),
  requireConfirmedInputs: tlvField(2, Field.empty)
})

/** `open_channel2` (64): BOLT 2 "Channel Establishment v2". */
export const OpenChannel2 = defineMessage({
  type: 64,
  name: "open_channel2",
  tag: "OpenChannel2",
  fields: {
    chainHash: Field.chainHash,
    temporaryChannelId: Field.channelId,
    fundingFeeratePerkw: Field.u32,
    commitmentFeeratePerkw: Field.u32,
    fundingSatoshis: satoshis,
    dustLimitSatoshis: satoshis,
    maxHtlcValueInFlightMsat: millisatoshis,
    htlcMinimumMsat: millisatoshis,
    toSelfDelay: Field.u16,
    maxAcceptedHtlcs: Field.u16,
    locktime: Field.u32,
    fundingPubkey: Field.point,
    revocationBasepoint: Field.point,
    paymentBasepoint: Field.point,
    delayedPaymentBasepoint: Field.point,
    htlcBasepoint: Field.point,
    firstPerCommitmentPoint: Field.point,
    secondPerCommitmentPoint: Field.point,
    channelFlags: Field.u8
  },
  tlvs: OpeningTlvs
})
export type OpenChannel2 = MessageType<typeof OpenChannel2>

/** `accept_tlvs` of `accept_channel2`. */
export const AcceptTlvs = tlvStream("accept_tlvs", {
  upfrontShutdownScript: tlvField(0, Field.restBytes),
  channelType: tlvField(1, channelTypeBits),
  requireConfirmedInputs: tlvField(2, Field.empty)
})

/** `accept_channel2` (65). */
export const AcceptChannel2 = defineMessage({
  type: 65,
  name: "accept_channel2",
  tag: "AcceptChannel2",
  fields: {
    temporaryChannelId: Field.channelId,
    fundingSatoshis: satoshis,
    dustLimitSatoshis: satoshis,
    maxHtlcValueInFlightMsat: millisatoshis,
    htlcMinimumMsat: millisatoshis,
    minimumDepth: Field.u32,
    toSelfDelay: Field.u16,
    maxAcceptedHtlcs: Field.u16,
    fundingPubkey: Field.point,
    revocationBasepoint: Field.point,
    paymentBasepoint: Field.point,
    delayedPaymentBasepoint: Field.point,
    htlcBasepoint: Field.point,
    firstPerCommitmentPoint: Field.point,
    secondPerCommitmentPoint: Field.point
  },
  tlvs: AcceptTlvs
})
export type AcceptChannel2 = MessageType<typeof AcceptChannel2>

/** `tx_add_input_tlvs`: the shared (previous funding) input of a splice. */
export const TxAddInputTlvs = tlvStream("tx_add_input_tlvs", {
  sharedInputTxid: tlvField(0, txid)
})

/** `tx_add_input` (66). */
export const TxAddInput = defineMessage({
  type: 66,
  name: "tx_add_input",
  tag: "TxAddInput",
  fields: {
    channelId: Field.channelId,
    serialId: Field.u64,
    prevtx: Field.u16Bytes,
    prevtxVout: Field.u32,
    sequence: Field.u32
  },
  tlvs: TxAddInputTlvs
})
export type TxAddInput = MessageType<typeof TxAddInput>

/** `tx_add_output` (67). */
export const TxAddOutput = defineMessage({
  type: 67,
  name: "tx_add_output",
  tag: "TxAddOutput",
  fields: { channelId: Field.channelId, serialId: Field.u64, sats: satoshis, script: Field.u16Bytes }
})
export type TxAddOutput = MessageType<typeof TxAddOutput>

/** `tx_remove_input` (68). */
export const TxRemoveInput = defineMessage({
  type: 68,
  name: "tx_remove_input",
  tag: "TxRemoveInput",
  fields: { channelId: Field.channelId, serialId: Field.u64 }
})
export type TxRemoveInput = MessageType<typeof TxRemoveInput>

/** `tx_remove_output` (69). */
export const TxRemoveOutput = defineMessage({
  type: 69,
  name: "tx_remove_output",
  tag: "TxRemoveOutput",
  fields: { channelId: Field.channelId, serialId: Field.u64 }
})
export type TxRemoveOutput = MessageType<typeof TxRemoveOutput>

/** `tx_complete` (70). */
export const TxComplete = defineMessage({
  type: 70,
  name: "tx_complete",
  tag: "TxComplete",
  fields: { channelId: Field.channelId }
})
export type TxComplete = MessageType<typeof TxComplete>

/** `tx_signatures_tlvs`: the signature for the shared input of a splice. */
export const TxSignaturesTlvs = tlvStream("tx_signatures_tlvs", {
  sharedInputSignature: tlvField(0, Field.signature)
})

/** `tx_signatures` (71): one serialized witness per input the sender contributed. */
export const TxSignatures = defineMessage({
  type: 71,
  name: "tx_signatures",
  tag: "TxSignatures",
  fields: { channelId: Field.channelId, txid, witnesses: Field.u16Array(witness) },
  tlvs: TxSignaturesTlvs
})
export type TxSignatures = MessageType<typeof TxSignatures>

/** `tx_init_rbf_tlvs`. */
export const TxInitRbfTlvs = tlvStream("tx_init_rbf_tlvs", {
  fundingOutputContribution: tlvField(0, Field.s64),
  requireConfirmedInputs: tlvField(2, Field.empty)
})

/** `tx_init_rbf` (72). */
export const TxInitRbf = defineMessage({
  type: 72,
  name: "tx_init_rbf",
  tag: "TxInitRbf",
  fields: { channelId: Field.channelId, locktime: Field.u32, feerate: Field.u32 },
  tlvs: TxInitRbfTlvs
})
export type TxInitRbf = MessageType<typeof TxInitRbf>

/** `tx_ack_rbf_tlvs`. */
export const TxAckRbfTlvs = tlvStream("tx_ack_rbf_tlvs", {
  fundingOutputContribution: tlvField(0, Field.s64),
  requireConfirmedInputs: tlvField(2, Field.empty)
})

/** `tx_ack_rbf` (73). */
export const TxAckRbf = defineMessage({
  type: 73,
  name: "tx_ack_rbf",
  tag: "TxAckRbf",
  fields: { channelId: Field.channelId },
  tlvs: TxAckRbfTlvs
})
export type TxAckRbf = MessageType<typeof TxAckRbf>

/** `tx_abort` (74). */
export const TxAbort = defineMessage({
  type: 74,
  name: "tx_abort",
  tag: "TxAbort",
  fields: { channelId: Field.channelId, data: Field.u16Bytes }
})
export type TxAbort = MessageType<typeof TxAbort>

/** v2 establishment and interactive transaction construction (no flow implements them yet). */
export const dualFundingMessages = [
  OpenChannel2,
  AcceptChannel2,
  TxAddInput,
  TxAddOutput,
  TxRemoveInput,
  TxRemoveOutput,
  TxComplete,
  TxSignatures,
  TxInitRbf,
  TxAckRbf,
  TxAbort
] as const

// ---- splicing (declared only) ----------------------------------------------------------------------

/** `splice_init_tlvs`. */
export const SpliceInitTlvs = tlvStream("splice_init_tlvs", {
  requireConfirmedInputs: tlvField(2, Field.empty)
})

/** `splice_init` (80): BOLT 2 "Channel Splicing". */
export const SpliceInit = defineMessage({
  type: 80,
  name: "splice_init",
  tag: "SpliceInit",
  fields: {
    channelId: Field.channelId,
    fundingContributionSatoshis: Field.s64,
    fundingFeeratePerkw: Field.u32,
    locktime: Field.u32,
    fundingPubkey: Field.point
  },
  tlvs: SpliceInitTlvs
})
export type SpliceInit = MessageType<typeof SpliceInit>

/** `splice_ack_tlvs`. */
export const SpliceAckTlvs = tlvStream("splice_ack_tlvs", {
  requireConfirmedInputs: tlvField(2, Field.empty)
})

/** `splice_ack` (81). */
export const SpliceAck = defineMessage({
  type: 81,
  name: "splice_ack",
  tag: "SpliceAck",
  fields: { channelId: Field.channelId, fundingContributionSatoshis: Field.s64, fundingPubkey: Field.point },
  tlvs: SpliceAckTlvs
})
export type SpliceAck = MessageType<typeof SpliceAck>

/** `splice_locked` (77). */
export const SpliceLocked = defineMessage({
  type: 77,
  name: "splice_locked",
  tag: "SpliceLocked",
  fields: { channelId: Field.channelId, spliceTxid: txid }
})
export type SpliceLocked = MessageType<typeof SpliceLocked>

/** `start_batch_tlvs`: the type of the batched messages (132, `commitment_signed`). */
export const StartBatchTlvs = tlvStream("start_batch_tlvs", {
  messageType: tlvField(1, Field.u16)
})

/** `start_batch` (127): BOLT 2 "Batching channel messages". */
export const StartBatch = defineMessage({
  type: 127,
  name: "start_batch",
  tag: "StartBatch",
  fields: { channelId: Field.channelId, batchSize: Field.u16 },
  tlvs: StartBatchTlvs
})
export type StartBatch = MessageType<typeof StartBatch>

/** Splicing (no flow implements them yet). */
export const spliceMessages = [SpliceInit, SpliceAck, SpliceLocked, StartBatch] as const

/** Every BOLT 2 message of the current spec. */
export const bolt2Messages = [...channelMessages, ...dualFundingMessages, ...spliceMessages] as const
