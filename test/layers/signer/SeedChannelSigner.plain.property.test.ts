/**
 * The seed signer's fast paths against the plain forms they stand for: its memo of recent
 * commitment numbers (a few entries, oldest replaced first) gives the points and secrets BOLT 3
 * `generate_from_seed` gives, in any order of requests and beyond the memo's size; and its
 * signatures on the counterparty's commitment (the commitment through the shared memos, our HTLC
 * key as plain bytes) are those of the plain signing functions on the commitment built directly
 * with `deriveCommitmentKeys` and the `Redacted` key of `derivePrivateKeyAtBasepoint`.
 */
import { describe, expect, it } from "vitest"
import { Redacted, Result } from "effect"
import fc from "fast-check"
import { anchorsZeroFeeHtlcTx, staticRemoteKey } from "../../../src/protocol/channel-type.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { deriveCommitmentKeys } from "../../../src/protocol/keys/commitment-keys.ts"
import { derivePrivateKeyAtBasepoint } from "../../../src/protocol/keys/derivation.ts"
import { deriveSecret } from "../../../src/protocol/keys/seed.ts"
import { indexOfCommitment, perCommitmentSecret } from "../../../src/protocol/keys/shachain.ts"
import { buildCommitmentTransaction, commitmentNumberObscuringFactor } from "../../../src/protocol/tx/commitment.ts"
import { buildHtlcTransactions } from "../../../src/protocol/tx/htlc.ts"
import { signCommitment, signHtlcAsRemote } from "../../../src/protocol/tx/signing.ts"
import { msat } from "../../../src/protocol/units.ts"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import { secp256k1Backends } from "../crypto/backends.ts"
import { hex, htlc, must, openChannel, stateFor, type ChannelHtlc } from "./fixture.ts"

const secp: Secp256k1 = secp256k1Backends[secp256k1Backends.length - 1] ?? wasmSecp256k1

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${JSON.stringify(r.failure)}`)
  return r.success
}

describe("SeedChannelSigner fast paths against the plain forms", () => {
  it("points and released secrets are generate_from_seed's, whatever the order of requests", () => {
    const channel = openChannel(anchorsZeroFeeHtlcTx, secp, { label: "plain-points" })
    const { alice } = channel
    const commitmentSeed = deriveSecret(alice.seed, `channel/${hex(alice.keyId)}/commitment_seed`, secp)
    const plainSecret = (n: bigint) => perCommitmentSecret(commitmentSeed, indexOfCommitment(n))
    // Numbers from a small range (memo hits and replacements), asked as points in any order.
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 9n }), { minLength: 1, maxLength: 24 }), (ns) => {
        for (const n of ns) expect(hex(must(alice.signer.perCommitmentPoint(alice.keyId, n)))).toBe(hex(secp.publicKey(plainSecret(n)) ?? new Uint8Array()))
      }),
      { seed: 7, numRuns: 40 }
    )
    // Secrets: released only below a validated commitment; validate one high enough once.
    const state = stateFor("alice", 12n, 1000, { alice: msat(6_000_000_000n), bob: msat(4_000_000_000n) }, [])
    const point = must(alice.signer.perCommitmentPoint(alice.keyId, 12n))
    const sigs = must(channel.bob.signer.signCounterpartyCommitment(channel.bob.keyId, state, point))
    must(alice.signer.validateHolderCommitment(alice.keyId, state, sigs.signature, sigs.htlcSignatures))
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 11n }), { minLength: 1, maxLength: 24 }), (ns) => {
        for (const n of ns) {
          const released = must(alice.signer.releaseCommitmentSecret(alice.keyId, n))
          expect(hex(released)).toBe(hex(plainSecret(n)))
          // A copy: changing it changes nothing the signer gives next.
          released.fill(0)
          expect(hex(must(alice.signer.perCommitmentPoint(alice.keyId, n)))).toBe(hex(secp.publicKey(plainSecret(n)) ?? new Uint8Array()))
        }
      }),
      { seed: 8, numRuns: 40 }
    )
  })

  it("signs the counterparty's commitment and its HTLC transactions as the plain signing functions do", () => {
    const htlcPool: ReadonlyArray<ChannelHtlc> = [
      htlc("alice", 70_000n, 500, "p1"),
      htlc("bob", 100_000n, 600, "p2"),
      htlc("alice", 1_000n, 700, "p3"), // trimmed at higher feerates
      htlc("bob", 250_000n, 800, "p4")
    ]
    for (const type of [staticRemoteKey, anchorsZeroFeeHtlcTx]) {
      const channel = openChannel(type, secp, { label: `plain-sign-${type.name}` })
      const { alice, bob } = channel
      const htlcSecret = Redacted.make(deriveSecret(alice.seed, `channel/${hex(alice.keyId)}/htlc`, secp))
      const fundingSecret = Redacted.make(deriveSecret(alice.seed, `channel/${hex(alice.keyId)}/funding`, secp))
      let n = 0n
      fc.assert(
        fc.property(fc.subarray([...htlcPool]), fc.integer({ min: 253, max: 20_000 }), (htlcs, feerate) => {
          n += 1n
          // Bob's commitment n, signed by Alice at Bob's point.
          const point = must(bob.signer.perCommitmentPoint(bob.keyId, n))
          // The funding (10,000,000 sat) is the balances and the HTLCs, each side's offered ones out of its balance.
          const offered = (by: "alice" | "bob") => htlcs.filter((h) => h.offeredBy === by).reduce((sum, h) => sum + h.amount, 0n)
          const balances = { alice: msat(6_000_000_000n - offered("alice")), bob: msat(4_000_000_000n - offered("bob")) }
          const state = stateFor("bob", n, feerate, balances, htlcs)
          const signed = must(alice.signer.signCounterpartyCommitment(alice.keyId, state, point))
          const keys = ok(deriveCommitmentKeys(secp, bob.basepoints, alice.basepoints, point))
          const commitment = ok(
            buildCommitmentTransaction({
              channelType: type,
              fundingOutpoint: channel.fundingOutpoint,
              fundingAmount: channel.fundingAmount,
              localFundingPubkey: bob.basepoints.fundingPubkey,
              remoteFundingPubkey: alice.basepoints.fundingPubkey,
              commitmentNumber: n,
              obscuringFactor: commitmentNumberObscuringFactor(alice.basepoints.paymentBasepoint, bob.basepoints.paymentBasepoint),
              localIsFunder: false,
              toLocal: state.toLocal,
              toRemote: state.toRemote,
              htlcs: state.htlcs,
              feeratePerKw: feerate,
              dustLimit: alice.params.counterpartyDustLimit,
              toSelfDelay: alice.params.counterpartySelfDelay,
              keys
            })
          )
          expect(hex(signed.signature)).toBe(hex(signCommitment(secp, commitment, fundingSecret)))
          const htlcKey = ok(derivePrivateKeyAtBasepoint(secp, htlcSecret, alice.basepoints.htlcBasepoint, point))
          expect(signed.htlcSignatures.map(hex)).toEqual(buildHtlcTransactions(commitment).map((h) => hex(signHtlcAsRemote(secp, h, htlcKey))))
        }),
        { seed: 9, numRuns: 12 }
      )
    }
  })
})
