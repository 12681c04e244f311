/**
 * A hand-written JSON encoding of `SignerChannelState` (the signer's policy state, persisted with
 * each channel record): the same JSON value as `Schema.encodeSync(SignerChannelStateSchema)`
 * gives (same keys, same order, same strings), without the Schema interpreter, for the
 * persistence path that encodes it on every `Persist`. Decoding stays the Schema's. The tests
 * (test/layers/signer/SignerState.test.ts) check the equality.
 */
import type { Schema } from "effect"
import { toHex } from "../../protocol/bytes.ts"
import type { CommitmentState, SignerChannelState } from "../../services/ChannelSigner.ts"

type Json = Schema.Json
type JsonObject = { [key: string]: Json }

const hexList = (xs: ReadonlyArray<Uint8Array>): Array<Json> => {
  const out: Array<Json> = new Array(xs.length)
  for (let i = 0; i < xs.length; i++) out[i] = toHex(xs[i] as Uint8Array)
  return out
}

const commitmentState = (c: CommitmentState): JsonObject => {
  const htlcs: Array<Json> = new Array(c.htlcs.length)
  for (let i = 0; i < c.htlcs.length; i++) {
    const h = c.htlcs[i] as CommitmentState["htlcs"][number]
    htlcs[i] = { direction: h.direction, amount: h.amount.toString(), paymentHash: toHex(h.paymentHash), cltvExpiry: h.cltvExpiry }
  }
  return { commitmentNumber: c.commitmentNumber.toString(), feeratePerKw: c.feeratePerKw, toLocal: c.toLocal.toString(), toRemote: c.toRemote.toString(), htlcs }
}

type Parameters = NonNullable<SignerChannelState["parameters"]>
type Holder = SignerChannelState["holderCommitments"][number]

/**
 * Encodings of the parts consecutive exports share (the signer hands out the same frozen
 * parameters and held-commitment objects until they change), made once per object. Frozen:
 * records share them. Weak: an entry lives as long as its part does.
 */
const parametersMemo = new WeakMap<Parameters, JsonObject>()
const holderMemo = new WeakMap<Holder, JsonObject>()
const memo = <K extends object>(m: WeakMap<K, JsonObject>, k: K, encode: (k: K) => JsonObject): JsonObject => {
  const held = m.get(k)
  if (held !== undefined) return held
  const j = encode(k)
  m.set(k, j)
  return j
}

const parameters = (p: Parameters): JsonObject =>
  Object.freeze({
    channelType: p.channelType,
    fundingOutpoint: Object.freeze({ txid: toHex(p.fundingOutpoint.txid), vout: p.fundingOutpoint.vout }),
    fundingAmount: p.fundingAmount.toString(),
    holderIsFunder: p.holderIsFunder,
    counterpartyBasepoints: Object.freeze({
      fundingPubkey: toHex(p.counterpartyBasepoints.fundingPubkey),
      revocationBasepoint: toHex(p.counterpartyBasepoints.revocationBasepoint),
      paymentBasepoint: toHex(p.counterpartyBasepoints.paymentBasepoint),
      delayedPaymentBasepoint: toHex(p.counterpartyBasepoints.delayedPaymentBasepoint),
      htlcBasepoint: toHex(p.counterpartyBasepoints.htlcBasepoint)
    }),
    holderSelfDelay: p.holderSelfDelay,
    counterpartySelfDelay: p.counterpartySelfDelay,
    holderDustLimit: p.holderDustLimit.toString(),
    counterpartyDustLimit: p.counterpartyDustLimit.toString()
  })

const frozenState = (state: JsonObject): JsonObject => {
  const htlcs = state["htlcs"]
  if (Array.isArray(htlcs)) {
    for (const h of htlcs) if (typeof h === "object" && h !== null) Object.freeze(h)
    Object.freeze(htlcs)
  }
  return Object.freeze(state)
}

const holder = (h: Holder): JsonObject =>
  Object.freeze({
    state: frozenState(commitmentState(h.state)),
    counterpartySignature: toHex(h.counterpartySignature),
    counterpartyHtlcSignatures: Object.freeze(hexList(h.counterpartyHtlcSignatures))
  })

/** Encodings of whole exports: the signer hands out the same frozen export until its state changes. */
const stateMemo = new WeakMap<SignerChannelState, JsonObject>()

const state = (s: SignerChannelState): JsonObject => {
  const p = s.parameters
  const last = s.lastCounterpartySigned
  return Object.freeze({
    version: s.version,
    keyId: toHex(s.keyId),
    parameters: p === null ? null : memo(parametersMemo, p, parameters),
    revokedBelow: s.revokedBelow.toString(),
    highestValidated: s.highestValidated === null ? null : s.highestValidated.toString(),
    lastCounterpartySigned: last === null ? null : Object.freeze({ commitmentNumber: last.commitmentNumber.toString(), txid: toHex(last.txid) }),
    holderCommitments: Object.freeze(s.holderCommitments.map((h) => memo(holderMemo, h, holder)))
  })
}

/**
 * `Schema.encodeSync(SignerChannelStateSchema)(state)`, written out; made once per export object
 * (frozen: records share it).
 */
export const encodeSignerChannelStateJson = (s: SignerChannelState): JsonObject => memo(stateMemo, s, state)
