/**
 * Channel throughput (issue 7, "Performance"): HTLC round trips per second between two of our
 * nodes in one process, the share of time spent in secp256k1, and heap bytes per channel.
 *
 * What runs: two `Channel` actors (src/actors/Channel.ts), one per node, each over the pure
 * reducer `step` (src/protocol/channel/step.ts) with the real `SeedChannelSigner` and the
 * production secp256k1 (native, else WASM, else noble). They are wired directly: a `Send` of one
 * is encoded with the wire codec, decoded, and told to the other actor as a `PeerMessage` (no
 * socket, no Noise, no peer layer, no `ChannelManager` routing). The channel is opened by the
 * same reducers driven synchronously (not timed), then both states are handed to the actors.
 *
 * Persistence port (as the `ChannelManager` does it): each `Persist` encodes the channel record
 * (`encodeChannelRecord`: the state after the step, the peer, the key id, the signer's policy
 * state) and writes it with the monitor update in ONE atomic `Store.write` through helper D's
 * `StoreReplica` (the keys and encodings of the node's own persister; the `MonitorPersister`
 * grouping/retry layer above it is not used), on the in-memory store or on the files store
 * (fsync'ed, group commit, in a temp directory under os.tmpdir(), removed afterwards), then hands
 * the update to the channel's `Monitor` actor. The port answers `Completed` once the write is
 * durable, so a `Send` that follows a `Persist` waits for it.
 *
 * One round trip: A adds an HTLC (`update_add_htlc`, `commitment_signed`/`revoke_and_ack` both
 * ways), B fulfills it on `HtlcReceived` (`update_fulfill_htlc`, the same again).
 * - one at a time: the next add starts when A saw the fulfill AND both channels are quiet
 *   (nothing pending, nothing awaiting a revocation, no HTLC left);
 * - 50 in flight: A keeps 50 HTLCs outstanding, adding one per fulfill seen; the actors batch
 *   what is pending into one `commitment_signed`. Figure: HTLCs resolved per second.
 *
 * secp256k1 share: the `Secp256k1` given to the reducer, the signer and the monitors is wrapped in a
 * proxy that adds up the CPU time of the JavaScript thread spent inside its methods
 * (process.threadCpuUsage, so a machine shared with other work does not skew it); "rest" is the
 * remainder of that thread's CPU time. Throughput is printed per second of wall time and per
 * second of the JavaScript thread's CPU time (what one uncontended core would do, for the
 * in-memory runs). The rest is split further: the reducer (`step`), the signer, the record
 * encoding, the store write, the wire codec, and everything else (actors, Effect runtime,
 * monitors, GC, this driver), each in CPU microseconds per round trip / per HTLC with its calls.
 * For profiling: CHANNEL_BENCH_PROFILE=<path> writes a V8 CPU profile of each measured run,
 * CHANNEL_BENCH_ONLY=one-memory,window-files,... selects runs, CHANNEL_BENCH_MS sets their length,
 * CHANNEL_BENCH_HEAP_N the number of channels for the heap figures (0: skipped).
 *
 * Heap: after a forced GC (`--expose-gc` is set at run time through v8.setFlagsFromString),
 * N channels are made from copies of one channel's state (idle, then with 100 HTLCs committed):
 * each a `Channel` actor with its own state and a `Monitor` actor with its own monitor state;
 * heap used after GC minus before, divided by N. The signer's per-channel records are not
 * included (one signer key set is shared by the copies).
 *
 * Run: `npm run bench -- channel` (or `node bench/run.ts channel`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { getHeapStatistics, setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { NodeFileSystem } from "@effect/platform-node"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Queue, Result, Schema, Scope } from "effect"
import { nodeIdFromHex } from "../src/api/convert.ts"
import { type ChannelHandle, type ChannelPorts, makeChannel, performSignerRequest } from "../src/actors/Channel.ts"
import { encodeChannelRecord } from "../src/actors/ChannelManager.ts"
import { makeMonitor, type MonitorHandle } from "../src/actors/Monitor.ts"
import { SessionId } from "../src/actors/PeerEvent.ts"
import { loadSecp256k1Best } from "../src/layers/crypto/secp256k1-best.ts"
import { makeSeedChannelSigner } from "../src/layers/signer/SeedChannelSigner.ts"
import type { MonitorReplica } from "../src/layers/persister/replica.ts"
import { makeStoreReplica } from "../src/layers/persister/StoreReplica.ts"
import { makeFileStore } from "../src/layers/store/FileStore.ts"
import { makeMemoryStore } from "../src/layers/store/MemoryStore.ts"
import { nodeStoreDisk } from "../src/layers/store/StoreDisk.ts"
import { toHex } from "../src/protocol/bytes.ts"
import { hasChangesToSign } from "../src/protocol/channel/commitments.ts"
import { defaultChannelPolicy, defaultLocalChannelConfig } from "../src/protocol/channel/config.ts"
import type { ChannelEvent, ChannelInput, ChannelOutput, SignerRequest } from "../src/protocol/channel/io.ts"
import { type NegotiatedChannelType, signerChannelParameters } from "../src/protocol/channel/open.ts"
import { type ChannelState, ChannelStateSchema, channelIdOf } from "../src/protocol/channel/state.ts"
import { acceptChannel, openChannel, step, type StepContext } from "../src/protocol/channel/step.ts"
import { ChannelIdSchema, type ShortChannelId, shortChannelIdFromParts } from "../src/protocol/codec/fields.ts"
import type { Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import type { FeatureName } from "../src/protocol/features.ts"
import type { ChannelMessage } from "../src/protocol/messages/channel.ts"
import { LightningMessages } from "../src/protocol/messages/index.ts"
import { ChainHashes } from "../src/protocol/messages/init.ts"
import { replay } from "../src/protocol/monitor/apply.ts"
import { type MonitorState, MonitorStateSchema } from "../src/protocol/monitor/state.ts"
import type { MonitorUpdate } from "../src/protocol/monitor/update.ts"
import { p2wpkhScript } from "../src/protocol/tx/bitcoin/script.ts"
import { makeInput, serializeTransaction, setWitness, type Transaction, txidFromBytes } from "../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, sat } from "../src/protocol/units.ts"
import { channelKeyId, type ChannelKeyId, type ChannelSignerShape } from "../src/services/ChannelSigner.ts"
import type { StoreShape } from "../src/services/Store.ts"

// ---- settings ------------------------------------------------------------------------------------

const MEASURE_MS = Number(process.env["CHANNEL_BENCH_MS"] ?? 3_000)
const WARMUP_MS = Number(process.env["CHANNEL_BENCH_WARMUP_MS"] ?? 1_500)
/** For profiling: write a V8 CPU profile of the measured runs only (no start-up, no warm-up) to this file. */
const PROFILE = process.env["CHANNEL_BENCH_PROFILE"]
/** For profiling: run only these scenarios (comma-separated: one-memory, one-files, window-memory, window-files). */
const ONLY = process.env["CHANNEL_BENCH_ONLY"]?.split(",")
const WINDOW = 50
const FUNDING_SAT = 10_000_000n
const HTLC_MSAT = 10_000_000n // 10,000 sat: above the dust limits, every HTLC has its output and signature
const HEAP_CHANNELS_IDLE = Number(process.env["CHANNEL_BENCH_HEAP_N"] ?? 1_000)
const HEAP_CHANNELS_100 = Math.max(1, Math.floor(HEAP_CHANNELS_IDLE / 5))
const CHANNEL_TYPE: NegotiatedChannelType = { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false }

const TARGETS = {
  oneMemory: 300,
  oneFiles: 100,
  windowMemory: 1_500,
  windowFiles: 1_000,
  restPercentMax: 30,
  idleHeapBytesMax: 20 * 1024
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const bytes32 = (label: string): Uint8Array => sha256(enc(label))

// ---- the timing proxy around Secp256k1 -----------------------------------------------------------

interface SecpTimer {
  readonly secp: Secp256k1
  /** CPU milliseconds (this thread) spent inside the wrapped methods so far. */
  readonly ms: () => number
  readonly calls: () => ReadonlyMap<string, { readonly n: number; readonly ms: number }>
  /** The parts of the channel path, timed the same way. */
  readonly meter: Meter
}

/**
 * Wraps every method of `inner`, adding up the CPU time of this thread spent in it (nested calls
 * counted once). CPU time, not wall time: the figures hold on a machine shared with other work.
 * Each call costs two `getrusage(RUSAGE_THREAD)` calls (~1 us), counted partly on the secp side.
 */
const timeSecp = (inner: Secp256k1): SecpTimer => {
  let total = 0
  let depth = 0
  const perMethod = new Map<string, { n: number; ms: number }>()
  const wrap =
    <A extends ReadonlyArray<unknown>, R>(name: string, f: (...args: A) => R) =>
    (...args: A): R => {
      if (depth > 0) return f(...args)
      depth++
      const start = process.threadCpuUsage()
      try {
        return f(...args)
      } finally {
        const end = process.threadCpuUsage()
        const dt = (end.user - start.user + end.system - start.system) / 1000
        total += dt
        depth--
        const m = perMethod.get(name)
        if (m === undefined) perMethod.set(name, { n: 1, ms: dt })
        else {
          m.n++
          m.ms += dt
        }
      }
    }
  const secp: Secp256k1 = {
    name: `${inner.name} (timed)`,
    publicKey: wrap("publicKey", inner.publicKey),
    isValidSecret: wrap("isValidSecret", inner.isValidSecret),
    isValidPoint: wrap("isValidPoint", inner.isValidPoint),
    ecdh: wrap("ecdh", inner.ecdh),
    sign: wrap("sign", inner.sign),
    verify: wrap("verify", inner.verify),
    signRecoverable: wrap("signRecoverable", inner.signRecoverable),
    recover: wrap("recover", inner.recover),
    pointAdd: wrap("pointAdd", inner.pointAdd),
    pointTweakAdd: wrap("pointTweakAdd", inner.pointTweakAdd),
    pointMultiply: wrap("pointMultiply", inner.pointMultiply),
    secretAdd: wrap("secretAdd", inner.secretAdd),
    secretMultiply: wrap("secretMultiply", inner.secretMultiply)
  }
  return { secp, ms: () => total, calls: () => perMethod, meter: new Meter(() => total) }
}

// ---- where the rest goes: CPU time per part of the path -------------------------------------------

const threadCpuMs = (): number => {
  const u = process.threadCpuUsage()
  return (u.user + u.system) / 1000
}

/** CPU time (this thread) per part of the channel path, each with the secp256k1 time inside it. */
class Meter {
  readonly parts = new Map<string, { ms: number; secpMs: number; n: number }>()
  private readonly secpMs: () => number
  constructor(secpMs: () => number) {
    this.secpMs = secpMs
  }
  private add(part: string, ms: number, secpMs: number): void {
    const p = this.parts.get(part)
    if (p === undefined) this.parts.set(part, { ms, secpMs, n: 1 })
    else {
      p.ms += ms
      p.secpMs += secpMs
      p.n++
    }
  }
  time<A>(part: string, f: () => A): A {
    const t0 = threadCpuMs()
    const s0 = this.secpMs()
    try {
      return f()
    } finally {
      this.add(part, threadCpuMs() - t0, this.secpMs() - s0)
    }
  }
  /** For effects that run synchronously to the end (the signer, the in-memory store). */
  timeEffect<A, E, R>(part: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.suspend(() => {
      const t0 = threadCpuMs()
      const s0 = this.secpMs()
      return Effect.ensuring(effect, Effect.sync(() => this.add(part, threadCpuMs() - t0, this.secpMs() - s0)))
    })
  }
  snapshot(): Map<string, { readonly ms: number; readonly secpMs: number; readonly n: number }> {
    return new Map([...this.parts].map(([k, v]) => [k, { ...v }]))
  }
}

/** The signer with its channel-path methods timed (`signer` part). */
const meteredSigner = (signer: ChannelSignerShape, meter: Meter): ChannelSignerShape => ({
  ...signer,
  readyChannel: (k, p) => meter.timeEffect("signer", signer.readyChannel(k, p)),
  perCommitmentPoint: (k, n) => meter.timeEffect("signer", signer.perCommitmentPoint(k, n)),
  validateHolderCommitment: (k, c, s, h) => meter.timeEffect("signer", signer.validateHolderCommitment(k, c, s, h)),
  releaseCommitmentSecret: (k, n) => meter.timeEffect("signer", signer.releaseCommitmentSecret(k, n)),
  signCounterpartyCommitment: (k, c, p) => meter.timeEffect("signer", signer.signCounterpartyCommitment(k, c, p))
})

// ---- the two nodes -------------------------------------------------------------------------------

const features: ReadonlySet<FeatureName> = new Set<FeatureName>([
  "option_data_loss_protect",
  "option_static_remotekey",
  "option_upfront_shutdown_script",
  "option_shutdown_anysegwit",
  "option_channel_type",
  "option_anchors",
  "option_support_large_channel"
])

interface Side {
  readonly name: string
  readonly nodeIdHex: string
  readonly signer: ChannelSignerShape
  readonly keyId: ChannelKeyId
  readonly ctx: StepContext
}

let sideCounter = 0

const makeSide = (name: string, secp: Secp256k1): Side => {
  // A fresh key id per pair: the signer refuses to step a channel's policy state back.
  const label = `${name}/${sideCounter++}`
  const keyId = channelKeyId(bytes32(`${label}/key-id`))
  const nodeKey = secp.publicKey(bytes32(`${name}/node`))
  if (keyId === undefined || nodeKey === undefined) throw new Error("unreachable: 32-byte key id, valid node secret")
  return {
    name,
    nodeIdHex: toHex(nodeKey),
    signer: makeSeedChannelSigner(bytes32(`${name}/seed`), secp),
    keyId,
    ctx: {
      secp,
      config: { ...defaultLocalChannelConfig, maxAcceptedHtlcs: 483 },
      policy: defaultChannelPolicy,
      chainHash: ChainHashes.regtest,
      features,
      feerateEstimatePerKw: 2500,
      maxDustHtlcExposure: msat(50_000_000n),
      peerTrustedForZeroConf: false,
      shutdownScript: p2wpkhScript(bytes32(`${name}/payout`).slice(0, 20))
    }
  }
}

const run$ = <A, E>(effect: Effect.Effect<A, E>): A => {
  const r = Effect.runSync(Effect.result(effect))
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${JSON.stringify(r.failure)}`)
  return r.success
}

const asChannelId = (bytes: Uint8Array): ChannelId => Schema.decodeSync(ChannelIdSchema)(toHex(bytes))

/** Answers a `Sign` request the way the actor does (`readyChannel` first when the request carries the parameters). */
const answer = (side: Side, request: SignerRequest) => {
  if (request._tag === "SignCounterpartyCommitment" && request.channel !== undefined) {
    run$(side.signer.readyChannel(side.keyId, signerChannelParameters(request.channel)))
  }
  return run$(performSignerRequest(side.signer, side.keyId, request))
}

interface Opened {
  readonly state: ChannelState
  readonly updates: ReadonlyArray<MonitorUpdate>
}

/**
 * The v1 open between `a` (funder) and `b`, both reducers driven synchronously: every output
 * performed in order, `Sign` answered at once, messages delivered until both are quiet.
 */
const openPair = (a: Side, b: Side): { readonly a: Opened; readonly b: Opened } => {
  const states = new Map<Side, ChannelState>()
  const updates = new Map<Side, Array<MonitorUpdate>>([
    [a, []],
    [b, []]
  ])
  const inbox = new Map<Side, Array<ChannelMessage>>([
    [a, []],
    [b, []]
  ])
  let fundingNeeded: Extract<ChannelEvent, { readonly _tag: "FundingNeeded" }> | undefined
  const other = (s: Side) => (s === a ? b : a)
  const perform = (side: Side, outputs: ReadonlyArray<ChannelOutput>): void => {
    for (const o of outputs) {
      if (o._tag === "Persist") updates.get(side)?.push(o.update)
      else if (o._tag === "Send") inbox.get(other(side))?.push(o.message)
      else if (o._tag === "Emit" && o.event._tag === "FundingNeeded") fundingNeeded = o.event
      else if (o._tag === "SendError") throw new Error(`${side.name} failed the channel: ${o.message}`)
      else if (o._tag === "Sign") input(side, { _tag: "Signed", result: answer(side, o.request) })
    }
  }
  const input = (side: Side, i: ChannelInput): void => {
    const state = states.get(side)
    if (state === undefined) throw new Error(`${side.name} has no channel`)
    const r = step(side.ctx, state, i)
    if (Result.isFailure(r)) throw new Error(`${side.name}: ${i._tag} rejected: ${JSON.stringify(r.failure)}`)
    states.set(side, r.success.state)
    perform(side, r.success.outputs)
  }
  const deliverAll = (): void => {
    for (let guard = 0; guard < 100; guard++) {
      const side = (inbox.get(a)?.length ?? 0) > 0 ? a : (inbox.get(b)?.length ?? 0) > 0 ? b : undefined
      if (side === undefined) return
      const m = inbox.get(side)?.shift()
      if (m === undefined) return
      if (m._tag === "OpenChannel") {
        const r = acceptChannel(side.ctx, m, {
          keyId: side.keyId,
          basepoints: run$(side.signer.channelPublicKeys(side.keyId)),
          firstPerCommitmentPoint: run$(side.signer.perCommitmentPoint(side.keyId, 0n))
        })
        if (Result.isFailure(r)) throw new Error(`accept_channel refused: ${JSON.stringify(r.failure)}`)
        states.set(side, r.success.state)
        perform(side, r.success.outputs)
      } else {
        input(side, { _tag: "PeerMessage", message: m })
      }
    }
    throw new Error("the open did not settle")
  }

  const opened = openChannel(a.ctx, {
    temporaryChannelId: asChannelId(bytes32(`${a.name}/temporary/${toHex(a.keyId)}`)),
    keyId: a.keyId,
    fundingAmount: sat(FUNDING_SAT),
    pushAmount: msat(0n),
    basepoints: run$(a.signer.channelPublicKeys(a.keyId)),
    firstPerCommitmentPoint: run$(a.signer.perCommitmentPoint(a.keyId, 0n)),
    feeratePerKw: 2500,
    channelType: CHANNEL_TYPE,
    announce: false
  })
  if (Result.isFailure(opened)) throw new Error(`open_channel refused: ${JSON.stringify(opened.failure)}`)
  states.set(a, opened.success.state)
  perform(a, opened.success.outputs)
  deliverAll()
  if (fundingNeeded === undefined) throw new Error("no FundingNeeded")
  const tx: Transaction = setWitness(
    {
      version: 2,
      inputs: [makeInput({ txid: txidFromBytes(bytes32(`wallet utxo ${toHex(a.keyId)}`)), vout: 0 }, 0xfffffffd)],
      outputs: [{ value: fundingNeeded.amount, scriptPubKey: fundingNeeded.scriptPubKey }],
      locktime: 0
    },
    0,
    [new Uint8Array(72), new Uint8Array(33)]
  )
  input(a, { _tag: "FundingTransaction", tx: serializeTransaction(tx) })
  deliverAll()
  const depth = defaultLocalChannelConfig.minimumDepth
  const scid: ShortChannelId = shortChannelIdFromParts(800_000, 1, 0)
  input(a, { _tag: "FundingDepth", depth, shortChannelId: scid })
  input(b, { _tag: "FundingDepth", depth, shortChannelId: scid })
  deliverAll()
  const sa = states.get(a)
  const sb = states.get(b)
  if (sa?._tag !== "Normal" || sb?._tag !== "Normal") throw new Error(`open ended in ${sa?._tag} / ${sb?._tag}`)
  return { a: { state: sa, updates: updates.get(a) ?? [] }, b: { state: sb, updates: updates.get(b) ?? [] } }
}

// ---- the actors, wired directly ------------------------------------------------------------------

const channelTags = new Set<string>([
  "OpenChannel",
  "AcceptChannel",
  "FundingCreated",
  "FundingSigned",
  "ChannelReady",
  "Shutdown",
  "ClosingSigned",
  "ClosingComplete",
  "ClosingSig",
  "UpdateAddHtlc",
  "UpdateFulfillHtlc",
  "UpdateFailHtlc",
  "UpdateFailMalformedHtlc",
  "CommitmentSigned",
  "RevokeAndAck",
  "UpdateFee",
  "ChannelReestablish",
  "Stfu"
])
const isChannelMessage = (m: { readonly _tag: string }): m is ChannelMessage => channelTags.has(m._tag)

const monitorStateCodec = Schema.fromJsonString(MonitorStateSchema)
const encodeMonitorState = Schema.encodeSync(monitorStateCodec)
const decodeMonitorState = Schema.decodeSync(monitorStateCodec)
const stateCodec = Schema.fromJsonString(ChannelStateSchema)
const encodeState = Schema.encodeSync(stateCodec)
const decodeState = Schema.decodeSync(stateCodec)

interface Wired {
  readonly side: Side
  readonly handle: ChannelHandle<ChannelState>
  readonly monitor: MonitorHandle
}

/** The driver's side of a pair: what the event ports report to, and the flags they read. */
interface Control {
  /** One element per HTLC of A's resolved (fulfilled) as A sees it (-1 on a failure). */
  readonly resolved: Queue.Queue<bigint>
  /** Whether B fulfills what it receives (off: HTLCs stay committed). */
  autoFulfill: boolean
  readonly preimages: Map<string, Uint8Array>
  nextHtlc: number
  failure: string | undefined
}

interface Pair extends Control {
  readonly a: Wired
  readonly b: Wired
}

const SESSION = SessionId(1)

/**
 * Persist port as the `ChannelManager` does it: the channel record (`encodeChannelRecord`) and
 * the update in ONE atomic store write (helper D's `StoreReplica`: the layout and encoding the
 * node's own persister writes), then the update to the channel's `Monitor` actor.
 */
const persistPort =
  (
    meter: Meter,
    replica: MonitorReplica,
    side: Side,
    monitor: () => MonitorHandle,
    channelId: ChannelId,
    timeStore: boolean
  ): ChannelPorts<ChannelState>["persist"] =>
  (update, state) =>
    Effect.gen(function*() {
      const record = yield* meter.timeEffect(
        "record encode",
        Effect.gen(function*() {
          const signerState = yield* Effect.result(side.signer.channelState(side.keyId))
          return encodeChannelRecord({
            version: 1,
            nodeId: nodeIdFromHex(side.nodeIdHex),
            keyId: side.keyId,
            channel: state,
            ...(Result.isSuccess(signerState) ? { signer: signerState.success } : {})
          })
        })
      )
      // Timed with the in-memory store only (it completes synchronously); the files store's write
      // waits for its fsync while other fibers run, so its CPU falls under "other".
      const write = replica.write([{ channelId, updates: [update], channelState: record }])
      yield* (timeStore ? meter.timeEffect("store write", write) : write).pipe(Effect.orDie)
      yield* Effect.ignore(monitor().tell(update))
      return "Completed" as const
    })

/** Builds the two actors over `opened` (states and update logs from the open), with a store each. */
const wirePair = (
  timer: SecpTimer,
  sides: { readonly a: Side; readonly b: Side },
  opened: { readonly a: Opened; readonly b: Opened },
  stores: { readonly a: StoreShape; readonly b: StoreShape; readonly timed: boolean }
): Effect.Effect<Pair, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { secp, meter } = timer
    const resolved = yield* Queue.unbounded<bigint>()
    const pair: Control = {
      resolved,
      autoFulfill: true,
      preimages: new Map(),
      nextHtlc: 0,
      failure: undefined
    }
    const wired = new Map<Side, Wired>()
    const start = (side: Side, from: Opened, peer: Side, store: StoreShape) =>
      Effect.gen(function*() {
        const monitorState = replay(secp, from.updates)
        if (Result.isFailure(monitorState)) throw new Error(`monitor replay: ${monitorState.failure._tag}`)
        const monitor = yield* makeMonitor({ name: `monitor ${side.name}`, secp, state: monitorState.success, capacity: 4096 })
        const replica = makeStoreReplica(store)
        // The open's updates are in the store already (written before the actors start, not timed).
        yield* replica
          .write([{ channelId: asChannelId(channelIdOf(from.state)), updates: from.updates, channelState: encodeChannelRecord({ version: 1, nodeId: nodeIdFromHex(side.nodeIdHex), keyId: side.keyId, channel: from.state }) }])
          .pipe(Effect.orDie)
        const ports: ChannelPorts<ChannelState> = {
          persist: persistPort(meter, replica, side, () => monitor, asChannelId(channelIdOf(from.state)), stores.timed),
          send: (_session, message) =>
            Effect.suspend(() => {
              // Through the wire codec, as the peer layer would.
              const bytes = meter.time("codec", () => LightningMessages.encode(message))
              if (Result.isFailure(bytes)) return Effect.die(new Error(`${message._tag} does not encode`))
              const decoded = meter.time("codec", () => LightningMessages.decode(bytes.success))
              if (Result.isFailure(decoded) || !isChannelMessage(decoded.success)) return Effect.die(new Error(`${message._tag} does not decode`))
              const target = wired.get(peer)
              return target === undefined ? Effect.void : Effect.ignore(target.handle.tell({ _tag: "PeerMessage", message: decoded.success }))
            }),
          emit: (event) =>
            Effect.suspend(() => {
              switch (event._tag) {
                case "HtlcReceived": {
                  if (!pair.autoFulfill) return Effect.void
                  const preimage = pair.preimages.get(toHex(event.paymentHash))
                  if (preimage === undefined) return Effect.die(new Error("unknown payment hash"))
                  pair.preimages.delete(toHex(event.paymentHash))
                  const self = wired.get(side)
                  return self === undefined ? Effect.void : Effect.ignore(self.handle.tell({ _tag: "FulfillHtlc", htlcId: event.htlcId, preimage }))
                }
                case "HtlcResolved":
                  return Queue.offer(resolved, event.htlcId).pipe(Effect.asVoid)
                case "HtlcRejected":
                case "ChannelClosed":
                  pair.failure ??= `${side.name}: ${JSON.stringify(event)}`
                  return Queue.offer(resolved, -1n).pipe(Effect.asVoid)
                default:
                  return Effect.void
              }
            }),
          chain: () => Effect.void,
          rekey: () => Effect.void
        }
        const last = from.updates[from.updates.length - 1]
        const handle = yield* makeChannel<ChannelState>({
          name: `channel ${side.name}`,
          core: {
            step: (state, input) => meter.time("step (reducer)", () => step(side.ctx, state, input)),
            channelId: (state) => asChannelId(channelIdOf(state)),
            keyId: () => side.keyId,
            hasPendingChanges: (state) => state._tag === "Normal" && hasChangesToSign(state.commitments),
            awaitingSignature: (state) => ("awaiting" in state && state.awaiting !== undefined ? state.awaiting.request : undefined),
            feedCompletions: false
          },
          ports,
          signer: meteredSigner(side.signer, meter),
          state: from.state,
          session: SESSION,
          capacity: 4096,
          ...(last === undefined ? {} : { lastUpdateId: last.updateId })
        })
        const w: Wired = { side, handle, monitor }
        wired.set(side, w)
        return w
      })
    const a = yield* start(sides.a, opened.a, sides.b, stores.a)
    const b = yield* start(sides.b, opened.b, sides.a, stores.b)
    return Object.assign(pair, { a, b })
  })

/** A tells its actor to add one HTLC (no reply awaited: adds queue up behind each other and batch). */
const addHtlc = (pair: Pair): Effect.Effect<void> =>
  Effect.suspend(() => {
    const i = pair.nextHtlc++
    const preimage = bytes32(`preimage/${i}`)
    const paymentHash = sha256(preimage)
    pair.preimages.set(toHex(paymentHash), preimage)
    return Effect.ignore(
      pair.a.handle.tell({
        _tag: "AddHtlc",
        requestId: `htlc-${i}`,
        amount: msat(HTLC_MSAT),
        paymentHash,
        cltvExpiry: 800_144,
        onion: ONION
      })
    )
  })
const ONION = new Uint8Array(1366)

/** Both channels quiet: nothing proposed, signed-but-unrevoked or owed, `htlcs` HTLCs committed on each side. */
const isQuiet = (s: ChannelState, htlcs: number): boolean => {
  if (s._tag !== "Normal") return false
  const c = s.commitments
  return (
    c.localChanges.proposed.length === 0 &&
    c.localChanges.signed.length === 0 &&
    c.localChanges.acked.length === 0 &&
    c.remoteChanges.proposed.length === 0 &&
    c.remoteChanges.acked.length === 0 &&
    c.remoteChanges.signed.length === 0 &&
    c.remoteNextCommitInfo._tag === "NextPoint" &&
    c.owedRevocation === null &&
    c.localCommit.spec.htlcs.length === htlcs &&
    c.remoteCommit.spec.htlcs.length === htlcs
  )
}

const waitQuiet = (pair: Pair, htlcs: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; ; i++) {
      const a = yield* Effect.orDie(pair.a.handle.snapshot)
      const b = yield* Effect.orDie(pair.b.handle.snapshot)
      if (a.held === 0 && b.held === 0 && isQuiet(a.state, htlcs) && isQuiet(b.state, htlcs)) return
      if (pair.failure !== undefined) throw new Error(pair.failure)
      if (i > 1_000_000) throw new Error("the channels never became quiet")
      yield* Effect.yieldNow
    }
  })

// ---- scenarios -----------------------------------------------------------------------------------

type Storage = "memory" | "files"
type Mode = "one" | "window"

interface Figures {
  readonly mode: Mode
  readonly storage: Storage
  readonly count: number
  readonly wallMs: number
  /** CPU time of the process (every thread: the files store's fsyncs run in libuv's pool). */
  readonly cpuMs: number
  /** CPU time of the JavaScript thread. */
  readonly threadMs: number
  /** CPU time of the JavaScript thread inside secp256k1. */
  readonly secpMs: number
  /** Per second of wall time. */
  readonly perSecond: number
  /** Per second of the JavaScript thread's CPU time: the figure on one uncontended core. */
  readonly perThreadSecond: number
  /** CPU ms per part of the path during the run (each with its secp ms). */
  readonly parts: ReadonlyMap<string, { readonly ms: number; readonly secpMs: number; readonly n: number }>
}

const makeStore = (storage: Storage, name: string): Effect.Effect<StoreShape, never, Scope.Scope> =>
  storage === "memory"
    ? Effect.succeed(makeMemoryStore().store)
    : Effect.gen(function*() {
        const dir = mkdtempSync(join(tmpdir(), `eln-bench-${name}-`))
        // Added first, so it runs after the store's own finalizer (finalizers run in reverse).
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        const disk = yield* nodeStoreDisk.pipe(Effect.provide(NodeFileSystem.layer))
        return yield* makeFileStore(disk, { directory: join(dir, "store") }).pipe(Effect.orDie)
      })

const newPair = (timer: SecpTimer, storage: Storage): Effect.Effect<Pair, never, Scope.Scope> =>
  Effect.gen(function*() {
    const a = makeSide("alice", timer.secp)
    const b = makeSide("bob", timer.secp)
    const opened = openPair(a, b)
    const stores = { a: yield* makeStore(storage, "alice"), b: yield* makeStore(storage, "bob"), timed: storage === "memory" }
    return yield* wirePair(timer, { a, b }, opened, stores)
  })

const takeResolved = (pair: Pair): Effect.Effect<number> =>
  Effect.gen(function*() {
    const got = yield* Queue.takeAll(pair.resolved)
    if (pair.failure !== undefined || got.includes(-1n)) throw new Error(pair.failure ?? "an HTLC was refused")
    return got.length
  })

const scenario = (timer: SecpTimer, mode: Mode, storage: Storage, ms: number): Effect.Effect<Figures> =>
  Effect.scoped(
    Effect.gen(function*() {
      const pair = yield* newPair(timer, storage)
      const cpu0 = process.cpuUsage()
      const thread0 = process.threadCpuUsage()
      const secp0 = timer.ms()
      const parts0 = timer.meter.snapshot()
      const t0 = performance.now()
      let count = 0
      if (mode === "one") {
        while (performance.now() - t0 < ms) {
          yield* addHtlc(pair)
          count += yield* takeResolved(pair)
          yield* waitQuiet(pair, 0)
        }
      } else {
        for (let i = 0; i < WINDOW; i++) yield* addHtlc(pair)
        while (performance.now() - t0 < ms) {
          const n = yield* takeResolved(pair)
          count += n
          for (let i = 0; i < n; i++) yield* addHtlc(pair)
        }
      }
      const wallMs = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      const thread = process.threadCpuUsage(thread0)
      const secpMs = timer.ms() - secp0
      const parts = new Map(
        [...timer.meter.snapshot()].map(([k, v]) => {
          const b = parts0.get(k)
          return [k, { ms: v.ms - (b?.ms ?? 0), secpMs: v.secpMs - (b?.secpMs ?? 0), n: v.n - (b?.n ?? 0) }] as const
        })
      )
      // Let what is in flight finish before the scope closes the actors (not timed).
      if (mode === "window") {
        let outstanding = pair.nextHtlc - count
        while (outstanding > 0) outstanding -= yield* takeResolved(pair)
      }
      yield* waitQuiet(pair, 0)
      const threadMs = (thread.user + thread.system) / 1000
      return {
        mode,
        storage,
        count,
        wallMs,
        cpuMs: (cpu.user + cpu.system) / 1000,
        threadMs,
        secpMs,
        perSecond: (count * 1000) / wallMs,
        perThreadSecond: (count * 1000) / threadMs,
        parts
      }
    })
  )

// ---- heap per channel ----------------------------------------------------------------------------

const forceGc: (() => void) | undefined = (() => {
  try {
    setFlagsFromString("--expose-gc")
    const gc: unknown = runInNewContext("gc")
    return typeof gc === "function" ? () => void gc() : undefined
  } catch {
    return undefined
  }
})()

/** V8 heap used plus ArrayBuffer backing stores (large byte arrays live outside the V8 heap), after GC. */
const heapUsed = (): number => {
  forceGc?.()
  forceGc?.()
  return getHeapStatistics().used_heap_size + process.memoryUsage().arrayBuffers
}

interface Sample {
  readonly state: ChannelState
  readonly monitor: MonitorState
}

/** A's channel state and monitor state, idle and with `htlcs` HTLCs committed (added by A, not fulfilled). */
const samples = (timer: SecpTimer, htlcs: number): Effect.Effect<{ readonly idle: Sample; readonly loaded: Sample }> =>
  Effect.scoped(
    Effect.gen(function*() {
      const pair = yield* newPair(timer, "memory")
      const sample = Effect.gen(function*() {
        const s = yield* Effect.orDie(pair.a.handle.snapshot)
        const m = yield* Effect.orDie(pair.a.monitor.state)
        if (m === undefined) throw new Error("no monitor state")
        return { state: s.state, monitor: m }
      })
      yield* addHtlc(pair)
      yield* takeResolved(pair)
      yield* waitQuiet(pair, 0)
      const idle = yield* sample
      pair.autoFulfill = false
      for (let i = 0; i < htlcs; i++) yield* addHtlc(pair)
      yield* waitQuiet(pair, htlcs)
      const loaded = yield* sample
      return { idle, loaded }
    })
  )

interface HeapFigures {
  readonly n: number
  /** The channel state alone (decoded copies). */
  readonly stateBytes: number
  /** The monitor state alone. */
  readonly monitorBytes: number
  /** A `Channel` actor over its own copy of the state, plus a `Monitor` actor over its own monitor state. */
  readonly channelBytes: number
  readonly recordJsonBytes: number
}

const heapPerChannel = (timer: SecpTimer, sample: Sample, n: number, side: Side): Effect.Effect<HeapFigures> =>
  Effect.gen(function*() {
    const stateJson = encodeState(sample.state)
    const monitorJson = encodeMonitorState(sample.monitor)
    // The channel state alone.
    const before = heapUsed()
    const states: Array<ChannelState> = []
    for (let i = 0; i < n; i++) states.push(decodeState(stateJson))
    const stateBytes = (heapUsed() - before) / n
    states.length = 0
    // The monitor state alone.
    const before2 = heapUsed()
    const monitors: Array<MonitorState> = []
    for (let i = 0; i < n; i++) monitors.push(decodeMonitorState(monitorJson))
    const monitorBytes = (heapUsed() - before2) / n
    monitors.length = 0
    // Whole channels: a Channel actor and a Monitor actor each.
    const channelBytes = yield* Effect.scoped(
      Effect.gen(function*() {
        const base = heapUsed()
        const kept: Array<unknown> = []
        for (let i = 0; i < n; i++) {
          const monitor = yield* makeMonitor({ name: `monitor ${i}`, secp: timer.secp, state: decodeMonitorState(monitorJson) })
          const handle = yield* makeChannel<ChannelState>({
            name: `channel ${i}`,
            core: {
              step: (state, input) => step(side.ctx, state, input),
              channelId: (state) => asChannelId(channelIdOf(state)),
              keyId: () => side.keyId,
              hasPendingChanges: (state) => state._tag === "Normal" && hasChangesToSign(state.commitments),
              feedCompletions: false
            },
            ports: {
              persist: () => Effect.succeed("Completed"),
              send: () => Effect.void,
              emit: () => Effect.void,
              chain: () => Effect.void,
              rekey: () => Effect.void
            },
            signer: side.signer,
            state: decodeState(stateJson),
            session: SESSION
          })
          kept.push(handle, monitor)
        }
        // Let every actor fiber start and park on its mailbox.
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        const bytes = (heapUsed() - base) / n
        kept.length = 0
        return bytes
      })
    )
    const record = encodeChannelRecord({ version: 1, nodeId: nodeIdFromHex(side.nodeIdHex), keyId: side.keyId, channel: sample.state })
    return { n, stateBytes, monitorBytes, channelBytes, recordJsonBytes: enc(JSON.stringify(record)).length }
  })

// ---- profiling (CHANNEL_BENCH_PROFILE) --------------------------------------------------------------

const session = PROFILE === undefined ? undefined : new Session()
const post = (method: string, params: object = {}): Promise<unknown> =>
  new Promise((resolve, reject) => {
    if (session === undefined) return resolve(undefined)
    session.post(method, params, (err, result) => (err === null ? resolve(result) : reject(err)))
  })
let profileParts = 0

/** Runs `effect` under the V8 sampling profiler when CHANNEL_BENCH_PROFILE is set (one file per run: <path>.<n>.cpuprofile). */
const profiled = <A>(effect: Effect.Effect<A>): Effect.Effect<A> =>
  PROFILE === undefined
    ? effect
    : Effect.acquireUseRelease(
        Effect.promise(async () => {
          await post("Profiler.enable")
          await post("Profiler.setSamplingInterval", { interval: 200 })
          await post("Profiler.start")
        }),
        () => effect,
        () =>
          Effect.promise(async () => {
            const result = await post("Profiler.stop")
            if (typeof result === "object" && result !== null && "profile" in result) {
              writeFileSync(`${PROFILE}.${profileParts++}.cpuprofile`, JSON.stringify(result.profile))
            }
          })
      )

// ---- report --------------------------------------------------------------------------------------

const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(0)}%` : "-")
const verdict = (ok: boolean): string => (ok ? "ok" : "BELOW TARGET")

const label = (f: Figures): string =>
  `${f.mode === "one" ? "one at a time" : `${WINDOW} in flight`}, ${f.storage === "memory" ? "in memory" : "files+fsync"}`

const targetOf = (f: Figures): number =>
  f.mode === "one" ? (f.storage === "memory" ? TARGETS.oneMemory : TARGETS.oneFiles) : f.storage === "memory" ? TARGETS.windowMemory : TARGETS.windowFiles

export const run = async (): Promise<void> => {
  session?.connect()
  const choice = await loadSecp256k1Best()
  const timer = timeSecp(choice.secp)
  console.log(
    `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${availableParallelism()} cores (wall figures need an idle machine)\n` +
      `secp256k1: ${choice.backend}; two Channel actors wired directly (codec round trip, no socket/noise/manager); ` +
      `channel type ${CHANNEL_TYPE.name}, HTLC ${HTLC_MSAT / 1000n} sat; ${MEASURE_MS} ms per figure`
  )
  const program = Effect.gen(function*() {
    // Warm-up (not reported): the JIT, the commitment-keys cache paths.
    yield* scenario(timer, "window", "memory", WARMUP_MS / 2)
    yield* scenario(timer, "one", "memory", WARMUP_MS / 2)
    const rows: Array<Figures> = []
    for (const mode of ["one", "window"] as const) {
      for (const storage of ["memory", "files"] as const) {
        if (ONLY !== undefined && !ONLY.includes(`${mode}-${storage}`)) continue
        const f = yield* profiled(scenario(timer, mode, storage, MEASURE_MS))
        rows.push(f)
        const unit = mode === "one" ? "round trips/s" : "HTLCs/s"
        const target = targetOf(f)
        console.log(
          `${label(f).padEnd(27)} ${f.perSecond.toFixed(0).padStart(5)} ${unit} wall, ${f.perThreadSecond.toFixed(0).padStart(5)} per JS-thread CPU s` +
            ` (target >= ${target}: wall ${verdict(f.perSecond >= target)}, cpu ${verdict(f.perThreadSecond >= target)})` +
            `  n=${f.count}; JS thread busy ${pct(f.threadMs, f.wallMs)} of wall; secp ${pct(f.secpMs, f.threadMs)} / rest ${pct(f.threadMs - f.secpMs, f.threadMs)} of JS CPU`
        )
        const named = [...f.parts].reduce((t, [, v]) => t + v.ms, 0)
        const per = (ms: number): string => `${((1000 * ms) / f.count).toFixed(0)} us`
        console.log(
          `    JS CPU per ${mode === "one" ? "round trip" : "HTLC"} ${per(f.threadMs)}: ` +
            [...f.parts]
              .filter(([, v]) => v.n > 0)
              .sort((x, y) => y[1].ms - x[1].ms)
              .map(([k, v]) => `${k} ${per(v.ms)} [${(v.n / f.count).toFixed(1)} calls]${v.secpMs > 0.5 ? ` (secp ${per(v.secpMs)})` : ""}`)
              .join(", ") +
            `, other (actors, Effect runtime, monitors, GC, driver${f.storage === "files" ? ", store write" : ""}) ${per(f.threadMs - named)}`
        )
      }
    }
    const mem = rows.filter((r) => r.storage === "memory")
    if (mem.length > 0) {
      const secpMs = mem.reduce((s, r) => s + r.secpMs, 0)
      const cpuMs = mem.reduce((s, r) => s + r.threadMs, 0)
      const restShare = (100 * (cpuMs - secpMs)) / cpuMs
      console.log(
        `secp256k1 share (in-memory runs, of the JS thread's CPU time): secp ${pct(secpMs, cpuMs)}, rest ${restShare.toFixed(0)}%` +
          ` (target: rest <= ${TARGETS.restPercentMax}%: ${verdict(restShare <= TARGETS.restPercentMax)})`
      )
      const calls = [...timer.calls().entries()].sort((x, y) => y[1].ms - x[1].ms)
      console.log(`  secp calls (all runs): ${calls.map(([k, v]) => `${k} ${v.n} (${v.ms.toFixed(0)} ms)`).join(", ")}`)
      console.log("  for scale: LDK's bench_sends ~350 payments/s")
    }
    if (HEAP_CHANNELS_IDLE === 0) return
    if (forceGc === undefined) console.log("heap: no gc available (figures would be noise); skipped")
    else {
      const side = makeSide("heap", timer.secp)
      const { idle, loaded } = yield* samples(timer, 100)
      const hIdle = yield* heapPerChannel(timer, idle, HEAP_CHANNELS_IDLE, side)
      const hLoaded = yield* heapPerChannel(timer, loaded, HEAP_CHANNELS_100, side)
      const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`
      console.log(
        `heap per channel, idle:      ${kib(hIdle.channelBytes)} (Channel + Monitor actors; channel state alone ${kib(hIdle.stateBytes)}, monitor state alone ${kib(hIdle.monitorBytes)}; record JSON ${kib(hIdle.recordJsonBytes)}; n=${hIdle.n})` +
          ` (target < 20 KiB: ${verdict(hIdle.channelBytes < TARGETS.idleHeapBytesMax)})`
      )
      console.log(
        `heap per channel, 100 HTLCs: ${kib(hLoaded.channelBytes)} (channel state alone ${kib(hLoaded.stateBytes)}, monitor state alone ${kib(hLoaded.monitorBytes)}; record JSON ${kib(hLoaded.recordJsonBytes)}; n=${hLoaded.n})`
      )
    }
  })
  await Effect.runPromise(program)
}
