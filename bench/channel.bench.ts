import type { LightningMessage } from "../src/protocol/messages/index.ts"
/**
 * Channel throughput (issue 7, "Performance"): HTLC round trips per second between two of our
 * nodes in one process, the share of time spent in secp256k1, and heap bytes per channel.
 *
 * What runs (what a node runs, minus the socket): two `ChannelManager`s (src/actors/ChannelManager.ts),
 * each with its `Channel` actors and `Monitor`s over the pure reducer, the real `SeedChannelSigner`,
 * the production secp256k1 (native, else WASM, else noble), and the LOCAL PERSISTER of a node
 * (`makeReplicatedPersister` over the one `StoreReplica`, as `ReplicatedPersister.layerLocal` builds it) on
 * the in-memory store or on the files store (fsync'ed, group commit, in a temp directory under
 * os.tmpdir(), removed afterwards). The peer layer is a stub: `send` runs each message through
 * the wire codec (encode + decode) and hands it to the other manager's session-event stream (no
 * socket, no Noise). The channel is opened through the managers (`openChannel`, `FundingNeeded`
 * answered with a made-up funding transaction, `FundingDepth` fed to both), not timed.
 *
 * One round trip: A adds an HTLC (`addHtlc`; `update_add_htlc`, `commitment_signed`/`revoke_and_ack`
 * both ways), B fulfills it on `HtlcReceived` (`fulfillHtlc`; `update_fulfill_htlc`, the same again).
 * - one at a time: the next add starts when A saw the fulfill AND both channels are quiet
 *   (nothing pending, nothing awaiting a revocation, no HTLC left; a write that no message
 *   waits on may still be in flight, as for a user); the driver waits for each add's answer and B
 *   for each fulfill's, as a user handling one payment at a time (no fiber forked per command);
 * - 50 in flight: A keeps 50 HTLCs outstanding, adding one per fulfill seen (each add and fulfill
 *   forked, not awaited); the actors batch what is pending into one `commitment_signed`. Figure:
 *   HTLCs resolved per second.
 * The driver hears each manager's events as the library's own `Payments` does (whose payments
 * drive `addHtlc` / `fulfillHtlc` on a real node): through `listenerOf` (ChannelManager.ts), each
 * event handed over when it is published, A's fulfilled HTLCs straight to the driver's queue, B's
 * received ones to B's inbox, where one fiber fulfills them. Not through `subscribe` streams,
 * which cost a wake of a driver fiber per pull that no node runs (until session 15 they did).
 *
 * Two passes per figure: the HEADLINE pass (round trips or HTLCs per second, store writes, fsyncs)
 * runs with no probe at all (the plain secp256k1, signer, persister and wire), so its figures pay
 * for no timing; then a BREAKDOWN pass (same length, a fresh pair) with the probes on gives the
 * secp256k1 share and the CPU per part (its own throughput is printed too, marked as probed).
 *
 * secp256k1 share (breakdown pass): the `Secp256k1` given to the managers and the signers is wrapped in a proxy
 * that adds up the CPU time of the JavaScript thread spent inside its methods
 * (process.threadCpuUsage, so a machine shared with other work does not skew it); "rest" is the
 * remainder of that thread's CPU time. Throughput is printed per second of wall time and per
 * second of the JavaScript thread's CPU time (what one uncontended core would do, for the
 * in-memory runs). The rest is split further: the reducer (`step`) and the record encoding (both
 * through `ChannelManagerConfig.instrument`), the signer, the store write (the persister's replica
 * write: JSON text + `Store.write`; in-memory runs only), the wire codec, and everything else
 * (actors, Effect runtime, persister, monitors, GC, this driver), each in CPU microseconds per
 * round trip / per HTLC with its calls; and `Store.write` calls per round trip / per HTLC, with the bytes each puts
 * (files runs: also the fsyncs, file and directory). The bench's own timing (two `threadCpuUsage`
 * calls per timed secp256k1 call and part, measured once at start) is printed as an estimate; it
 * is inside that pass's "other" (the headline pass has none).
 * For profiling: CHANNEL_BENCH_PROFILE=<path> writes a V8 CPU profile of each measured run,
 * CHANNEL_BENCH_ONLY=one-memory,window-files,... selects runs (none: heap only), CHANNEL_BENCH_MS
 * sets their length, CHANNEL_BENCH_HEAP_N the number of channels for the heap figures (0:
 * skipped), CHANNEL_BENCH_HEAPSNAP=<path> writes heap snapshots around the restore,
 * CHANNEL_BENCH_GROUP=0 turns the channels' write grouping off (for comparison),
 * CHANNEL_BENCH_PARTS=0 skips the breakdown pass (headline figures only), CHANNEL_BENCH_CAPACITY the channels' mailbox capacity (default 4096), CHANNEL_BENCH_DEBUG=1
 * prints user/system CPU per item, =2 also every store write with its updates.
 *
 * Heap: after a forced GC (`--expose-gc` is set at run time through v8.setFlagsFromString), N
 * copies of one stored channel (A's record and update log, idle, then with 100 HTLCs committed;
 * the channel id changed, the signer's state left out) are put in a memory store and a
 * ChannelManager restores them all, as a node does at start (peer not connected: every channel
 * idle). Heap used after GC minus before, divided by N: the manager's entry, the `Channel` actor
 * with its state, the `Monitor` with its state, the persister's entry. The channel state
 * alone and the monitor state alone are measured on their own too.
 *
 * Run: `npm run bench -- channel` (or `node bench/run.ts channel`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { getHeapStatistics, setFlagsFromString, writeHeapSnapshot } from "node:v8"
import { runInNewContext } from "node:vm"
import { NodeFileSystem } from "@effect/platform-node"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Queue, Result, type Scope, Stream } from "effect"
import { nodeIdFromHex } from "../src/api/convert.ts"
import { type ChannelManagerShape, decodeChannelRecord, listenerOf, make as makeChannelManager, type NodeChannelEvent } from "../src/actors/ChannelManager.ts"
import { type PeerInfo, PeerNotConnected, PeerSessionEvent, SessionId } from "../src/actors/PeerEvent.ts"
import { declareSendNow, PeerManager, type PeerManagerShape } from "../src/actors/PeerManager.ts"
import { loadSecp256k1Best } from "../src/layers/crypto/secp256k1-best.ts"
import { makeMemoryPersister } from "../src/layers/persister/MemoryPersister.ts"
import { makeReplicatedPersister } from "../src/layers/persister/ReplicatedPersister.ts"
import type { MonitorReplica } from "../src/layers/persister/replica.ts"
import { decodeSnapshot, decodeState, decodeUpdate, makeStoreReplica } from "../src/layers/persister/StoreReplica.ts"
import { makeSeedChannelSigner } from "../src/layers/signer/SeedChannelSigner.ts"
import { makeFileStore } from "../src/layers/store/FileStore.ts"
import { makeMemoryStore } from "../src/layers/store/MemoryStore.ts"
import { nodeStoreDisk, type StoreDisk } from "../src/layers/store/StoreDisk.ts"
import * as SeededEntropy from "../src/layers/test/SeededEntropy.ts"
import { toHex } from "../src/protocol/bytes.ts"
import { defaultChannelPolicy, defaultLocalChannelConfig } from "../src/protocol/channel/config.ts"
import type { NegotiatedChannelType } from "../src/protocol/channel/open.ts"
import type { ChannelState } from "../src/protocol/channel/state.ts"
import { type ShortChannelId, shortChannelIdFromParts } from "../src/protocol/codec/fields.ts"
import type { Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import { type FeatureName, featureInfo, featuresToBytes } from "../src/protocol/features.ts"
import { LightningMessages } from "../src/protocol/messages/index.ts"
import { replay, replayFrom } from "../src/protocol/monitor/apply.ts"
import type { MonitorState } from "../src/protocol/monitor/state.ts"
import type { MonitorUpdate } from "../src/protocol/monitor/update.ts"
import { p2wpkhScript } from "../src/protocol/tx/bitcoin/script.ts"
import { makeInput, setWitness, type Transaction, txidFromBytes } from "../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, type NodeId, sat } from "../src/protocol/units.ts"
import { ChannelSigner, type ChannelSignerShape } from "../src/services/ChannelSigner.ts"
import { MonitorPersister } from "../src/services/MonitorPersister.ts"
import { putOp, type StoreEntry, type StoreOp, type StoreShape } from "../src/services/Store.ts"

// ---- settings ------------------------------------------------------------------------------------

const MEASURE_MS = Number(process.env["CHANNEL_BENCH_MS"] ?? 3_000)
const WARMUP_MS = Number(process.env["CHANNEL_BENCH_WARMUP_MS"] ?? 1_500)
/** Each measured pass first runs this long, untimed, on its own fresh pair (CHANNEL_BENCH_RUN_WARMUP_MS). */
const RUN_WARMUP_MS = Number(process.env["CHANNEL_BENCH_RUN_WARMUP_MS"] ?? 1_000)
/** For profiling: write a V8 CPU profile of the measured runs only (no start-up, no warm-up, no pair set-up) to this file. */
const PROFILE = process.env["CHANNEL_BENCH_PROFILE"]
/** With CHANNEL_BENCH_PROFILE: a sampling allocation profile (every allocation, collected or not) instead of a CPU profile. */
const ALLOC = process.env["CHANNEL_BENCH_ALLOC"] === "1"
/** For profiling: run only these scenarios (comma-separated: one-memory, one-store, one-files, window-memory, window-store, window-files). */
const ONLY = process.env["CHANNEL_BENCH_ONLY"]?.split(",")
/** For heap analysis: write V8 heap snapshots before and after the idle channels are restored (<path>.before/.after.heapsnapshot). */
const HEAPSNAP = process.env["CHANNEL_BENCH_HEAPSNAP"]
/** CHANNEL_BENCH_PARTS=0: no breakdown pass (the probed pass: secp256k1 share and CPU per part). */
const PARTS = process.env["CHANNEL_BENCH_PARTS"] !== "0"
/** CHANNEL_BENCH_DEBUG, read once (not a `process.env` lookup per store write). */
const DEBUG = process.env["CHANNEL_BENCH_DEBUG"]
const WINDOW = 50
const FUNDING_SAT = 500_000_000n // 5 BTC (option_support_large_channel): room for 50,000 HTLCs of 10,000 sat one way
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

const textEncoder = new TextEncoder()
const enc = (s: string): Uint8Array => textEncoder.encode(s)
const bytes32 = (label: string): Uint8Array => sha256(enc(label))

// ---- the timing proxy around Secp256k1 -----------------------------------------------------------

interface SecpTimer {
  /** The secp256k1 itself, unwrapped (the headline pass). */
  readonly raw: Secp256k1
  /** The timed proxy (the breakdown pass). */
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
    ...(inner.pointMultiplyTweakAdd === undefined ? {} : { pointMultiplyTweakAdd: wrap("pointMultiplyTweakAdd", inner.pointMultiplyTweakAdd) }),
    secretAdd: wrap("secretAdd", inner.secretAdd),
    secretMultiply: wrap("secretMultiply", inner.secretMultiply)
  }
  return { raw: inner, secp, ms: () => total, calls: () => perMethod, meter: new Meter(() => total) }
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

// ---- two nodes: the real ChannelManager, the local persister, a direct "wire" ------------------------

const features: ReadonlySet<FeatureName> = new Set<FeatureName>([
  "option_data_loss_protect",
  "option_static_remotekey",
  "option_upfront_shutdown_script",
  "option_shutdown_anysegwit",
  "option_channel_type",
  "option_anchors",
  "option_support_large_channel"
])
/** The negotiated bits both stub peers report (the optional bit of each feature). */
const featureBitList: ReadonlyArray<number> = [...features].map((f) => featureInfo(f).oddBit)
const featureBytes = featuresToBytes(new Set(featureBitList))

const SESSION = SessionId(1)

/**
 * Where a node persists: "memory" is the in-memory `MonitorPersister` (immediate: states and
 * updates kept as given, no encoding; as the payment bench and the simulation run); "store" is the
 * node's local persister (the store replica: JSON text of every write) over the in-memory store;
 * "files" the same over the files store (fsync'ed).
 */
type Storage = "memory" | "store" | "files"
type Mode = "one" | "window"

/** One node: its manager, the session-event inbox its stub peer layer feeds, its store. */
interface Node {
  readonly name: string
  readonly nodeId: NodeId
  readonly inbox: Queue.Queue<PeerSessionEvent>
  readonly store: StoreShape
  /** Set once both nodes exist. */
  peer: Node | undefined
  manager: ChannelManagerShape | undefined
}

const nodeIdOf = (secp: Secp256k1, name: string): NodeId => {
  const key = secp.publicKey(bytes32(`${name}/node`))
  if (key === undefined) throw new Error("unreachable: a valid node secret")
  return nodeIdFromHex(toHex(key))
}

const peerInfoOf = (peer: Node, direction: "inbound" | "outbound"): PeerInfo => ({
  session: SESSION,
  nodeId: peer.nodeId,
  address: { host: peer.name, port: 9735 },
  direction,
  localFeatures: featureBytes,
  remoteFeatures: featureBytes,
  negotiatedFeatures: featureBitList,
  remoteNetworks: undefined
})

/**
 * The peer layer of `node` for the bench: no socket, no Noise. `send` runs the message through
 * the wire codec (encode, decode: the peer layer's own cost on a message) and hands it to the
 * other node's session-event stream as a `Message` of the one session.
 */
const stubPeerManager = (node: Node, meter: Meter | undefined): PeerManagerShape => {
  const notUsed = (what: string) => Effect.die(new Error(`bench peer layer: ${what} is not used`))
  // The codec called directly when it is not timed (the headline pass): no closure per message.
  const encode = (message: LightningMessage) => (meter === undefined ? LightningMessages.encode(message) : meter.time("codec", () => LightningMessages.encode(message)))
  const decode = (bytes: Uint8Array) => (meter === undefined ? LightningMessages.decode(bytes) : meter.time("codec", () => LightningMessages.decode(bytes)))
  const sendNow = (session: SessionId, message: LightningMessage): undefined => {
    const bytes = encode(message)
    if (Result.isFailure(bytes)) throw new Error(`${message._tag} does not encode`)
    const decoded = decode(bytes.success)
    if (Result.isFailure(decoded) || decoded.success._tag === "UnknownMessage") throw new Error(`${message._tag} does not decode`)
    const to = node.peer
    if (to !== undefined) Queue.offerUnsafe(to.inbox, PeerSessionEvent.Message({ session, nodeId: node.nodeId, message: decoded.success }))
    return undefined
  }
  return declareSendNow({
    nodeId: node.nodeId,
    features: featureBytes,
    listenAddress: undefined,
    connect: () => notUsed("connect"),
    peers: Effect.sync(() => (node.peer === undefined ? [] : [peerInfoOf(node.peer, "outbound")])),
    peer: (nodeId) =>
      Effect.suspend(() =>
        node.peer !== undefined && toHex(node.peer.nodeId) === toHex(nodeId)
          ? Effect.succeed(peerInfoOf(node.peer, "outbound"))
          : Effect.fail(new PeerNotConnected({ nodeId }))
      ),
    disconnect: () => notUsed("disconnect"),
    // The same send as an effect (the manager uses the one at once: `declareSendNow`).
    send: (session, message) => Effect.sync(() => sendNow(session, message)),
    sendBytes: () => notUsed("sendBytes"),
    sessionEvents: Stream.fromQueue(node.inbox),
    events: Stream.empty,
    subscribe: Effect.succeed(Stream.empty)
  }, sendNow)
}

/** The persister's replica over `store`, its writes timed as "store write" (in-memory runs: they complete synchronously). */
const meteredReplica = (store: StoreShape, meter: Meter, timed: boolean): MonitorReplica => {
  const replica = makeStoreReplica(store)
  return timed ? { ...replica, write: (writes) => meter.timeEffect("store write", replica.write(writes)) } : replica
}

/** Counts the files store's fsyncs (file and directory). */
const fsyncCounter = { n: 0 }

/** Counts `Store.write` calls (a files-store batch may group several). */
const storeWriteCounter = { n: 0, bytes: 0 }
const counted = (store: StoreShape, name: string): StoreShape => ({
  ...store,
  write: (ops) =>
    Effect.suspend(() => {
      storeWriteCounter.n++
      for (const o of ops) if (o._tag === "Put") storeWriteCounter.bytes += o.key.length + o.value.length
      if (DEBUG === "2") {
        const tags = ops.flatMap((o) => (o._tag === "Put" && o.key.includes("/u/") ? [utf8.decode(o.value).slice(9, 40).split('"')[0]] : []))
        console.log(`${(performance.now() % 100000).toFixed(2)} ${name} write: ${tags.join(", ")}`)
      }
      return store.write(ops)
    })
})

const makeStore = (storage: Storage, name: string): Effect.Effect<StoreShape, never, Scope.Scope> =>
  storage !== "files"
    ? Effect.succeed(counted(makeMemoryStore().store, name))
    : Effect.gen(function*() {
        const dir = mkdtempSync(join(tmpdir(), `eln-bench-${name}-`))
        // Added first, so it runs after the store's own finalizer (finalizers run in reverse).
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        const real = yield* nodeStoreDisk.pipe(Effect.provide(NodeFileSystem.layer))
        // fsyncs counted: each `writeSynced` is one of the file, each `syncDirectory` one of the directory
        const disk: StoreDisk = {
          ...real,
          writeSynced: (path, data) => Effect.andThen(Effect.sync(() => fsyncCounter.n++), real.writeSynced(path, data)),
          openOverwrite: (path) =>
            Effect.map(real.openOverwrite(path), (h) => ({ ...h, overwriteSynced: (data: Uint8Array) => Effect.andThen(Effect.sync(() => fsyncCounter.n++), h.overwriteSynced(data)) })),
          syncDirectory: (path) => Effect.andThen(Effect.sync(() => fsyncCounter.n++), real.syncDirectory(path))
        }
        return counted(yield* makeFileStore(disk, { directory: join(dir, "store") }).pipe(Effect.orDie), name)
      })

let runCounter = 0

/**
 * Starts the manager of `node` over its store (the local persister: `makeReplicatedPersister`
 * with the one store replica, as `ReplicatedPersister.layerLocal` builds it), a fresh seed signer (timed)
 * and seeded entropy. Channels stored in the store are restored.
 */
const startManager = (timer: SecpTimer, node: Node, storage: Storage, seedTag: string, probed = true) =>
  Effect.gen(function*() {
    const meter = timer.meter
    const secp = probed ? timer.secp : timer.raw
    const persister =
      storage === "memory"
        ? (yield* makeMemoryPersister({ mode: "immediate" })).persister
        : yield* makeReplicatedPersister({ replicas: [meteredReplica(node.store, meter, probed && storage === "store")], quorum: 1 }).pipe(Effect.orDie)
    const seedSigner = makeSeedChannelSigner(bytes32(`${node.name}/seed`), secp)
    const signer = probed ? meteredSigner(seedSigner, meter) : seedSigner
    const manager = yield* makeChannelManager({
      secp,
      shutdownScript: p2wpkhScript(bytes32(`${node.name}/payout`).slice(0, 20)),
      channelConfig: { ...defaultLocalChannelConfig, maxAcceptedHtlcs: 483 },
      policy: { ...defaultChannelPolicy, acceptLargeChannels: true, maxFunding: sat(FUNDING_SAT) },
      feerateEstimatePerKw: 2500,
      maxDustHtlcExposure: msat(50_000_000n),
      channelCapacity: Number(process.env["CHANNEL_BENCH_CAPACITY"] ?? 4096),
      ...(probed ? { instrument: <A>(part: "step" | "record encode", f: () => A): A => meter.time(part === "step" ? "step (reducer)" : part, f) } : {}),
      groupPersists: process.env["CHANNEL_BENCH_GROUP"] !== "0"
    }).pipe(
      Effect.provideService(PeerManager, stubPeerManager(node, probed ? meter : undefined)),
      Effect.provideService(ChannelSigner, signer),
      Effect.provideService(MonitorPersister, persister),
      // A fresh seed per run: the channel key ids differ from one pair to the next.
      Effect.provide(SeededEntropy.layer(`${node.name}/${seedTag}`)),
      Effect.orDie
    )
    node.manager = manager
    return manager
  })

/** The driver's side of a pair: what the event handlers report to, and the flags they read. */
interface Pair {
  readonly a: Node
  readonly b: Node
  readonly channelId: ChannelId
  /** One element per HTLC of A's resolved (fulfilled) as A sees it (-1 on a failure). */
  readonly resolved: Queue.Queue<bigint>
  /** The scope of the pair (its scenario's): where the forked adds run. */
  readonly scope: Scope.Scope
  /** Whether B fulfills what it receives (off: HTLCs stay committed). */
  autoFulfill: boolean
  /**
   * One HTLC at a time: the driver waits for each add's answer, and B for its fulfill's (as a
   * user handling one payment at a time does); else both are forked, so that they batch.
   */
  oneAtATime: boolean
  readonly preimages: Map<string, Uint8Array>
  nextHtlc: number
  failure: string | undefined
}

const managerOf = (node: Node): ChannelManagerShape => {
  if (node.manager === undefined) throw new Error(`${node.name} has no manager`)
  return node.manager
}

/** Waits (polling the event log) for the first event of a node matching `pick`. */
const awaitEvent = <A>(log: ReadonlyArray<NodeChannelEvent>, pick: (e: NodeChannelEvent) => A | undefined, what: string): Effect.Effect<A> =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000_000; i++) {
      for (const e of log) {
        const found = pick(e)
        if (found !== undefined) return found
      }
      yield* Effect.yieldNow
    }
    throw new Error(`never saw ${what}`)
  })

/**
 * Two nodes with a channel between them (A funds it; opened through the managers, not timed):
 * `openChannel`, `FundingNeeded` answered with a made-up funding transaction, the funding depth
 * reported to both, `channel_ready` both ways.
 */
const newPair = (timer: SecpTimer, storage: Storage, probed = true): Effect.Effect<Pair, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const seedTag = `run ${runCounter++}`
    const mk = (name: string) =>
      Effect.gen(function*() {
        const node: Node = {
          name,
          nodeId: nodeIdOf(timer.secp, name),
          inbox: yield* Queue.unbounded<PeerSessionEvent>(),
          store: yield* makeStore(storage, name),
          peer: undefined,
          manager: undefined
        }
        return node
      })
    const a = yield* mk("alice")
    const b = yield* mk("bob")
    a.peer = b
    b.peer = a
    const ma = yield* startManager(timer, a, storage, seedTag, probed)
    const mb = yield* startManager(timer, b, storage, seedTag, probed)
    const logA: Array<NodeChannelEvent> = []
    const logB: Array<NodeChannelEvent> = []
    const resolved = yield* Queue.unbounded<bigint>()
    const control = { autoFulfill: true, oneAtATime: false, preimages: new Map<string, Uint8Array>(), nextHtlc: 0, failure: undefined as string | undefined }
    /** A failure a listener heard: recorded, and the driver woken (it throws it). */
    const failNow = (why: string): void => {
      control.failure ??= why
      Queue.offerUnsafe(resolved, -1n)
    }
    const fail = (why: string) => Effect.sync(() => failNow(why))
    // The managers' events are heard through `listenerOf`, as the library's `Payments` hears them
    // (a node's payments drive `addHtlc` / `fulfillHtlc` that way): each event handed over when it
    // is published, with no stream and no fiber between (a `subscribe` stream would wake a fiber of
    // the driver per pull, which no node runs).
    const listenA = listenerOf(ma)
    const listenB = listenerOf(mb)
    if (listenA === undefined || listenB === undefined) throw new Error("unreachable: managers made by `make` have listeners")
    // A's events: each fulfilled HTLC offered to the driver at once.
    const hearA = (e: NodeChannelEvent): void => {
      logA.push(e)
      if (logA.length > 64) logA.splice(0, 32)
      switch (e.event._tag) {
        case "HtlcResolved":
          if (e.event.result._tag !== "Fulfilled") return failNow(`alice: ${e.event.result._tag}`)
          Queue.offerUnsafe(resolved, e.event.htlcId)
          return
        case "HtlcRejected":
        case "ChannelClosed":
          return failNow(`alice: ${JSON.stringify(e.event, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`)
      }
    }
    for (const e of yield* listenA(hearA)) hearA(e)
    // B's events: what it receives goes to B's inbox (as `Payments` queues it), where one fiber
    // fulfills it (one at a time: each fulfill awaited, as a user's; else each forked, so they batch like adds).
    const received = yield* Queue.unbounded<{ readonly channelId: ChannelId; readonly htlcId: bigint; readonly paymentHash: Uint8Array }>()
    const hearB = (e: NodeChannelEvent): void => {
      logB.push(e)
      if (logB.length > 64) logB.splice(0, 32)
      switch (e.event._tag) {
        case "HtlcReceived":
          if (control.autoFulfill) Queue.offerUnsafe(received, { channelId: e.channelId, htlcId: e.event.htlcId, paymentHash: e.event.paymentHash })
          return
        case "ChannelClosed":
          return failNow(`bob: ${e.event._tag}`)
      }
    }
    for (const e of yield* listenB(hearB)) hearB(e)
    const fulfillAll = (htlcs: ReadonlyArray<{ readonly channelId: ChannelId; readonly htlcId: bigint; readonly paymentHash: Uint8Array }>): Effect.Effect<void> => {
      const fulfills: Array<Effect.Effect<unknown>> = []
      for (const h of htlcs) {
        const key = toHex(h.paymentHash)
        const preimage = control.preimages.get(key)
        if (preimage === undefined) return fail("bob: unknown payment hash")
        control.preimages.delete(key)
        const fulfill = Effect.catch(mb.fulfillHtlc(h.channelId, h.htlcId, preimage), (err) => fail(`bob: fulfill refused: ${err._tag}`))
        fulfills.push(control.oneAtATime ? fulfill : Effect.forkIn(fulfill, scope))
      }
      // In order (one at a time: each awaited), else each forked.
      return fulfills.length === 1 && fulfills[0] !== undefined ? Effect.asVoid(fulfills[0]) : Effect.all(fulfills, { discard: true })
    }
    // No yield after each round (`disableYield`): the loop suspends in `takeAll` until B receives again.
    yield* Queue.takeAll(received).pipe(Effect.flatMap(fulfillAll), Effect.forever({ disableYield: true }), Effect.forkIn(scope))
    // Connected, both ways, on the one session.
    yield* Queue.offer(a.inbox, PeerSessionEvent.Connected({ session: SESSION, peer: peerInfoOf(b, "outbound") }))
    yield* Queue.offer(b.inbox, PeerSessionEvent.Connected({ session: SESSION, peer: peerInfoOf(a, "inbound") }))

    const temporaryChannelId = yield* ma.openChannel(b.nodeId, sat(FUNDING_SAT), { channelType: CHANNEL_TYPE, feeratePerKw: 2500 }).pipe(Effect.orDie)
    const needed = yield* awaitEvent(logA, (e) => (e.event._tag === "FundingNeeded" ? e.event : undefined), "FundingNeeded")
    const tx: Transaction = setWitness(
      {
        version: 2,
        inputs: [makeInput({ txid: txidFromBytes(bytes32(`wallet utxo ${seedTag}`)), vout: 0 }, 0xfffffffd)],
        outputs: [{ value: needed.amount, scriptPubKey: needed.scriptPubKey }],
        locktime: 0
      },
      0,
      [new Uint8Array(72), new Uint8Array(33)]
    )
    yield* ma.fundChannel(temporaryChannelId, tx).pipe(Effect.orDie)
    const channelId = yield* awaitEvent(logA, (e) => (e.event._tag === "ChannelPending" ? e.event.channelId : undefined), "ChannelPending")
    yield* awaitEvent(logB, (e) => (e.event._tag === "ChannelPending" ? e.event.channelId : undefined), "ChannelPending (bob)")
    const scid: ShortChannelId = shortChannelIdFromParts(800_000, 1, 0)
    const depth = defaultLocalChannelConfig.minimumDepth
    yield* ma.chainFact(channelId, { _tag: "FundingDepth", depth, shortChannelId: scid }).pipe(Effect.orDie)
    yield* mb.chainFact(channelId, { _tag: "FundingDepth", depth, shortChannelId: scid }).pipe(Effect.orDie)
    yield* awaitEvent(logA, (e) => (e.event._tag === "ChannelReady" ? true : undefined), "ChannelReady (alice)")
    yield* awaitEvent(logB, (e) => (e.event._tag === "ChannelReady" ? true : undefined), "ChannelReady (bob)")
    const pair: Pair = Object.assign(control, { a, b, channelId, resolved, scope })
    yield* waitQuiet(pair, 0)
    return pair
  })

/**
 * A adds one HTLC. Not awaited (forked) while HTLCs are in flight together: adds queue up behind
 * each other and batch. One at a time (`pair.oneAtATime`) the driver waits for the command's
 * answer, as a user paying one payment after another does (no fiber of its own per add).
 */
const addHtlc = (pair: Pair): Effect.Effect<unknown> =>
  // No generator and no `pipe` (the driver's own steps, per HTLC): the command, awaited or forked in the pair's scope.
  Effect.suspend((): Effect.Effect<unknown> => {
    const i = pair.nextHtlc++
    const preimage = preimageOf(i)
    const paymentHash = sha256(preimage)
    pair.preimages.set(toHex(paymentHash), preimage)
    const add = Effect.catch(
      managerOf(pair.a).addHtlc(pair.channelId, { requestId: `htlc-${i}`, amount: msat(HTLC_MSAT), paymentHash, cltvExpiry: 800_144, onion: ONION }),
      (e) =>
        Effect.suspend(() => {
          pair.failure ??= `addHtlc: ${e._tag}`
          return Queue.offer(pair.resolved, -1n)
        })
    )
    return pair.oneAtATime ? add : Effect.forkIn(add, pair.scope)
  })
const ONION = new Uint8Array(1366)
/**
 * The payee's preimage of HTLC `i`: 32 bytes distinct per HTLC are enough (a payee draws random ones),
 * here `i` in the last bytes, big-endian: no hash of a label per HTLC to make one.
 */
const preimageOf = (i: number): Uint8Array => {
  const preimage = new Uint8Array(32)
  for (let at = 31, n = i; n > 0; at--, n = Math.floor(n / 256)) preimage[at] = n % 256
  return preimage
}

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

const quietPolls = { n: 0 }
/**
 * Waits until both channels are quiet (`isQuiet`); with `durable`, also until every write they
 * made is durable (not `paused`). The one-at-a-time loop does not wait for durability: a write
 * that nothing waits on (the last revocation's) may finish while the next HTLC starts, as it
 * would for a user; sends never wait less (they are held by the channel until durable).
 */
const waitQuiet = (pair: Pair, htlcs: number, durable = true): Effect.Effect<void> => {
  // Each poll's effect made once (an effect runs again each time it is yielded): the polls are the driver's, not a user's.
  const quietNow = (node: Node) =>
    Effect.map(Effect.orDie(managerOf(node).channel(pair.channelId)), (c) => (!durable || !c.paused) && isQuiet(c.state, htlcs))
  const quietA = quietNow(pair.a)
  const quietB = quietNow(pair.b)
  return Effect.gen(function*() {
    for (let i = 0; ; i++) {
      quietPolls.n++
      // A first, B only when A is quiet (A is the last to become quiet in a round trip): a busy
      // channel's snapshot goes through its mailbox, so fewer polls perturb the channels less.
      if ((yield* quietA) && (yield* quietB)) return
      if (pair.failure !== undefined) throw new Error(pair.failure)
      if (i > 1_000_000) throw new Error("the channels never became quiet")
      yield* Effect.yieldNow
    }
  })
}

// ---- scenarios -----------------------------------------------------------------------------------

interface Figures {
  readonly probed: boolean
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
  /** Store writes (`Store.write` calls) per round trip / per HTLC. */
  readonly storeWrites: number
  /** Bytes (keys and values put) per store write. */
  readonly bytesPerWrite: number
  /** fsyncs (file and directory) per round trip / per HTLC (files store). */
  readonly fsyncs: number
  /** Calls timed by this bench (secp256k1 methods and parts) per round trip / per HTLC: each costs two `threadCpuUsage` calls. */
  readonly timedCalls: number
}

/** CPU ms of one pair of `process.threadCpuUsage()` calls (what timing one call costs), measured once. */
const timingCostMs: number = (() => {
  const n = 20_000
  const t0 = threadCpuMs()
  for (let i = 0; i < n; i++) {
    process.threadCpuUsage()
    process.threadCpuUsage()
  }
  return (threadCpuMs() - t0) / n
})()

const secpCallCount = (timer: SecpTimer): number => {
  let n = 0
  for (const m of timer.calls().values()) n += m.n
  return n
}

const takeResolved = (pair: Pair): Effect.Effect<number> =>
  Effect.gen(function*() {
    const got = yield* Queue.takeAll(pair.resolved)
    if (pair.failure !== undefined || got.includes(-1n)) throw new Error(pair.failure ?? "an HTLC was refused")
    return got.length
  })

/** One measured run; `probed`: the breakdown pass (secp256k1 proxy, per-part timing), else the headline pass (no probe). */
const scenario = (timer: SecpTimer, mode: Mode, storage: Storage, ms: number, probed: boolean, profile = false): Effect.Effect<Figures> =>
  Effect.scoped(
    Effect.gen(function*() {
      const pair = yield* newPair(timer, storage, probed)
      pair.oneAtATime = mode === "one"
      // Untimed warm-up on this pair (RUN_WARMUP_MS): the process-wide warm-up ran on other nodes,
      // whose actors are closures of their own, so V8 compiles again for this pair's first HTLCs.
      let resolved = 0
      const quiet = waitQuiet(pair, 0, false)
      const one = Effect.gen(function*() {
        yield* addHtlc(pair)
        const n = yield* takeResolved(pair)
        yield* quiet
        return n
      })
      const windowStep = Effect.gen(function*() {
        const n = yield* takeResolved(pair)
        for (let i = 0; i < n; i++) yield* addHtlc(pair)
        return n
      })
      if (mode === "window") for (let i = 0; i < WINDOW; i++) yield* addHtlc(pair)
      const warmUntil = performance.now() + RUN_WARMUP_MS
      while (performance.now() < warmUntil) resolved += yield* (mode === "one" ? one : windowStep)
      const cpu0 = process.cpuUsage()
      const thread0 = process.threadCpuUsage()
      const secp0 = timer.ms()
      const parts0 = timer.meter.snapshot()
      const writes0 = storeWriteCounter.n
      const bytes0 = storeWriteCounter.bytes
      const fsyncs0 = fsyncCounter.n
      const secpCalls0 = secpCallCount(timer)
      const polls0 = quietPolls.n
      const t0 = performance.now()
      const measured = Effect.gen(function*() {
        let n = 0
        while (performance.now() - t0 < ms) n += yield* (mode === "one" ? one : windowStep)
        return n
      })
      const count = yield* (profile ? profiled(measured) : measured)
      const wallMs = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      const thread = process.threadCpuUsage(thread0)
      const secpMs = timer.ms() - secp0
      const writes = storeWriteCounter.n - writes0
      const writtenBytes = storeWriteCounter.bytes - bytes0
      const fsyncs = fsyncCounter.n - fsyncs0
      const secpCalls = secpCallCount(timer) - secpCalls0
      if (DEBUG !== undefined) {
        console.log(`polls per item ${(quietPolls.n - polls0) / count}; JS thread user ${(thread.user / 1000 / count).toFixed(2)} ms, system ${(thread.system / 1000 / count).toFixed(2)} ms per item`)
      }
      const parts = new Map(
        [...timer.meter.snapshot()].map(([k, v]) => {
          const b = parts0.get(k)
          return [k, { ms: v.ms - (b?.ms ?? 0), secpMs: v.secpMs - (b?.secpMs ?? 0), n: v.n - (b?.n ?? 0) }] as const
        })
      )
      // Let what is in flight finish before the scope closes the nodes (not timed).
      if (mode === "window") {
        let outstanding = pair.nextHtlc - resolved - count
        while (outstanding > 0) outstanding -= yield* takeResolved(pair)
      }
      yield* waitQuiet(pair, 0)
      const threadMs = (thread.user + thread.system) / 1000
      return {
        probed,
        mode,
        storage,
        count,
        wallMs,
        cpuMs: (cpu.user + cpu.system) / 1000,
        threadMs,
        secpMs,
        perSecond: (count * 1000) / wallMs,
        perThreadSecond: (count * 1000) / threadMs,
        parts,
        storeWrites: writes / Math.max(1, count),
        bytesPerWrite: writtenBytes / Math.max(1, writes),
        fsyncs: fsyncs / Math.max(1, count),
        timedCalls: (secpCalls + [...parts.values()].reduce((n, p) => n + p.n, 0)) / Math.max(1, count)
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

const utf8 = new TextDecoder()

/** A's store entries of the pair's channel (its record and update log), with B still holding `htlcs` HTLCs committed. */
const sampleStore = (timer: SecpTimer, htlcs: number): Effect.Effect<{ readonly channelHex: string; readonly entries: ReadonlyArray<StoreEntry> }> =>
  Effect.scoped(
    Effect.gen(function*() {
      const pair = yield* newPair(timer, "store")
      yield* addHtlc(pair)
      yield* takeResolved(pair)
      yield* waitQuiet(pair, 0)
      pair.autoFulfill = false
      for (let i = 0; i < htlcs; i++) yield* addHtlc(pair)
      yield* waitQuiet(pair, htlcs)
      const channelHex = toHex(pair.channelId)
      const entries = yield* pair.a.store.list(`monitor/${channelHex}/`).pipe(Effect.orDie)
      return { channelHex, entries }
    })
  )

interface HeapFigures {
  readonly n: number
  /** Per channel: the whole node side (manager entry, the Channel actor and the Monitor with their states, persister entry). */
  readonly channelBytes: number
  /** The channel state alone (decoded copies of the record's). */
  readonly stateBytes: number
  /** The monitor state alone (replays of the log). */
  readonly monitorBytes: number
  readonly recordJsonBytes: number
  readonly updates: number
}

/**
 * N copies of one stored channel (its id changed in keys and contents, the signer's state left
 * out: one signer key set is shared) in a memory store; a ChannelManager restores them all (as
 * at a node's start; the peer is not connected: every channel idle). Heap after GC minus before
 * (the store's own content excluded), divided by N.
 */
const heapPerChannel = (timer: SecpTimer, sample: { readonly channelHex: string; readonly entries: ReadonlyArray<StoreEntry> }, n: number): Effect.Effect<HeapFigures> =>
  Effect.gen(function*() {
    const store = makeMemoryStore().store
    let recordJsonBytes = 0
    let updates = 0
    for (let i = 0; i < n; i++) {
      const hex = toHex(bytes32(`heap channel ${i}`))
      const ops: Array<StoreOp> = []
      for (const e of sample.entries) {
        let text = utf8.decode(e.value).replaceAll(sample.channelHex, hex)
        if (e.key.endsWith("/state")) {
          // A state may start with its version header (0x02, the version, a newline) and then a 0x01 byte
          // when it refers to blobs (StoreReplica); both stay as they are, and the references too.
          const marker = /^(\u0002[0-9]+\n)?\u0001?/.exec(text)?.[0] ?? ""
          const record: unknown = JSON.parse(text.slice(marker.length))
          if (typeof record === "object" && record !== null && "signer" in record) delete record.signer
          text = marker + JSON.stringify(record)
          recordJsonBytes = text.length
        } else if (i === 0 && e.key.includes("/u/")) updates++
        ops.push(putOp(e.key.replace(sample.channelHex, hex), enc(text)))
      }
      yield* store.write(ops).pipe(Effect.orDie)
    }
    // The channel state alone and the monitor state alone (decoded copies).
    const stateEntry = sample.entries.find((e) => e.key.endsWith("/state"))
    const updateEntries = sample.entries.filter((e) => e.key.includes("/u/"))
    const before = heapUsed()
    const states: Array<unknown> = []
    const blobOf = (id: string): string | undefined => {
      const b = sample.entries.find((e) => e.key.endsWith(`/blob/${id}`))
      return b === undefined ? undefined : utf8.decode(b.value)
    }
    for (let i = 0; i < n && stateEntry !== undefined; i++) {
      const json = decodeState(stateEntry.value, blobOf)
      if (Result.isFailure(json)) throw new Error(`the sample state does not decode: ${json.failure}`)
      const r = decodeChannelRecord(json.success)
      if (Result.isFailure(r)) throw new Error("the sample record does not decode")
      states.push(r.success.channel)
    }
    const stateBytes = (heapUsed() - before) / n
    states.length = 0
    const decodeLog = (): Array<MonitorUpdate> =>
      updateEntries.map((e) => {
        const u = decodeUpdate(e.value)
        if (Result.isFailure(u)) throw new Error(`a sample update does not decode: ${u.failure}`)
        return u.success
      })
    const before2 = heapUsed()
    const monitors: Array<MonitorState> = []
    for (let i = 0; i < n; i++) {
      // Each copy from its own decoded log (replay keeps references to the updates' bytes), after the snapshot if the log was compacted.
      const snap = sample.entries.find((e) => e.key.endsWith("/snap"))
      // its revoked commitments in chunks `rv/<start>` (StoreReplica)
      const chunks = new Map(sample.entries.flatMap((e) => (e.key.includes("/rv/") ? [[Number(e.key.slice(e.key.lastIndexOf("/") + 1)), e.value] as const] : [])))
      const base = snap === undefined ? undefined : decodeSnapshot(snap.value, chunks)
      if (base !== undefined && Result.isFailure(base)) throw new Error(`the sample snapshot does not decode: ${base.failure}`)
      const m = base === undefined ? replay(timer.secp, decodeLog()) : replayFrom(timer.secp, base.success, decodeLog())
      if (Result.isFailure(m)) throw new Error(`the sample log does not replay: ${m.failure._tag}`)
      monitors.push(m.success)
    }
    const monitorBytes = (heapUsed() - before2) / n
    monitors.length = 0
    // A first restore (not measured): the code it runs is compiled once, not counted per channel.
    const restore = (measure: boolean) => Effect.scoped(
      Effect.gen(function*() {
        const node: Node = {
          name: "heap",
          nodeId: nodeIdOf(timer.secp, "heap"),
          inbox: yield* Queue.unbounded<PeerSessionEvent>(),
          store,
          peer: undefined,
          manager: undefined
        }
        const base = heapUsed()
        if (HEAPSNAP !== undefined && measure) writeHeapSnapshot(`${HEAPSNAP}.${n}.before.heapsnapshot`)
        const manager = yield* startManager(timer, node, "store", "heap")
        // Let every actor fiber start and park on its mailbox.
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        if (HEAPSNAP !== undefined && measure) {
          heapUsed()
          writeHeapSnapshot(`${HEAPSNAP}.${n}.after.heapsnapshot`)
        }
        const listed = (yield* manager.listChannels).length
        if (listed !== n) throw new Error(`restored ${listed} channels, not ${n}`)
        return (heapUsed() - base) / n
      })
    )
    yield* restore(false)
    // Let the first restore's fibers and timers wind down before the baseline is taken.
    yield* Effect.sleep("200 millis")
    const channelBytes = yield* restore(true)
    return { n, channelBytes, stateBytes, monitorBytes, recordJsonBytes, updates }
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
const profiled = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  PROFILE === undefined
    ? effect
    : Effect.acquireUseRelease(
        Effect.promise(async () => {
          if (ALLOC) {
            await post("HeapProfiler.enable")
            await post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
            return
          }
          await post("Profiler.enable")
          await post("Profiler.setSamplingInterval", { interval: 200 })
          await post("Profiler.start")
        }),
        () => effect,
        () =>
          Effect.promise(async () => {
            if (ALLOC) {
              const sampled = await post("HeapProfiler.stopSampling")
              if (typeof sampled === "object" && sampled !== null && "profile" in sampled) {
                writeFileSync(`${PROFILE}.${profileParts++}.heapprofile`, JSON.stringify(sampled.profile))
              }
              return
            }
            const result = await post("Profiler.stop")
            if (typeof result === "object" && result !== null && "profile" in result) {
              writeFileSync(`${PROFILE}.${profileParts++}.cpuprofile`, JSON.stringify(result.profile))
            }
          })
      )

// ---- report --------------------------------------------------------------------------------------

const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(0)}%` : "-")
const verdict = (ok: boolean): string => (ok ? "ok" : "BELOW TARGET")

const storageLabel: Record<Storage, string> = { memory: "in memory", store: "in-memory store", files: "files+fsync" }
const label = (f: Figures): string => `${f.mode === "one" ? "one at a time" : `${WINDOW} in flight`}, ${storageLabel[f.storage]}`

/** The in-memory targets hold for both in-memory runs (the persister's and the store replica's). */
const targetOf = (f: Figures): number =>
  f.mode === "one" ? (f.storage === "files" ? TARGETS.oneFiles : TARGETS.oneMemory) : f.storage === "files" ? TARGETS.windowFiles : TARGETS.windowMemory

export const run = async (): Promise<void> => {
  session?.connect()
  const choice = await loadSecp256k1Best()
  const timer = timeSecp(choice.secp)
  console.log(
    `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${availableParallelism()} cores (wall figures need an idle machine)\n` +
      `secp256k1: ${choice.backend}; two ChannelManagers, a direct wire (codec round trip, no socket/noise); persisted: "in memory" by the in-memory persister (no encoding), ` +
      `"in-memory store" and "files+fsync" by the node's local persister (store replica: JSON) over the in-memory store or the files store; ` +
      `channel type ${CHANNEL_TYPE.name}, HTLC ${HTLC_MSAT / 1000n} sat; ${MEASURE_MS} ms per figure`
  )
  const program = Effect.gen(function*() {
    // Warm-up (not reported): the JIT, the commitment-keys cache paths (the probed pass warms up later).
    yield* scenario(timer, "window", "memory", WARMUP_MS / 2, false)
    yield* scenario(timer, "one", "memory", WARMUP_MS / 4, false)
    const configs = (["one", "window"] as const).flatMap((mode) =>
      (["memory", "store", "files"] as const)
        .filter((storage) => ONLY === undefined || ONLY.includes(`${mode}-${storage}`))
        .map((storage) => ({ mode, storage, unit: mode === "one" ? "round trips/s" : "HTLCs/s", item: mode === "one" ? "round trip" : "HTLC" }))
    )
    // The headline passes first, all of them: no probe (plain secp256k1, signer, persister, wire),
    // and no probe run before them in this process, whose wrapped functions would leave the JIT's
    // call sites polymorphic for the headline.
    for (const { item, mode, storage, unit } of configs) {
      const h = yield* scenario(timer, mode, storage, MEASURE_MS, false, true)
      const target = targetOf(h)
      console.log(
        `${label(h).padEnd(27)} ${h.perSecond.toFixed(0).padStart(5)} ${unit} wall, ${h.perThreadSecond.toFixed(0).padStart(5)} per JS-thread CPU s` +
          ` (target >= ${target}: wall ${verdict(h.perSecond >= target)}, cpu ${verdict(h.perThreadSecond >= target)})` +
          `  n=${h.count}; JS CPU per ${item} ${((1000 * h.threadMs) / h.count).toFixed(0)} us; ${h.storeWrites.toFixed(1)} store writes per ${item} (${(h.bytesPerWrite / 1024).toFixed(1)} KiB each)${h.storage === "files" ? `, ${h.fsyncs.toFixed(1)} fsyncs` : ""}; JS thread busy ${pct(h.threadMs, h.wallMs)} of wall [headline pass: no probes]`
      )
    }
    const rows: Array<Figures> = []
    if (PARTS && configs.length > 0) yield* scenario(timer, "one", "memory", WARMUP_MS / 4, true)
    for (const { item, mode, storage, unit } of PARTS ? configs : []) {
      // The breakdown pass: a fresh pair with every probe on (its throughput pays for them).
      const f = yield* scenario(timer, mode, storage, MEASURE_MS, true, true)
      rows.push(f)
      const named = [...f.parts].reduce((t, [, v]) => t + v.ms, 0)
      const per = (ms: number): string => `${((1000 * ms) / f.count).toFixed(0)} us`
      console.log(
        `breakdown pass [probes on], ${label(f)}: ${f.perThreadSecond.toFixed(0)} ${unit} per JS-thread CPU s (${f.perSecond.toFixed(0)} wall), n=${f.count}; ` +
          `secp ${pct(f.secpMs, f.threadMs)} / rest ${pct(f.threadMs - f.secpMs, f.threadMs)} of JS CPU`
      )
      console.log(
        `    JS CPU per ${item} ${per(f.threadMs)}: ` +
          [...f.parts]
            .filter(([, v]) => v.n > 0)
            .sort((x, y) => y[1].ms - x[1].ms)
            .map(([k, v]) => `${k} ${per(v.ms)} [${(v.n / f.count).toFixed(1)} calls]${v.secpMs > 0.5 ? ` (secp ${per(v.secpMs)})` : ""}`)
            .join(", ") +
          `, other (actors, Effect runtime, monitors, GC, driver${f.storage === "files" ? ", store write" : ""}) ${per(f.threadMs - named)}`
      )
      console.log(
        `    of which this bench's timing: ${f.timedCalls.toFixed(0)} timed calls per ${item}, ` +
          `about ${per(f.timedCalls * f.count * timingCostMs)} (two threadCpuUsage calls each, ${(timingCostMs * 1000).toFixed(2)} us per pair; not in the headline pass)`
      )
    }
    for (const storage of ["memory", "store"] as const) {
      const mem = rows.filter((r) => r.storage === storage)
      if (mem.length === 0) continue
      const secpMs = mem.reduce((s, r) => s + r.secpMs, 0)
      const cpuMs = mem.reduce((s, r) => s + r.threadMs, 0)
      const restShare = (100 * (cpuMs - secpMs)) / cpuMs
      // The probes' own cost (inside "rest"), taken out for the share without them.
      const probeMs = mem.reduce((s, r) => s + r.timedCalls * r.count * timingCostMs, 0)
      const restUnprobed = (100 * (cpuMs - probeMs - secpMs)) / (cpuMs - probeMs)
      console.log(
        `secp256k1 share (${storageLabel[storage]} breakdown runs, of the JS thread's CPU time): secp ${pct(secpMs, cpuMs)}, rest ${restShare.toFixed(0)}%` +
          ` (${restUnprobed.toFixed(0)}% without the probes' estimated cost; target: rest <= ${TARGETS.restPercentMax}%: ${verdict(restUnprobed <= TARGETS.restPercentMax)})`
      )
    }
    if (rows.length > 0) {
      const calls = [...timer.calls().entries()].sort((x, y) => y[1].ms - x[1].ms)
      console.log(`  secp calls (all runs): ${calls.map(([k, v]) => `${k} ${v.n} (${v.ms.toFixed(0)} ms)`).join(", ")}`)
      console.log("  for scale: LDK's bench_sends ~350 payments/s")
    }
    if (HEAP_CHANNELS_IDLE === 0) return
    if (forceGc === undefined) console.log("heap: no gc available (figures would be noise); skipped")
    else {
      const idle = yield* sampleStore(timer, 0)
      const loaded = yield* sampleStore(timer, 100)
      const hIdle = yield* heapPerChannel(timer, idle, HEAP_CHANNELS_IDLE)
      const hLoaded = yield* heapPerChannel(timer, loaded, HEAP_CHANNELS_100)
      const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`
      const line = (h: HeapFigures) =>
        `${kib(h.channelBytes)} (restored by a ChannelManager from its store; channel state alone ${kib(h.stateBytes)}, monitor state alone ${kib(h.monitorBytes)}; ` +
        `record JSON ${kib(h.recordJsonBytes)}, ${h.updates} updates; n=${h.n})`
      console.log(`heap per channel, idle:      ${line(hIdle)} (target < 20 KiB: ${verdict(hIdle.channelBytes < TARGETS.idleHeapBytesMax)})`)
      console.log(`heap per channel, 100 HTLCs: ${line(hLoaded)}`)
    }
  })
  await Effect.runPromise(program)
}
