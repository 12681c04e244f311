/**
 * What a channel keeps does not grow with its commitments: the secrets we revealed (kept to
 * rebuild our last `revoke_and_ack` and to check `your_last_per_commitment_secret`, BOLT 2
 * `channel_reestablish`) stay at most two, and the signer's persisted policy state keeps an index
 * (`revokedBelow`), not the secrets (they derive from the seed).
 */
import { describe, expect, it } from "vitest"
import { Effect, Schema } from "effect"
import { SignerChannelStateSchema } from "../../../src/services/ChannelSigner.ts"
import { newPair, preimageFor } from "./step-harness.ts"

describe("bounded channel state", () => {
  it("40 payments: revealed secrets stay <= 2, the signer state's size stays the same, revokedBelow advances", () => {
    const p = newPair()
    p.open({})
    const signerJson = () => JSON.stringify(Schema.encodeSync(SignerChannelStateSchema)(Effect.runSync(p.b.signer.channelState(p.b.keyId))))
    const sizes: Array<number> = []
    for (let i = 0; i < 40; i++) {
      p.add(p.a, 1_000_000n, `pay${i}`)
      p.settle()
      expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: BigInt(i), preimage: preimageFor(`pay${i}`) })).toBeUndefined()
      p.settle()
      const s = p.b.state
      if (s?._tag !== "Normal") throw new Error(`unexpected ${p.b.phase}`)
      expect(s.revealedSecrets.length).toBeLessThanOrEqual(2)
      sizes.push(signerJson().length)
    }
    const state = Effect.runSync(p.b.signer.channelState(p.b.keyId))
    expect(state.revokedBelow).toBeGreaterThanOrEqual(80n)
    expect(state.holderCommitments.length).toBeLessThanOrEqual(2)
    // The same shape every time: only numbers change (a digit more at most).
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(8)
  })
})
