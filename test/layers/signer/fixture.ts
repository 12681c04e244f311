/**
 * A two-party channel for signer tests: Alice (funder) and Bob, each with an in-process seed
 * signer, their parameters registered, a funding output, and helpers to run the signers'
 * Effects synchronously and to state a commitment from either side's point of view.
 */
import { Effect, Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { toHex } from "../../../src/protocol/bytes.ts"
import type { ChannelType } from "../../../src/protocol/channel-type.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import type { ChannelBasepoints } from "../../../src/protocol/keys/commitment-keys.ts"
import { txidFromBytes, type OutPoint } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import type { CommitmentHtlc } from "../../../src/protocol/tx/commitment.ts"
import { fundingOutput } from "../../../src/protocol/tx/funding.ts"
import { msat, sat, type Msat, type Sat } from "../../../src/protocol/units.ts"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import {
  channelKeyId,
  type ChannelKeyId,
  type ChannelParameters,
  type ChannelSignerShape,
  type CommitmentState
} from "../../../src/services/ChannelSigner.ts"

/** Runs a synchronous Effect; a failure becomes `Result.fail` (a defect still throws). */
export const attempt = <A, E>(effect: Effect.Effect<A, E>): Result.Result<A, E> => Effect.runSync(Effect.result(effect))

/** Runs a synchronous Effect that must succeed. */
export const must = <A, E>(effect: Effect.Effect<A, E>): A => {
  const r = attempt(effect)
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${JSON.stringify(r.failure)}`)
  return r.success
}

/** The tag of the failure of an Effect expected to fail ("success" if it did not). */
export const failureTag = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>): string => {
  const r = attempt(effect)
  return Result.isFailure(r) ? r.failure._tag : "success"
}

export interface Party {
  readonly name: "alice" | "bob"
  readonly seed: Uint8Array
  readonly keyId: ChannelKeyId
  readonly signer: ChannelSignerShape
  readonly basepoints: ChannelBasepoints
  readonly params: ChannelParameters
}

export interface Channel {
  readonly type: ChannelType
  readonly alice: Party
  readonly bob: Party
  readonly fundingOutpoint: OutPoint
  readonly fundingAmount: Sat
  /** The funding output as the interpreter sees it (P2WSH of the 2-of-2). */
  readonly fundingPrevout: { readonly script: Uint8Array; readonly value: bigint }
}

const bytes32 = (label: string): Uint8Array => sha256(new TextEncoder().encode(label))

export interface ChannelOptions {
  readonly fundingAmount?: bigint
  /** to_self_delay Bob imposes on Alice's outputs and Alice on Bob's. */
  readonly aliceDelay?: number
  readonly bobDelay?: number
  readonly dustLimit?: bigint
  readonly label?: string
}

export const openChannel = (type: ChannelType, secp: Secp256k1, options: ChannelOptions = {}): Channel => {
  const label = options.label ?? "fixture"
  const fundingAmount = sat(options.fundingAmount ?? 10_000_000n)
  const dust = sat(options.dustLimit ?? 546n)
  const aliceDelay = options.aliceDelay ?? 144
  const bobDelay = options.bobDelay ?? 720
  const mk = (name: "alice" | "bob") => {
    const seed = bytes32(`${label}/${name}/seed`)
    const keyId = channelKeyId(bytes32(`${label}/${name}/key-id`))
    if (keyId === undefined) throw new Error("unreachable")
    const signer = makeSeedChannelSigner(seed, secp)
    return { name, seed, keyId, signer, basepoints: must(signer.channelPublicKeys(keyId)) }
  }
  const a = mk("alice")
  const b = mk("bob")
  const funding = fundingOutput(fundingAmount, a.basepoints.fundingPubkey, b.basepoints.fundingPubkey)
  const fundingOutpoint: OutPoint = { txid: txidFromBytes(bytes32(`${label}/funding-txid`)), vout: 1 }
  const common = { channelType: type, fundingOutpoint, fundingAmount, holderDustLimit: dust, counterpartyDustLimit: dust }
  const alice: Party = {
    ...a,
    params: { ...common, holderIsFunder: true, counterpartyBasepoints: b.basepoints, holderSelfDelay: aliceDelay, counterpartySelfDelay: bobDelay }
  }
  const bob: Party = {
    ...b,
    params: { ...common, holderIsFunder: false, counterpartyBasepoints: a.basepoints, holderSelfDelay: bobDelay, counterpartySelfDelay: aliceDelay }
  }
  must(alice.signer.readyChannel(alice.keyId, alice.params))
  must(bob.signer.readyChannel(bob.keyId, bob.params))
  return { type, alice, bob, fundingOutpoint, fundingAmount, fundingPrevout: { script: funding.scriptPubKey, value: funding.value } }
}

/** An HTLC in channel terms: who offered it, independent of whose commitment we look at. */
export interface ChannelHtlc {
  readonly offeredBy: "alice" | "bob"
  readonly amount: Msat
  readonly preimage: Uint8Array
  readonly cltvExpiry: number
}

export const htlc = (offeredBy: "alice" | "bob", amountSat: bigint, cltvExpiry: number, label: string): ChannelHtlc => ({
  offeredBy,
  amount: msat(amountSat * 1000n),
  preimage: bytes32(`preimage/${label}`),
  cltvExpiry
})

export const paymentHash = (h: ChannelHtlc): Uint8Array => sha256(h.preimage)

/** The channel's balances outside HTLCs, in msat. */
export interface Balances {
  readonly alice: Msat
  readonly bob: Msat
}

/** The commitment `n` of `owner`, stated from the owner's point of view. */
export const stateFor = (
  owner: "alice" | "bob",
  commitmentNumber: bigint,
  feeratePerKw: number,
  balances: Balances,
  htlcs: ReadonlyArray<ChannelHtlc>
): CommitmentState => ({
  commitmentNumber,
  feeratePerKw,
  toLocal: owner === "alice" ? balances.alice : balances.bob,
  toRemote: owner === "alice" ? balances.bob : balances.alice,
  htlcs: htlcs.map(
    (h): CommitmentHtlc => ({
      direction: h.offeredBy === owner ? "offered" : "received",
      amount: h.amount,
      paymentHash: paymentHash(h),
      cltvExpiry: h.cltvExpiry
    })
  )
})

export const partyOf = (channel: Channel, name: "alice" | "bob"): Party => (name === "alice" ? channel.alice : channel.bob)
export const otherOf = (channel: Channel, name: "alice" | "bob"): Party => (name === "alice" ? channel.bob : channel.alice)

/**
 * One commitment exchange: `owner`'s counterparty signs `owner`'s commitment `n` (at the
 * owner's per-commitment point) and the owner validates the signatures.
 */
export const exchangeCommitment = (channel: Channel, owner: "alice" | "bob", state: CommitmentState): void => {
  const me = partyOf(channel, owner)
  const them = otherOf(channel, owner)
  const point = must(me.signer.perCommitmentPoint(me.keyId, state.commitmentNumber))
  const sigs = must(them.signer.signCounterpartyCommitment(them.keyId, state, point))
  must(me.signer.validateHolderCommitment(me.keyId, state, sigs.signature, sigs.htlcSignatures))
}

/** Hex of a byte array, for "contains no secret" checks. */
export const hex = toHex
