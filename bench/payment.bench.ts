import type { LightningMessage } from "../src/protocol/messages/index.ts"
/**
 * Payment throughput (issue 8 "Benchmark", the payment layer's part): end-to-end payments per
 * second between two of our nodes in one process: Bob creates an invoice (`Payments.createInvoice`,
 * stored), Alice pays it (`Payments.pay`: invoice decode and checks, the payment written to her
 * store, a route from the default `Router`, the onion, `addHtlc`), Bob's payment layer peels
 * the onion, checks the invoice, claims (stored) and fulfils, and Alice gets the preimage back.
 * Measured one payment at a time, and with 50 payments in flight.
 *
 * What runs: two `ChannelManager`s with their `Channel` and `Monitor` actors, the seed channel
 * signer, the production secp256k1, the in-memory `MonitorPersister` (immediate) and in-memory
 * `Store`s; the peer layer is a stub handing each message (through the wire codec) to the other
 * node's session stream (no socket, no Noise), as bench/channel.bench.ts does. Each run also with
 * the files store (one per node, fsync'ed, in a temp directory: the local persister's replica and
 * the payments' records; PAYMENT_BENCH_FILES=0 skips these). Printed with each run: the payment
 * records written per payment, the `commitment_signed`s and the HTLC signatures in them per payment;
 * for the in-memory runs, the JS thread's time by part (see `PARTS`). Then payments through 3 hops: 5 nodes in a line (each
 * funding a channel to the next, the routers given the line's channels as gossip would), in
 * memory. Route computation on the public graph is bench/route.bench.ts (`npm run bench -- payment` runs it
 * too, after this module).
 *
 * Run: `npm run bench -- payment` (PAYMENT_BENCH_MS sets each run's length; PAYMENT_BENCH_ONLY=hops
 * runs only the 3-hop runs, PAYMENT_BENCH_ONLY=two only the two-node runs, PAYMENT_BENCH_WINDOW=1 or 50 only
 * the runs with that many payments in flight; PAYMENT_BENCH_LINKS=1 prints, for the 3-hop runs, the `commitment_signed`s
 * per payment each node sent on each link and the HTLC signatures in each: every commitment signs
 * every HTLC of its link again, so HTLCs waiting in a link cost in each of its commitments;
 * PAYMENT_BENCH_OPS=1 prints the Effect operations per payment of each run, a figure a loaded
 * machine does not change).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import type { Profiler } from "node:inspector"
import { Session } from "node:inspector/promises"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { NodeFileSystem } from "@effect/platform-node"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Fiber, Layer, Queue, Result, Stream, Tracer } from "effect"
import { make as makeChannelManager, ChannelManager, type NodeChannelEvent } from "../src/actors/ChannelManager.ts"
import { nodeIdFromHex } from "../src/api/convert.ts"
import { type PeerInfo, PeerNotConnected, PeerSessionEvent, SessionId } from "../src/actors/PeerEvent.ts"
import { declareSendNow, PeerManager, type PeerManagerShape } from "../src/actors/PeerManager.ts"
import { make as makePayments, type PaymentsShape } from "../src/actors/Payments.ts"
import { makeNodeSigner } from "../src/layers/InMemoryNodeSigner.ts"
import { loadSecp256k1Best } from "../src/layers/crypto/secp256k1-best.ts"
import { makeMemoryPersister } from "../src/layers/persister/MemoryPersister.ts"
import { makeReplicatedPersister } from "../src/layers/persister/ReplicatedPersister.ts"
import { makeStoreReplica } from "../src/layers/persister/StoreReplica.ts"
import { makeFileStore } from "../src/layers/store/FileStore.ts"
import { nodeStoreDisk } from "../src/layers/store/StoreDisk.ts"
import { DefaultRouter } from "../src/layers/router/DefaultRouter.ts"
import { defaultForwardingPolicy } from "../src/protocol/payment/forward.ts"
import { buildRoutingGraph, type ChannelInfo as GraphChannelInfo, type DirectionPolicy, type RoutingGraph } from "../src/protocol/routing/graph.ts"
import { makeSeedChannelSigner } from "../src/layers/signer/SeedChannelSigner.ts"
import { makeMemoryStore } from "../src/layers/store/MemoryStore.ts"
import { makeSeededEntropy } from "../src/layers/test/SeededEntropy.ts"
import { compareBytes, equalBytes, toHex } from "../src/protocol/bytes.ts"
import { defaultChannelPolicy, defaultLocalChannelConfig } from "../src/protocol/channel/config.ts"
import { shortChannelIdFromParts } from "../src/protocol/codec/fields.ts"
import type { Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import { type FeatureName, featureInfo, featuresToBytes } from "../src/protocol/features.ts"
import { LightningMessages } from "../src/protocol/messages/index.ts"
import { p2wpkhScript } from "../src/protocol/tx/bitcoin/script.ts"
import { makeInput, setWitness, txidFromBytes } from "../src/protocol/tx/bitcoin/transaction.ts"
import { msat, type NodeId, sat } from "../src/protocol/units.ts"
import { ChannelSigner } from "../src/services/ChannelSigner.ts"
import { Entropy } from "../src/services/Entropy.ts"
import { MonitorPersister } from "../src/services/MonitorPersister.ts"
import { NodeSigner } from "../src/services/NodeSigner.ts"
import { RouterGraph } from "../src/services/Router.ts"
import { Scorer } from "../src/services/Scorer.ts"
import { declareStoreWriteNow, Store, type StoreOp, type StoreShape, storeWriteNowOf } from "../src/services/Store.ts"

const MEASURE_MS = Number(process.env["PAYMENT_BENCH_MS"] ?? 3_000)
const WARMUP_MS = Number(process.env["PAYMENT_BENCH_WARMUP_MS"] ?? 500)
/**
 * Each run first pays for this long on its own, fresh nodes, untimed (PAYMENT_BENCH_RUN_WARMUP_MS;
 * 0 with PAYMENT_BENCH_COUNT). The process-wide warm-up above runs on other node instances: every
 * node's actors are closures of their own, so code V8 optimized for the warm-up's nodes deopts
 * ("wrong call target", "wrong map") and is compiled again on the measured nodes' first payments.
 * `--trace-opt --trace-deopt` counted 790 compilations inside a 3 s window without this warm-up.
 */
/**
 * PAYMENT_BENCH_COUNT=N: each run makes N payments instead of running for PAYMENT_BENCH_MS (a fixed
 * amount of work, e.g. to count instructions under `valgrind --tool=callgrind`, which a loaded
 * machine does not change).
 */
const COUNT = Number(process.env["PAYMENT_BENCH_COUNT"] ?? 0)
const RUN_WARMUP_MS = COUNT > 0 ? 0 : Number(process.env["PAYMENT_BENCH_RUN_WARMUP_MS"] ?? 1_000)
const WINDOW = 50
const FUNDING_SAT = 500_000_000n
const AMOUNT = msat(10_000_000n)
/** Issue 8: payments per second between two nodes in memory, one at a time and with 50 in flight. */
const TARGETS = { one: 200, window: 500 }
const enc = (s: string) => new TextEncoder().encode(s)

const features: ReadonlySet<FeatureName> = new Set<FeatureName>([
  "option_data_loss_protect", "option_static_remotekey", "option_anchors", "option_channel_type",
  "var_onion_optin", "payment_secret", "basic_mpp", "option_support_large_channel"
])
const featureBitList = [...features].map((f) => featureInfo(f).oddBit)
const featureBytes = featuresToBytes(new Set(featureBitList))

interface Node {
  readonly name: string
  readonly secret: Uint8Array
  readonly nodeId: NodeId
  readonly inbox: Queue.Queue<PeerSessionEvent>
  /** The node's peers, by node id hex, each with the session of their link. */
  readonly peers: Map<string, { readonly node: Node; readonly session: SessionId }>
}

const peerInfoOf = (peer: Node, session: SessionId): PeerInfo => ({
  session,
  nodeId: peer.nodeId,
  address: { host: peer.name, port: 9735 },
  direction: "outbound",
  localFeatures: featureBytes,
  remoteFeatures: featureBytes,
  negotiatedFeatures: featureBitList,
  remoteNetworks: undefined
})

/** No socket: each message goes through the wire codec to the other node's session stream. */
const stubPeers = (node: Node): PeerManagerShape => {
  const notUsed = (what: string) => Effect.die(new Error(`bench peer layer: ${what} is not used`))
  const sendNow = (session: SessionId, message: LightningMessage): undefined => {
    if (message._tag === "CommitmentSigned") {
      storeWrites.commitmentSigned += 1
      storeWrites.htlcSignatures += message.htlcSignatures.length
      const link = `${node.name}/${session}`
      const c = signedByLink.get(link) ?? { signed: 0, htlcs: 0 }
      c.signed += 1
      c.htlcs += message.htlcSignatures.length
      signedByLink.set(link, c)
    }
    const bytes = LightningMessages.encode(message)
    if (Result.isFailure(bytes)) throw new Error(`${message._tag} does not encode`)
    const decoded = LightningMessages.decode(bytes.success)
    if (Result.isFailure(decoded) || decoded.success._tag === "UnknownMessage") throw new Error(`${message._tag} does not decode`)
    let to: Node | undefined
    for (const p of node.peers.values()) if (p.session === session) to = p.node
    if (to !== undefined) Queue.offerUnsafe(to.inbox, PeerSessionEvent.Message({ session, nodeId: node.nodeId, message: decoded.success }))
    return undefined
  }
  return declareSendNow({
    nodeId: node.nodeId,
    features: featureBytes,
    listenAddress: undefined,
    connect: () => notUsed("connect"),
    peers: Effect.sync(() => [...node.peers.values()].map((p) => peerInfoOf(p.node, p.session))),
    peer: (nodeId) =>
      Effect.suspend(() => {
        const p = node.peers.get(toHex(nodeId))
        return p !== undefined ? Effect.succeed(peerInfoOf(p.node, p.session)) : Effect.fail(new PeerNotConnected({ nodeId }))
      }),
    disconnect: () => notUsed("disconnect"),
    // The same send as an effect (the manager uses the one at once: `declareSendNow`).
    send: (session, message) => Effect.sync(() => sendNow(session, message)),
    sendBytes: () => notUsed("sendBytes"),
    sessionEvents: Stream.fromQueue(node.inbox),
    events: Stream.empty,
    subscribe: Effect.succeed(Stream.empty)
  }, sendNow)
}

/** The first event of `log` from index `from` on that `pick` takes. */
const awaitEvent = <A>(log: ReadonlyArray<NodeChannelEvent>, pick: (e: NodeChannelEvent) => A | undefined, what: string, from = 0): Effect.Effect<A> =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000_000; i++) {
      for (let k = from; k < log.length; k++) {
        const found = pick(log[k]!)
        if (found !== undefined) return found
      }
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error(`never saw ${what}`))
  })

/** Writes to the payment layers' stores (both nodes), for "payment records written per payment". */
/** commitment_signed sent (and the HTLC signatures in them) by sender and link, for PAYMENT_BENCH_LINKS=1. */
const signedByLink = new Map<string, { signed: number; htlcs: number }>()
const storeWrites = { puts: 0, bytes: 0, commitmentSigned: 0, htlcSignatures: 0 }
const countedStore = (inner: StoreShape): StoreShape => {
  const count = (ops: ReadonlyArray<StoreOp>) => {
    for (const op of ops) {
      if (op._tag !== "Put") continue
      storeWrites.puts += 1
      storeWrites.bytes += op.value.length
    }
  }
  const counted: StoreShape = {
    ...inner,
    put: (key, value, ifVersion) =>
      Effect.suspend(() => {
        storeWrites.puts += 1
        storeWrites.bytes += value.length
        return inner.put(key, value, ifVersion)
      }),
    // The payment layer writes its records through `write` (one put each, handed over).
    write: (ops) =>
      Effect.suspend(() => {
        count(ops)
        return inner.write(ops)
      })
  }
  // A store in memory writes at once (`storeWriteNowOf`), as the payment layer then does: counted the same.
  const innerNow = storeWriteNowOf(inner)
  return innerNow === undefined ? counted : declareStoreWriteNow(counted, (ops) => {
    count(ops)
    return innerNow(ops)
  })
}

/** Where a node keeps its channels and payments: in memory, or one files store (fsync'ed) in a temp directory. */
type Storage = "memory" | "files"

/** A files store in a fresh temp directory, removed with the scope. */
const filesStore = (name: string) =>
  Effect.gen(function*() {
    const dir = mkdtempSync(join(tmpdir(), `eln-paybench-${name}-`))
    // Added first, so it runs after the store's own finalizer (finalizers run in reverse).
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    const disk = yield* nodeStoreDisk.pipe(Effect.provide(NodeFileSystem.layer))
    return yield* makeFileStore(disk, { directory: join(dir, "store") }).pipe(Effect.orDie)
  })

/**
 * A node: its manager over the in-memory persister (memory), or over the local persister (the
 * files store's replica, as `ReplicatedPersister.layerLocal` builds it) with the payments in the
 * same files store (files); and its payment layer.
 */
const startNode = (secp: Secp256k1, node: Node, run: number, storage: Storage, graph: () => RoutingGraph) =>
  Effect.gen(function*() {
    const files = storage === "files" ? yield* filesStore(node.name) : undefined
    const { persister } = files === undefined
      ? yield* makeMemoryPersister({ mode: "immediate" })
      : { persister: yield* makeReplicatedPersister({ replicas: [makeStoreReplica(files)], quorum: 1 }).pipe(Effect.orDie) }
    const entropy = makeSeededEntropy(`${node.name}/entropy/${run}`)
    const manager = yield* makeChannelManager({
      secp,
      shutdownScript: p2wpkhScript(sha256(enc(`${node.name}/payout`)).slice(0, 20)),
      channelConfig: { ...defaultLocalChannelConfig, maxAcceptedHtlcs: 483 },
      policy: { ...defaultChannelPolicy, acceptLargeChannels: true, maxFunding: sat(FUNDING_SAT) },
      feerateEstimatePerKw: 2500,
      maxDustHtlcExposure: msat(50_000_000n)
    }).pipe(
      Effect.provideService(PeerManager, stubPeers(node)),
      Effect.provideService(ChannelSigner, makeSeedChannelSigner(sha256(enc(`${node.name}/seed/${run}`)), secp)),
      Effect.provideService(MonitorPersister, persister),
      Effect.provideService(Entropy, entropy),
      Effect.orDie
    )
    const router = DefaultRouter.layer.pipe(Layer.provide(Layer.merge(Layer.succeed(RouterGraph, RouterGraph.of({ current: Effect.sync(graph) })), Scorer.layerFeesOnly)))
    const payments = yield* makePayments({ secp, blockHeight: Effect.succeed(800_000) }).pipe(
      Effect.provide(Layer.mergeAll(
        Layer.succeed(ChannelManager, manager),
        Layer.succeed(NodeSigner, makeNodeSigner(node.secret, secp)),
        Layer.succeed(Entropy, makeSeededEntropy(`${node.name}/payments/${run}`)),
        Layer.succeed(Store, countedStore(files ?? makeMemoryStore().store)),
        router
      ))
    )
    return { manager, payments }
  })

let runs = 0

/** Each channel's policy in the routers' graph: what every node's payment layer charges (its default policy). */
const graphPolicy: DirectionPolicy = {
  feeBaseMsat: defaultForwardingPolicy.feeBaseMsat,
  feeProportionalMillionths: defaultForwardingPolicy.feeProportionalMillionths,
  cltvExpiryDelta: defaultForwardingPolicy.cltvExpiryDelta,
  htlcMinimumMsat: defaultForwardingPolicy.htlcMinimumMsat,
  htlcMaximumMsat: defaultForwardingPolicy.htlcMaximumMsat,
  enabled: true
}

/**
 * `size` nodes in a line, node i funding a channel to node i + 1, every payment layer running;
 * the routers know the line's channels (as gossip would tell them). Size 2: Alice and Bob.
 */
const newLine = (secp: Secp256k1, storage: Storage, size: number) =>
  Effect.gen(function*() {
    const run = runs++
    const names = size === 2 ? ["alice", "bob"] : Array.from({ length: size }, (_, i) => `node${i}`)
    const nodes: Array<Node> = []
    for (const name of names) {
      const secret = sha256(enc(`${name}/node/${run}`))
      const id = secp.publicKey(secret)
      if (id === undefined) return yield* Effect.die(new Error("bad secret"))
      nodes.push({ name, secret, nodeId: nodeIdFromHex(toHex(id)), inbox: yield* Queue.unbounded<PeerSessionEvent>(), peers: new Map() })
    }
    const scidOf = (i: number) => shortChannelIdFromParts(800_000, i + 1, 0)
    const channels: Array<GraphChannelInfo> = []
    for (let i = 0; i + 1 < size; i++) {
      const [a, b] = [nodes[i]!, nodes[i + 1]!]
      const [node1, node2] = compareBytes(a.nodeId, b.nodeId) < 0 ? [a.nodeId, b.nodeId] : [b.nodeId, a.nodeId]
      channels.push({ shortChannelId: scidOf(i), node1, node2, capacityMsat: FUNDING_SAT * 1000n, oneToTwo: graphPolicy, twoToOne: graphPolicy })
    }
    const graph = buildRoutingGraph(channels)
    const started = []
    for (const node of nodes) started.push(yield* startNode(secp, node, run, storage, () => graph))
    const logs = started.map(() => [] as Array<NodeChannelEvent>)
    const scope = yield* Effect.scope
    // The set-up reads the nodes' events; the payments do not (a subscriber keeping every event
    // would grow the heap with each payment): unsubscribed once the line is ready.
    const listeners: Array<Fiber.Fiber<void>> = []
    for (let i = 0; i < size; i++) {
      const log = logs[i]!
      listeners.push(yield* Stream.runForEach(yield* started[i]!.manager.subscribe, (e) => Effect.sync(() => void log.push(e))).pipe(Effect.forkIn(scope)))
    }
    for (let i = 0; i + 1 < size; i++) {
      const [a, b] = [nodes[i]!, nodes[i + 1]!]
      const [ma, mb] = [started[i]!.manager, started[i + 1]!.manager]
      const [logA, logB] = [logs[i]!, logs[i + 1]!]
      const [fromA, fromB] = [logA.length, logB.length]
      const session = SessionId(i + 1)
      a.peers.set(toHex(b.nodeId), { node: b, session })
      b.peers.set(toHex(a.nodeId), { node: a, session })
      yield* Queue.offer(a.inbox, PeerSessionEvent.Connected({ session, peer: peerInfoOf(b, session) }))
      yield* Queue.offer(b.inbox, PeerSessionEvent.Connected({ session, peer: peerInfoOf(a, session) }))
      const temporary = yield* ma.openChannel(b.nodeId, sat(FUNDING_SAT), {
        channelType: { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false },
        feeratePerKw: 2500
      }).pipe(Effect.orDie)
      const needed = yield* awaitEvent(logA, (e) => (e.event._tag === "FundingNeeded" ? e.event : undefined), "FundingNeeded", fromA)
      const tx = setWitness({
        version: 2,
        inputs: [makeInput({ txid: txidFromBytes(sha256(enc(`utxo ${run}/${i}`))), vout: 0 }, 0xfffffffd)],
        outputs: [{ value: needed.amount, scriptPubKey: needed.scriptPubKey }],
        locktime: 0
      }, 0, [new Uint8Array(72), new Uint8Array(33)])
      yield* ma.fundChannel(temporary, tx).pipe(Effect.orDie)
      const channelId = yield* awaitEvent(logA, (e) => (e.event._tag === "ChannelPending" ? e.event.channelId : undefined), "ChannelPending", fromA)
      yield* awaitEvent(logB, (e) => (e.event._tag === "ChannelPending" ? true : undefined), "ChannelPending (the fundee)", fromB)
      for (const m of [ma, mb]) {
        yield* m.chainFact(channelId, { _tag: "FundingDepth", depth: defaultLocalChannelConfig.minimumDepth, shortChannelId: scidOf(i) }).pipe(Effect.orDie)
      }
      yield* awaitEvent(logA, (e) => (e.event._tag === "ChannelReady" ? true : undefined), "ChannelReady", fromA)
      yield* awaitEvent(logB, (e) => (e.event._tag === "ChannelReady" ? true : undefined), "ChannelReady (the fundee)", fromB)
      // Both sides normal and connected before the first payment.
      for (let k = 0; k < 10_000; k++) {
        const cs = yield* ma.listChannels
        if (cs.some((c) => equalBytes(c.channelId, channelId) && c.state._tag === "Normal" && c.state.connection === "Connected" && c.state.shortChannelId !== undefined)) break
        yield* Effect.yieldNow
      }
    }
    for (const f of listeners) yield* Fiber.interrupt(f)
    return { payer: started[0]!.payments, payee: started[size - 1]!.payments }
  })

/** One payment: Bob's invoice, Alice pays it, the preimage checked. False when the payment failed (counted and printed). */
const onePayment = (alice: PaymentsShape, bob: PaymentsShape, n: number) =>
  Effect.gen(function*() {
    const inv = yield* bob.createInvoice({ amountMsat: AMOUNT, description: { text: `bench ${n}` } })
    // A fixed amount of work (PAYMENT_BENCH_COUNT) may run slowly (under valgrind): it must not time out.
    const paid = yield* Effect.result(alice.pay(inv.invoice, COUNT > 0 ? { timeoutMillis: 3_600_000 } : {}))
    if (Result.isFailure(paid)) {
      failures.push(paid.failure._tag === "PaymentFailed" ? paid.failure.reason : paid.failure._tag)
      return false
    }
    if (toHex(sha256(paid.success.preimage)) !== toHex(inv.paymentHash)) return yield* Effect.die(new Error("wrong preimage"))
    return true
  })

/**
 * PAYMENT_BENCH_OPS=1: every Effect primitive the runtime evaluates during a run is counted (a
 * tracer's `context` hook sees each one), and each run prints the Effect operations per payment:
 * a figure that, unlike CPU time, a loaded machine does not change (for A/B comparisons).
 */
const OPS = process.env["PAYMENT_BENCH_OPS"] !== undefined && process.env["PAYMENT_BENCH_OPS"] !== "0"
/** PAYMENT_BENCH_OPS=N > 1: also the N most frequent operations per payment, by kind and the source of their function. */
const OPS_TOP = Number(process.env["PAYMENT_BENCH_OPS"] ?? 0)
const ops = { on: false, n: 0, byKey: new Map<string, number>() }
const opKey = (primitive: object): string => {
  const field = (k: string): unknown => Reflect.get(primitive, k)
  const source = (v: unknown) => (typeof v === "function" ? v.toString().replace(/\s+/g, " ").slice(0, 100) : "")
  const args = field("~effect/Effect/args")
  const fn = typeof args === "function" ? args : Array.isArray(args) ? args.find((a) => typeof a === "function") : undefined
  return `${String(field("~effect/Effect/identifier") ?? "?")} | ${source(fn ?? field("~effect/Effect/successCont") ?? field("~effect/Effect/failureCont"))}`
}
const opsTracer = Tracer.make({
  span: (options) => Tracer.nativeTracer.span(options),
  context: (primitive, fiber) => {
    if (ops.on) {
      ops.n += 1
      if (OPS_TOP > 1) {
        const k = opKey(primitive)
        ops.byKey.set(k, (ops.byKey.get(k) ?? 0) + 1)
      }
    }
    return primitive["~effect/Effect/evaluate"](fiber)
  }
})
const topOps = (payments: number): string =>
  [...ops.byKey].sort((a, b) => b[1] - a[1]).slice(0, OPS_TOP).map(([k, v]) => `\n      ${(v / Math.max(1, payments)).toFixed(1).padStart(6)} ${k}`).join("")
const withOps = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> => (OPS ? Effect.withTracer(effect, opsTracer) : effect)

/** Why payments failed, in the current run. */
const failures: Array<string> = []

const measure = (secp: Secp256k1, window: number, ms: number, storage: Storage = "memory", size = 2, count = COUNT, warmMs = RUN_WARMUP_MS, atStart?: () => Promise<void>) =>
  Effect.gen(function*() {
    const { payer: alice, payee: bob } = yield* newLine(secp, storage, size)
    let done = 0
    let warming = warmMs > 0
    let started = 0
    let deadline = performance.now() + warmMs
    const more = () => (count > 0 ? started++ < count : performance.now() < deadline)
    const worker = (w: number) =>
      Effect.gen(function*() {
        for (let i = 0; more(); i++) {
          if ((yield* onePayment(alice, bob, w * 1_000_000 + i)) && !warming) done += 1
        }
      })
    const runWorkers = Effect.gen(function*() {
      const fibers = []
      for (let w = 0; w < window; w++) fibers.push(yield* Effect.forkChild(worker(w + (warming ? 1_000 : 0))))
      for (const f of fibers) yield* Fiber.join(f)
    })
    if (warming) yield* runWorkers
    warming = false
    if (atStart !== undefined) yield* Effect.promise(atStart)
    failures.length = 0
    signedByLink.clear()
    const puts0 = storeWrites.puts
    const signed0 = storeWrites.commitmentSigned
    const htlcSigs0 = storeWrites.htlcSignatures
    const bytes0 = storeWrites.bytes
    const cpuStart = threadCpuMs()
    const ops0 = ops.n
    ops.byKey.clear()
    ops.on = true
    const start = performance.now()
    deadline = start + ms
    yield* runWorkers
    const seconds = (performance.now() - start) / 1000
    const cpuSeconds = (threadCpuMs() - cpuStart) / 1000
    ops.on = false
    const puts = storeWrites.puts - puts0
    return {
      done,
      seconds,
      perSecond: done / seconds,
      perCpuSecond: done / cpuSeconds,
      busy: cpuSeconds / seconds,
      recordWrites: puts / Math.max(1, done),
      recordBytes: (storeWrites.bytes - bytes0) / Math.max(1, puts),
      commitmentSigned: (storeWrites.commitmentSigned - signed0) / Math.max(1, done),
      htlcSignatures: (storeWrites.htlcSignatures - htlcSigs0) / Math.max(1, done),
      failed: failures.length === 0 ? "" : `; FAILED ${failures.length}: ${[...new Set(failures)].join(", ")}`,
      ops: OPS ? `; Effect ops ${((ops.n - ops0) / Math.max(1, done)).toFixed(0)} per payment${OPS_TOP > 1 ? topOps(done) : ""}` : ""
    }
  }).pipe(Effect.scoped)

/** CPU time of this (the JavaScript) thread: what one uncontended core would do, on a shared machine. */
const threadCpuMs = (): number => {
  const u = process.threadCpuUsage()
  return (u.user + u.system) / 1000
}

/**
 * Where the JS thread's time goes, by part: a sampling CPU profile (node's inspector, 100 us
 * interval) of one more run of the same kind, each sample's self time attributed to the part its
 * function's file belongs to (first matching rule). Shares of the profile, scaled to the measured
 * CPU time per payment. PAYMENT_BENCH_PARTS=0 skips it; PAYMENT_BENCH_PROFILE=PREFIX also writes
 * each profile to PREFIX.<window>.cpuprofile.
 */
const PARTS: ReadonlyArray<readonly [string, RegExp]> = [
  ["payments actor", /src\/actors\/Payments\.ts/],
  ["onion (sphinx, payloads, failures)", /src\/protocol\/onion\//],
  ["payment protocol (records, receive, forward)", /src\/protocol\/payment\//],
  ["invoice (BOLT 11)", /src\/(protocol\/invoice|invoices)\//],
  ["router", /src\/(protocol\/routing|layers\/router)\//],
  ["channel reducer/state", /src\/protocol\/(channel|monitor)\//],
  ["secp256k1 (layers/crypto)", /src\/layers\/crypto\//],
  ["tx/keys/signers", /src\/(protocol\/(tx|keys)\/|layers\/signer\/|layers\/InMemoryNodeSigner)/],
  ["bytes/lru helpers", /src\/protocol\/(bytes|lru)\.ts/],
  ["codec/messages", /src\/protocol\/(codec|messages)\//],
  ["actors (channel, manager, monitor, peer)", /src\/actors\//],
  ["persister/store", /src\/layers\/(persister|store)\//],
  ["other src", /src\//],
  ["noble/scure (hashes, ciphers)", /node_modules\/@(noble|scure)\//],
  ["Effect runtime (scheduler, fibers)", /node_modules\/effect\//],
  ["bench driver", /bench\//],
  ["GC", /^\(garbage collector\)$/],
  ["native/other", /./]
]

/**
 * A sample's part: that of the innermost frame of our own code (src/, bench/) on its stack, so
 * what library code (Schema, noble, JSON) does for a part counts for it; samples with none of our
 * frames (the Effect scheduler between steps, GC) by their own frame.
 */
const partsOf = (profile: Profiler.Profile) => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parentOf = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
  const keyOf = (n: Profiler.ProfileNode) => (n.callFrame.url === "" ? `(${n.callFrame.functionName.replace(/[()]/g, "")})` : n.callFrame.url)
  const ours = (key: string) => /\/(src|bench)\//.test(key)
  const partOfNode = new Map<number, string | undefined>()
  const partOf = (id: number): string | undefined => {
    if (partOfNode.has(id)) return partOfNode.get(id)
    const n = byId.get(id)
    let part: string | undefined
    if (n !== undefined) {
      const key = keyOf(n)
      if (key === "(idle)" || key === "(program)") part = undefined
      else if (ours(key)) part = PARTS.find(([, re]) => re.test(key))?.[0]
      else {
        let up = parentOf.get(id)
        while (up !== undefined && !ours(keyOf(byId.get(up)!))) up = parentOf.get(up)
        part = up !== undefined ? partOf(up) : PARTS.find(([, re]) => re.test(key))?.[0] ?? "native/other"
      }
    }
    partOfNode.set(id, part)
    return part
  }
  const micros = new Map<string, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  let total = 0
  for (let i = 0; i < samples.length; i++) {
    const part = partOf(samples[i]!)
    if (part === undefined) continue
    const d = deltas[i + 1] ?? 0
    micros.set(part, (micros.get(part) ?? 0) + d)
    total += d
  }
  return { micros, total }
}

/**
 * PAYMENT_BENCH_ALLOC=1: the profiled pass also samples allocations (V8's sampling heap profiler,
 * every 1 KiB on average, objects collected by either GC kept in the profile), prints the bytes
 * allocated per payment (a figure a loaded machine does not change) and, with
 * PAYMENT_BENCH_PROFILE=PREFIX, writes PREFIX.<size>n.<window>.heapprofile.
 */
const ALLOC = process.env["PAYMENT_BENCH_ALLOC"] === "1"

/** Allocated bytes in a sampling heap profile (every node's self size). */
interface SampledNode {
  readonly selfSize: number
  readonly children: ReadonlyArray<SampledNode>
}
const sampledBytes = (node: SampledNode): number =>
  node.children.reduce((sum, c) => sum + sampledBytes(c), node.selfSize)

const profiled = async (secp: Secp256k1, window: number, ms: number, size = 2) => {
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 100 })
  if (ALLOC) await session.post("HeapProfiler.enable")
  // Only the measured payments are profiled (not building the nodes, opening the channel, the run's warm-up).
  const atStart = async () => {
    if (ALLOC) {
      await session.post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
    }
    await session.post("Profiler.start")
  }
  const r = await Effect.runPromise(measure(secp, window, ms, "memory", size, COUNT, RUN_WARMUP_MS, atStart).pipe(Effect.orDie))
  const { profile } = await session.post("Profiler.stop")
  const heap = ALLOC ? (await session.post("HeapProfiler.stopSampling")).profile : undefined
  session.disconnect()
  const out = process.env["PAYMENT_BENCH_PROFILE"]
  if (out !== undefined) writeFileSync(`${out}.${size}n.${window}.cpuprofile`, JSON.stringify(profile))
  if (out !== undefined && heap !== undefined) writeFileSync(`${out}.${size}n.${window}.heapprofile`, JSON.stringify(heap))
  const { micros, total } = partsOf(profile)
  const perPayment = (1000 / r.perCpuSecond) * 1000
  const allocated = heap === undefined ? "" : `; allocated ${(sampledBytes(heap.head) / Math.max(1, r.done) / 1024).toFixed(0)} KiB per payment (sampled)`
  return [...micros].sort((a, b) => b[1] - a[1]).map(([part, us]) => `${part} ${(perPayment * us / total).toFixed(0)} us`).join(", ") +
    ` (of ${perPayment.toFixed(0)} us JS CPU per payment, n=${r.done} under the profiler${allocated})`
}

/**
 * One in-memory run (`size` nodes in a line, `window` payments in flight, `ms` long) and its
 * figures: for a driver that loads two versions of the code in one process and alternates them
 * (an A/B on one JIT and one load, for a machine too busy for separate runs to compare).
 */
export const measureOnce = async (window: number, ms: number, size = 2) => {
  const { secp } = await loadSecp256k1Best()
  return Effect.runPromise(measure(secp, window, ms, "memory", size).pipe(Effect.orDie))
}

/** PAYMENT_BENCH_WINDOW=1 or 50: only the runs with that many payments in flight. */
const windowWanted = (window: number): boolean => {
  const wanted = process.env["PAYMENT_BENCH_WINDOW"]
  return wanted === undefined || Number(wanted) === window
}

export const run = async (): Promise<void> => {
  const { secp, backend } = await loadSecp256k1Best()
  console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} on ${availableParallelism()} cores (wall figures need an idle machine)`)
  console.log(`secp256k1: ${backend}; ${MEASURE_MS} ms per run; 2 nodes in one process; in memory (persister and stores) and files (one fsync'ed files store per node)`)
  // Warm-up (JIT), not reported.
  await Effect.runPromise(measure(secp, 1, WARMUP_MS, "memory", 2, COUNT > 0 ? 20 : 0).pipe(Effect.orDie))
  const only = process.env["PAYMENT_BENCH_ONLY"]
  const storages: ReadonlyArray<Storage> = only === "hops" ? [] : process.env["PAYMENT_BENCH_FILES"] === "0" ? ["memory"] : ["memory", "files"]
  for (const storage of storages) {
    for (const [label, window, target] of [["one at a time", 1, TARGETS.one], [`${WINDOW} concurrent`, WINDOW, TARGETS.window]] as const) {
      if (!windowWanted(window)) continue
      const r = await Effect.runPromise(withOps(measure(secp, window, MEASURE_MS, storage).pipe(Effect.orDie)))
      console.log(
        `payments ${label.padEnd(14)} ${storage === "memory" ? "in memory  " : "files+fsync"} ${r.perSecond.toFixed(0).padStart(5)} /s wall, ` +
          `${r.perCpuSecond.toFixed(0).padStart(5)} per JS-thread CPU s ` +
          `(n=${r.done} in ${r.seconds.toFixed(2)} s, JS thread busy ${(100 * r.busy).toFixed(0)}% of wall; ` +
          (storage === "memory"
            ? `target ${target}/s: wall ${r.perSecond >= target ? "ok" : "BELOW TARGET"}, cpu ${r.perCpuSecond >= target ? "ok" : "BELOW TARGET"}); `
            : "no target: issue 8's are in memory; here each payment waits on fsync'ed writes); ") +
          `payment records written ${r.recordWrites.toFixed(1)} per payment (payer and payee, ${r.recordBytes.toFixed(0)} B each), ` +
          `commitment_signed ${r.commitmentSigned.toFixed(2)} per payment (both ways), HTLC signatures ${r.htlcSignatures.toFixed(1)} per payment${r.failed}${r.ops}`
      )
      if (storage === "memory" && process.env["PAYMENT_BENCH_PARTS"] !== "0") console.log(`    by part: ${await profiled(secp, window, MEASURE_MS)}`)
    }
  }
  // Through 3 hops: 5 nodes in a line, the payer at one end, the payee at the other (in memory).
  for (const [label, window] of only === "two" ? [] : [["one at a time", 1], [`${WINDOW} concurrent`, WINDOW]] as const) {
    if (!windowWanted(window)) continue
    const r = await Effect.runPromise(withOps(measure(secp, window, MEASURE_MS, "memory", 5).pipe(Effect.orDie)))
    console.log(
      `3 hops (5 nodes) ${label.padEnd(14)} in memory   ${r.perSecond.toFixed(0).padStart(5)} /s wall, ${r.perCpuSecond.toFixed(0).padStart(5)} per JS-thread CPU s ` +
        `(n=${r.done} in ${r.seconds.toFixed(2)} s, JS thread busy ${(100 * r.busy).toFixed(0)}% of wall); ` +
        `payment records written ${r.recordWrites.toFixed(1)} per payment (all nodes), commitment_signed ${r.commitmentSigned.toFixed(2)} per payment (all links), HTLC signatures ${r.htlcSignatures.toFixed(1)} per payment${r.failed}${r.ops}`
    )
    if (process.env["PAYMENT_BENCH_LINKS"] === "1") {
      console.log(`    per sender/link: ${[...signedByLink].map(([l, c]) => `${l} ${(c.signed / r.done).toFixed(2)} cs (${(c.htlcs / Math.max(1, c.signed)).toFixed(1)} HTLCs each)`).join(", ")}`)
    }
    signedByLink.clear()
    if (process.env["PAYMENT_BENCH_PARTS"] !== "0") console.log(`    by part: ${await profiled(secp, window, MEASURE_MS, 5)}`)
  }
}
