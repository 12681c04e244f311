/**
 * fast-check generators for channel states (two fixed key sets, random balances, HTLC sets,
 * feerates, dust limits, channel types and opener).
 */
import fc from "fast-check"
import { sha256 } from "@noble/hashes/sha2.js"
import { Redacted } from "effect"
import { anchorsZeroFeeHtlcTx, staticRemoteKey } from "../../../src/protocol/channel-type.ts"
import type { ChannelBasepoints } from "../../../src/protocol/keys/commitment-keys.ts"
import { unsafePublicKey, type PrivateKey } from "../../../src/protocol/keys/keys.ts"
import { txidFromBytes } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import type { CommitmentHtlc } from "../../../src/protocol/tx/commitment.ts"
import type { ChannelView } from "../../../src/protocol/tx/view.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import { secp } from "./fixtures.ts"

export interface PartySecrets {
  readonly funding: PrivateKey
  readonly revocation: PrivateKey
  readonly payment: PrivateKey
  readonly delayed: PrivateKey
  readonly htlc: PrivateKey
  readonly basepoints: ChannelBasepoints
  readonly perCommitmentSecret: Uint8Array
  readonly perCommitmentPoint: Uint8Array
}

const secretFrom = (tag: string): Uint8Array => sha256(new TextEncoder().encode(tag))
const pub = (s: Uint8Array) => {
  const p = secp.publicKey(s)
  if (p === undefined) throw new Error("bad secret")
  return unsafePublicKey(p)
}

export const party = (name: string): PartySecrets => {
  const s = (k: string) => secretFrom(`${name}/${k}`)
  const pcs = s("per-commitment")
  return {
    funding: Redacted.make(s("funding")),
    revocation: Redacted.make(s("revocation")),
    payment: Redacted.make(s("payment")),
    delayed: Redacted.make(s("delayed")),
    htlc: Redacted.make(s("htlc")),
    basepoints: {
      fundingPubkey: pub(s("funding")),
      revocationBasepoint: pub(s("revocation")),
      paymentBasepoint: pub(s("payment")),
      delayedPaymentBasepoint: pub(s("delayed")),
      htlcBasepoint: pub(s("htlc"))
    },
    perCommitmentSecret: pcs,
    perCommitmentPoint: pub(pcs)
  }
}

export const alice = party("alice")
export const bob = party("bob")

export interface TestHtlc extends CommitmentHtlc {
  readonly id: number
}

const hashes = [0, 1, 2].map((i) => sha256(Uint8Array.of(i)))

export const htlcArb: fc.Arbitrary<Omit<TestHtlc, "id">> = fc.record({
  direction: fc.constantFrom("offered" as const, "received" as const),
  amount: fc.oneof(fc.bigInt({ min: 1n, max: 5_000_000n }), fc.bigInt({ min: 1n, max: 2_000_000_000n })).map(msat),
  paymentHash: fc.constantFrom(...hashes),
  cltvExpiry: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 499_999_999 }))
})

export const viewArb = (maxHtlcs = 12): fc.Arbitrary<ChannelView<TestHtlc>> =>
  fc
    .record({
      anchors: fc.boolean(),
      extraFunding: fc.bigInt({ min: 0n, max: 100_000_000n }),
      share: fc.integer({ min: 0, max: 1_000_000 }),
      htlcs: fc.array(htlcArb, { maxLength: maxHtlcs }),
      feerate: fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 10_000_000 })),
      localDust: fc.integer({ min: 354, max: 5_000 }),
      remoteDust: fc.integer({ min: 354, max: 5_000 }),
      localDelay: fc.integer({ min: 0, max: 0xffff }),
      remoteDelay: fc.integer({ min: 0, max: 0xffff }),
      localIsOpener: fc.boolean(),
      subMsat: fc.integer({ min: 0, max: 999 })
    })
    .map((r) => {
      const htlcs = r.htlcs.map((h, id) => ({ ...h, id }))
      const inFlight = htlcs.reduce((a, h) => a + h.amount, 0n)
      const funding = r.extraFunding + (inFlight + 999n) / 1000n + 1n
      const rest = funding * 1000n - inFlight
      const toLocal = (rest * BigInt(r.share)) / 1_000_000n
      return {
        channelType: r.anchors ? anchorsZeroFeeHtlcTx : staticRemoteKey,
        fundingOutpoint: { txid: txidFromBytes(sha256(Uint8Array.of(42))), vout: 1 },
        fundingAmount: sat(funding),
        local: { basepoints: alice.basepoints, dustLimit: sat(BigInt(r.localDust)), toSelfDelay: r.localDelay },
        remote: { basepoints: bob.basepoints, dustLimit: sat(BigInt(r.remoteDust)), toSelfDelay: r.remoteDelay },
        localIsOpener: r.localIsOpener,
        toLocal: msat(toLocal),
        toRemote: msat(rest - toLocal),
        htlcs,
        feeratePerKw: r.feerate
      }
    })
