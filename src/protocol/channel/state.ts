/**
 * `ChannelState`: the state of one channel as the pure reducer (`step.ts`) sees it, a Schema
 * tagged union by phase (BOLT 2 "Channel Establishment v1", "Normal Operation", "Channel
 * Close"), each phase holding only what it needs. Plain immutable data: persisted with the
 * channel's monitor updates, traced and compared as JSON.
 *
 *     funder:  WaitAcceptChannel -> WaitFundingTx -> WaitFundingSigned ─┐
 *     fundee:  (acceptChannel)   -> WaitFundingCreated ─────────────────┤
 *                                                                       v
 *              WaitChannelReady -> Normal (shutdown: none / sent / received, HTLCs draining)
 *                 -> Negotiating (closing_signed, or closing_complete/closing_sig)
 *                 -> Closing (mutual close published) -> Closed
 *     any funded phase -> Failed (handed to the monitor: it broadcasts our commitment)
 *     Normal -> WaitRemoteClose (`option_data_loss_protect`: the peer proved we are behind;
 *               we must never broadcast our stale commitment, we wait for theirs)
 *
 * Every phase carries `nextUpdateId`, the id of the next `MonitorUpdate` this channel emits
 * (`Opened` is 0, then +1 per update), and every phase that survives a disconnection carries
 * `connection` (what `channel_reestablish` needs). A phase awaiting the signer carries
 * `awaiting`: what the pending `Sign` output is for (the actor feeds the answer back as the
 * very next input; after a restart it re-issues `awaiting.request`).
 */
import { Schema } from "effect"
import { ChannelIdSchema, type ShortChannelId, ShortChannelIdSchema, u64 } from "../codec/fields.ts"
import { ChannelMessageSchema, SignerRequestSchema } from "./io.ts"
import { LegacyNegotiationSchema, ShutdownStateSchema, SimpleCloseSchema } from "./close.ts"
import { CommitmentsSchema, LocalCommitSchema, RemoteCommitSchema } from "./commitments.ts"
import { FundedChannelSchema, FunderAwaitingAcceptSchema, NegotiatedChannelSchema } from "./open.ts"
import { type ChannelParams, ChannelParamsSchema, MsatSchema, PublicKeySchema, SatSchema } from "./params.ts"

const U64 = u64.schema
const hexOfLength = (n: number) => Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(n, n)))
const Bytes32 = hexOfLength(32)
const Signature = hexOfLength(64)

// ---- the connection ------------------------------------------------------------------------------

/**
 * BOLT 2 "Message Retransmission": `Disconnected` (nothing may be sent); `Reestablishing` (we
 * sent `channel_reestablish` and MUST wait for theirs before sending anything else);
 * `Connected`.
 */
export const ConnectionSchema = Schema.Literals(["Connected", "Disconnected", "Reestablishing"])
export type Connection = typeof ConnectionSchema.Type

// ---- what a pending signer request is for ---------------------------------------------------------

/** The `closing_signed` we are signing: our proposal/counter (`Propose`) or our agreement (`Agree`). */
const LegacySigningSchema = Schema.Union([
  Schema.TaggedStruct("Propose", { fee: SatSchema }),
  /** Agreeing on `fee`: their signed tx (serialized) and signature; `reply`: also send our `closing_signed`. */
  Schema.TaggedStruct("Agree", { fee: SatSchema, tx: Schema.Uint8ArrayFromHex, remoteSignature: Signature, reply: Schema.Boolean })
])

/**
 * What a `Sign` output is waiting for; the `Signed` input that follows is interpreted by it.
 * `request` is the request itself (re-issued by the actor after a restart).
 */
export const AwaitingSchema = Schema.Union([
  /** Funder: our signature on the fundee's first commitment, for `funding_created`. */
  Schema.TaggedStruct("FundingCreatedSignature", { request: SignerRequestSchema }),
  /** Funder: `funding_signed` verified; the signer validates our commitment 0 and gives point 1. */
  Schema.TaggedStruct("FunderValidate", { request: SignerRequestSchema, remoteSignature: Signature }),
  /** Fundee: our signature on the funder's first commitment, for `funding_signed`. */
  Schema.TaggedStruct("FundingSignedSignature", { request: SignerRequestSchema }),
  /** Fundee: the signer validates our commitment 0 (their signature) and gives point 1. */
  Schema.TaggedStruct("FundeeValidate", { request: SignerRequestSchema, localSignature: Signature }),
  /** Our next `commitment_signed` (E's `prepareCommit` done). */
  Schema.TaggedStruct("Commit", { request: SignerRequestSchema }),
  /** Our `revoke_and_ack` after a valid `commitment_signed` (E's `receiveCommit` done). */
  Schema.TaggedStruct("Revoke", { request: SignerRequestSchema }),
  /**
   * Reestablish: our last `revoke_and_ack` must be sent again (`ReleaseRevoked`); `before` are
   * messages to send before it, `after` the messages to send after it, in order.
   */
  Schema.TaggedStruct("RetransmitRevoke", {
    request: SignerRequestSchema,
    before: Schema.Array(ChannelMessageSchema),
    after: Schema.Array(ChannelMessageSchema)
  }),
  /**
   * Reestablish: the peer says we are behind (`next_revocation_number` ahead of ours); the
   * signer gives our point for `commitmentNumber` to check their `your_last_per_commitment_secret`.
   */
  Schema.TaggedStruct("DataLossCheck", { request: SignerRequestSchema, commitmentNumber: U64, secret: Bytes32 }),
  /** Legacy close: our `closing_signed`. */
  Schema.TaggedStruct("ClosingSigned", { request: SignerRequestSchema, signing: LegacySigningSchema }),
  /** Simple close: our signatures for our `closing_complete`, one per variant, in order. */
  Schema.TaggedStruct("ClosingComplete", {
    request: SignerRequestSchema,
    fee: SatSchema,
    locktime: Schema.Int,
    signatures: Schema.Array(Signature)
  }),
  /** Simple close: our signature on the peer's `closing_complete` (the variant it selects). */
  Schema.TaggedStruct("ClosingSig", { request: SignerRequestSchema, message: ChannelMessageSchema })
])
export type Awaiting = typeof AwaitingSchema.Type

// ---- phases ----------------------------------------------------------------------------------------

const common = {
  /** The `updateId` of the next `Persist` output (strictly increasing; `Opened` is 0). */
  nextUpdateId: U64
}

/** Funder: `open_channel` sent, awaiting `accept_channel`. */
export const WaitAcceptChannelSchema = Schema.TaggedStruct("WaitAcceptChannel", {
  ...common,
  open: FunderAwaitingAcceptSchema,
  /** Our `option_scid_alias` alias for this channel (given to `openChannel`). */
  localAlias: Schema.optional(ShortChannelIdSchema)
})

/** Funder: `accept_channel` valid, `FundingNeeded` emitted; awaiting `FundingTransaction`. */
export const WaitFundingTxSchema = Schema.TaggedStruct("WaitFundingTx", {
  ...common,
  negotiated: NegotiatedChannelSchema,
  localAlias: Schema.optional(ShortChannelIdSchema)
})

/** Funder: funding transaction checked; signing then sent `funding_created`; awaiting `funding_signed`. */
export const WaitFundingSignedSchema = Schema.TaggedStruct("WaitFundingSigned", {
  ...common,
  funded: FundedChannelSchema,
  localAlias: Schema.optional(ShortChannelIdSchema),
  awaiting: Schema.optional(AwaitingSchema)
})

/**
 * Fundee: `accept_channel` sent, awaiting `funding_created`; once received (`funded`,
 * `remoteSignature`), signing `funding_signed`.
 */
export const WaitFundingCreatedSchema = Schema.TaggedStruct("WaitFundingCreated", {
  ...common,
  negotiated: NegotiatedChannelSchema,
  localAlias: Schema.optional(ShortChannelIdSchema),
  received: Schema.optional(Schema.Struct({ funded: FundedChannelSchema, remoteSignature: Signature })),
  awaiting: Schema.optional(AwaitingSchema)
})

/** The peer's `channel_ready`, as received. */
export const RemoteReadySchema = Schema.Struct({
  secondPerCommitmentPoint: PublicKeySchema,
  alias: Schema.optional(ShortChannelIdSchema)
})

/**
 * Funding signed both ways and stored (the monitor has `Opened`): waiting for `minimum_depth`
 * (our `channel_ready`) and for theirs. Holds both first commitments and our point 1.
 */
export const WaitChannelReadySchema = Schema.TaggedStruct("WaitChannelReady", {
  ...common,
  connection: ConnectionSchema,
  params: ChannelParamsSchema,
  minimumDepth: Schema.Int,
  localCommit: LocalCommitSchema,
  remoteCommit: RemoteCommitSchema,
  /** Our per-commitment point for commitment 1 (`second_per_commitment_point`). */
  localSecondPoint: PublicKeySchema,
  /** The funding transaction (funder), kept to rebroadcast. */
  fundingTx: Schema.optional(Schema.Uint8ArrayFromHex),
  depth: Schema.optional(Schema.Int),
  shortChannelId: Schema.optional(ShortChannelIdSchema),
  localAlias: Schema.optional(ShortChannelIdSchema),
  /** We sent `channel_ready` (retransmitted on reestablish while no commitment moved). */
  localReadySent: Schema.Boolean,
  remoteReady: Schema.optional(RemoteReadySchema),
  /** Fundee: the first chain height seen while the funding transaction was unconfirmed (BOLT 2 funding timeout). */
  unfundedSince: Schema.optional(Schema.Int)
})

/** The last secrets we revealed (public: the peer has them), to check `your_last_per_commitment_secret`. */
export const RevealedSecretSchema = Schema.Struct({ commitmentNumber: U64, secret: Bytes32 })

/** A received HTLC as `HtlcReceived` reported it (its fields, the onion included). */
export const ReceivedHtlcSchema = Schema.Struct({
  htlcId: U64,
  amount: MsatSchema,
  paymentHash: Bytes32,
  cltvExpiry: Schema.Int,
  onion: hexOfLength(1366),
  pathKey: Schema.optional(PublicKeySchema),
  dustExposureExceeded: Schema.optional(Schema.Boolean)
})
export type ReceivedHtlc = typeof ReceivedHtlcSchema.Type

/**
 * Normal operation (BOLT 2), including the shutdown phase: `shutdown` says which `shutdown`s
 * were sent and received (HTLCs drain: no new `update_add_htlc` after the sender's shutdown).
 */
export const NormalSchema = Schema.TaggedStruct("Normal", {
  ...common,
  connection: ConnectionSchema,
  commitments: CommitmentsSchema,
  shutdown: ShutdownStateSchema,
  /** Our feerate for the closing transaction (from `Close`, or the estimate when they initiated). */
  closingFeeratePerKw: Schema.optional(Schema.Int),
  /** A `Close` command waiting for our updates to be signed (BOLT 2: no `shutdown` with updates pending on the peer). */
  pendingClose: Schema.optional(Schema.Struct({ scriptPubKey: Schema.Uint8ArrayFromHex })),
  shortChannelId: Schema.optional(ShortChannelIdSchema),
  localAlias: Schema.optional(ShortChannelIdSchema),
  remoteAlias: Schema.optional(ShortChannelIdSchema),
  /**
   * `localCommit.number` when we sent the `commitment_signed` that awaits its revocation: if it
   * equals the current `localCommit.number`, our last `revoke_and_ack` went out before it
   * (retransmission keeps that order, BOLT 2).
   */
  commitSentAtLocalNumber: Schema.optional(U64),
  /** Up to the last two secrets we revealed (newest last). */
  revealedSecrets: Schema.Array(RevealedSecretSchema),
  /** Our HTLCs whose preimage the peer already gave (reported once, even if their fulfill is re-sent). */
  fulfilledByPeer: Schema.Array(U64),
  /** Their HTLCs whose acceptance exceeded our dust exposure limit (flagged in `HtlcReceived`). */
  dustExposed: Schema.optional(Schema.Array(U64)),
  /**
   * Their HTLCs reported in `HtlcReceived` and still in a commitment (removed once their removal
   * is irrevocably committed): what `pendingEvents` reports again after a restart, since the
   * add's onion is gone from the update logs once the add is irrevocably committed. (Added by helper L.)
   */
  receivedHtlcs: Schema.optional(Schema.Array(ReceivedHtlcSchema)),
  awaiting: Schema.optional(AwaitingSchema)
})

/** Closing negotiation: both `shutdown`s exchanged, no HTLC left, nothing pending. */
export const NegotiatingSchema = Schema.TaggedStruct("Negotiating", {
  ...common,
  connection: ConnectionSchema,
  commitments: CommitmentsSchema,
  shutdown: ShutdownStateSchema,
  closingFeeratePerKw: Schema.Int,
  mode: Schema.Union([
    Schema.TaggedStruct("Legacy", { negotiation: LegacyNegotiationSchema }),
    /** `option_simple_close`; `closingTxids`: the closing transactions completed and broadcast so far. */
    Schema.TaggedStruct("Simple", { close: SimpleCloseSchema, closingTxids: Schema.Array(Bytes32) })
  ]),
  revealedSecrets: Schema.Array(RevealedSecretSchema),
  /**
   * Our `option_scid_alias` alias, kept from Normal: `channel_ready` is retransmitted with it on
   * reestablish while no commitment moved (BOLT 2 MUST). Optional: records written before it was
   * kept here decode without it.
   */
  localAlias: Schema.optional(ShortChannelIdSchema),
  awaiting: Schema.optional(AwaitingSchema)
})

/** A mutual close was signed and broadcast; waiting for it to confirm (a `FundingSpent`). */
export const ClosingSchema = Schema.TaggedStruct("Closing", {
  ...common,
  connection: ConnectionSchema,
  channelId: ChannelIdSchema,
  params: ChannelParamsSchema,
  /** Txids (internal byte order) of the mutual closes broadcast. */
  closingTxids: Schema.Array(Bytes32),
  /** Our latest commitment's txid (a spend by it is our force close). */
  localCommitTxid: Bytes32,
  /** Simple close: more `closing_complete`/`closing_sig` may still come. */
  simple: Schema.optional(SimpleCloseSchema),
  /**
   * Sent again after `channel_reestablish`: our `shutdown` (BOLT 2 MUST) and, for a legacy
   * close, our `closing_signed` for the agreed fee (it has no acknowledgment).
   */
  retransmit: Schema.Array(ChannelMessageSchema),
  commitments: CommitmentsSchema,
  revealedSecrets: Schema.Array(RevealedSecretSchema),
  /** Our alias, as in `Negotiating` (for `channel_ready` retransmitted on reestablish). */
  localAlias: Schema.optional(ShortChannelIdSchema),
  awaiting: Schema.optional(AwaitingSchema)
})

/** Why a channel closed (`ChannelClosed.reason` of the event stream). */
export const ClosedReasonSchema = Schema.Union([
  Schema.TaggedStruct("Cooperative", { closingTxid: Bytes32 }),
  Schema.TaggedStruct("LocalForceClose", { reason: Schema.String }),
  Schema.TaggedStruct("RemoteForceClose", { txid: Bytes32 }),
  Schema.TaggedStruct("ProtocolError", { reason: Schema.String, sentByPeer: Schema.Boolean }),
  Schema.TaggedStruct("FundingAborted", { reason: Schema.String })
])
export type ClosedReason = typeof ClosedReasonSchema.Type

/** The channel is over (a close confirmed, or it never got funded). */
export const ClosedSchema = Schema.TaggedStruct("Closed", {
  ...common,
  channelId: ChannelIdSchema,
  reason: ClosedReasonSchema
})

/**
 * The channel failed after funding (BOLT 2 "fail the channel"): the monitor was told
 * `ForceClose` (it broadcasts our latest commitment). On reconnection the `error` is sent
 * again (BOLT 2 SHOULD) and every other message ignored.
 */
export const FailedSchema = Schema.TaggedStruct("Failed", {
  ...common,
  channelId: ChannelIdSchema,
  reason: ClosedReasonSchema,
  /** The `error` text sent (retransmitted on reconnection). */
  errorMessage: Schema.String,
  /** Our latest commitment's txid (a `FundingSpent` by it is our force close confirming). */
  localCommitTxid: Schema.optional(Bytes32)
})

/**
 * `option_data_loss_protect`: the peer proved (a correct `your_last_per_commitment_secret` for
 * a commitment we do not know) that our state is old. We MUST NOT broadcast our commitment; we
 * sent an `error` asking the peer to close and wait for its commitment on chain.
 */
export const WaitRemoteCloseSchema = Schema.TaggedStruct("WaitRemoteClose", {
  ...common,
  channelId: ChannelIdSchema,
  params: ChannelParamsSchema,
  errorMessage: Schema.String,
  /** Their `my_current_per_commitment_point` (what sweeping our output of their commitment needs). */
  remotePerCommitmentPoint: Schema.optional(PublicKeySchema)
})

export const ChannelStateSchema = Schema.Union([
  WaitAcceptChannelSchema,
  WaitFundingTxSchema,
  WaitFundingSignedSchema,
  WaitFundingCreatedSchema,
  WaitChannelReadySchema,
  NormalSchema,
  NegotiatingSchema,
  ClosingSchema,
  ClosedSchema,
  FailedSchema,
  WaitRemoteCloseSchema
])
export type ChannelState = typeof ChannelStateSchema.Type
export type ChannelPhase = ChannelState["_tag"]

export type WaitAcceptChannel = typeof WaitAcceptChannelSchema.Type
export type WaitFundingTx = typeof WaitFundingTxSchema.Type
export type WaitFundingSigned = typeof WaitFundingSignedSchema.Type
export type WaitFundingCreated = typeof WaitFundingCreatedSchema.Type
export type WaitChannelReady = typeof WaitChannelReadySchema.Type
export type Normal = typeof NormalSchema.Type
export type Negotiating = typeof NegotiatingSchema.Type

/**
 * A `Normal` with every field present, the optional ones holding `undefined` when absent, and
 * writable: what `makeNormal` returns, for the step to complete before handing it out. (The
 * Schema's `optional` admits `undefined`, and both JSON encoders leave such a key out: the
 * persisted bytes are those of the state without it.)
 */
export type NormalFields = { -readonly [K in keyof Normal]-?: Normal[K] }

/**
 * Every key of `Normal`, in the Schema's order, each `undefined`: the object every `Normal` is
 * copied from (`makeNormal`). Never handed out, never changed.
 */
const unsetNormal: { readonly [K in keyof NormalFields]: undefined } = {
  _tag: undefined,
  nextUpdateId: undefined,
  connection: undefined,
  commitments: undefined,
  shutdown: undefined,
  closingFeeratePerKw: undefined,
  pendingClose: undefined,
  shortChannelId: undefined,
  localAlias: undefined,
  remoteAlias: undefined,
  commitSentAtLocalNumber: undefined,
  revealedSecrets: undefined,
  fulfilledByPeer: undefined,
  dustExposed: undefined,
  receivedHtlcs: undefined,
  awaiting: undefined
}

/**
 * The one way the reducer makes a `Normal`, and copies one (`makeNormal(state)`): every field,
 * always in the Schema's order. V8 gives an object one hidden class per set and order of keys;
 * states that had their optional fields or not, added in the order each step happened to add
 * them, made 7 to 22 classes at the reducer's `Normal` sites (too many for V8 to specialize
 * them), and an object spread of a state was a generic copy. A field added to the Schema and not
 * here fails to compile (`NormalFields` requires every key).
 *
 * Written as a copy of `unsetNormal` whose every field is then set (a spread first, then the
 * fields: V8's object clone and a store per field), not as an object literal: V8 allocates a
 * literal's objects in the old generation once most of them survive a scavenge (allocation-site
 * pretenuring), which the states of a large simulation do (a state lives until its channel's
 * next step); dead states there would keep what they point to alive until a full collection. A
 * clone is always allocated young, as the spreads this replaced were.
 */
export const makeNormal = (s: Omit<Normal, "_tag">): NormalFields => ({
  ...unsetNormal,
  _tag: "Normal",
  nextUpdateId: s.nextUpdateId,
  connection: s.connection,
  commitments: s.commitments,
  shutdown: s.shutdown,
  closingFeeratePerKw: s.closingFeeratePerKw,
  pendingClose: s.pendingClose,
  shortChannelId: s.shortChannelId,
  localAlias: s.localAlias,
  remoteAlias: s.remoteAlias,
  commitSentAtLocalNumber: s.commitSentAtLocalNumber,
  revealedSecrets: s.revealedSecrets,
  fulfilledByPeer: s.fulfilledByPeer,
  dustExposed: s.dustExposed,
  receivedHtlcs: s.receivedHtlcs,
  awaiting: s.awaiting
})
export type Closing = typeof ClosingSchema.Type
export type Closed = typeof ClosedSchema.Type
export type Failed = typeof FailedSchema.Type
export type WaitRemoteClose = typeof WaitRemoteCloseSchema.Type

/** JSON of a state (for the store and traces), and back. */
export const encodeChannelState = Schema.encodeSync(ChannelStateSchema)
export const decodeChannelState = Schema.decodeUnknownSync(ChannelStateSchema)

/** The `ChannelParams` of a phase that has them (from the funding on, while the channel lives). */
export const paramsOf = (s: ChannelState): ChannelParams | undefined => {
  switch (s._tag) {
    case "WaitFundingSigned":
      return s.funded.params
    case "WaitFundingCreated":
      return s.received?.funded.params
    case "WaitChannelReady":
    case "Closing":
    case "WaitRemoteClose":
      return s.params
    case "Normal":
    case "Negotiating":
      return s.commitments.params
    default:
      return undefined
  }
}

/** The channel id a state is known by (the temporary one before funding). */
export const channelIdOf = (s: ChannelState): Uint8Array => {
  switch (s._tag) {
    case "WaitAcceptChannel":
      return s.open.temporaryChannelId
    case "WaitFundingTx":
      return s.negotiated.temporaryChannelId
    case "WaitFundingSigned":
      return s.funded.temporaryChannelId
    case "WaitFundingCreated":
      return s.received?.funded.params.channelId ?? s.negotiated.temporaryChannelId
    case "WaitChannelReady":
      return s.params.channelId
    case "Normal":
    case "Negotiating":
      return s.commitments.params.channelId
    case "Closing":
    case "Closed":
    case "Failed":
    case "WaitRemoteClose":
      return s.channelId
  }
}

/** The short channel ids a channel in Normal answers to: the real one, our alias, the peer's alias (BOLT 2 `option_scid_alias`). */
export const shortChannelIdsOf = (state: ChannelState): ReadonlyArray<ShortChannelId> => {
  if (state._tag !== "Normal") return []
  const out: Array<ShortChannelId> = []
  if (state.shortChannelId !== undefined) out.push(state.shortChannelId)
  if (state.localAlias !== undefined) out.push(state.localAlias)
  if (state.remoteAlias !== undefined) out.push(state.remoteAlias)
  return out
}
