/**
 * `runScenario`: every node of a scenario in one process, on deterministic layers, driven by
 * one event queue in simulated time.
 *
 * Each node is the real `ChannelManager` and `Payments` over: the simulated network
 * (`Network.ts`), an in-memory `MonitorPersister` whose data survives crashes (late persistence
 * and crash points wrap it), the seeded channel signer, seeded `Entropy` per incarnation, a node
 * key derived from the seed, an in-memory payments `Store` that survives crashes, and the
 * default router over the scenario's channels (fees-only scorer). The chain is a height that
 * blocks raise at the scenario's rate and reorgs lower and raise again; funding depth is given to
 * the channels as a chain fact. All fibers run on the `SimScheduler` and read the `SimClock`
 * (`Runtime.ts`): one seed decides every byte of a run.
 *
 * Phases: setup (connect, open and fund every channel, wait until all are `Normal`), the
 * workload with its faults, then healing (partitions end, crashed nodes restart, persistence
 * completes, every pair reconnects) and a drain, after which every invariant is checked.
 *
 * Invariants (each violation is a line in the summary):
 * - no funds created or lost: every channel's commitment sums to its capacity on both sides, and
 *   at the end each node's balance moved by exactly what it received, minus what it paid and its
 *   fees, plus the fees it earned forwarding (the balance of a closed channel is the monitor's
 *   claim on chain; HTLCs in a force-closed channel's monitor wait for the chain, BOLT 5, so the
 *   accounts of the nodes holding them are left out and a note says so);
 * - both ends of a channel agree (same commitment numbers, mirrored specs) whenever their link is
 *   quiet, checked every `checkEverySeconds` and at the end;
 * - every HTLC resolved at the end, every payment has an outcome, every channel is `Normal` at
 *   both ends unless a force close was recorded for it;
 * - no force close unless the scenario's faults can explain one (reordering, fee spikes).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { createSha256 } from "../protocol/crypto/hash-node.ts"
import { Context, Effect, Exit, Layer, Queue, Result, Scope } from "effect"
import { ChannelManager, type ChannelManagerShape, listenerOf, make as makeChannelManager, type NodeChannelEvent } from "../actors/ChannelManager.ts"
import type { PeerSessionEvent } from "../actors/PeerEvent.ts"
import { PeerManager } from "../actors/PeerManager.ts"
import { make as makePayments, type PaymentEvent, paymentListenerOf, type PaymentsShape } from "../actors/Payments.ts"
import { wasmSecp256k1 } from "../layers/crypto/secp256k1-wasm.ts"
import { makeNodeSigner } from "../layers/InMemoryNodeSigner.ts"
import { makeMemoryPersister, makeMemoryPersisterData, type MemoryPersisterControl, type MemoryPersisterData } from "../layers/persister/MemoryPersister.ts"
import { DefaultRouter } from "../layers/router/DefaultRouter.ts"
import { makeSeedChannelSigner } from "../layers/signer/SeedChannelSigner.ts"
import { makeMemoryStore, makeMemoryStoreData, type MemoryStoreData } from "../layers/store/MemoryStore.ts"
import { makeSeededEntropy } from "../layers/test/SeededEntropy.ts"
import { secretFromSeed } from "../layers/test/SeededNodeSigner.ts"
import { toHex } from "../protocol/bytes.ts"
import { defaultChannelPolicy, defaultLocalChannelConfig, type LocalChannelConfig } from "../protocol/channel/config.ts"
import type { ChannelState } from "../protocol/channel/state.ts"
import { shortChannelIdFromParts, type ShortChannelId } from "../protocol/codec/fields.ts"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import { sharedCommitmentKeysCache } from "../protocol/keys/commitment-keys-cache.ts"
import { sharedPerCommitmentPoints } from "../protocol/keys/per-commitment-points.ts"
import type { LightningMessage } from "../protocol/messages/index.ts"
import type { MonitorUpdate } from "../protocol/monitor/update.ts"
import { defaultForwardingPolicy, type ForwardingPolicy } from "../protocol/payment/index.ts"
import { buildRoutingGraph, type ChannelInfo as GraphChannelInfo } from "../protocol/routing/graph.ts"
import { p2wpkhScript } from "../protocol/tx/bitcoin/script.ts"
import { serializeTransaction, txid as computeTxid, txidFromBytes, type Transaction } from "../protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, type NodeId, sat, type Sat } from "../protocol/units.ts"
import { ChannelSigner } from "../services/ChannelSigner.ts"
import { Entropy } from "../services/Entropy.ts"
import {
  declareFreeWrites,
  MonitorPersister,
  type MonitorPersisterShape,
  type PersistStatus,
  writeNowOf,
  writesFreeOf
} from "../services/MonitorPersister.ts"
import { NodeSigner } from "../services/NodeSigner.ts"
import { Router, RouterGraph, type RouterShape } from "../services/Router.ts"
import { Scorer } from "../services/Scorer.ts"
import { Store } from "../services/Store.ts"
import { forNode, Trace, type TraceKind, type TraceSink } from "../services/Trace.ts"
import { agreement, localBalance } from "./Invariants.ts"
import { SimNetwork, type LinkConfig } from "./Network.ts"
import { Rng } from "./Random.ts"
import { SimRuntime } from "./Runtime.ts"
import { faultKinds, type Fault, type NodeConfig, type Scenario } from "./Scenario.ts"
import { buildChannels, choosePair, type PlannedChannel } from "./Topology.ts"
import { percentile, type Summary } from "./Summary.ts"
import { MemoryTraceSink } from "./TraceSink.ts"

export interface RunOptions {
  readonly seed: number | string
  /** `true`: record a memory trace and return it; a sink: write records there. */
  readonly trace?: boolean | TraceSink
  /**
   * The curve implementation (default WASM secp256k1; `effect-lightning/testing`'s insecure one
   * for scale runs). Do not run the same seed under the real and the insecure curve in one
   * process: the per-commitment point memo (`protocol/keys/per-commitment-points.ts`) is
   * process-wide and keyed by the secret alone, so the second run would get the first curve's
   * points (`SignerSecretMismatch` force closes).
   */
  readonly secp?: Secp256k1
  /** Called at each phase change and now and then (every ~2000 events) with the progress. */
  readonly onProgress?: (p: Progress) => void
  /**
   * Wraps a node's persister (a test plants a bug here, e.g. a store that loses writes, and
   * checks the invariants catch it).
   */
  readonly wrapPersister?: (node: number, persister: MonitorPersisterShape) => MonitorPersisterShape
  /**
   * How a node's channel manager hears its peers: "sink" (default), each event handed to it as the
   * network delivers it (`declareSessionEventSink`: no fiber woken per message); "stream", through
   * `sessionEvents` as over a real peer layer. Both give the same run (a test compares them).
   */
  readonly sessionEvents?: "sink" | "stream"
}

export interface Progress {
  readonly phase: "setup" | "workload" | "drain"
  /**
   * Nodes built so far (during setup: every node is built first, then the channels open; one
   * forced report comes when the last node is built, so a caller can split the setup's cost).
   */
  readonly nodesStarted: number
  readonly simSeconds: number
  readonly paymentsDone: number
  readonly paymentsTotal: number
  readonly events: number
  /** Peer messages sent so far (lost ones included). */
  readonly messages: number
}

export interface ScenarioResult {
  readonly summary: Summary
  /** The memory trace (one JSON line per record), when `trace: true`. */
  readonly trace: ReadonlyArray<string> | undefined
  /** SHA-256 (hex) over every delivered message's bytes and every persisted write, in order: a run's fingerprint. */
  readonly digest: string
}

interface NodeRuntime {
  readonly index: number
  incarnation: number
  running: boolean
  scope: Scope.Closeable | undefined
  manager: ChannelManagerShape | undefined
  payments: PaymentsShape | undefined
  control: MemoryPersisterControl | undefined
  readonly persisterData: MemoryPersisterData
  readonly storeData: MemoryStoreData
  persistCalls: number
  crashAt: { readonly call: number; readonly after: boolean } | undefined
  /** Late persistence: delays while on. */
  late: Fault | undefined
}

interface OpenChannel {
  readonly plan: PlannedChannel
  /** Set once the funder has `funding_signed` and so broadcast the funding transaction (BOLT 2). */
  channelId: ChannelId | undefined
  scid: ShortChannelId | undefined
  /** The funding txid (hex) of the current attempt ("" before its `FundingNeeded`). */
  fundingTxid: string
  /** Opens tried: one more each time the funder forgot an attempt before `funding_signed`. */
  attempt: number
  /** The funding txid the fundee reported pending (it stored the channel and sent `funding_signed`). */
  fundeePending: string | undefined
}

/** The workload's payments as drawn (`schedulePayments`), by `k`: start time, payer, payee, amount. */
interface PaymentPlan {
  /** The insertion number of payment 0's start (`reserve`d: payment k's is `firstSeq + k`). */
  readonly firstSeq: number
  readonly at: Float64Array
  readonly payer: Int32Array
  readonly payee: Int32Array
  readonly amountMsat: Float64Array
}

/** One payment of the workload as the end of the run reads it (`PaymentLog.rows`). */
interface PaymentRecord {
  readonly k: number
  readonly payer: number
  readonly payee: number
  readonly amountMsat: bigint
  readonly start: number
  readonly end: number | undefined
  readonly outcome: "succeeded" | "failed" | undefined
  readonly reason: string | undefined
  readonly feeMsat: bigint
  /** Whether the payee made its invoice (the payment could reach it). */
  readonly invoiced: boolean
  /** What the payee reported receiving (its first `PaymentReceived`), if it did. */
  readonly receivedMsat: bigint | undefined
}

const OUTCOMES = [undefined, "succeeded", "failed"] as const
const INVOICED = 1
const RECEIVED = 2

/**
 * The workload's payments, kept to the end of the run for the summary and the conservation
 * check: one row per payment (its `k`) in typed columns, about 50 bytes a payment where an object
 * with boxed times and big integers took about 200 (at 100,000 payments, ~15 MB less live heap
 * for the whole run); `rows` reads them back as records at the end.
 */
class PaymentLog {
  /** Payments started: rows 0 .. started - 1 (they start in `k` order, see `Simulation.paymentOf`). */
  started = 0
  private readonly payer: Int32Array
  private readonly payee: Int32Array
  /** Whole numbers drawn as doubles (`schedulePayments`): exact here. */
  private readonly amount: Float64Array
  private readonly start: Float64Array
  /** NaN until the outcome. */
  private readonly end: Float64Array
  /** An index into `OUTCOMES`. */
  private readonly outcomeOf: Uint8Array
  private readonly fee: BigUint64Array
  private readonly received: BigUint64Array
  /** `INVOICED`, `RECEIVED` bits. */
  private readonly flags: Uint8Array
  /** Why a payment failed (failed ones only). */
  private readonly reasons = new Map<number, string>()

  constructor(capacity: number) {
    this.payer = new Int32Array(capacity)
    this.payee = new Int32Array(capacity)
    this.amount = new Float64Array(capacity)
    this.start = new Float64Array(capacity)
    this.end = new Float64Array(capacity).fill(Number.NaN)
    this.outcomeOf = new Uint8Array(capacity)
    this.fee = new BigUint64Array(capacity)
    this.received = new BigUint64Array(capacity)
    this.flags = new Uint8Array(capacity)
  }

  add(k: number, payer: number, payee: number, amountMsat: bigint, start: number): void {
    this.payer[k] = payer
    this.payee[k] = payee
    this.amount[k] = Number(amountMsat)
    this.start[k] = start
    this.started = Math.max(this.started, k + 1)
  }

  payerOf(k: number): number {
    return this.payer[k] ?? -1
  }

  hasOutcome(k: number): boolean {
    return this.outcomeOf[k] !== 0
  }

  setOutcome(k: number, outcome: "succeeded" | "failed", reason: string | undefined, fee: bigint, end: number): void {
    this.outcomeOf[k] = outcome === "succeeded" ? 1 : 2
    if (reason !== undefined) this.reasons.set(k, reason)
    this.fee[k] = fee
    this.end[k] = end
  }

  invoiced(k: number): void {
    this.flags[k] = (this.flags[k] ?? 0) | INVOICED
  }

  setReceived(k: number, amountMsat: bigint): void {
    this.received[k] = amountMsat
    this.flags[k] = (this.flags[k] ?? 0) | RECEIVED
  }

  /** Every started payment as a record, in `k` order. */
  rows(): Array<PaymentRecord> {
    const out: Array<PaymentRecord> = []
    for (let k = 0; k < this.started; k++) {
      const end = this.end[k] ?? Number.NaN
      const flags = this.flags[k] ?? 0
      out.push({
        k,
        payer: this.payer[k] ?? -1,
        payee: this.payee[k] ?? -1,
        amountMsat: BigInt(this.amount[k] ?? 0),
        start: this.start[k] ?? 0,
        end: Number.isNaN(end) ? undefined : end,
        outcome: OUTCOMES[this.outcomeOf[k] ?? 0],
        reason: this.reasons.get(k),
        feeMsat: this.fee[k] ?? 0n,
        invoiced: (flags & INVOICED) !== 0,
        receivedMsat: (flags & RECEIVED) !== 0 ? this.received[k] : undefined
      })
    }
    return out
  }
}

const channelConfigOf = (c: NodeConfig["channel"]): LocalChannelConfig => ({
  ...defaultLocalChannelConfig,
  minimumDepth: 3,
  ...(c?.maxAcceptedHtlcs !== undefined ? { maxAcceptedHtlcs: c.maxAcceptedHtlcs } : {}),
  ...(c?.htlcMinimumMsat !== undefined ? { htlcMinimum: msat(BigInt(c.htlcMinimumMsat)) } : {}),
  ...(c?.toSelfDelay !== undefined ? { toSelfDelay: c.toSelfDelay } : {}),
  ...(c?.dustLimitSat !== undefined ? { dustLimit: sat(BigInt(c.dustLimitSat)) } : {}),
  ...(c?.maxHtlcValueInFlightBasisPoints !== undefined ? { maxHtlcValueInFlightBasisPoints: c.maxHtlcValueInFlightBasisPoints } : {})
})

const forwardingOf = (f: NodeConfig["forwarding"]): ForwardingPolicy => ({
  feeBaseMsat: f?.feeBaseMsat ?? defaultForwardingPolicy.feeBaseMsat,
  feeProportionalMillionths: f?.feeProportionalMillionths ?? defaultForwardingPolicy.feeProportionalMillionths,
  cltvExpiryDelta: f?.cltvExpiryDelta ?? defaultForwardingPolicy.cltvExpiryDelta,
  htlcMinimumMsat: f?.htlcMinimumMsat !== undefined ? BigInt(f.htlcMinimumMsat) : defaultForwardingPolicy.htlcMinimumMsat,
  htlcMaximumMsat: f?.htlcMaximumMsat !== undefined ? BigInt(f.htlcMaximumMsat) : defaultForwardingPolicy.htlcMaximumMsat
})

/** A funding transaction: one made-up segwit input (decided by the seed), the funding output. */
const fundingTransaction = (prevTxid: Uint8Array, outputScript: Uint8Array, amount: Sat): Transaction => ({
  version: 2,
  locktime: 0,
  inputs: [
    {
      prevout: { txid: txidFromBytes(prevTxid), vout: 0 },
      scriptSig: new Uint8Array(0),
      sequence: 0xfffffffd,
      witness: [new Uint8Array(71).fill(1), new Uint8Array(33).fill(2)]
    }
  ],
  outputs: [{ value: amount, scriptPubKey: outputScript }]
})

const isNodeId = (b: Uint8Array): b is NodeId => b.length === 33

const encoder = new TextEncoder()
const text = (s: string): Uint8Array => encoder.encode(s)

/** A persist status as one byte of the fingerprint. */
const statusByte = (st: PersistStatus | undefined): number => (st === "Completed" ? 1 : st === "InProgress" ? 2 : 0)

/**
 * The fingerprint's records, written as fixed-width binary fields into one reused buffer (no
 * string built per message or write): a delivery is `m`, sender, receiver (u32), the time
 * (f64), the message length (u32), then its bytes; a write is `p`, the node (u32), the first 8
 * bytes of the channel id, the status byte, the number of updates (u32), each update id (u64).
 */
class Fingerprint {
  private readonly hash = createSha256()
  private readonly buf = new Uint8Array(256)
  private readonly view = new DataView(this.buf.buffer)
  /** `buf`'s first `n` bytes, made once per length (no view allocated per record). */
  private readonly heads: Array<Uint8Array | undefined> = []

  private head(n: number): Uint8Array {
    return (this.heads[n] ??= this.buf.subarray(0, n))
  }

  delivery(from: number, to: number, at: number, bytes: Uint8Array): void {
    const v = this.view
    v.setUint8(0, 0x6d)
    v.setUint32(1, from)
    v.setUint32(5, to)
    v.setFloat64(9, at)
    v.setUint32(17, bytes.length)
    this.hash.update(this.head(21))
    this.hash.update(bytes)
  }

  write(node: number, channelId: Uint8Array, status: PersistStatus | undefined, updates: ReadonlyArray<MonitorUpdate>): void {
    const v = this.view
    v.setUint8(0, 0x70)
    v.setUint32(1, node)
    for (let k = 0; k < 8; k++) this.buf[5 + k] = channelId[k] ?? 0
    v.setUint8(13, statusByte(status))
    v.setUint32(14, updates.length)
    let at = 18
    for (const u of updates) {
      if (at + 8 > this.buf.length) {
        this.hash.update(this.head(at))
        at = 0
      }
      v.setBigUint64(at, BigInt.asUintN(64, u.updateId))
      at += 8
    }
    this.hash.update(this.head(at))
  }

  hex(): string {
    return toHex(this.hash.digest())
  }
}

/**
 * The channel path's process-wide memos are sized for one node, but every node of a run shares
 * them: with hundreds of channels updating at once they thrash (at 300 nodes: commitment keys
 * 70% hits, per-commitment points 55%, against 80% and 73% unbounded). For the run they hold
 * about what its channels update at a time (per planned channel: `MEMO_KEYS_PER_CHANNEL` key
 * sets and points; never below their defaults: 8, where 12 held ~1.8 KiB more live heap per
 * payment at 300 nodes, 3,000 payments, to save 1,861 key set and 3,602 point derivations of
 * ~82,000, ~17 us a payment); the returned function puts the previous
 * capacities back. Pure memos: only speed changes, never a result. The commitment builds memo
 * keeps its default: a build is reused within its channel's round trip, which the default holds
 * (300 nodes, 3,000 payments: 1 build per channel kept 894 builds, ~8.9 KiB of live heap per
 * node, to save 139 of ~40,000 misses in the workload and 1,546 in the setup, ~25 us each).
 */
const MEMO_KEYS_PER_CHANNEL = 8
interface Resizable {
  readonly capacity: number
  readonly resize: (capacity: number) => void
}
const sizeMemosFor = (channels: number): (() => void) => {
  const sized: ReadonlyArray<{ readonly memo: Resizable; readonly wanted: number; readonly previous: number }> = [
    { memo: sharedCommitmentKeysCache, wanted: MEMO_KEYS_PER_CHANNEL * channels },
    { memo: sharedPerCommitmentPoints, wanted: MEMO_KEYS_PER_CHANNEL * channels }
  ].map((m) => ({ ...m, previous: m.memo.capacity }))
  for (const { memo, wanted } of sized) if (wanted > memo.capacity) memo.resize(wanted)
  return () => {
    for (const { memo, previous } of sized) memo.resize(previous)
  }
}

/** Runs a scenario; see the module comment. */
export const runScenario = (scenario: Scenario, options: RunOptions): Promise<ScenarioResult> => new Simulation(scenario, options).run()

/** `runScenario` as an Effect. */
export const runScenarioEffect = (scenario: Scenario, options: RunOptions): Effect.Effect<ScenarioResult> =>
  Effect.promise(() => runScenario(scenario, options))

class Simulation {
  readonly seed: string
  readonly rt = new SimRuntime()
  readonly secp: Secp256k1
  readonly size: number
  readonly nodeIds: ReadonlyArray<NodeId>
  readonly nodes: Array<NodeRuntime>
  readonly net: SimNetwork
  readonly configs: ReadonlyArray<{ readonly channel: LocalChannelConfig; readonly forwarding: ForwardingPolicy }>
  readonly channels: Array<OpenChannel> = []
  /** The planned channels of each node (either end), in plan order. */
  readonly channelsOf: Array<Array<OpenChannel>>
  readonly byFundingTxid = new Map<string, OpenChannel>()
  readonly byChannelId = new Map<string, OpenChannel>()
  /** The workload's payments by `k` (started in `k` order: see `paymentOf`). */
  readonly payments: PaymentLog
  readonly violations: Array<string> = []
  /** What the summary should say that is not a violation (e.g. HTLCs left to the chain after an explained force close). */
  readonly notes: Array<string> = []
  readonly forceCloses: Array<{ readonly channel: string; readonly node: number; readonly reason: string; readonly explained: boolean }> = []
  readonly forceClosed = new Set<string>()
  readonly kinds: ReadonlySet<string>
  /** Invoiced payments (`k`) whose payee has not reported them received yet, by payment hash (hex). */
  readonly awaitingReceipt = new Map<string, number>()
  readonly earned: Array<bigint>
  /**
   * Each (node, channel) pair a forward was seen on, numbered (`${node}/${channel id hex}`: two
   * per channel at most), so that `forwardsSeen`, which keeps one key per forwarded HTLC to the
   * end of the run, names the pair in a few digits instead of 64 hex digits.
   */
  readonly forwardSides = new Map<string, number>()
  /**
   * The incoming HTLCs whose forwarding fee is counted: `htlc id * 2^16 + side` (the side's
   * `forwardSides` number; exact below 2^53, a small integer for a side's first 2^14 HTLCs), or
   * the string `side/id` beyond 2^16 sides or 2^36 ids (a number never equals a string).
   */
  readonly forwardsSeen = new Set<number | string>()
  readonly partitions: Array<ReadonlySet<number>> = []
  readonly traceSink: TraceSink | undefined
  readonly memoryTrace: MemoryTraceSink | undefined
  private readonly digest = new Fingerprint()
  height: number
  feerate: number
  blocks = 0
  reorgs = 0
  /** Payments with an outcome. */
  outcomes = 0
  crashes = 0
  restarts = 0
  phase: Progress["phase"] = "setup"
  workloadStart = 0
  private readonly faultRng: Rng
  private readonly persistRng: Rng
  private lastProgress = 0
  /** Puts the memos' capacities back (see `sizeMemosFor`); set once the channels are planned. */
  private restoreMemos: () => void = () => {}
  /** Nodes built by the setup (see `Progress.nodesStarted`). */
  private nodesStarted = 0

  readonly scenario: Scenario
  readonly options: RunOptions

  constructor(scenario: Scenario, options: RunOptions) {
    this.scenario = scenario
    this.options = options
    this.seed = String(options.seed)
    this.secp = options.secp ?? wasmSecp256k1
    this.size = scenario.nodes.count
    this.kinds = faultKinds(scenario)
    this.height = scenario.chain?.startHeight ?? 1_000
    this.feerate = scenario.chain?.feeratePerKw ?? 2_500
    this.faultRng = Rng.of(this.seed, "faults")
    this.persistRng = Rng.of(this.seed, "persistence")
    this.earned = Array.from({ length: this.size }, () => 0n)
    this.payments = new PaymentLog(scenario.workload.payments)
    this.channelsOf = Array.from({ length: this.size }, () => [])
    const overrides = new Map((scenario.nodes.overrides ?? []).map((o) => [o.node, o.config]))
    this.configs = Array.from({ length: this.size }, (_, i) => {
      const o = overrides.get(i)
      const d = scenario.nodes.defaults
      return {
        channel: channelConfigOf({ ...d?.channel, ...o?.channel }),
        forwarding: forwardingOf({ ...d?.forwarding, ...o?.forwarding })
      }
    })
    this.nodeIds = Array.from({ length: this.size }, (_, i) => {
      const pk = this.secp.publicKey(secretFromSeed(`${this.seed}/node/${i}`, this.secp))
      if (pk === undefined || !isNodeId(pk)) throw new Error("node key derivation failed")
      return pk
    })
    this.nodes = Array.from({ length: this.size }, (_, index) => ({
      index,
      incarnation: -1,
      running: false,
      scope: undefined,
      manager: undefined,
      payments: undefined,
      control: undefined,
      persisterData: makeMemoryPersisterData(),
      storeData: makeMemoryStoreData(),
      persistCalls: 0,
      crashAt: undefined,
      late: undefined
    }))
    if (options.trace === true) {
      this.memoryTrace = new MemoryTraceSink()
      this.traceSink = this.memoryTrace
    } else if (options.trace !== undefined && options.trace !== false) {
      this.traceSink = options.trace
      this.memoryTrace = undefined
    } else {
      this.traceSink = undefined
      this.memoryTrace = undefined
    }
    const network = scenario.network
    const defaults: LinkConfig = {
      latencyMs: network?.latencyMs ?? { kind: "constant", value: 50 },
      reorder: network?.reorder ?? 0,
      loss: network?.loss ?? 0
    }
    const links = new Map<string, LinkConfig>()
    for (const l of network?.links ?? []) {
      const cfg: LinkConfig = { latencyMs: l.latencyMs ?? defaults.latencyMs, reorder: l.reorder ?? defaults.reorder, loss: l.loss ?? defaults.loss }
      links.set(`${l.a}/${l.b}`, cfg)
      links.set(`${l.b}/${l.a}`, cfg)
    }
    this.net = new SimNetwork(
      this.rt,
      Rng.of(this.seed, "network"),
      this.nodeIds,
      (a, b) => (links.size === 0 ? defaults : links.get(`${a}/${b}`) ?? defaults),
      network?.reconnectMs ?? { kind: "constant", value: 1_000 },
      {
        isRunning: (n) => this.nodes[n]!.running,
        separated: (a, b) => this.partitions.some((side) => side.has(a) !== side.has(b)),
        onDeliver: (from, to, bytes, message) => this.onDeliver(from, to, bytes, message)
      },
      options.sessionEvents !== "stream"
    )
  }

  // ---- trace and fingerprint ------------------------------------------------------------------------

  private record(node: number | undefined, kind: TraceKind, data: Record<string, string | number | boolean>): void {
    this.traceSink?.append(node === undefined ? "sim" : `node${node}`, "sim", kind, { t: this.rt.clock.now, ...data })
  }

  private onDeliver(from: number, to: number, bytes: Uint8Array, message: LightningMessage): void {
    this.digest.delivery(from, to, this.rt.clock.now, bytes)
    if (this.traceSink !== undefined) this.record(to, "read", { from, type: message._tag, bytes: toHex(bytes) })
  }

  // ---- nodes ------------------------------------------------------------------------------------------

  private nodeLayer(i: number) {
    return this.traceSink === undefined ? Effect.succeed(undefined) : Effect.succeed(forNode(this.traceSink, `node${i}`))
  }

  /** Starts (or restarts) node `i` over its durable data. */
  private startNode(i: number): Effect.Effect<void> {
    const sim = this
    const node = this.nodes[i]!
    return Effect.gen(function*() {
      node.incarnation += 1
      node.persistCalls = 0
      node.crashAt = undefined
      const scope = yield* Scope.make()
      node.scope = scope
      node.running = true
      const inbox = yield* Queue.unbounded<PeerSessionEvent>()
      sim.net.attach(i, inbox)
      const incarnation = node.incarnation
      const { persister: inner, control } = yield* makeMemoryPersister({
        data: node.persisterData,
        mode: node.late !== undefined ? "hold" : "immediate"
      }).pipe(Scope.provide(scope))
      node.control = control
      const persister = sim.options.wrapPersister?.(i, sim.wrapPersister(node, inner, control, incarnation)) ?? sim.wrapPersister(node, inner, control, incarnation)
      const trace = yield* sim.nodeLayer(i)
      const entropy = makeSeededEntropy(`${sim.seed}/node/${i}/entropy/${incarnation}`)
      // A context, not layers: the services are values already (no layer to build per node).
      const services = Context.make(PeerManager, sim.net.peerManager(i, inbox)).pipe(
        Context.add(ChannelSigner, makeSeedChannelSigner(sha256(text(`${sim.seed}/node/${i}/channel-seed`)), sim.secp)),
        Context.add(MonitorPersister, persister),
        Context.add(Entropy, entropy)
      )
      const withTrace = <A, E, R>(e: Effect.Effect<A, E, R>) => (trace === undefined ? e : Effect.provideService(e, Trace, trace))
      const manager = yield* withTrace(
        makeChannelManager({
          secp: sim.secp,
          shutdownScript: p2wpkhScript(sim.nodeIds[i]!),
          channelConfig: sim.configs[i]!.channel,
          policy: defaultChannelPolicy,
          feerateEstimatePerKw: sim.scenario.chain?.feeratePerKw ?? 2_500,
          maxDustHtlcExposure: msat(5_000_000_000n)
        })
      ).pipe(Effect.provide(services), Scope.provide(scope), Effect.orDie)
      node.manager = manager
      // The manager's events handed over as they are published (no stream: no fiber woken per
      // batch of HTLC events, which are most of them). `make`'s own object always has a listener.
      const listen = listenerOf(manager)
      if (listen === undefined) return yield* Effect.die(new Error("simulation: the channel manager has no listener"))
      const pending = yield* listen((e) => sim.onChannelEventNow(i, manager, e)).pipe(Scope.provide(scope))
      for (const e of pending) sim.onChannelEventNow(i, manager, e)
      if (sim.routing !== undefined) yield* sim.startPayments(i)
    })
  }

  /**
   * The public graph every router sees and the router over it, built once setup is done: one
   * router serves every node (it holds nothing of a node's: the graph is shared and the
   * fees-only scorer learns nothing), so no router is built per node or per restart.
   */
  routing: { readonly router: RouterShape } | undefined

  private startPayments(i: number): Effect.Effect<void> {
    const sim = this
    const node = this.nodes[i]!
    return Effect.gen(function*() {
      const scope = node.scope
      const manager = node.manager
      const routing = sim.routing
      if (scope === undefined || manager === undefined || routing === undefined) return
      const { store } = makeMemoryStore(node.storeData)
      const services = Context.make(ChannelManager, manager).pipe(
        Context.add(NodeSigner, makeNodeSigner(secretFromSeed(`${sim.seed}/node/${i}`, sim.secp), sim.secp)),
        Context.add(Entropy, makeSeededEntropy(`${sim.seed}/node/${i}/payments/${node.incarnation}`)),
        Context.add(Store, store),
        Context.add(Router, routing.router)
      )
      const trace = yield* sim.nodeLayer(i)
      const make = makePayments({
        secp: sim.secp,
        blockHeight: Effect.sync(() => sim.height),
        blockHeightNow: () => sim.height,
        forwardingPolicy: sim.configs[i]!.forwarding
      })
      const payments = yield* (trace === undefined ? make : Effect.provideService(make, Trace, trace)).pipe(Effect.provide(services), Scope.provide(scope))
      node.payments = payments
      // The events handed over as they are published (no stream: no fiber woken per batch).
      const listen = paymentListenerOf(payments)
      if (listen === undefined) return yield* Effect.die(new Error("simulation: the payments layer has no listener"))
      yield* listen((e) => sim.onPaymentEvent(i, e)).pipe(Scope.provide(scope))
    })
  }

  /** What the summary needs of a node's payment events: outcomes, amounts received, forwarding fees. */
  private onPaymentEvent(i: number, e: PaymentEvent): void {
    switch (e._tag) {
      case "PaymentSucceeded":
        return this.outcome(e.paymentId, "succeeded", undefined, e.feePaidMsat)
      case "PaymentFailed":
        return this.outcome(e.paymentId, "failed", e.reason, 0n)
      case "PaymentReceived": {
        // The first report counts (a restart may report a claim again).
        const h = toHex(e.paymentHash)
        const k = this.awaitingReceipt.get(h)
        if (k === undefined) return
        this.payments.setReceived(k, e.amountMsat)
        this.awaitingReceipt.delete(h)
        return
      }
      case "HtlcForwarded": {
        // One fee per incoming HTLC of this node (HTLC ids count per direction of a
        // channel): a restart publishes a forward again, while two MPP parts over the
        // same channels are two HTLCs (two fees).
        const side = `${i}/${toHex(e.inChannelId)}`
        let n = this.forwardSides.get(side)
        if (n === undefined) {
          n = this.forwardSides.size
          this.forwardSides.set(side, n)
        }
        const key = n < 2 ** 16 && e.inHtlcId < 2n ** 36n ? Number(e.inHtlcId) * 2 ** 16 + n : `${n}/${e.inHtlcId}`
        if (this.forwardsSeen.has(key)) return
        this.forwardsSeen.add(key)
        this.earned[i] = this.earned[i]! + e.feeMsat
        return
      }
      default:
        return
    }
  }

  /** The node's persister: counts calls for crash points, holds writes for late persistence, records writes. */
  private wrapPersister(node: NodeRuntime, inner: MonitorPersisterShape, control: MemoryPersisterControl, incarnation: number): MonitorPersisterShape {
    const sim = this
    /** A crash point armed on this call: the write lands first or not, the node freezes and dies. */
    const gate = <A, E>(write: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      // No generator unless a crash is armed on this call (one of these per write).
      Effect.suspend(() => {
        node.persistCalls += 1
        const crash = node.crashAt !== undefined && node.crashAt.call === node.persistCalls ? node.crashAt : undefined
        if (crash === undefined) return write
        return Effect.gen(function*() {
          if (crash.after) yield* Effect.ignore(write)
          node.crashAt = undefined
          node.running = false
          sim.record(node.index, "close", { crashAtPersist: node.persistCalls, after: crash.after })
          yield* control.crash
          sim.rt.at(sim.rt.clock.now, () => sim.crash(node.index, "persist"))
          return yield* Effect.never
        })
      })
    const afterWrite = (channelId: ChannelId, updates: ReadonlyArray<MonitorUpdate>, st: PersistStatus | undefined) => {
      sim.digest.write(node.index, channelId, st, updates)
      if (sim.traceSink !== undefined) sim.record(node.index, "persist", { channel: toHex(channelId), updates: updates.map((u) => String(u.updateId)).join(","), status: st ?? "?" })
      if (st === "InProgress" && node.late !== undefined && node.late.kind === "latePersistence") {
        const delay = Math.max(0, sim.persistRng.sample(node.late.delayMs))
        sim.rt.at(sim.rt.clock.now + delay, () => {
          if (node.incarnation !== incarnation || !node.running) return
          sim.rt.fork(Effect.ignore(control.release(channelId, { count: 1 })))
        })
      }
    }
    const wrapped: MonitorPersisterShape = {
      ...inner,
      persist: (channelId, updates, channelState) =>
        Effect.map(gate(inner.persist(channelId, updates, channelState)), (st) => {
          afterWrite(channelId, updates, st)
          return st
        }),
      persistMany: (writes) =>
        Effect.map(gate(inner.persistMany(writes)), (sts) => {
          writes.forEach((w, k) => afterWrite(w.channelId, w.updates, sts[k]))
          return sts
        })
    }
    // Free (the channels write at once, with no effect) while the in-memory persister is and no
    // crash point or late persistence is armed: a write then is counted and recorded exactly as
    // through `persist` (the gate lets it through).
    const innerFree = writesFreeOf(inner)
    const innerWriteNow = writeNowOf(inner)
    if (innerFree !== undefined && innerWriteNow !== undefined) {
      const free = () => node.crashAt === undefined && node.late === undefined && innerFree()
      declareFreeWrites(wrapped, free, (channelId, updates, channelState, monitorAfter) => {
        if (!free()) return undefined
        const st = innerWriteNow(channelId, updates, channelState, monitorAfter)
        if (st === undefined) return undefined
        node.persistCalls += 1
        afterWrite(channelId, updates, st)
        return st
      })
    }
    return wrapped
  }

  /** One event from the manager's listener: an open's or a close's handling starts as a fiber of its own. */
  private onChannelEventNow(i: number, manager: ChannelManagerShape, e: NodeChannelEvent): void {
    const tag = e.event._tag
    if (tag === "FundingNeeded" || tag === "ChannelPending" || tag === "ChannelClosed") this.rt.fork(this.onChannelEvent(i, manager, e.channelId, e.event))
  }

  private onChannelEvent(i: number, manager: ChannelManagerShape, channelId: ChannelId, event: NodeChannelEvent["event"]): Effect.Effect<void> {
    const sim = this
    return Effect.gen(function*() {
      switch (event._tag) {
        case "FundingNeeded": {
          const pending = sim.pendingOpens.get(`${i}/${toHex(event.temporaryChannelId)}`)
          if (pending === undefined || pending.attempt !== pending.open.attempt) return
          const open = pending.open
          const label = open.attempt === 0 ? `${sim.seed}/funding/${open.plan.index}` : `${sim.seed}/funding/${open.plan.index}/${open.attempt}`
          const tx = fundingTransaction(sha256(text(label)), event.scriptPubKey, event.amount)
          open.fundingTxid = toHex(computeTxid(tx))
          sim.byFundingTxid.set(open.fundingTxid, open)
          yield* Effect.ignore(manager.fundChannel(event.temporaryChannelId, serializeTransaction(tx)))
          return
        }
        case "ChannelPending": {
          const txid = toHex(event.fundingOutpoint.txid)
          const open = sim.byFundingTxid.get(txid)
          // A funding transaction of an attempt the funder forgot is never broadcast.
          if (open === undefined || open.fundingTxid !== txid) return
          if (i === open.plan.b) {
            open.fundeePending = txid
            // The fundee learns the depth once the funder has broadcast (or again after a restart).
            if (open.channelId !== undefined && open.scid !== undefined) yield* Effect.ignore(manager.chainFact(event.channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: open.scid }))
            return
          }
          if (i !== open.plan.a) return
          // The funder has `funding_signed`: it broadcasts the funding transaction (BOLT 2), which
          // the chain then confirms for both ends.
          if (open.channelId === undefined) {
            open.channelId = event.channelId
            sim.byChannelId.set(toHex(event.channelId), open)
            sim.funded += 1
            open.scid = shortChannelIdFromParts(sim.height, open.plan.index + 1, 0)
          }
          const scid = open.scid
          if (scid === undefined) return
          yield* Effect.ignore(manager.chainFact(event.channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: scid }))
          const fundee = sim.nodes[open.plan.b]!.manager
          if (open.fundeePending === txid && fundee !== undefined) yield* Effect.ignore(fundee.chainFact(event.channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: scid }))
          return
        }
        case "ChannelClosed": {
          const reason = event.reason
          if (reason._tag === "FundingAborted") return sim.onFundingAborted(i, channelId)
          if (reason._tag === "Cooperative") return
          const key = toHex(channelId)
          if (sim.forceClosed.has(`${i}/${key}`)) return
          sim.forceClosed.add(`${i}/${key}`)
          const explained = sim.kinds.has("reorder") || sim.kinds.has("feeSpike")
          const detail = `${reason._tag}${"reason" in reason ? `: ${reason.reason}` : ""}`
          sim.forceCloses.push({ channel: key, node: i, reason: detail, explained })
          sim.record(i, "event", { forceClose: key, reason: detail })
          if (!explained) sim.violations.push(`node ${i}: force close of ${key.slice(0, 16)} that no fault explains (${detail})`)
          return
        }
        default:
          return
      }
    })
  }

  /** Opens by funder and temporary channel id ("node/hex"), with the attempt they belong to. */
  readonly pendingOpens = new Map<string, { readonly open: OpenChannel; readonly attempt: number }>()
  /** Opens tried again during setup (after a funder forgot an attempt). */
  retriedOpens = 0
  /** Planned channels whose funding the funder broadcast (`channelId` set). */
  funded = 0

  /**
   * The funder forgot an open before `funding_signed` (BOLT 2: a disconnection then aborts it; a
   * lost message drops the connection): nothing was broadcast, so the planned channel does not
   * exist yet and is opened again once the pair is connected. The fundee may already hold the
   * forgotten attempt in `WaitChannelReady` (it sent `funding_signed`); that funding never
   * reaches the chain, so it is no channel of the run.
   */
  private onFundingAborted(i: number, channelId: ChannelId): void {
    const key = toHex(channelId)
    const byTemporary = this.pendingOpens.get(`${i}/${key}`)
    const byFunding = this.byFundingTxid.get(key)
    const open = byTemporary !== undefined && byTemporary.attempt === byTemporary.open.attempt
      ? byTemporary.open
      : byFunding !== undefined && byFunding.fundingTxid === key
      ? byFunding
      : undefined
    if (open === undefined || open.plan.a !== i || open.channelId !== undefined) return
    open.attempt += 1
    open.fundingTxid = ""
    open.fundeePending = undefined
    this.retriedOpens += 1
    this.record(i, "command", { reopen: open.plan.index, attempt: open.attempt })
    this.rt.at(this.rt.clock.now + 1_000, () => this.openAttempt(open))
  }

  /** Starts the current attempt of a planned open when both ends run and are connected (checked every second until then). */
  private openAttempt(open: OpenChannel): void {
    const { a, b } = open.plan
    if (open.channelId !== undefined) return
    if (open.attempt > 20) {
      this.violations.push(`setup: open ${a}->${b} aborted ${open.attempt} times`)
      return
    }
    const manager = this.nodes[a]!.manager
    if (manager === undefined || !this.nodes[a]!.running || !this.nodes[b]!.running || !this.net.isConnected(a, b)) {
      this.rt.at(this.rt.clock.now + 1_000, () => this.openAttempt(open))
      return
    }
    const sim = this
    const attempt = open.attempt
    this.rt.fork(Effect.gen(function*() {
      const temporary = yield* manager.openChannel(sim.nodeIds[b]!, sat(open.plan.capacitySat), {
        pushAmount: msat(open.plan.pushMsat),
        feeratePerKw: sim.feerate,
        channelType: { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false }
      })
      sim.pendingOpens.set(`${a}/${toHex(temporary)}`, { open, attempt })
    }).pipe(Effect.catch((e) =>
      Effect.sync(() => sim.violations.push(`setup: open ${a}->${b} failed: ${e._tag}${e._tag === "OpenChannelFailed" ? ` (${e.reason})` : ""}`))
    )))
  }

  // ---- faults -------------------------------------------------------------------------------------------

  crash(i: number, why: string): void {
    const node = this.nodes[i]!
    if (node.scope === undefined) return
    const scope = node.scope
    node.scope = undefined
    node.running = false
    node.manager = undefined
    node.payments = undefined
    this.crashes += 1
    this.record(i, "close", { crash: why })
    this.net.dropAll(i)
    this.net.attach(i, undefined)
    const control = node.control
    node.control = undefined
    this.rt.fork(Effect.gen(function*() {
      if (control !== undefined) yield* control.crash
      yield* Scope.close(scope, Exit.void)
    }))
  }

  restart(i: number): void {
    const node = this.nodes[i]!
    if (node.running || node.scope !== undefined) return
    this.restarts += 1
    this.record(i, "start", { restart: node.incarnation + 1 })
    const sim = this
    this.rt.fork(Effect.gen(function*() {
      yield* sim.startNode(i)
      // The chain source reports the depth of every watched funding output again (as the ChainWatcher does).
      const m = sim.nodes[i]!.manager
      if (m !== undefined)
        for (const c of sim.channelsOf[i]!)
          if (c.channelId !== undefined && c.scid !== undefined)
            yield* Effect.ignore(m.chainFact(c.channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: c.scid }))
      for (const [a, b] of sim.net.wantedPairs(i)) sim.net.scheduleReconnect(a, b)
    }))
  }

  private scheduleFaults(): void {
    const t0 = this.workloadStart
    const s = (x: number) => t0 + x * 1000
    for (const f of this.scenario.faults ?? []) {
      switch (f.kind) {
        case "partition": {
          const side = new Set<number>(f.side ?? [])
          if (f.side === undefined) for (let i = 0; i < this.size; i++) if (this.faultRng.chance(f.fraction ?? 0.5)) side.add(i)
          this.rt.at(s(f.fromSeconds), () => {
            this.record(undefined, "command", { partition: [...side].join(",") })
            this.partitions.push(side)
            for (const [a, b] of this.net.wantedPairs()) if (side.has(a) !== side.has(b)) this.net.disconnect(a, b, false)
          })
          this.rt.at(s(f.toSeconds), () => {
            const k = this.partitions.indexOf(side)
            if (k >= 0) this.partitions.splice(k, 1)
            for (const [a, b] of this.net.wantedPairs()) if (!this.net.isConnected(a, b)) this.net.scheduleReconnect(a, b)
          })
          break
        }
        case "crash":
          this.rt.at(s(f.atSeconds), () => this.crash(f.node, "scheduled"))
          if (f.restartAfterSeconds !== undefined) this.rt.at(s(f.atSeconds + f.restartAfterSeconds), () => this.restart(f.node))
          break
        case "crashAtPersist":
          for (let k = 0; k < f.count; k++) {
            const at = this.faultRng.between(f.fromSeconds, f.toSeconds)
            const node = f.nodes !== undefined && f.nodes.length > 0 ? this.faultRng.pick(f.nodes) : this.faultRng.int(this.size)
            const calls = 1 + this.faultRng.int(5)
            const after = this.faultRng.chance(0.5)
            this.rt.at(s(at), () => {
              const n = this.nodes[node]!
              if (!n.running) return
              n.crashAt = { call: n.persistCalls + calls, after }
              // Restart after the crash happened (checked until it did).
              const check = () => {
                if (n.running) {
                  if (n.crashAt !== undefined) this.rt.at(this.rt.clock.now + 1000, check)
                  return
                }
                this.rt.at(this.rt.clock.now + f.restartAfterSeconds * 1000, () => this.restart(node))
              }
              this.rt.at(this.rt.clock.now + 1000, check)
            })
          }
          break
        case "latePersistence": {
          const targets = f.nodes ?? Array.from({ length: this.size }, (_, i) => i)
          this.rt.at(s(f.fromSeconds), () => {
            for (const i of targets) {
              const n = this.nodes[i]!
              n.late = f
              if (n.control !== undefined) this.rt.fork(n.control.setMode("hold"))
            }
          })
          this.rt.at(s(f.toSeconds), () => {
            for (const i of targets) {
              const n = this.nodes[i]!
              n.late = undefined
              if (n.control !== undefined) this.rt.fork(n.control.setMode("immediate"))
            }
          })
          break
        }
        case "reorg":
          this.rt.at(s(f.atSeconds), () => {
            this.reorgs += 1
            this.height -= f.depth
            this.record(undefined, "chain", { reorg: f.depth, height: this.height })
            this.rt.at(this.rt.clock.now + 1_000, () => {
              this.height += f.depth + 1
              this.record(undefined, "chain", { height: this.height })
            })
          })
          break
        case "feeSpike":
          this.rt.at(s(f.atSeconds), () => this.setFeerate(f.feeratePerKw))
          this.rt.at(s(f.atSeconds + f.durationSeconds), () => this.setFeerate(this.scenario.chain?.feeratePerKw ?? 2_500))
          break
        case "disconnect":
          this.rt.at(s(f.atSeconds), () => this.net.disconnect(f.a, f.b, true))
          break
      }
    }
  }

  /** Funders raise (or lower) their channels' feerate with `update_fee` (BOLT 2). */
  private setFeerate(feeratePerKw: number): void {
    this.feerate = feeratePerKw
    this.record(undefined, "chain", { feerate: feeratePerKw })
    for (const c of this.channels) {
      const n = this.nodes[c.plan.a]!
      const m = n.manager
      if (c.channelId === undefined || m === undefined || !n.running) continue
      this.rt.fork(Effect.ignore(m.updateFee(c.channelId, feeratePerKw)))
    }
  }

  private scheduleBlocks(until: number): void {
    const interval = (this.scenario.chain?.blockIntervalSeconds ?? 600) * 1000
    const rng = Rng.of(this.seed, "blocks")
    const next = (from: number) => {
      const at = from + rng.exponential(interval)
      if (at > until) return
      this.rt.at(at, () => {
        this.height += 1
        this.blocks += 1
        this.record(undefined, "chain", { height: this.height })
        next(at)
      })
    }
    next(this.rt.clock.now)
  }

  // ---- payments --------------------------------------------------------------------------------------

  private outcome(paymentId: string, outcome: "succeeded" | "failed", reason: string | undefined, fee: bigint): void {
    const k = this.paymentOf(paymentId)
    if (k === undefined || this.payments.hasOutcome(k)) return
    this.outcomes += 1
    this.payments.setOutcome(k, outcome, reason, fee, this.rt.clock.now)
    this.record(this.payments.payerOf(k), "event", { payment: paymentId, outcome, reason: reason ?? "", fee: String(fee) })
  }

  /**
   * The payment `p<k>`'s row `k`, if started: payments start in `k` order (`schedulePayments` gives
   * them non-decreasing times in that order and the event queue runs ties in insertion order).
   */
  private paymentOf(paymentId: string): number | undefined {
    const k = Number(paymentId.slice(1))
    return Number.isSafeInteger(k) && k >= 0 && k < this.payments.started && `p${k}` === paymentId ? k : undefined
  }

  /**
   * Draws the workload's payments up front, in `k` order (time, pair, amount of each in turn from
   * the "workload" stream), into columns, and queues the first start: each start queues the next
   * (`startNext`), so only one payment's start waits in the event queue, not every payment of the
   * run from the beginning (an event, a closure and its context each, ~250 bytes: ~25 MB of live
   * heap at 100,000 payments, against 24 bytes a payment here). Same times and the same order: the
   * next start is queued at its own time, before it, by the previous start, with the insertion
   * number it had when every start was queued at once (`reserve`). Returns the last start's time.
   */
  private schedulePayments(): number {
    const w = this.scenario.workload
    const rng = Rng.of(this.seed, "workload")
    const duration = (w.durationSeconds ?? Math.max(1, w.payments / (w.ratePerSecond ?? 1))) * 1000
    // Each start keeps the place in the event queue it had when every start was queued here at
    // once: among events at the very same time, payment starts come in their drawing order, before
    // anything queued later.
    const plan: PaymentPlan = { firstSeq: this.rt.reserve(w.payments), at: new Float64Array(w.payments), payer: new Int32Array(w.payments), payee: new Int32Array(w.payments), amountMsat: new Float64Array(w.payments) }
    let t = this.workloadStart
    for (let k = 0; k < w.payments; k++) {
      if (w.ratePerSecond !== undefined) t += rng.exponential(1000 / w.ratePerSecond)
      else t = this.workloadStart + (duration * (k + rng.next())) / w.payments
      const [payer, payee] = choosePair(rng, w.pairs, this.size)
      plan.at[k] = t
      plan.payer[k] = payer
      plan.payee[k] = payee
      // A whole number below 2^53 (at most the distribution's max): exact as a double.
      plan.amountMsat[k] = Math.max(1, Math.round(rng.sample(w.amountMsat)))
    }
    this.startNext(plan, 0)
    return t
  }

  /** Queues payment `k`'s start (if the plan has it), which queues the next one's. */
  private startNext(plan: PaymentPlan, k: number): void {
    if (k >= plan.at.length) return
    this.rt.atReserved(plan.at[k]!, plan.firstSeq + k, () => {
      this.startNext(plan, k + 1)
      this.startPayment(k, plan.payer[k]!, plan.payee[k]!, BigInt(plan.amountMsat[k]!))
    })
  }

  private startPayment(k: number, payer: number, payee: number, amountMsat: bigint): void {
    const w = this.scenario.workload
    const id = `p${k}`
    this.payments.add(k, payer, payee, amountMsat, this.rt.clock.now)
    this.record(payer, "command", { pay: id, payee, amountMsat: String(amountMsat) })
    const from = this.nodes[payer]!.payments
    const to = this.nodes[payee]!.payments
    if (from === undefined || !this.nodes[payer]!.running) return this.outcome(id, "failed", "PayerOffline", 0n)
    if (to === undefined || !this.nodes[payee]!.running) return this.outcome(id, "failed", "PayeeOffline", 0n)
    const maxFee = (amountMsat * BigInt(w.maxFeePpm ?? 10_000)) / 1_000_000n + 1_000n
    const sim = this
    this.rt.fork(Effect.gen(function*() {
      const invoice = yield* to.createInvoice({ amountMsat: msat(amountMsat), description: { text: id }, expirySeconds: 3600 })
      sim.payments.invoiced(k)
      sim.awaitingReceipt.set(toHex(invoice.paymentHash), k)
      yield* from.startPayment(invoice.invoice, { paymentId: id, timeoutMillis: (w.timeoutSeconds ?? 60) * 1000, maxFeeMsat: msat(maxFee) })
    }).pipe(
      Effect.catch((e) => Effect.sync(() => sim.outcome(id, "failed", `Invalid: ${e.reason}`, 0n))),
      Effect.catchDefect((d) => Effect.sync(() => sim.outcome(id, "failed", `Defect: ${String(d)}`, 0n)))
    ))
  }

  // ---- invariants ----------------------------------------------------------------------------------

  /** Both ends of every channel on quiet links agree; every commitment sums to the capacity. */
  private checkAgreement(requireAll: boolean): Effect.Effect<number> {
    const sim = this
    return Effect.gen(function*() {
      let checked = 0
      for (const c of sim.channels) {
        if (c.channelId === undefined) continue
        const a = sim.nodes[c.plan.a]!
        const b = sim.nodes[c.plan.b]!
        if (a.manager === undefined || b.manager === undefined || !a.running || !b.running) continue
        if (!sim.net.isConnected(c.plan.a, c.plan.b) || sim.net.inFlight(c.plan.a, c.plan.b) > 0) continue
        const sa = yield* Effect.result(a.manager.channel(c.channelId))
        const sb = yield* Effect.result(b.manager.channel(c.channelId))
        if (Result.isFailure(sa) || Result.isFailure(sb)) continue
        if (sa.success.paused || sb.success.paused) continue
        if (sa.success.state._tag !== "Normal" || sb.success.state._tag !== "Normal") continue
        checked += 1
        const problems = agreement(sim.secp, sa.success.state, sb.success.state)
        for (const p of problems) sim.violations.push(`t=${(sim.rt.clock.now / 1000).toFixed(1)}s channel ${c.plan.a}-${c.plan.b}: ${p}`)
      }
      if (requireAll && checked === 0 && sim.channels.length > 0) sim.violations.push("no channel could be checked at the end")
      return checked
    })
  }

  /**
   * Each node's balance (msat): its side of every channel; for a channel that left normal
   * operation, the monitor's claim (our output of our latest commitment). `onChain`: per node,
   * the HTLCs of such channels' monitors, which only the chain can settle (BOLT 5).
   */
  private balances(): Effect.Effect<{ readonly balances: Array<bigint>; readonly onChain: Array<bigint> }> {
    const sim = this
    return Effect.gen(function*() {
      const out = Array.from({ length: sim.size }, () => 0n)
      const onChain = Array.from({ length: sim.size }, () => 0n)
      for (let i = 0; i < sim.size; i++) {
        const m = sim.nodes[i]!.manager
        if (m === undefined) continue
        const list = yield* m.listChannels
        for (const c of list) {
          // A forgotten attempt the fundee still holds: its funding never reached the chain.
          if (!sim.byChannelId.has(toHex(c.channelId))) continue
          const state: ChannelState = c.state
          const local = localBalance(state)
          if (local !== undefined) {
            out[i] = out[i]! + local
            continue
          }
          const mon = yield* Effect.result(m.monitorState(c.channelId))
          if (Result.isFailure(mon) || mon.success === undefined) continue
          out[i] = out[i]! + mon.success.holderCommitment.toLocal
          onChain[i] = onChain[i]! + mon.success.holderCommitment.htlcs.reduce((a, h) => a + h.amount, 0n)
        }
      }
      return { balances: out, onChain }
    })
  }

  /** Every channel ends `Normal` at both ends unless a force close was recorded for it. */
  private checkPhases(): Effect.Effect<void> {
    const sim = this
    return Effect.gen(function*() {
      const closed = new Set(sim.forceCloses.map((f) => f.channel))
      for (const c of sim.channels) {
        if (c.channelId === undefined) continue
        const key = toHex(c.channelId)
        if (closed.has(key)) continue
        const phases: Array<string> = []
        for (const n of [c.plan.a, c.plan.b]) {
          const m = sim.nodes[n]!.manager
          const r = m === undefined ? undefined : yield* Effect.result(m.channel(c.channelId))
          phases.push(r === undefined ? "down" : Result.isSuccess(r) ? `${r.success.state._tag}${r.success.paused ? " (paused)" : ""}` : r.failure._tag)
        }
        if (phases.some((p) => p !== "Normal")) sim.violations.push(`channel ${c.plan.a}-${c.plan.b} ended ${phases.join(" / ")} with no force close recorded`)
      }
    })
  }

  /** The opener's balance of each channel it still runs (for the report's colors). */
  private channelSides(): Effect.Effect<ReadonlyMap<string, bigint>> {
    const sim = this
    return Effect.gen(function*() {
      const out = new Map<string, bigint>()
      for (const c of sim.channels) {
        const m = sim.nodes[c.plan.a]!.manager
        if (c.channelId === undefined || m === undefined) continue
        const r = yield* Effect.result(m.channel(c.channelId))
        const b = Result.isSuccess(r) ? localBalance(r.success.state) : undefined
        if (b !== undefined) out.set(toHex(c.channelId), b)
      }
      return out
    })
  }

  private htlcsLeft(): Effect.Effect<number> {
    const sim = this
    return Effect.gen(function*() {
      let n = 0
      for (const node of sim.nodes) {
        if (node.manager === undefined) continue
        for (const c of yield* node.manager.listChannels)
          if (c.state._tag === "Normal") n += c.state.commitments.localCommit.spec.htlcs.length
      }
      return n
    })
  }

  // ---- the run ------------------------------------------------------------------------------------------

  private progress(force = false): void {
    const cb = this.options.onProgress
    if (cb === undefined) return
    if (!force && this.rt.handled - this.lastProgress < 2000) return
    this.lastProgress = this.rt.handled
    cb({
      phase: this.phase,
      simSeconds: (this.rt.clock.now - this.workloadStart) / 1000,
      paymentsDone: this.outcomes,
      paymentsTotal: this.scenario.workload.payments,
      events: this.rt.handled,
      nodesStarted: this.nodesStarted,
      messages: this.net.messages
    })
  }

  /** Handles events until `until` (simulated ms) or until `done` holds; yields to the event loop now and then. */
  private async runUntil(until: number, done: () => boolean = () => false): Promise<void> {
    let slice = 0
    for (;;) {
      if (done()) return
      const next = this.rt.events.peekTime()
      if (next === undefined || next > until) {
        if (this.rt.clock.now < until) this.rt.clock.now = until
        return
      }
      this.rt.step()
      this.progress()
      if (++slice >= 5000) {
        slice = 0
        await new Promise<void>((resolve) => setTimeout(resolve, 0))
      }
    }
  }

  /** The run; the memos' capacities are put back however it ends (a failed run too). */
  async run(): Promise<ScenarioResult> {
    try {
      return await this.runPhases()
    } finally {
      this.restoreMemos()
    }
  }

  private async runPhases(): Promise<ScenarioResult> {
    const scenario = this.scenario
    this.record(undefined, "start", { scenario: scenario.name, seed: this.seed, nodes: this.size })
    // Nodes.
    for (let i = 0; i < this.size; i++) this.rt.runNow(this.startNode(i))
    this.nodesStarted = this.size
    this.progress(true)
    // Channels: connect, open, fund, confirm.
    const plans = buildChannels(Rng.of(this.seed, "topology"), scenario, this.size)
    this.restoreMemos = sizeMemosFor(plans.length)
    for (const plan of plans) {
      const open: OpenChannel = { plan, channelId: undefined, scid: undefined, fundingTxid: "", attempt: 0, fundeePending: undefined }
      this.channels.push(open)
      this.channelsOf[plan.a]!.push(open)
      this.channelsOf[plan.b]!.push(open)
      this.net.want(plan.a, plan.b)
      this.net.connect(plan.a, plan.b)
    }
    this.rt.scheduler.pump()
    for (const open of this.channels) this.openAttempt(open)
    this.rt.scheduler.pump()
    // Counters, not scans: `ready` runs after every event of the setup.
    const ready = () => this.funded === this.channels.length && this.net.totalInFlight() === 0
    await this.runUntil(this.rt.clock.now + 600_000, ready)
    await this.runUntil(this.rt.clock.now + 10_000)
    const normal = this.rt.runNow(Effect.gen({ self: this }, function*() {
      let n = 0
      for (const c of this.channels) {
        if (c.channelId === undefined) continue
        const r = yield* Effect.result(this.nodes[c.plan.a]!.manager!.channel(c.channelId))
        if (Result.isSuccess(r) && r.success.state._tag === "Normal") n += 1
      }
      return n
    }))
    if (normal < this.channels.length) this.violations.push(`setup: ${this.channels.length - normal} of ${this.channels.length} channels did not reach Normal`)
    if (this.retriedOpens > 0) this.notes.push(`setup: ${this.retriedOpens} open(s) tried again after the funder forgot them before funding_signed (a lost message dropped the connection)`)
    // The public graph every router sees, and the one router over it.
    const graph = buildRoutingGraph(this.graphChannels())
    const routerGraph = Layer.succeed(RouterGraph, RouterGraph.of({ current: Effect.succeed(graph) }))
    const router = this.rt.runNow(Effect.provide(Effect.service(Router), DefaultRouter.layer.pipe(Layer.provide(Layer.merge(routerGraph, Scorer.layerFeesOnly)))))
    this.routing = { router }
    for (let i = 0; i < this.size; i++) this.rt.runNow(this.startPayments(i))
    const initial = this.rt.runNow(this.balances()).balances
    const setupSeconds = this.rt.clock.now / 1000
    // Workload and faults.
    this.phase = "workload"
    this.workloadStart = this.rt.clock.now
    this.progress(true)
    const lastStart = this.schedulePayments()
    const timeout = (scenario.workload.timeoutSeconds ?? 60) * 1000
    const faultEnd = Math.max(0, ...(scenario.faults ?? []).map((f) => this.faultEnd(f)))
    const workloadEnd = Math.max(lastStart, this.workloadStart + faultEnd * 1000)
    this.scheduleFaults()
    this.scheduleBlocks(workloadEnd + timeout)
    const checkEvery = (scenario.checkEverySeconds ?? 10) * 1000
    if (checkEvery > 0)
      for (let t = this.workloadStart + checkEvery; t < workloadEnd; t += checkEvery)
        this.rt.at(t, () => void this.rt.fork(this.checkAgreement(false)))
    await this.runUntil(workloadEnd)
    // Healing and drain.
    this.phase = "drain"
    this.progress(true)
    this.partitions.length = 0
    for (const n of this.nodes) {
      n.late = undefined
      n.crashAt = undefined
      if (n.control !== undefined) {
        const control = n.control
        this.rt.fork(Effect.andThen(control.setMode("immediate"), control.releaseAll))
      }
    }
    for (let i = 0; i < this.size; i++) if (!this.nodes[i]!.running) this.restart(i)
    this.rt.scheduler.pump()
    for (const [a, b] of this.net.wantedPairs()) if (!this.net.isConnected(a, b)) this.net.scheduleReconnect(a, b)
    const allDone = () => this.outcomes === scenario.workload.payments
    await this.runUntil(workloadEnd + timeout + 120_000, allDone)
    // Let the last revocations and settlements go through.
    await this.runUntil(this.rt.clock.now + 30_000)
    for (const n of this.nodes) if (n.control !== undefined) this.rt.runNow(n.control.releaseAll)
    await this.runUntil(this.rt.clock.now + 10_000)
    // Final checks.
    const checked = this.rt.runNow(this.checkAgreement(true))
    const { balances: final, onChain } = this.rt.runNow(this.balances())
    const awaitingChain = new Set(onChain.flatMap((v, i) => (v > 0n ? [i] : [])))
    if (awaitingChain.size > 0)
      this.notes.push(`HTLCs of force-closed channels wait for the chain (BOLT 5) at node(s) ${[...awaitingChain].join(", ")}: ${onChain.reduce((a, v) => a + v, 0n)} msat in their monitors`)
    const sides = this.rt.runNow(this.channelSides())
    this.rt.runNow(this.checkPhases())
    const left = this.rt.runNow(this.htlcsLeft())
    if (left > 0) this.violations.push(`${left} HTLC(s) unresolved at the end`)
    const payments = this.payments.rows()
    const onChainPayments = payments.filter((p) => p.outcome === undefined && awaitingChain.size > 0 && [...awaitingChain].some((n) => n === p.payer || this.routeTouches(p, n)))
    if (onChainPayments.length > 0) this.notes.push(`${onChainPayments.length} payment(s) wait for HTLCs of force-closed channels to resolve on chain`)
    const waiting = new Set(onChainPayments)
    const unresolved = payments.filter((p) => p.outcome === undefined && !waiting.has(p))
    if (unresolved.length > 0) {
      const first = unresolved[0]!
      const payer = this.nodes[first.payer]!.payments
      const status = payer === undefined ? undefined : this.rt.runNow(payer.payment(`p${first.k}`))
      this.violations.push(`${unresolved.length} payment(s) without an outcome at the end (p${first.k}: ${status === undefined ? "unknown to its payer" : `${status.status}, ${status.attempts} attempt(s)`})`)
    }
    this.checkConservation(payments, initial, final, awaitingChain)
    const result = this.summarize(payments, initial, final, checked, setupSeconds, sides)
    this.progress(true)
    // Stop every node.
    for (let i = 0; i < this.size; i++) {
      const scope = this.nodes[i]!.scope
      if (scope !== undefined) this.rt.fork(Scope.close(scope, Exit.void))
    }
    this.rt.scheduler.pump()
    return { summary: result, trace: this.memoryTrace?.lines, digest: this.digest.hex() }
  }

  /** Whether a payment's HTLC may sit at node `n` (it pays from, to, or could route through it; without the route, any node). */
  private routeTouches(p: PaymentRecord, n: number): boolean {
    return p.payee === n || p.payer === n || this.forceCloses.some((f) => f.node === n)
  }

  private faultEnd(f: Fault): number {
    switch (f.kind) {
      case "partition":
      case "crashAtPersist":
      case "latePersistence":
        return f.toSeconds
      case "crash":
        return f.atSeconds + (f.restartAfterSeconds ?? 0)
      case "reorg":
      case "disconnect":
        return f.atSeconds
      case "feeSpike":
        return f.atSeconds + f.durationSeconds
    }
  }

  private graphChannels(): ReadonlyArray<GraphChannelInfo> {
    const out: Array<GraphChannelInfo> = []
    for (const c of this.channels) {
      if (c.scid === undefined) continue
      const a = this.nodeIds[c.plan.a]!
      const b = this.nodeIds[c.plan.b]!
      const [n1, n2, i1, i2] = toHex(a) < toHex(b) ? [a, b, c.plan.a, c.plan.b] : [b, a, c.plan.b, c.plan.a]
      out.push({
        shortChannelId: c.scid,
        node1: n1,
        node2: n2,
        capacityMsat: c.plan.capacitySat * 1000n,
        oneToTwo: { ...this.configs[i1]!.forwarding, enabled: true },
        twoToOne: { ...this.configs[i2]!.forwarding, enabled: true }
      })
    }
    return out
  }

  /** No funds created or lost: in total, and per node against what it paid, received and earned. */
  private checkConservation(payments: ReadonlyArray<PaymentRecord>, initial: ReadonlyArray<bigint>, final: ReadonlyArray<bigint>, awaitingChain: ReadonlySet<number>): void {
    const total = (xs: ReadonlyArray<bigint>) => xs.reduce((a, x) => a + x, 0n)
    // HTLCs of force-closed channels are neither side's until the chain settles them: the
    // totals and those nodes' accounts are checked only when there are none.
    if (awaitingChain.size === 0 && total(initial) !== total(final)) this.violations.push(`funds: the nodes held ${total(initial)} msat, now ${total(final)} msat`)
    const expected = [...initial]
    for (const p of payments) {
      if (p.outcome !== "succeeded" || !p.invoiced) continue
      const got = p.receivedMsat ?? p.amountMsat
      expected[p.payer] = expected[p.payer]! - got - p.feeMsat
      expected[p.payee] = expected[p.payee]! + got
    }
    for (let i = 0; i < this.size; i++) {
      expected[i] = expected[i]! + this.earned[i]!
      if (expected[i] !== final[i] && this.nodes[i]!.manager !== undefined && !awaitingChain.has(i))
        this.violations.push(`funds: node ${i} holds ${final[i]} msat, its payments and forwards say ${expected[i]}`)
    }
  }

  private summarize(
    payments: ReadonlyArray<PaymentRecord>,
    initial: ReadonlyArray<bigint>,
    final: ReadonlyArray<bigint>,
    checked: number,
    setupSeconds: number,
    sides: ReadonlyMap<string, bigint>
  ): Summary {
    const ok = payments.filter((p) => p.outcome === "succeeded")
    const failed = payments.filter((p) => p.outcome === "failed")
    const reasons: Record<string, number> = {}
    for (const p of failed) {
      const r = (p.reason ?? "unknown").split(":")[0]!.trim()
      reasons[r] = (reasons[r] ?? 0) + 1
    }
    const latencies = ok.map((p) => Math.round((p.end ?? p.start) - p.start)).sort((a, b) => a - b)
    const timeline = payments.map((p) => ({
      startMs: p.start - this.workloadStart,
      endMs: p.end === undefined ? undefined : p.end - this.workloadStart,
      outcome: p.outcome ?? "pending",
      amountMsat: Number(p.amountMsat)
    }))
    return {
      scenario: this.scenario.name,
      seed: this.seed,
      nodes: this.size,
      channels: this.channels.length,
      payments: {
        attempted: payments.length,
        succeeded: ok.length,
        failed: failed.length,
        failedByReason: reasons,
        amountSucceededMsat: String(ok.reduce((a, p) => a + p.amountMsat, 0n)),
        feesPaidMsat: String(ok.reduce((a, p) => a + p.feeMsat, 0n))
      },
      latencyMs: {
        p50: percentile(latencies, 0.5),
        p90: percentile(latencies, 0.9),
        p99: percentile(latencies, 0.99),
        max: latencies.at(-1) ?? 0
      },
      forceCloses: this.forceCloses.map((f) => ({ ...f })),
      faults: {
        crashes: this.crashes,
        restarts: this.restarts,
        blocks: this.blocks,
        reorgs: this.reorgs,
        messages: this.net.messages,
        messageBytes: this.net.bytes,
        messagesLost: this.net.drops,
        disconnects: this.net.disconnects
      },
      balances: final.map((b, i) => ({ node: i, initialMsat: String(initial[i]), finalMsat: String(b), earnedMsat: String(this.earned[i]) })),
      channelList: this.channels.map((c) => ({
        a: c.plan.a,
        b: c.plan.b,
        capacitySat: Number(c.plan.capacitySat),
        channelId: c.channelId === undefined ? "" : toHex(c.channelId),
        ...(c.channelId !== undefined && sides.has(toHex(c.channelId)) ? { balanceAMsat: String(sides.get(toHex(c.channelId))) } : {})
      })),
      timeline,
      channelsChecked: checked,
      invariantViolations: [...this.violations],
      notes: [...this.notes],
      simulatedSeconds: (this.rt.clock.now - this.workloadStart) / 1000,
      setupSeconds,
      events: this.rt.handled,
      tasks: this.rt.scheduler.tasksRun
    }
  }
}
