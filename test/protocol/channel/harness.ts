/**
 * A two-party channel driven in memory: Alice (funder) and Bob, each with its `Commitments`
 * and its own deterministic in-process signer (`makeSeedChannelSigner`, run synchronously).
 * Messages go into one FIFO queue per direction; a test delivers them one at a time (so it
 * chooses the interleaving), or `settle`s everything. Receiving `commitment_signed` answers
 * with `revoke_and_ack` at once (validate with the signer, release the secret, next point),
 * as the channel actor will.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Result, Schema } from "effect"
import {
  completeCommit,
  completeRevoke,
  CommitmentsSchema,
  makeCommitments,
  mirrorSpec,
  prepareCommit,
  receiveAdd,
  receiveCommit,
  receiveFail,
  receiveFailMalformed,
  receiveFee,
  receiveFulfill,
  receiveRevoke,
  sendAdd,
  sendFail,
  sendFee,
  sendFulfill,
  type Commitments,
  type CommitmentSpec,
  type FeerateBounds,
  type HtlcLimits,
  type RemoteCommit
} from "../../../src/protocol/channel/commitments.ts"
import type { CommitmentsError } from "../../../src/protocol/channel/errors.ts"
import { channelView, type ChannelParams, type PartyParams } from "../../../src/protocol/channel/params.ts"
import type { ChannelType } from "../../../src/protocol/channel-type.ts"
import { ChainHashSchema } from "../../../src/protocol/codec/fields.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import type { ChannelMessage } from "../../../src/protocol/messages/channel.ts"
import { txid as computeTxid, txidFromBytes, type OutPoint } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { buildCommitmentForSide } from "../../../src/protocol/tx/view.ts"
import { msat, sat, type ChannelId, type Msat } from "../../../src/protocol/units.ts"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import { channelKeyId, type ChannelKeyId, type ChannelSignerShape, type CommitmentState, type CompactSignature } from "../../../src/services/ChannelSigner.ts"

export const secp: Secp256k1 = wasmSecp256k1

export type Name = "alice" | "bob"
export const other = (n: Name): Name => (n === "alice" ? "bob" : "alice")

const bytes32 = (label: string): Uint8Array => sha256(new TextEncoder().encode(label))

/** Runs a synchronous signer Effect that must succeed. */
export const must = <A, E>(effect: Effect.Effect<A, E>): A => {
  const r = Effect.runSync(Effect.result(effect))
  if (Result.isFailure(r)) throw new Error(`signer failure: ${JSON.stringify(r.failure)}`)
  return r.success
}

/** The success of a Result that must succeed (the failure's tag in the thrown error). */
export const ok = <A, E extends { readonly _tag: string }>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`unexpected ${r.failure._tag}: ${JSON.stringify(r.failure)}`)
  return r.success
}

/** The error tag of a Result expected to fail ("success" if it did not). */
export const failureTag = <A>(r: Result.Result<A, CommitmentsError>): string => (Result.isFailure(r) ? r.failure._tag : "success")

/** JSON of the persisted form: equal JSON, equal state. */
export const snapshot = (c: Commitments): string => JSON.stringify(Schema.encodeSync(CommitmentsSchema)(c))

export const limits: HtlcLimits = { maxDustHtlcExposure: msat(50_000_000n) }
export const bounds: FeerateBounds = { estimatedFeeratePerKw: 2_500, minPercent: 10, maxPercent: 1_000 }

export interface ChannelOptions {
  readonly type: ChannelType
  readonly fundingSat?: bigint
  readonly pushMsat?: bigint
  readonly feeratePerKw?: number
  readonly reserveSat?: bigint
  readonly dustLimitSat?: bigint
  readonly maxAcceptedHtlcs?: number
  readonly maxHtlcValueInFlightMsat?: bigint
  readonly htlcMinimumMsat?: bigint
  readonly label?: string
}

export interface Node {
  readonly name: Name
  readonly keyId: ChannelKeyId
  readonly signer: ChannelSignerShape
  c: Commitments
}

/** The preimage a node uses for its HTLC `id` (so tests can fulfill it). */
export const preimageOf = (offerer: Name, id: bigint): Uint8Array => bytes32(`preimage/${offerer}/${id}`)
export const onion = new Uint8Array(1366)

const sumSpec = (s: CommitmentSpec): bigint => s.toLocal + s.toRemote + s.htlcs.reduce((a, h) => a + h.amount, 0n)

export class Pair {
  readonly nodes: Record<Name, Node>
  /** Messages in flight TO each node, in order. */
  readonly queues: Record<Name, Array<ChannelMessage>> = { alice: [], bob: [] }
  readonly fundingMsat: bigint
  /** Every delivered and sent message, for debugging. */
  readonly log: Array<string> = []

  readonly options: ChannelOptions

  constructor(options: ChannelOptions) {
    this.options = options
    const label = options.label ?? "harness"
    const fundingAmount = sat(options.fundingSat ?? 1_000_000n)
    this.fundingMsat = fundingAmount * 1000n
    const push = msat(options.pushMsat ?? 300_000_000n)
    const feeratePerKw = options.feeratePerKw ?? 2_500
    const mk = (name: Name) => {
      const keyId = channelKeyId(bytes32(`${label}/${name}/key-id`))
      if (keyId === undefined) throw new Error("unreachable")
      const signer = makeSeedChannelSigner(bytes32(`${label}/${name}/seed`), secp)
      return { name, keyId, signer, basepoints: must(signer.channelPublicKeys(keyId)) }
    }
    const a = mk("alice")
    const b = mk("bob")
    const fundingOutpoint: OutPoint = { txid: txidFromBytes(bytes32(`${label}/funding`)), vout: 0 }
    const party = (basepoints: typeof a.basepoints, toSelfDelay: number): PartyParams => ({
      dustLimit: sat(options.dustLimitSat ?? 546n),
      maxHtlcValueInFlight: msat(options.maxHtlcValueInFlightMsat ?? 900_000_000n),
      channelReserve: sat(options.reserveSat ?? 10_000n),
      htlcMinimum: msat(options.htlcMinimumMsat ?? 1_000n),
      toSelfDelay,
      maxAcceptedHtlcs: options.maxAcceptedHtlcs ?? 30,
      basepoints
    })
    const alicePart = party(a.basepoints, 144)
    const bobPart = party(b.basepoints, 720)
    const common = {
      chainHash: Schema.decodeUnknownSync(ChainHashSchema)("06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f"),
      channelId: bytes32(`${label}/channel-id`) as ChannelId,
      channelType: options.type.name,
      scidAlias: false,
      zeroConf: false,
      fundingAmount,
      fundingOutpoint,
      announce: false
    }
    const aliceParams: ChannelParams = { ...common, localIsFunder: true, keyId: a.keyId, local: alicePart, remote: bobPart }
    const bobParams: ChannelParams = { ...common, localIsFunder: false, keyId: b.keyId, local: bobPart, remote: alicePart }
    for (const [n, p] of [
      [a, aliceParams],
      [b, bobParams]
    ] as const)
      must(
        n.signer.readyChannel(n.keyId, {
          channelType: options.type,
          fundingOutpoint,
          fundingAmount,
          holderIsFunder: p.localIsFunder,
          counterpartyBasepoints: p.remote.basepoints,
          holderSelfDelay: p.remote.toSelfDelay,
          counterpartySelfDelay: p.local.toSelfDelay,
          holderDustLimit: p.local.dustLimit,
          counterpartyDustLimit: p.remote.dustLimit
        })
      )
    const aliceBalance = msat(this.fundingMsat - push)
    const spec = (owner: Name): CommitmentSpec => ({
      feeratePerKw,
      toLocal: owner === "alice" ? aliceBalance : push,
      toRemote: owner === "alice" ? push : aliceBalance,
      htlcs: []
    })
    // Commitment 0 of each side, signed by the other (funding_created / funding_signed).
    const initial = (me: typeof a, them: typeof a, params: ChannelParams): Commitments => {
      const point0 = must(me.signer.perCommitmentPoint(me.keyId, 0n))
      const theirPoint0 = must(them.signer.perCommitmentPoint(them.keyId, 0n))
      const state: CommitmentState = { commitmentNumber: 0n, ...spec(me.name), htlcs: [] }
      const sigs = must(them.signer.signCounterpartyCommitment(them.keyId, state, point0))
      must(me.signer.validateHolderCommitment(me.keyId, state, sigs.signature, sigs.htlcSignatures))
      const tx = ok(buildCommitmentForSide(secp, channelView(params, spec(me.name)), "local", 0n, point0))
      return makeCommitments({
        params,
        localCommit: {
          number: 0n,
          spec: spec(me.name),
          perCommitmentPoint: point0,
          txid: computeTxid(tx.tx),
          remoteSignature: sigs.signature,
          remoteHtlcSignatures: sigs.htlcSignatures
        },
        remoteCommit: { number: 0n, spec: spec(them.name), perCommitmentPoint: theirPoint0 },
        // channel_ready: each sends its point for commitment 1.
        localNextPerCommitmentPoint: must(me.signer.perCommitmentPoint(me.keyId, 1n)),
        remoteNextPerCommitmentPoint: must(them.signer.perCommitmentPoint(them.keyId, 1n))
      })
    }
    this.nodes = {
      alice: { name: "alice", keyId: a.keyId, signer: a.signer, c: initial(a, b, aliceParams) },
      bob: { name: "bob", keyId: b.keyId, signer: b.signer, c: initial(b, a, bobParams) }
    }
  }

  private send(from: Name, message: ChannelMessage): void {
    this.log.push(`${from} -> ${message._tag}`)
    this.queues[other(from)].push(message)
  }

  // ---- commands (a refused command returns its error tag and changes nothing) ----

  add(from: Name, amount: bigint, cltvExpiry = 800_000): string {
    const node = this.nodes[from]
    const id = node.c.localNextHtlcId
    const r = sendAdd(
      node.c,
      { amount: msat(amount), paymentHash: sha256(preimageOf(from, id)), cltvExpiry, onionRoutingPacket: onion },
      limits
    )
    if (Result.isFailure(r)) return r.failure._tag
    node.c = r.success.commitments
    this.send(from, r.success.message)
    return "ok"
  }

  fulfill(by: Name, id: bigint): string {
    const node = this.nodes[by]
    const r = sendFulfill(node.c, { id, paymentPreimage: preimageOf(other(by), id) })
    if (Result.isFailure(r)) return r.failure._tag
    node.c = r.success.commitments
    this.send(by, r.success.message)
    return "ok"
  }

  fail(by: Name, id: bigint): string {
    const node = this.nodes[by]
    const r = sendFail(node.c, { id, reason: new Uint8Array(32) })
    if (Result.isFailure(r)) return r.failure._tag
    node.c = r.success.commitments
    this.send(by, r.success.message)
    return "ok"
  }

  fee(feeratePerKw: number): string {
    const node = this.nodes.alice
    const r = sendFee(node.c, feeratePerKw, limits)
    if (Result.isFailure(r)) return r.failure._tag
    node.c = r.success.commitments
    this.send("alice", r.success.message)
    return "ok"
  }

  /** prepareCommit, the signer, completeCommit: sends `commitment_signed`. */
  sign(who: Name): string {
    const node = this.nodes[who]
    const prepared = prepareCommit(node.c)
    if (Result.isFailure(prepared)) return prepared.failure._tag
    const { commitment, theirPerCommitmentPoint } = prepared.success.request
    const sigs = must(node.signer.signCounterpartyCommitment(node.keyId, commitment, theirPerCommitmentPoint))
    const done = ok(completeCommit(prepared.success.commitments, sigs))
    node.c = done.commitments
    this.send(who, done.message)
    return "ok"
  }

  /** Delivers the next message queued for `to`; a valid peer's message must be accepted. */
  deliver(to: Name): boolean {
    const message = this.queues[to].shift()
    if (message === undefined) return false
    this.log.push(`${to} <- ${message._tag}`)
    const node = this.nodes[to]
    switch (message._tag) {
      case "UpdateAddHtlc":
        node.c = ok(receiveAdd(node.c, message, limits)).commitments
        break
      case "UpdateFulfillHtlc":
        node.c = ok(receiveFulfill(node.c, message)).commitments
        break
      case "UpdateFailHtlc":
        node.c = ok(receiveFail(node.c, message)).commitments
        break
      case "UpdateFailMalformedHtlc":
        node.c = ok(receiveFailMalformed(node.c, message)).commitments
        break
      case "UpdateFee":
        node.c = ok(receiveFee(node.c, message, bounds, limits)).commitments
        break
      case "CommitmentSigned": {
        const received = ok(receiveCommit(secp, node.c, message))
        const { holderCommitment, signature, htlcSignatures, revokeCommitmentNumber, nextCommitmentNumber } = received.request
        // The signer takes its own branded signature type; these 64 bytes came off the wire.
        const compact = (b: Uint8Array) => b as CompactSignature
        must(node.signer.validateHolderCommitment(node.keyId, holderCommitment, compact(signature), htlcSignatures.map(compact)))
        const secret = must(node.signer.releaseCommitmentSecret(node.keyId, revokeCommitmentNumber))
        const point = must(node.signer.perCommitmentPoint(node.keyId, nextCommitmentNumber))
        const revoked = ok(completeRevoke(secp, received.commitments, secret, point))
        node.c = revoked.commitments
        this.send(to, revoked.message)
        break
      }
      case "RevokeAndAck":
        node.c = ok(receiveRevoke(secp, node.c, message)).commitments
        break
      default:
        throw new Error(`unexpected ${message._tag}`)
    }
    return true
  }

  /** Delivers everything and signs until neither side has anything left to sign. */
  settle(): void {
    for (let round = 0; round < 100; round++) {
      let progress = false
      while (this.deliver("alice") || this.deliver("bob")) progress = true
      for (const n of ["alice", "bob"] as const) if (this.sign(n) === "ok") progress = true
      if (!progress) return
    }
    throw new Error("settle did not converge")
  }

  /** Full dance for pending updates of `who`: sign, deliver, answer... until quiet. */
  commitFrom(who: Name): void {
    this.sign(who)
    this.settle()
  }

  // ---- invariants ----

  /** The txid of `remote` (one of `owner`'s view of the counterparty's commitments). */
  remoteTxid(owner: Name, remote: RemoteCommit): Uint8Array {
    const c = this.nodes[owner].c
    const tx = ok(buildCommitmentForSide(secp, channelView(c.params, mirrorSpec(remote.spec)), "remote", remote.number, remote.perCommitmentPoint))
    return computeTxid(tx.tx)
  }

  /**
   * Both sides agree on both commitments: each side's current commitment is, number for number,
   * the same transaction (same txid) as the counterparty's record of it (current or next); and
   * every spec sums to the funding amount.
   */
  checkAgreement(): void {
    for (const me of ["alice", "bob"] as const) {
      const mine = this.nodes[me].c
      const theirs = this.nodes[other(me)].c
      const candidates: Array<RemoteCommit> = [theirs.remoteCommit]
      if (theirs.remoteNextCommitInfo._tag !== "NextPoint") candidates.push(theirs.remoteNextCommitInfo.next)
      const match = candidates.find((r) => r.number === mine.localCommit.number)
      if (match === undefined) throw new Error(`${other(me)} has no record of ${me}'s commitment ${mine.localCommit.number}`)
      if (sumSpec(match.spec) !== this.fundingMsat) throw new Error("remote spec not conserved")
      if (sumSpec(mine.localCommit.spec) !== this.fundingMsat) throw new Error("local spec not conserved")
      const a = Buffer.from(mine.localCommit.txid).toString("hex")
      const b = Buffer.from(this.remoteTxid(other(me), match)).toString("hex")
      if (a !== b) throw new Error(`${me} commitment ${mine.localCommit.number}: txid ${a} vs ${other(me)}'s ${b}`)
      for (const r of candidates) if (sumSpec(r.spec) !== this.fundingMsat) throw new Error("next remote spec not conserved")
    }
  }

  balance(who: Name): Msat {
    return this.nodes[who].c.localCommit.spec.toLocal
  }
}
