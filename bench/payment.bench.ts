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
 * node's session stream (no socket, no Noise), as bench/channel.bench.ts does. Not yet measured:
 * the files store, 3 hops (5 nodes), route computation on the public graph (bench/route.bench.ts).
 *
 * Run: `npm run bench -- payment` (PAYMENT_BENCH_MS sets each run's length).
 */
import { availableParallelism, loadavg } from "node:os"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Fiber, Layer, Queue, Result, Stream } from "effect"
import { make as makeChannelManager, ChannelManager, type NodeChannelEvent } from "../src/actors/ChannelManager.ts"
import { nodeIdFromHex } from "../src/api/convert.ts"
import { type PeerInfo, PeerNotConnected, PeerSessionEvent, SessionId } from "../src/actors/PeerEvent.ts"
import { PeerManager, type PeerManagerShape } from "../src/actors/PeerManager.ts"
import { make as makePayments, type PaymentsShape } from "../src/actors/Payments.ts"
import { makeNodeSigner } from "../src/layers/InMemoryNodeSigner.ts"
import { loadSecp256k1Best } from "../src/layers/crypto/secp256k1-best.ts"
import { makeMemoryPersister } from "../src/layers/persister/MemoryPersister.ts"
import { DefaultRouter } from "../src/layers/router/DefaultRouter.ts"
import { makeSeedChannelSigner } from "../src/layers/signer/SeedChannelSigner.ts"
import { makeMemoryStore } from "../src/layers/store/MemoryStore.ts"
import { makeSeededEntropy } from "../src/layers/test/SeededEntropy.ts"
import { toHex } from "../src/protocol/bytes.ts"
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
import { Store } from "../src/services/Store.ts"

const MEASURE_MS = Number(process.env["PAYMENT_BENCH_MS"] ?? 3_000)
const WINDOW = 50
const FUNDING_SAT = 500_000_000n
const AMOUNT = msat(10_000_000n)
const TARGETS = { one: 200, window: 500 }
const SESSION = SessionId(1)
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
  peer: Node | undefined
}

const peerInfoOf = (peer: Node): PeerInfo => ({
  session: SESSION,
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
  return {
    nodeId: node.nodeId,
    features: featureBytes,
    listenAddress: undefined,
    connect: () => notUsed("connect"),
    peers: Effect.sync(() => (node.peer === undefined ? [] : [peerInfoOf(node.peer)])),
    peer: (nodeId) =>
      Effect.suspend(() =>
        node.peer !== undefined && toHex(node.peer.nodeId) === toHex(nodeId) ? Effect.succeed(peerInfoOf(node.peer)) : Effect.fail(new PeerNotConnected({ nodeId }))
      ),
    disconnect: () => notUsed("disconnect"),
    send: (session, message) =>
      Effect.suspend(() => {
        const bytes = LightningMessages.encode(message)
        if (Result.isFailure(bytes)) return Effect.die(new Error(`${message._tag} does not encode`))
        const decoded = LightningMessages.decode(bytes.success)
        if (Result.isFailure(decoded) || decoded.success._tag === "UnknownMessage") return Effect.die(new Error(`${message._tag} does not decode`))
        const to = node.peer
        return to === undefined ? Effect.void : Queue.offer(to.inbox, PeerSessionEvent.Message({ session, nodeId: node.nodeId, message: decoded.success })).pipe(Effect.asVoid)
      }),
    sendBytes: () => notUsed("sendBytes"),
    sessionEvents: Stream.fromQueue(node.inbox),
    events: Stream.empty,
    subscribe: Effect.succeed(Stream.empty)
  }
}

const awaitEvent = <A>(log: ReadonlyArray<NodeChannelEvent>, pick: (e: NodeChannelEvent) => A | undefined, what: string): Effect.Effect<A> =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000_000; i++) {
      for (const e of log) {
        const found = pick(e)
        if (found !== undefined) return found
      }
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error(`never saw ${what}`))
  })

/** A node: its manager over the in-memory persister, and its payment layer. */
const startNode = (secp: Secp256k1, node: Node, run: number) =>
  Effect.gen(function*() {
    const { persister } = yield* makeMemoryPersister({ mode: "immediate" })
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
    const router = DefaultRouter.layer.pipe(Layer.provide(Layer.merge(RouterGraph.empty, Scorer.feesOnly)))
    const payments = yield* makePayments({ secp, blockHeight: Effect.succeed(800_000) }).pipe(
      Effect.provide(Layer.mergeAll(
        Layer.succeed(ChannelManager, manager),
        Layer.succeed(NodeSigner, makeNodeSigner(node.secret, secp)),
        Layer.succeed(Entropy, makeSeededEntropy(`${node.name}/payments/${run}`)),
        Layer.succeed(Store, makeMemoryStore().store),
        router
      ))
    )
    return { manager, payments }
  })

let runs = 0

/** Alice and Bob with a channel Alice funded, both payment layers running. */
const newPair = (secp: Secp256k1) =>
  Effect.gen(function*() {
    const run = runs++
    const mk = (name: string) =>
      Effect.gen(function*() {
        const secret = sha256(enc(`${name}/node/${run}`))
        const id = secp.publicKey(secret)
        if (id === undefined) return yield* Effect.die(new Error("bad secret"))
        const node: Node = { name, secret, nodeId: nodeIdFromHex(toHex(id)), inbox: yield* Queue.unbounded<PeerSessionEvent>(), peer: undefined }
        return node
      })
    const a = yield* mk("alice")
    const b = yield* mk("bob")
    a.peer = b
    b.peer = a
    const alice = yield* startNode(secp, a, run)
    const bob = yield* startNode(secp, b, run)
    const logA: Array<NodeChannelEvent> = []
    const logB: Array<NodeChannelEvent> = []
    const scope = yield* Effect.scope
    yield* Stream.runForEach(yield* alice.manager.subscribe, (e) => Effect.sync(() => void logA.push(e))).pipe(Effect.forkIn(scope))
    yield* Stream.runForEach(yield* bob.manager.subscribe, (e) => Effect.sync(() => void logB.push(e))).pipe(Effect.forkIn(scope))
    yield* Queue.offer(a.inbox, PeerSessionEvent.Connected({ session: SESSION, peer: peerInfoOf(b) }))
    yield* Queue.offer(b.inbox, PeerSessionEvent.Connected({ session: SESSION, peer: peerInfoOf(a) }))
    const temporary = yield* alice.manager.openChannel(b.nodeId, sat(FUNDING_SAT), {
      channelType: { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false },
      feeratePerKw: 2500
    }).pipe(Effect.orDie)
    const needed = yield* awaitEvent(logA, (e) => (e.event._tag === "FundingNeeded" ? e.event : undefined), "FundingNeeded")
    const tx = setWitness({
      version: 2,
      inputs: [makeInput({ txid: txidFromBytes(sha256(enc(`utxo ${run}`))), vout: 0 }, 0xfffffffd)],
      outputs: [{ value: needed.amount, scriptPubKey: needed.scriptPubKey }],
      locktime: 0
    }, 0, [new Uint8Array(72), new Uint8Array(33)])
    yield* alice.manager.fundChannel(temporary, tx).pipe(Effect.orDie)
    const channelId = yield* awaitEvent(logA, (e) => (e.event._tag === "ChannelPending" ? e.event.channelId : undefined), "ChannelPending")
    yield* awaitEvent(logB, (e) => (e.event._tag === "ChannelPending" ? true : undefined), "ChannelPending (bob)")
    const scid = shortChannelIdFromParts(800_000, 1, 0)
    for (const m of [alice.manager, bob.manager]) {
      yield* m.chainFact(channelId, { _tag: "FundingDepth", depth: defaultLocalChannelConfig.minimumDepth, shortChannelId: scid }).pipe(Effect.orDie)
    }
    yield* awaitEvent(logA, (e) => (e.event._tag === "ChannelReady" ? true : undefined), "ChannelReady")
    yield* awaitEvent(logB, (e) => (e.event._tag === "ChannelReady" ? true : undefined), "ChannelReady (bob)")
    // Both sides normal and connected before the first payment.
    for (let i = 0; i < 10_000; i++) {
      const cs = yield* alice.manager.listChannels
      if (cs.some((c) => c.state._tag === "Normal" && c.state.connection === "Connected" && c.state.shortChannelId !== undefined)) break
      yield* Effect.yieldNow
    }
    return { alice: alice.payments, bob: bob.payments, logA, logB }
  })

/** One payment: Bob's invoice, Alice pays it, the preimage checked. */
const onePayment = (alice: PaymentsShape, bob: PaymentsShape, n: number) =>
  Effect.gen(function*() {
    const inv = yield* bob.createInvoice({ amountMsat: AMOUNT, description: { text: `bench ${n}` } })
    const ok = yield* alice.pay(inv.invoice)
    if (toHex(sha256(ok.preimage)) !== toHex(inv.paymentHash)) return yield* Effect.die(new Error("wrong preimage"))
  })

const measure = (secp: Secp256k1, window: number, ms: number) =>
  Effect.gen(function*() {
    const { alice, bob } = yield* newPair(secp)
    let done = 0
    const cpuStart = threadCpuMs()
    const start = performance.now()
    const deadline = start + ms
    const worker = (w: number) =>
      Effect.gen(function*() {
        for (let i = 0; performance.now() < deadline; i++) {
          yield* onePayment(alice, bob, w * 1_000_000 + i)
          done += 1
        }
      })
    const fibers = []
    for (let w = 0; w < window; w++) fibers.push(yield* Effect.forkChild(worker(w)))
    for (const f of fibers) yield* Fiber.join(f)
    const seconds = (performance.now() - start) / 1000
    const cpuSeconds = (threadCpuMs() - cpuStart) / 1000
    return { done, seconds, perSecond: done / seconds, perCpuSecond: done / cpuSeconds, busy: cpuSeconds / seconds }
  }).pipe(Effect.scoped)

/** CPU time of this (the JavaScript) thread: what one uncontended core would do, on a shared machine. */
const threadCpuMs = (): number => {
  const u = process.threadCpuUsage()
  return (u.user + u.system) / 1000
}

export const run = async (): Promise<void> => {
  const { secp, backend } = await loadSecp256k1Best()
  console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} on ${availableParallelism()} cores (wall figures need an idle machine)`)
  console.log(`secp256k1: ${backend}; ${MEASURE_MS} ms per run; 2 nodes in one process, in-memory persister and stores`)
  // Warm-up (JIT), not reported.
  await Effect.runPromise(measure(secp, 1, 500).pipe(Effect.orDie))
  for (const [label, window, target] of [["one at a time", 1, TARGETS.one], [`${WINDOW} concurrent`, WINDOW, TARGETS.window]] as const) {
    const r = await Effect.runPromise(measure(secp, window, MEASURE_MS).pipe(Effect.orDie))
    console.log(
      `payments ${label.padEnd(14)} ${r.perSecond.toFixed(0).padStart(5)} /s wall, ${r.perCpuSecond.toFixed(0).padStart(5)} per JS-thread CPU s ` +
        `(n=${r.done} in ${r.seconds.toFixed(2)} s, JS thread busy ${(100 * r.busy).toFixed(0)}% of wall; target ${target}/s: ` +
        `wall ${r.perSecond >= target ? "ok" : "BELOW TARGET"}, cpu ${r.perCpuSecond >= target ? "ok" : "BELOW TARGET"})`
    )
  }
}

