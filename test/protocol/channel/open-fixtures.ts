/**
 * Two in-process parties (funder A, fundee B) with real signers (`SeedChannelSigner`), and a
 * complete v1 open between them through the pure rules of `open.ts`, every message
 * round-tripped through its wire codec. Used by the open and close tests.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Result } from "effect"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import { defaultChannelPolicy, defaultLocalChannelConfig, type ChannelPolicy, type LocalChannelConfig } from "../../../src/protocol/channel/config.ts"
import {
  completeFundingCreated,
  completeFundingSigned,
  fundChannel,
  makeAcceptChannel,
  makeOpenChannel,
  receiveAcceptChannel,
  receiveFundingCreated,
  receiveFundingSigned,
  receiveOpenChannel,
  type FundedChannel,
  type FunderAwaitingAccept,
  type FundingNeeded,
  type NegotiatedChannel,
  type NegotiatedChannelType,
  type OpenContext,
  type SignCounterpartyCommitment,
  type FirstCommitments
} from "../../../src/protocol/channel/open.ts"
import type { ChainHash } from "../../../src/protocol/codec/fields.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import type { FeatureName } from "../../../src/protocol/features.ts"
import type { PublicKey } from "../../../src/protocol/keys/keys.ts"
import { AcceptChannel, FundingCreated, FundingSigned, OpenChannel } from "../../../src/protocol/messages/channel.ts"
import { ChainHashes } from "../../../src/protocol/messages/init.ts"
import { p2wpkhScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { makeInput, setWitness, txidFromBytes, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import type { ChannelSignerShape, ChannelKeyId, CompactSignature } from "../../../src/services/ChannelSigner.ts"
import { msat, sat, type ChannelId, type Msat, type Sat } from "../../../src/protocol/units.ts"

export const secp = nobleSecp256k1
export const chainHash: ChainHash = ChainHashes.regtest

const bytes32 = (tag: string): Uint8Array => sha256(new TextEncoder().encode(tag))

export const unwrap = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${JSON.stringify(r.failure)}`)
  return r.success
}

export const failureOf = <A, E>(r: Result.Result<A, E>): E => {
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}

export interface Party {
  readonly signer: ChannelSignerShape
  readonly keyId: ChannelKeyId
  readonly basepoints: Effect.Success<ReturnType<ChannelSignerShape["channelPublicKeys"]>>
  readonly point: (n: bigint) => PublicKey
}

export const makeParty = (name: string): Party => {
  const signer = makeSeedChannelSigner(bytes32(`seed/${name}`), secp)
  const keyId = bytes32(`key/${name}`) as ChannelKeyId
  return {
    signer,
    keyId,
    basepoints: Effect.runSync(signer.channelPublicKeys(keyId)),
    point: (n) => Effect.runSync(signer.perCommitmentPoint(keyId, n))
  }
}

/** Runs a signer request the way the actor would: `readyChannel`, then sign. */
export const signFor = (party: Party, req: SignCounterpartyCommitment): CompactSignature =>
  Effect.runSync(
    Effect.gen(function* () {
      yield* party.signer.readyChannel(party.keyId, req.channel)
      const sigs = yield* party.signer.signCounterpartyCommitment(party.keyId, req.commitment, req.counterpartyPerCommitmentPoint)
      return sigs.signature
    })
  )

export const features: ReadonlySet<FeatureName> = new Set<FeatureName>([
  "option_static_remotekey",
  "option_upfront_shutdown_script",
  "option_shutdown_anysegwit",
  "option_channel_type"
])

export const context = (over: Partial<OpenContext> = {}): OpenContext => ({
  chainHash,
  features,
  feerateEstimatePerKw: 2500,
  peerTrustedForZeroConf: false,
  ...over
})

export const temporaryChannelId = bytes32("temporary") as ChannelId
export const otherChannelId = bytes32("other") as ChannelId

export const staticType: NegotiatedChannelType = { name: "static_remote_key", scidAlias: false, zeroConf: false }
export const anchorsType: NegotiatedChannelType = { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false }

export interface OpenSetup {
  readonly a: Party
  readonly b: Party
  readonly config: LocalChannelConfig
  readonly policy: ChannelPolicy
  readonly open: OpenChannel
  readonly funderState: FunderAwaitingAccept
}

/** A's `open_channel` (round-tripped through the codec). */
export const makeOpen = (
  opts: { readonly fundingAmount?: Sat; readonly pushAmount?: Msat; readonly channelType?: NegotiatedChannelType; readonly announce?: boolean; readonly feeratePerKw?: number; readonly features?: ReadonlySet<FeatureName> } = {}
) => {
  const a = makeParty("alice")
  const b = makeParty("bob")
  const config = defaultLocalChannelConfig
  const made = unwrap(
    makeOpenChannel(config, opts.features ?? features, {
      chainHash,
      temporaryChannelId,
      keyId: a.keyId,
      fundingAmount: opts.fundingAmount ?? sat(1_000_000n),
      pushAmount: opts.pushAmount ?? msat(100_000_000n),
      feeratePerKw: opts.feeratePerKw ?? 2500,
      channelType: opts.channelType ?? staticType,
      announce: opts.announce ?? false,
      basepoints: a.basepoints,
      firstPerCommitmentPoint: a.point(0n)
    })
  )
  const open = unwrap(OpenChannel.decode(unwrap(OpenChannel.encode(made.message))))
  return { a, b, config, policy: defaultChannelPolicy, open, funderState: made.state }
}

/** Up to A having validated B's `accept_channel`. */
export const negotiate = (opts: Parameters<typeof makeOpen>[0] = {}, ctx: OpenContext = context({ peerTrustedForZeroConf: true })) => {
  const o = makeOpen(opts)
  const policy = { ...o.policy, acceptZeroConf: true }
  const validated = unwrap(receiveOpenChannel(secp, policy, ctx, o.open))
  const accepted = makeAcceptChannel(o.config, validated, { keyId: o.b.keyId, basepoints: o.b.basepoints, firstPerCommitmentPoint: o.b.point(0n) })
  const accept = unwrap(AcceptChannel.decode(unwrap(AcceptChannel.encode(accepted.message))))
  const funder = unwrap(receiveAcceptChannel(secp, policy, features, o.funderState, accept))
  return { ...o, policy, accept, fundeeState: accepted.state, funderNegotiated: funder.state, fundingNeeded: funder.fundingNeeded }
}

/** A funding transaction paying `needed` at output 1 (after a change output), with a segwit input. */
export const fundingTx = (needed: FundingNeeded, over: { readonly value?: Sat; readonly witness?: boolean } = {}): Transaction => {
  const input = makeInput({ txid: txidFromBytes(bytes32("wallet utxo")), vout: 3 }, 0xfffffffd)
  const tx: Transaction = {
    version: 2,
    inputs: [input],
    outputs: [
      { value: sat(50_000n), scriptPubKey: p2wpkhScript(makeParty("wallet").basepoints.paymentBasepoint) },
      { value: over.value ?? needed.amount, scriptPubKey: needed.scriptPubKey }
    ],
    locktime: 0
  }
  return (over.witness ?? true) ? setWitness(tx, 0, [new Uint8Array(72), new Uint8Array(33)]) : tx
}

export interface OpenedChannel {
  readonly a: Party
  readonly b: Party
  readonly funder: FundedChannel
  readonly fundee: FundedChannel
  readonly funderFirst: FirstCommitments
  readonly fundeeFirst: FirstCommitments
  readonly fundingTx: Transaction
  readonly negotiatedA: NegotiatedChannel
  readonly negotiatedB: NegotiatedChannel
}

/** The whole v1 open, every message through its codec, every signature real. */
export const openChannel = (opts: Parameters<typeof makeOpen>[0] = {}): OpenedChannel => {
  const n = negotiate(opts)
  const tx = fundingTx(n.fundingNeeded)
  const funded = unwrap(fundChannel(secp, n.funderNegotiated, temporaryChannelId, tx))
  const created = unwrap(FundingCreated.decode(unwrap(FundingCreated.encode(completeFundingCreated(funded.state, signFor(n.a, funded.signRequest))))))
  const received = unwrap(receiveFundingCreated(secp, n.fundeeState, created))
  Effect.runSync(n.b.signer.readyChannel(n.b.keyId, received.signRequest.channel))
  Effect.runSync(n.b.signer.validateHolderCommitment(n.b.keyId, received.first.localBalances, received.remoteSignature as CompactSignature, []))
  const signed = unwrap(FundingSigned.decode(unwrap(FundingSigned.encode(completeFundingSigned(received.state, signFor(n.b, received.signRequest))))))
  const done = unwrap(receiveFundingSigned(secp, funded.state, signed))
  Effect.runSync(n.a.signer.validateHolderCommitment(n.a.keyId, done.first.localBalances, done.remoteSignature as CompactSignature, []))
  return {
    a: n.a,
    b: n.b,
    funder: funded.state,
    fundee: received.state,
    funderFirst: done.first,
    fundeeFirst: received.first,
    fundingTx: tx,
    negotiatedA: n.funderNegotiated,
    negotiatedB: n.fundeeState
  }
}
