/**
 * A test adapter: a signer's answers at once (`ChannelSignerNow`) made from its effects, run
 * synchronously (an in-process signer's effects never suspend), counting the calls. What a signer
 * in this process declares (`declareChannelSignerNow`), for tests of the channel's path through it.
 */
import { Effect } from "effect"
import { type ChannelSignerNow, type ChannelSignerShape, declareChannelSignerNow } from "../../src/services/ChannelSigner.ts"

export const signerNowOf = (signer: ChannelSignerShape, calls: { n: number } = { n: 0 }): ChannelSignerNow => {
  const now = <A, E>(effect: Effect.Effect<A, E>) => {
    calls.n += 1
    return Effect.runSync(Effect.result(effect))
  }
  return {
    perCommitmentPoint: (keyId, n) => now(signer.perCommitmentPoint(keyId, n)),
    validateHolderCommitment: (keyId, state, signature, htlcSignatures) => now(signer.validateHolderCommitment(keyId, state, signature, htlcSignatures)),
    releaseCommitmentSecret: (keyId, n) => now(signer.releaseCommitmentSecret(keyId, n)),
    signCounterpartyCommitment: (keyId, state, point) => now(signer.signCounterpartyCommitment(keyId, state, point))
  }
}

/** `signer` as a new object declaring its answers at once (the methods are the same). */
export const withSignerNow = (signer: ChannelSignerShape, calls?: { n: number }): ChannelSignerShape =>
  declareChannelSignerNow({ ...signer }, signerNowOf(signer, calls))
