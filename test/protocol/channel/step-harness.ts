/**
 * Two channel reducers (`step`) driven against each other in memory. Each node has the
 * deterministic in-process signer (run synchronously), a monitor state fed by the `Persist`
 * outputs (`apply`), and an inbox of the peer's messages that the test delivers one at a time
 * or `settle`s. `Sign` outputs are answered by the signer as the very next input. At every
 * `Send`, the harness checks that the monitor is not behind what the message reveals or
 * commits (`checkMonitorCovers`).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Result, Schema } from "effect"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import { defaultChannelPolicy, defaultLocalChannelConfig } from "../../../src/protocol/channel/config.ts"
import type { ChannelEvent, ChannelInput, ChannelOutput, SignerRequest, SignerResult } from "../../../src/protocol/channel/io.ts"
import { signerChannelParameters, type NegotiatedChannelType } from "../../../src/protocol/channel/open.ts"
import { ChannelStateSchema, NormalSchema, paramsOf, type ChannelState } from "../../../src/protocol/channel/state.ts"
import { encodeChannelStateJson } from "../../../src/protocol/channel/state-json.ts"
import { acceptChannel, openChannel, step, type OpenChannelArgs, type StepContext, type StepError } from "../../../src/protocol/channel/step.ts"
import type { ShortChannelId } from "../../../src/protocol/codec/fields.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import type { FeatureName } from "../../../src/protocol/features.ts"
import type { ChannelMessage } from "../../../src/protocol/messages/channel.ts"
import { apply, open as openMonitor, type MonitorState, type MonitorUpdate } from "../../../src/protocol/monitor/index.ts"
import { p2wpkhScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { decodeTransaction, txid as computeTxid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { fundingOutput } from "../../../src/protocol/tx/funding.ts"
import { msat, sat, type ChannelId, type Msat } from "../../../src/protocol/units.ts"
import { channelKeyId, type ChannelKeyId, type ChannelSignerShape, type CompactSignature } from "../../../src/services/ChannelSigner.ts"
import { chainHash, fundingTx } from "./open-fixtures.ts"

export const secp: Secp256k1 = wasmSecp256k1
const bytes32 = (label: string): Uint8Array => sha256(new TextEncoder().encode(label))

const must = <A, E>(effect: Effect.Effect<A, E>): A => {
  const r = Effect.runSync(Effect.result(effect))
  if (Result.isFailure(r)) throw new Error(`signer failure: ${JSON.stringify(r.failure)}`)
  return r.success
}
const isCompact = (b: Uint8Array): b is CompactSignature => b.length === 64
const compact = (b: Uint8Array): CompactSignature => {
  if (!isCompact(b)) throw new Error("signature must be 64 bytes")
  return b
}

export const baseFeatures: ReadonlySet<FeatureName> = new Set<FeatureName>([
  "option_data_loss_protect",
  "option_static_remotekey",
  "option_upfront_shutdown_script",
  "option_shutdown_anysegwit",
  "option_channel_type",
  "option_anchors",
  "option_scid_alias",
  "option_zeroconf"
])

export const makeContext = (name: string, over: Partial<StepContext> = {}): StepContext => ({
  secp,
  config: defaultLocalChannelConfig,
  policy: { ...defaultChannelPolicy, acceptZeroConf: true },
  chainHash,
  features: baseFeatures,
  feerateEstimatePerKw: 2500,
  maxDustHtlcExposure: msat(50_000_000n),
  peerTrustedForZeroConf: true,
  shutdownScript: p2wpkhScript(bytes32(`${name}/payout`).slice(0, 20)),
  ...over
})

export class Node {
  state: ChannelState | undefined = undefined
  monitor: MonitorState | undefined = undefined
  readonly updates: Array<MonitorUpdate> = []
  readonly events: Array<ChannelEvent> = []
  readonly broadcasts: Array<{ readonly tx: Uint8Array; readonly label: string }> = []
  readonly errorsSent: Array<string> = []
  readonly warningsSent: Array<string> = []
  readonly rejected: Array<StepError> = []
  /** Messages from the peer, not yet delivered. */
  inbox: Array<ChannelMessage> = []
  readonly signer: ChannelSignerShape
  readonly keyId: ChannelKeyId
  ctx: StepContext
  readonly name: string
  constructor(name: string, seedLabel: string = name) {
    this.name = name
    this.signer = makeSeedChannelSigner(bytes32(`${seedLabel}/seed`), secp)
    const id = channelKeyId(bytes32(`${seedLabel}/key-id`))
    if (id === undefined) throw new Error("unreachable")
    this.keyId = id
    this.ctx = makeContext(name)
  }
  get basepoints() {
    return must(this.signer.channelPublicKeys(this.keyId))
  }
  point(n: bigint) {
    return must(this.signer.perCommitmentPoint(this.keyId, n))
  }
  eventsOf<T extends ChannelEvent["_tag"]>(tag: T): Array<Extract<ChannelEvent, { _tag: T }>> {
    return this.events.filter((e): e is Extract<ChannelEvent, { _tag: T }> => e._tag === tag)
  }
  get phase(): string {
    return this.state?._tag ?? "none"
  }
}

export interface OpenOptions {
  readonly channelType?: NegotiatedChannelType
  readonly fundingAmount?: bigint
  readonly pushMsat?: bigint
  readonly minimumDepth?: number
  readonly features?: ReadonlySet<FeatureName>
}

const defaultType: NegotiatedChannelType = { name: "static_remote_key", scidAlias: false, zeroConf: false }

/** `Normal`'s fields in the Schema's order: the one key order of every `Normal` the reducer makes. */
const normalKeys = Object.keys(NormalSchema.fields).join(",")

export class Pair {
  connected = true
  /** Every message sent, in order, per sender (what the tests inspect). */
  readonly log: Array<{ readonly from: string; readonly message: ChannelMessage }> = []
  readonly a: Node
  readonly b: Node
  constructor(a: Node, b: Node) {
    this.a = a
    this.b = b
  }
  other(n: Node): Node {
    return n === this.a ? this.b : this.a
  }

  /** Runs one input on `node`, performs its outputs (answering `Sign` at once). Returns the failure, if any. */
  input(node: Node, input: ChannelInput): StepError | undefined {
    const state = node.state
    if (state === undefined) throw new Error(`${node.name} has no channel`)
    const r = step(node.ctx, state, input)
    if (Result.isFailure(r)) {
      node.rejected.push(r.failure)
      return r.failure
    }
    // Every `Normal` the reducer makes has all its fields, in the Schema's order (`makeNormal`:
    // one hidden class). A state handed back unchanged is the decoded one below, not checked.
    const made = r.success.state
    if (made !== state && made._tag === "Normal" && Object.keys(made).join(",") !== normalKeys)
      throw new Error(`a Normal state not made by makeNormal: ${Object.keys(made).join(",")}`)
    // The state must round-trip through its Schema (it is persisted as JSON).
    const json = JSON.stringify(Schema.encodeSync(ChannelStateSchema)(r.success.state))
    // The hand-written encoding the persistence path uses must be the Schema's, to the byte.
    const fast = JSON.stringify(encodeChannelStateJson(r.success.state))
    if (fast !== json) throw new Error(`encodeChannelStateJson differs from the Schema encoding:\n${fast}\n${json}`)
    node.state = Schema.decodeUnknownSync(ChannelStateSchema)(JSON.parse(fast))
    this.perform(node, r.success.outputs)
    return undefined
  }

  perform(node: Node, outputs: ReadonlyArray<ChannelOutput>): void {
    let signed: SignerResult | undefined
    for (const o of outputs) {
      switch (o._tag) {
        case "Persist":
          this.persist(node, o.update)
          break
        case "Send":
          this.checkMonitorCovers(node, o.message)
          this.log.push({ from: node.name, message: o.message })
          if (this.connected) this.other(node).inbox.push(o.message)
          break
        case "SendError":
          node.errorsSent.push(o.message)
          break
        case "SendWarning":
          node.warningsSent.push(o.message)
          break
        case "Emit":
          node.events.push(o.event)
          break
        case "Broadcast":
          if (o.label === "funding" && node.monitor === undefined) throw new Error("funding broadcast before Opened was stored")
          node.broadcasts.push({ tx: o.tx, label: o.label })
          break
        case "Sign":
          if (signed !== undefined) throw new Error("two Sign outputs in one step")
          signed = this.answer(node, o.request)
          break
        case "WatchFunding":
        case "Rekey":
          break
      }
    }
    if (signed !== undefined) {
      const failure = this.input(node, { _tag: "Signed", result: signed })
      if (failure !== undefined) throw new Error(`${node.name}: Signed rejected: ${failure._tag} ${JSON.stringify(failure)}`)
    }
  }

  persist(node: Node, update: MonitorUpdate): void {
    const expected = BigInt(node.updates.length)
    if (update.updateId !== expected) throw new Error(`${node.name}: update id ${update.updateId}, expected ${expected}`)
    const r = update._tag === "Opened" ? openMonitor(update) : node.monitor === undefined ? undefined : apply(secp, node.monitor, update)
    if (r === undefined) throw new Error(`${node.name}: ${update._tag} before Opened`)
    if (Result.isFailure(r)) throw new Error(`${node.name}: monitor refused ${update._tag}: ${JSON.stringify(r.failure)}`)
    node.monitor = r.success
    node.updates.push(update)
  }

  /** The monitor must already hold what a message depends on (BOLT 2 ordering, channels.md). */
  checkMonitorCovers(node: Node, m: ChannelMessage): void {
    const mon = node.monitor
    const st = node.state
    switch (m._tag) {
      case "FundingSigned":
        if (mon === undefined) throw new Error("funding_signed before Opened")
        break
      case "CommitmentSigned": {
        if (mon === undefined || st === undefined || !("commitments" in st)) throw new Error("commitment_signed without monitor")
        const info = st.commitments.remoteNextCommitInfo
        const n = info._tag === "WaitingForRevocation" ? info.next.number : -1n
        if (mon.counterpartyNext?.commitmentNumber !== n && mon.counterpartyCurrent.commitmentNumber !== n)
          throw new Error(`commitment_signed ${n} sent before the monitor has it`)
        break
      }
      case "RevokeAndAck": {
        if (mon === undefined || st === undefined || !("commitments" in st)) throw new Error("revoke_and_ack without monitor")
        if (mon.holderCommitment.commitmentNumber !== st.commitments.localCommit.number)
          throw new Error(`revoke_and_ack sent while the monitor holds commitment ${mon.holderCommitment.commitmentNumber}`)
        break
      }
      case "UpdateFulfillHtlc": {
        if (mon === undefined || !mon.preimages.some((p) => equal(p.preimage, m.paymentPreimage))) throw new Error("fulfill sent before its preimage was stored")
        break
      }
      default:
        break
    }
  }

  answer(node: Node, request: SignerRequest): SignerResult {
    const s = node.signer
    const k = node.keyId
    switch (request._tag) {
      case "SignCounterpartyCommitment": {
        if (request.channel !== undefined) must(s.readyChannel(k, signerChannelParameters(request.channel)))
        const sigs = must(s.signCounterpartyCommitment(k, request.commitment, request.theirPerCommitmentPoint))
        return { _tag: "CounterpartySignatures", signature: sigs.signature, htlcSignatures: sigs.htlcSignatures }
      }
      case "ValidateAndRevoke": {
        must(s.validateHolderCommitment(k, request.holderCommitment, compact(request.signature), request.htlcSignatures.map(compact)))
        const secret = request.revokeCommitmentNumber === undefined ? undefined : must(s.releaseCommitmentSecret(k, request.revokeCommitmentNumber))
        const point = must(s.perCommitmentPoint(k, request.nextCommitmentNumber))
        return { _tag: "Revocation", ...(secret === undefined ? {} : { perCommitmentSecret: secret }), nextPerCommitmentPoint: point }
      }
      case "ReleaseRevoked":
        return {
          _tag: "Revocation",
          perCommitmentSecret: must(s.releaseCommitmentSecret(k, request.revokeCommitmentNumber)),
          nextPerCommitmentPoint: must(s.perCommitmentPoint(k, request.nextCommitmentNumber))
        }
      case "PerCommitmentPoint":
        return { _tag: "Point", commitmentNumber: request.commitmentNumber, point: must(s.perCommitmentPoint(k, request.commitmentNumber)) }
      case "SignClosing": {
        const tx = decodeTransaction(request.tx)
        if (Result.isFailure(tx)) throw new Error("closing tx does not parse")
        return { _tag: "ClosingSignature", signature: must(s.signClosing(k, tx.success)) }
      }
    }
  }

  /** Delivers the next message in `to`'s inbox; returns it. */
  deliver(to: Node): ChannelMessage | undefined {
    const m = to.inbox.shift()
    if (m === undefined) return undefined
    if (to.state === undefined && m._tag === "OpenChannel") {
      const r = acceptChannel(to.ctx, m, { keyId: to.keyId, basepoints: to.basepoints, firstPerCommitmentPoint: to.point(0n), localAlias: alias(to.name) })
      if (Result.isFailure(r)) throw new Error(`accept failed: ${JSON.stringify(r.failure)}`)
      to.state = r.success.state
      this.perform(to, r.success.outputs)
      return m
    }
    this.input(to, { _tag: "PeerMessage", message: m })
    return m
  }

  /** Delivers every message both ways (with `SignNow` after each), until quiet. */
  settle(max = 500): void {
    for (let i = 0; i < max; i++) {
      const node = this.a.inbox.length > 0 ? this.a : this.b.inbox.length > 0 ? this.b : undefined
      if (node === undefined) {
        // Quiet: let both sign what is pending; stop when nothing moves.
        this.signNow(this.a)
        this.signNow(this.b)
        if (this.a.inbox.length === 0 && this.b.inbox.length === 0) return
        continue
      }
      this.deliver(node)
      this.signNow(node)
    }
    throw new Error("did not settle")
  }

  signNow(node: Node): void {
    if (node.state !== undefined) this.input(node, { _tag: "SignNow" })
  }

  disconnect(): void {
    this.connected = false
    this.a.inbox = []
    this.b.inbox = []
    this.input(this.a, { _tag: "PeerDisconnected" })
    this.input(this.b, { _tag: "PeerDisconnected" })
  }

  reconnect(): void {
    this.connected = true
    this.input(this.a, { _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) })
    this.input(this.b, { _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) })
  }

  /** Full open: open_channel ... funding ... channel_ready (depth given to both). */
  open(options: OpenOptions = {}): void {
    this.openFunded(options)
    const type = options.channelType ?? defaultType
    if (!type.zeroConf) this.confirm(options.minimumDepth ?? defaultLocalChannelConfig.minimumDepth)
    this.settle()
  }

  /** open_channel ... funding_signed, funding stored; no depth yet. */
  openFunded(options: OpenOptions = {}): void {
    const a = this.a
    const type = options.channelType ?? defaultType
    if (options.features !== undefined) {
      a.ctx = { ...a.ctx, features: options.features }
      this.b.ctx = { ...this.b.ctx, features: options.features }
    }
    if (options.minimumDepth !== undefined) this.b.ctx = { ...this.b.ctx, config: { ...this.b.ctx.config, minimumDepth: options.minimumDepth } }
    const r = openChannel(
      a.ctx,
      openArgs(a, {
        fundingAmount: sat(options.fundingAmount ?? 1_000_000n),
        pushAmount: msat(options.pushMsat ?? 200_000_000n),
        channelType: type,
        localAlias: alias(a.name)
      })
    )
    if (Result.isFailure(r)) throw new Error(`open failed: ${JSON.stringify(r.failure)}`)
    a.state = r.success.state
    this.perform(a, r.success.outputs)
    this.deliver(this.b) // open_channel
    this.deliver(a) // accept_channel
    const needed = a.eventsOf("FundingNeeded")[0]
    if (needed === undefined) throw new Error("no FundingNeeded")
    const tx = fundingTx({ temporaryChannelId: needed.temporaryChannelId, scriptPubKey: needed.scriptPubKey, witnessScript: new Uint8Array(0), amount: needed.amount })
    this.fund(tx)
    this.deliver(this.b) // funding_created
    this.deliver(a) // funding_signed
  }

  fund(tx: Parameters<typeof serializeFunding>[0]): void {
    const failure = this.input(this.a, { _tag: "FundingTransaction", tx: serializeFunding(tx) })
    if (failure !== undefined) throw new Error(`funding refused: ${failure._tag}`)
  }

  confirm(depth: number): void {
    this.input(this.a, { _tag: "FundingDepth", depth })
    this.input(this.b, { _tag: "FundingDepth", depth })
  }

  /** `from` offers an HTLC of `amount` msat whose preimage is `preimageFor(label)`. */
  add(from: Node, amount: bigint, label: string): void {
    const failure = this.input(from, {
      _tag: "AddHtlc",
      requestId: label,
      amount: msat(amount),
      paymentHash: sha256(preimageFor(label)),
      cltvExpiry: 800_000,
      onion: new Uint8Array(1366)
    })
    if (failure !== undefined) throw new Error(`add refused: ${failure._tag}`)
  }
}

import { serializeTransaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
const serializeFunding = (tx: Parameters<typeof serializeTransaction>[0]): Uint8Array => serializeTransaction(tx)

export const preimageFor = (label: string): Uint8Array => bytes32(`preimage/${label}`)
/** The funder's `openChannel` arguments of `node`: 1,000,000 sat, nothing pushed, static_remote_key, 2,500 sat/kw, unannounced. */
export const openArgs = (node: Node, over: Partial<OpenChannelArgs> = {}): OpenChannelArgs => ({
  temporaryChannelId: temporaryId(node.name),
  keyId: node.keyId,
  fundingAmount: sat(1_000_000n),
  pushAmount: msat(0n),
  basepoints: node.basepoints,
  firstPerCommitmentPoint: node.point(0n),
  feeratePerKw: 2500,
  channelType: defaultType,
  announce: false,
  ...over
})

export const temporaryId = (name: string): ChannelId => {
  const b = bytes32(`temporary/${name}`)
  if (b.length !== 32) throw new Error("unreachable")
  return b as ChannelId
}
export const alias = (name: string): ShortChannelId => (BigInt(name.length) * 1_000_000n + 42n) as ShortChannelId
const equal = (x: Uint8Array, y: Uint8Array): boolean => x.length === y.length && x.every((v, i) => v === y[i])
export { equal as equalBytes }

/** Balances of `node`'s current commitment (msat): [ours, theirs]. */
export const balances = (node: Node): readonly [Msat, Msat] => {
  const s = node.state
  if (s === undefined || !("commitments" in s)) throw new Error(`${node.name} has no commitments (${node.phase})`)
  return [s.commitments.localCommit.spec.toLocal, s.commitments.localCommit.spec.toRemote]
}

export const txidOf = (tx: Uint8Array): Uint8Array => {
  const d = decodeTransaction(tx)
  if (Result.isFailure(d)) throw new Error("tx does not parse")
  return computeTxid(d.success)
}

export const newPair = (a = "alice", b = "bob"): Pair => new Pair(new Node(a), new Node(b))

/** Alice asks for a mutual close (2,500 sat/kw); messages flow until she negotiates the fee. */
export const negotiateClose = (p: Pair): void => {
  if (p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: 2500 }) !== undefined) throw new Error("Close refused")
  for (let i = 0; i < 40 && p.a.phase !== "Negotiating"; i++) {
    const node = p.a.inbox.length > 0 ? p.a : p.b
    if (node.inbox.length === 0) break
    p.deliver(node)
    p.signNow(node)
  }
}

/**
 * Bob restored from a backup taken before one more HTLC (`label`) settled: at the reconnection
 * he learns he is behind (option_data_loss_protect) and waits for Alice's close.
 */
export const restoreBobFromBackup = (p: Pair, label: string): void => {
  const backup = p.b.state
  const backupMonitor = p.b.monitor
  p.add(p.a, 1_000_000n, label)
  p.settle()
  p.disconnect()
  p.b.state = backup
  p.b.monitor = backupMonitor
  p.reconnect()
  p.settle()
}

/** The `WatchFunding` a restored channel in state `s` should ask for (its funding output, at `minimumDepth`). */
export const expectedFundingWatch = (s: ChannelState, minimumDepth: number) => {
  const params = paramsOf(s)
  if (params === undefined) throw new Error("no params")
  return {
    _tag: "WatchFunding",
    outpoint: params.fundingOutpoint,
    scriptPubKey: fundingOutput(params.fundingAmount, params.local.basepoints.fundingPubkey, params.remote.basepoints.fundingPubkey).scriptPubKey,
    minimumDepth
  }
}
