/**
 * A hand-written JSON encoding of `ChannelState`, for the persistence path: the same JSON value
 * as `Schema.encodeSync(ChannelStateSchema)` gives (same keys, same order, same strings; keys
 * holding `undefined` left out, as JSON has none), without the Schema interpreter, which costs
 * more than the rest of a commitment round trip's bookkeeping when the whole state is encoded
 * on every `Persist`.
 *
 * The phases and parts on the hot path (`Normal`, its `Commitments`, the update messages, the
 * `Commit`/`Revoke` signer requests) are written out here; anything else (the other phases, a
 * message with TLV records, the rarer `awaiting` kinds) is delegated to its Schema, so the
 * output is the Schema's in every case. The property tests (test/protocol/channel/state-json.test.ts)
 * check that equality on generated states; decoding stays the Schema's (`decodeChannelState`).
 *
 * Nothing is validated here: the input is a `ChannelState` the reducer made (its Schema checks
 * hold by construction), and the output decodes with the Schema.
 */
import { Schema } from "effect"
import { hexOfHeld, toHex } from "../bytes.ts"
import { formatShortChannelId, type ShortChannelId } from "../codec/fields.ts"
import { secretStoreHex } from "../keys/shachain.ts"
import { toJsonValue } from "./json-value.ts"
import { type Commitments, type CommitmentSpec, type LocalCommit, type RemoteCommit, type RemoteNextCommitInfo, type UpdateMessage, UpdateMessageSchema } from "./commitments.ts"
import type { CommitmentStateSchema, SignerRequest } from "./io.ts"
import { type ChannelParams, type PartyParams } from "./params.ts"
import { AwaitingSchema, type Awaiting, ChannelStateSchema, type ChannelState, type Normal, type ReceivedHtlc } from "./state.ts"

type Json = Schema.Json
type JsonObject = { [key: string]: Json }

const schemaState = Schema.encodeSync(ChannelStateSchema)
const schemaAwaiting = Schema.encodeSync(AwaitingSchema)
const schemaUpdate = Schema.encodeSync(UpdateMessageSchema)

export { toJsonValue }

/**
 * Memos of encoded parts, by object: a state is immutable and each step copies only what it
 * changes, so consecutive states share most of their parts (the params, the commitments between
 * two signatures, each update message as long as it sits in the logs); each part is encoded
 * once. The encodings are frozen (deeply): records share them, and nothing may change them.
 * Weak: an entry lives as long as its part does.
 */
const deepFreeze = <J extends Json>(j: J): J => {
  // (`Object.isFrozen` is true for a primitive and for null, so the last test alone keeps them
  // out: `true` for either of the two first tests or their conjunction, or `||` before the last,
  // is equivalent. Not freezing, or `true` for the whole test, is not.)
  if (typeof j === "object" && j !== null && !Object.isFrozen(j)) {
    // (`false` here is equivalent: `for ... in` reaches an array's elements too; `true` is not.)
    if (Array.isArray(j)) for (const x of j) deepFreeze(x)
    else for (const k in j) deepFreeze((j as JsonObject)[k] ?? null)
    Object.freeze(j)
  }
  return j
}
const memoized = <K extends object, J extends Json>(encode: (k: K) => J): ((k: K) => J) => {
  const memo = new WeakMap<K, J>()
  return (k) => {
    const held = memo.get(k)
    if (held !== undefined) return held
    const j = deepFreeze(encode(k))
    memo.set(k, j)
    return j
  }
}

const u64 = (n: bigint): string => n.toString()
const hexList = (xs: ReadonlyArray<Uint8Array>): Array<Json> => {
  // Stryker disable next-line ArrayDeclaration: equivalent, the length only preallocates (every index is set below).
  const out: Array<Json> = new Array(xs.length)
  for (let i = 0; i < xs.length; i++) out[i] = toHex(xs[i] as Uint8Array)
  return out
}

// ---- params ----------------------------------------------------------------------------------------

const party = (p: PartyParams): JsonObject => {
  const b = p.basepoints
  const o: JsonObject = {
    dustLimit: u64(p.dustLimit),
    maxHtlcValueInFlight: u64(p.maxHtlcValueInFlight),
    channelReserve: u64(p.channelReserve),
    htlcMinimum: u64(p.htlcMinimum),
    toSelfDelay: p.toSelfDelay,
    maxAcceptedHtlcs: p.maxAcceptedHtlcs,
    basepoints: {
      fundingPubkey: toHex(b.fundingPubkey),
      revocationBasepoint: toHex(b.revocationBasepoint),
      paymentBasepoint: toHex(b.paymentBasepoint),
      delayedPaymentBasepoint: toHex(b.delayedPaymentBasepoint),
      htlcBasepoint: toHex(b.htlcBasepoint)
    }
  }
  if (p.upfrontShutdownScript !== undefined) o["upfrontShutdownScript"] = toHex(p.upfrontShutdownScript)
  return o
}

/** `ChannelParamsSchema`'s encoding (frozen, memoized by params object). */
export const encodeChannelParamsJson = memoized((p: ChannelParams): JsonObject => ({
  chainHash: toHex(p.chainHash),
  channelId: toHex(p.channelId),
  channelType: p.channelType,
  scidAlias: p.scidAlias,
  zeroConf: p.zeroConf,
  localIsFunder: p.localIsFunder,
  fundingAmount: u64(p.fundingAmount),
  fundingOutpoint: { txid: toHex(p.fundingOutpoint.txid), vout: p.fundingOutpoint.vout },
  keyId: toHex(p.keyId),
  announce: p.announce,
  local: party(p.local),
  remote: party(p.remote)
}))

// ---- commitments -----------------------------------------------------------------------------------

const spec = (s: CommitmentSpec): JsonObject => {
  // Stryker disable next-line ArrayDeclaration: equivalent, the length only preallocates (every index is set below).
  const htlcs: Array<Json> = new Array(s.htlcs.length)
  for (let i = 0; i < s.htlcs.length; i++) {
    const h = s.htlcs[i] as CommitmentSpec["htlcs"][number]
    htlcs[i] = { direction: h.direction, id: u64(h.id), amount: u64(h.amount), paymentHash: toHex(h.paymentHash), cltvExpiry: h.cltvExpiry }
  }
  return { feeratePerKw: s.feeratePerKw, toLocal: u64(s.toLocal), toRemote: u64(s.toRemote), htlcs }
}

const localCommit = memoized((c: LocalCommit): JsonObject => ({
  number: u64(c.number),
  spec: spec(c.spec),
  perCommitmentPoint: toHex(c.perCommitmentPoint),
  txid: toHex(c.txid),
  remoteSignature: toHex(c.remoteSignature),
  remoteHtlcSignatures: hexList(c.remoteHtlcSignatures)
}))

const remoteCommit = memoized((c: RemoteCommit): JsonObject => ({ number: u64(c.number), spec: spec(c.spec), perCommitmentPoint: toHex(c.perCommitmentPoint) }))

const remoteNextCommitInfo = memoized((i: RemoteNextCommitInfo): JsonObject => {
  switch (i._tag) {
    case "NextPoint":
      return { _tag: "NextPoint", perCommitmentPoint: toHex(i.perCommitmentPoint) }
    case "Signing":
      return { _tag: "Signing", next: remoteCommit(i.next) }
    case "WaitingForRevocation":
      return { _tag: "WaitingForRevocation", next: remoteCommit(i.next), signature: toHex(i.signature), htlcSignatures: hexList(i.htlcSignatures) }
  }
})

/** Whether a message's TLV stream is empty (no known record set, no unknown one): then it encodes as `{}`. */
// Stryker disable next-line BlockStatement: equivalent, an empty body answers undefined: every message goes through its Schema, same JSON.
const noTlvs = (tlvs: object): boolean => {
  // (A key holding undefined: `true` for the test sends the message through its Schema, which
  // gives the same JSON: that mutant is equivalent; `false` is not.)
  for (const k in tlvs) if ((tlvs as Record<string, unknown>)[k] !== undefined) return false
  // Stryker disable next-line BooleanLiteral: equivalent, `false` sends every message through its Schema: same JSON.
  return true
}

/** `UpdateMessageSchema`'s encoding (the message's own Schema, tagged; frozen, memoized by message). */
export const encodeUpdateMessageJson = memoized((m: UpdateMessage): Json => {
  // (`true` for this test is equivalent: the Schema gives the same JSON; `false` is not.)
  if (!noTlvs(m.tlvs)) return toJsonValue(schemaUpdate(m))
  switch (m._tag) {
    case "UpdateAddHtlc":
      return {
        _tag: "UpdateAddHtlc",
        channelId: toHex(m.channelId),
        id: u64(m.id),
        amountMsat: u64(m.amountMsat),
        paymentHash: toHex(m.paymentHash),
        cltvExpiry: m.cltvExpiry,
        onionRoutingPacket: onionToHex(m.onionRoutingPacket),
        tlvs: {}
      }
    case "UpdateFulfillHtlc":
      return { _tag: "UpdateFulfillHtlc", channelId: toHex(m.channelId), id: u64(m.id), paymentPreimage: toHex(m.paymentPreimage), tlvs: {} }
    case "UpdateFailHtlc":
      return { _tag: "UpdateFailHtlc", channelId: toHex(m.channelId), id: u64(m.id), reason: toHex(m.reason), tlvs: {} }
    case "UpdateFailMalformedHtlc":
      return {
        _tag: "UpdateFailMalformedHtlc",
        channelId: toHex(m.channelId),
        id: u64(m.id),
        sha256OfOnion: toHex(m.sha256OfOnion),
        failureCode: m.failureCode,
        tlvs: {}
      }
    case "UpdateFee":
      return { _tag: "UpdateFee", channelId: toHex(m.channelId), feeratePerKw: m.feeratePerKw, tlvs: {} }
  }
})

/**
 * The hex of each onion packet, by array: an add stays in the update logs (and in every record
 * persisted meanwhile) for a few commitment rounds, its 1,366-byte onion unchanged (states are
 * immutable), so it is turned into hex once. Weak: an entry lives as long as its add does.
 */
const onionHex = new WeakMap<Uint8Array, string>()
const onionToHex = (onion: Uint8Array): string => {
  const held = onionHex.get(onion)
  // (`false` for the test above is equivalent, as is leaving out the `set`: the memo only saves work.)
  if (held !== undefined) return held
  const hex = toHex(onion)
  // Stryker disable next-line CallExpression: equivalent, the memo only saves work.
  onionHex.set(onion, hex)
  return hex
}

const updates = (ms: ReadonlyArray<UpdateMessage>): Array<Json> => {
  // Stryker disable next-line ArrayDeclaration: equivalent, the length only preallocates (every index is set below).
  const out: Array<Json> = new Array(ms.length)
  for (let i = 0; i < ms.length; i++) out[i] = encodeUpdateMessageJson(ms[i] as UpdateMessage)
  return out
}


/** An owed revocation stays between a `commitment_signed` received and our `revoke_and_ack` (frozen, memoized by object). */
const owedRevocation = memoized((o: NonNullable<Commitments["owedRevocation"]>): JsonObject => ({
  commitmentNumber: u64(o.commitmentNumber),
  perCommitmentPoint: toHex(o.perCommitmentPoint)
}))

/** `CommitmentsSchema`'s encoding. */
export const encodeCommitmentsJson = (c: Commitments): JsonObject => ({
  params: encodeChannelParamsJson(c.params),
  localCommit: localCommit(c.localCommit),
  remoteCommit: remoteCommit(c.remoteCommit),
  remoteNextCommitInfo: remoteNextCommitInfo(c.remoteNextCommitInfo),
  localNextPerCommitmentPoint: hexOfHeld(c.localNextPerCommitmentPoint),
  owedRevocation: c.owedRevocation === null ? null : owedRevocation(c.owedRevocation),
  localChanges: { proposed: updates(c.localChanges.proposed), signed: updates(c.localChanges.signed), acked: updates(c.localChanges.acked) },
  remoteChanges: { proposed: updates(c.remoteChanges.proposed), acked: updates(c.remoteChanges.acked), signed: updates(c.remoteChanges.signed) },
  localNextHtlcId: u64(c.localNextHtlcId),
  remoteNextHtlcId: u64(c.remoteNextHtlcId),
  remotePerCommitmentSecrets: secretStoreHex(c.remotePerCommitmentSecrets)
})

// ---- signer requests (awaiting) ---------------------------------------------------------------------

const commitmentState = (c: typeof CommitmentStateSchema.Type): JsonObject => {
  // Stryker disable next-line ArrayDeclaration: equivalent, the length only preallocates (every index is set below).
  const htlcs: Array<Json> = new Array(c.htlcs.length)
  for (let i = 0; i < c.htlcs.length; i++) {
    const h = c.htlcs[i] as (typeof c.htlcs)[number]
    htlcs[i] = { direction: h.direction, amount: u64(h.amount), paymentHash: toHex(h.paymentHash), cltvExpiry: h.cltvExpiry }
  }
  return { commitmentNumber: u64(c.commitmentNumber), feeratePerKw: c.feeratePerKw, toLocal: u64(c.toLocal), toRemote: u64(c.toRemote), htlcs }
}

/** `SignerRequestSchema`'s encoding (frozen, memoized by request). */
export const encodeSignerRequestJson = memoized((r: SignerRequest): JsonObject => {
  switch (r._tag) {
    case "SignCounterpartyCommitment": {
      const o: JsonObject = { _tag: r._tag, commitment: commitmentState(r.commitment), theirPerCommitmentPoint: toHex(r.theirPerCommitmentPoint) }
      if (r.channel !== undefined) o["channel"] = encodeChannelParamsJson(r.channel)
      return o
    }
    case "ValidateAndRevoke": {
      const o: JsonObject = {
        _tag: r._tag,
        holderCommitment: commitmentState(r.holderCommitment),
        signature: toHex(r.signature),
        htlcSignatures: hexList(r.htlcSignatures)
      }
      if (r.revokeCommitmentNumber !== undefined) o["revokeCommitmentNumber"] = u64(r.revokeCommitmentNumber)
      o["nextCommitmentNumber"] = u64(r.nextCommitmentNumber)
      return o
    }
    case "ReleaseRevoked":
      return { _tag: r._tag, revokeCommitmentNumber: u64(r.revokeCommitmentNumber), nextCommitmentNumber: u64(r.nextCommitmentNumber) }
    case "PerCommitmentPoint":
      return { _tag: r._tag, commitmentNumber: u64(r.commitmentNumber) }
    case "SignClosing":
      return { _tag: r._tag, tx: toHex(r.tx) }
  }
})

const awaiting = (a: Awaiting): Json => {
  switch (a._tag) {
    // Stryker disable next-line StringLiteral,ConditionalExpression: equivalent, through the Schema (default) the JSON is the same.
    case "Commit":
    // Stryker disable next-line StringLiteral,ConditionalExpression: equivalent, as above.
    case "Revoke":
      return { _tag: a._tag, request: encodeSignerRequestJson(a.request) }
    default:
      return toJsonValue(schemaAwaiting(a))
  }
}

// ---- phases ----------------------------------------------------------------------------------------

/**
 * Short channel ids as text, by value: a channel's ids are in every record it writes. Bounded
 * (emptied past `SCID_TEXTS` ids): a node's channels are few against the records they write.
 */
const scidTexts = new Map<ShortChannelId, string>()
const SCID_TEXTS = 4096
const scid = (s: ShortChannelId): string => {
  const held = scidTexts.get(s)
  if (held !== undefined) return held
  const text = formatShortChannelId(s)
  if (scidTexts.size >= SCID_TEXTS) scidTexts.clear()
  scidTexts.set(s, text)
  return text
}

/** Memoized by HTLC (frozen): an HTLC stays in `receivedHtlcs` over many persisted states, its onion with it. */
const receivedHtlc = memoized((h: ReceivedHtlc): JsonObject => {
  const o: JsonObject = {
    htlcId: u64(h.htlcId),
    amount: u64(h.amount),
    paymentHash: toHex(h.paymentHash),
    cltvExpiry: h.cltvExpiry,
    onion: onionToHex(h.onion)
  }
  if (h.pathKey !== undefined) o["pathKey"] = toHex(h.pathKey)
  if (h.dustExposureExceeded !== undefined) o["dustExposureExceeded"] = h.dustExposureExceeded
  return o
})

const revealedSecret = memoized((r: Normal["revealedSecrets"][number]): JsonObject => ({ commitmentNumber: u64(r.commitmentNumber), secret: toHex(r.secret) }))

// The arrays and the shutdown state of `Normal` stay the same objects over most steps (a revocation
// or a fulfill makes new ones): encoded once per object (frozen, memoized by object).
const revealedSecrets = memoized((xs: Normal["revealedSecrets"]): Array<Json> => xs.map(revealedSecret))
const u64List = memoized((xs: ReadonlyArray<bigint>): Array<Json> => xs.map(u64))
const receivedHtlcs = memoized((xs: ReadonlyArray<ReceivedHtlc>): Array<Json> => xs.map((h) => receivedHtlc(h)))
const shutdownState = memoized((sh: Normal["shutdown"]): JsonObject => {
  const o: JsonObject = {}
  if (sh.localScript !== undefined) o["localScript"] = toHex(sh.localScript)
  if (sh.remoteScript !== undefined) o["remoteScript"] = toHex(sh.remoteScript)
  return o
})

const normal = (s: Normal): JsonObject => {
  const o: JsonObject = {
    _tag: "Normal",
    nextUpdateId: u64(s.nextUpdateId),
    connection: s.connection,
    commitments: encodeCommitmentsJson(s.commitments)
  }
  o["shutdown"] = shutdownState(s.shutdown)
  if (s.closingFeeratePerKw !== undefined) o["closingFeeratePerKw"] = s.closingFeeratePerKw
  if (s.pendingClose !== undefined) o["pendingClose"] = { scriptPubKey: toHex(s.pendingClose.scriptPubKey) }
  if (s.shortChannelId !== undefined) o["shortChannelId"] = scid(s.shortChannelId)
  if (s.localAlias !== undefined) o["localAlias"] = scid(s.localAlias)
  if (s.remoteAlias !== undefined) o["remoteAlias"] = scid(s.remoteAlias)
  if (s.commitSentAtLocalNumber !== undefined) o["commitSentAtLocalNumber"] = u64(s.commitSentAtLocalNumber)
  o["revealedSecrets"] = revealedSecrets(s.revealedSecrets)
  o["fulfilledByPeer"] = u64List(s.fulfilledByPeer)
  if (s.dustExposed !== undefined) o["dustExposed"] = u64List(s.dustExposed)
  if (s.receivedHtlcs !== undefined) o["receivedHtlcs"] = receivedHtlcs(s.receivedHtlcs)
  if (s.awaiting !== undefined) o["awaiting"] = awaiting(s.awaiting)
  return o
}

/**
 * `Schema.encodeSync(ChannelStateSchema)(state)` as a JSON value (no key holds `undefined`),
 * written out for `Normal`, through the Schema for the other phases.
 */
export const encodeChannelStateJson = (state: ChannelState): Json =>
  state._tag === "Normal" ? normal(state) : toJsonValue(schemaState(state))
