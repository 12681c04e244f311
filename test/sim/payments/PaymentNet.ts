/**
 * A network of our nodes with the payment layer (src/actors/Payments.ts) over the channel
 * harness (test/sim/channels/Harness.ts, manager backend): each node's `Payments` runs in the
 * node's scope over its `ChannelManager`, a seeded `NodeSigner` (the harness's node key), seeded
 * `Entropy` and an in-memory `Store` whose data survives the node's crash and restart.
 *
 * Routing: `GraphRouter` knows the test's channels and every node's forwarding policy, finds the
 * fewest-hop paths avoiding what the payment excluded, and splits over two paths when no single
 * first hop can carry the amount (a stand-in until the Router service exists).
 */
import { Effect, Layer, Result, Scope, Stream } from "effect"
import { ChannelManager, type ChannelManagerShape } from "../../../src/actors/ChannelManager.ts"
import { make as makePayments, type PaymentEvent, type PaymentsShape } from "../../../src/actors/Payments.ts"
import type { RouteHintHop } from "../../../src/protocol/invoice/index.ts"
import { MonitorChain, type MonitorChainShape } from "../../../src/actors/MonitorChain.ts"
import { DefaultRouter } from "../../../src/layers/router/DefaultRouter.ts"
import { buildRoutingGraph, type ChannelInfo as GraphChannelInfo, type DirectionPolicy } from "../../../src/protocol/routing/graph.ts"
import { NoRoute, Router, RouterGraph, type RouterShape } from "../../../src/services/Router.ts"
import { Scorer } from "../../../src/services/Scorer.ts"
import { makeNodeSigner } from "../../../src/layers/InMemoryNodeSigner.ts"
import { makeMemoryStore, makeMemoryStoreData, type MemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { makeSeededEntropy } from "../../../src/layers/test/SeededEntropy.ts"
import { secretFromSeed } from "../../../src/layers/test/SeededNodeSigner.ts"
import { compareBytes, equalBytes } from "../../../src/protocol/bytes.ts"
import type { ShortChannelId } from "../../../src/protocol/codec/fields.ts"
import { defaultForwardingPolicy, type ForwardingPolicy } from "../../../src/protocol/payment/index.ts"
import { type ChannelId, msat } from "../../../src/protocol/units.ts"
import { Entropy } from "../../../src/services/Entropy.ts"
import { NodeSigner } from "../../../src/services/NodeSigner.ts"
import { Store } from "../../../src/services/Store.ts"
import { Harness, secp } from "../channels/Harness.ts"

export interface GraphChannel {
  readonly a: number
  readonly b: number
  readonly channelId: ChannelId
  readonly scid: ShortChannelId
  readonly capacityMsat: bigint
}

/** Lets the event loop turn once. */
export const macrotask: Effect.Effect<void> = Effect.callback<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

export class PaymentNet {
  readonly h: Harness
  readonly stores: Array<MemoryStoreData>
  readonly payments: Array<PaymentsShape | undefined>
  readonly policies: Array<ForwardingPolicy>
  /** What the router believes of each node's policy (defaults to the real one; a test may make it stale). */
  readonly advertised: Array<ForwardingPolicy>
  /** Per node: "half" makes its router return a single part of half the amount (an MPP set the payee never completes). */
  readonly routerMode: Array<"normal" | "half">
  /** Channels the router believes in that do not exist (scid per graph channel index). */
  readonly fakeScids = new Map<number, ShortChannelId>()
  readonly channels: Array<GraphChannel> = []
  height = 1_000
  /** "half" mode: the payment's full amount (a part of half of it is sent once). */
  halfOf = 0n
  /** Per node: the short channel ids it intercepts (fake scids of just-in-time channels). */
  readonly intercepts: Array<Set<bigint>>
  /** Every payment event of every node, in order. */
  readonly paymentEvents: Array<{ readonly node: number; readonly event: PaymentEvent }> = []
  /** Per node: an on-chain monitor (`MonitorChain`) its payment layer subscribes to (a test's stand-in), if any. */
  readonly monitorChains: Array<MonitorChainShape | undefined> = []
  /**
   * Per node: the route hints its invoices get (`PaymentsConfig.routeHints`, read at each
   * invoice; default none). Blinded paths to a node are built from `graph()`.
   */
  readonly routeHints: Array<ReadonlyArray<ReadonlyArray<RouteHintHop>> | undefined> = []
  /** Per node: the introduction node's random failure delay (read when its payment layer starts; default 0: none). */
  readonly blindedFailureDelayMillis: Array<number | undefined> = []
  /** Per node: how its payment layer sees its `ChannelManager` (a test's misbehaving node wraps it), if changed. */
  readonly managerWrappers: Array<((manager: ChannelManagerShape) => ChannelManagerShape) | undefined> = []
  /** `HtlcIntercepted` events, in order. */
  readonly intercepted: Array<{ readonly node: number; readonly interceptId: string; readonly scid: bigint; readonly amountMsat: bigint }> = []
  /** What the routers were told of each path ("Succeeded", "ReachedPayee", "ChannelFailed@<hop index>"). */
  readonly reportedOutcomes: Array<string> = []
  /** Attempt failures as the senders published them: the hop (0 = first node after the sender) and the failure. */
  readonly reportedFailures: Array<{ readonly hop: number; readonly failure: string }> = []
  /** The `channel_update`s attempt failures carried (raw, as the forwarder sent them), with whether the sender used it. */
  readonly failureUpdates: Array<{ readonly node: number; readonly failure: string; readonly channelUpdate: Uint8Array; readonly used: boolean }> = []

  private constructor(h: Harness, policies: Array<ForwardingPolicy>) {
    this.h = h
    this.stores = Array.from({ length: h.size }, () => makeMemoryStoreData())
    this.payments = Array.from({ length: h.size }, () => undefined)
    this.policies = policies
    this.advertised = policies.map((p) => ({ ...p }))
    this.routerMode = policies.map(() => "normal")
    this.intercepts = policies.map(() => new Set<bigint>())
  }

  static make(seed: string, nodes: number, policies: ReadonlyArray<Partial<ForwardingPolicy>> = []): Effect.Effect<PaymentNet> {
    return Effect.gen(function*() {
      const h = yield* Harness.make({ seed, nodes, backend: "manager" })
      const net = new PaymentNet(h, Array.from({ length: nodes }, (_, i) => ({ ...defaultForwardingPolicy, ...policies[i] })))
      for (let i = 0; i < nodes; i++) yield* net.startPayments(i)
      return net
    })
  }

  get shutdown(): Effect.Effect<void> {
    return this.h.shutdown
  }

  nodeIndex(nodeId: Uint8Array): number {
    return this.h.nodeIds.findIndex((id) => equalBytes(id, nodeId))
  }

  /** Builds node `i`'s payment layer in its current incarnation's scope. */
  startPayments(i: number): Effect.Effect<PaymentsShape> {
    const net = this
    return Effect.gen(function*() {
      const node = net.h.node(i)
      const manager = node.manager
      if (manager === undefined) return yield* Effect.die(new Error("manager backend only"))
      const { store } = makeMemoryStore(net.stores[i]!)
      const services = Layer.mergeAll(
        Layer.succeed(ChannelManager, net.managerWrappers[i]?.(manager) ?? manager),
        Layer.succeed(NodeSigner, makeNodeSigner(secretFromSeed(`${net.h.seed}/node/${i}`, secp), secp)),
        Layer.succeed(Entropy, makeSeededEntropy(`${net.h.seed}/node/${i}/payments/${node.incarnation}`)),
        Layer.succeed(Store, store)
      )
      const monitorChain = net.monitorChains[i]
      const payments = yield* makePayments({
        secp,
        blockHeight: Effect.sync(() => net.height),
        forwardingPolicy: net.policies[i]!,
        intercept: (scid) => net.intercepts[i]!.has(scid),
        routeHints: Effect.sync(() => net.routeHints[i] ?? []),
        blindedFailureDelayMillis: net.blindedFailureDelayMillis[i] ?? 0,
        blindedPathGraph: Effect.sync(() => buildRoutingGraph(net.graph()))
      }).pipe(
        Effect.provide(Layer.merge(services, net.routerLayer(i))),
        monitorChain === undefined ? (e) => e : Effect.provideService(MonitorChain, monitorChain),
        Scope.provide(node.scope)
      )
      net.payments[i] = payments
      const events = yield* payments.subscribe.pipe(Scope.provide(node.scope))
      yield* events.pipe(
        Stream.runForEach((e) => Effect.sync(() => {
          net.paymentEvents.push({ node: i, event: e })
          if (e._tag === "AttemptFailed") net.reportedFailures.push({ hop: e.hop, failure: e.failure })
          if (e._tag === "AttemptFailed" && e.channelUpdate !== undefined) {
            net.failureUpdates.push({ node: i, failure: e.failure, channelUpdate: e.channelUpdate, used: e.updateUsed === true })
          }
          if (e._tag === "HtlcIntercepted") net.intercepted.push({ node: i, interceptId: e.interceptId, scid: e.shortChannelId, amountMsat: e.expectedOutAmountMsat })
        })),
        Effect.forkIn(node.scope)
      )
      return payments
    })
  }

  pay(i: number): PaymentsShape {
    const p = this.payments[i]
    if (p === undefined) throw new Error(`node ${i} has no payment layer`)
    return p
  }

  /** Connects, opens `a -> b` (funded by `a`, `pushMsat` to `b`) and records it in the graph. */
  channel(a: number, b: number, options: { readonly fundingSat?: bigint; readonly pushMsat?: bigint } = {}): Effect.Effect<GraphChannel> {
    const net = this
    return Effect.gen(function*() {
      yield* net.h.connect(a, b)
      const channelId = yield* net.h.openToNormal(a, b, { fundingSat: options.fundingSat ?? 1_000_000n, pushMsat: options.pushMsat ?? 0n })
      const state = yield* net.h.state(a, channelId)
      if (state?._tag !== "Normal" || state.shortChannelId === undefined) return yield* Effect.die(new Error("channel not normal"))
      const c: GraphChannel = { a, b, channelId, scid: state.shortChannelId, capacityMsat: (options.fundingSat ?? 1_000_000n) * 1000n }
      net.channels.push(c)
      return c
    })
  }

  /** Our balance (msat) in node `i`'s view of a channel (its current commitment). */
  balance(i: number, channelId: ChannelId): Effect.Effect<bigint> {
    return Effect.map(this.h.state(i, channelId), (s) => (s?._tag === "Normal" ? s.commitments.localCommit.spec.toLocal : -1n))
  }

  /** HTLCs left in node `i`'s current commitment of a channel. */
  htlcCount(i: number, channelId: ChannelId): Effect.Effect<number> {
    return Effect.map(this.h.state(i, channelId), (s) => (s?._tag === "Normal" ? s.commitments.localCommit.spec.htlcs.length : -1))
  }

  /** Runs the network until `done` holds (quiesce, let the payment fibers run, again). */
  runUntil(done: () => boolean, rounds = 200): Effect.Effect<void> {
    const net = this
    return Effect.gen(function*() {
      for (let r = 0; r < rounds; r++) {
        if (done()) return
        yield* net.h.quiesce({ completeWrites: true })
        for (let k = 0; k < 5; k++) yield* macrotask
      }
      if (!done()) return yield* Effect.die(new Error(`network did not reach the condition\n${net.h.log.slice(-30).join("\n")}`))
    })
  }

  /** Lets the network run a few rounds (for what follows an outcome: the last revocations). */
  settle(rounds = 3): Effect.Effect<void> {
    const net = this
    return Effect.gen(function*() {
      for (let r = 0; r < rounds; r++) {
        yield* net.h.quiesce({ completeWrites: true })
        for (let k = 0; k < 5; k++) yield* macrotask
      }
    })
  }

  /** The public graph as the routers believe it: the test's channels with the advertised policies (and fake scids). */
  graph(): ReadonlyArray<GraphChannelInfo> {
    const policy = (i: number): DirectionPolicy => {
      const p = this.advertised[i]!
      return { ...p, enabled: true }
    }
    return this.channels.map((c, k) => {
      const [n1, n2] = compareBytes(this.h.nodeIds[c.a]!, this.h.nodeIds[c.b]!) < 0 ? [c.a, c.b] : [c.b, c.a]
      return {
        shortChannelId: this.fakeScids.get(k) ?? c.scid,
        node1: this.h.nodeIds[n1]!,
        node2: this.h.nodeIds[n2]!,
        capacityMsat: c.capacityMsat,
        oneToTwo: policy(n1),
        twoToOne: policy(n2)
      }
    })
  }

  /**
   * Node `me`'s router: the default router (fees-only scorer, so routes are predictable) over
   * `graph()`; in "half" mode, a router that answers the full amount with one path for half of it.
   */
  routerLayer(me: number): Layer.Layer<Router> {
    const net = this
    const graph = Layer.succeed(RouterGraph, RouterGraph.of({ current: Effect.sync(() => buildRoutingGraph(net.graph())) }))
    const real = DefaultRouter.layer.pipe(Layer.provide(Layer.merge(graph, Scorer.layerFeesOnly)))
    return Layer.effect(Router, Effect.gen(function*() {
      const inner = yield* Router
      const shape: RouterShape = {
        findRoute: (req) =>
          net.routerMode[me] !== "half"
            ? inner.findRoute(req)
            : req.amountMsat !== net.halfOf
            ? Effect.fail(new NoRoute({ reason: "NoPath", detail: "half mode" }))
            : inner.findRoute({ ...req, amountMsat: msat(req.amountMsat / 2n), maxParts: 1 }),
        reportPath: (path, outcome) =>
          Effect.andThen(
            inner.reportPath(path, outcome),
            Effect.sync(() => void net.reportedOutcomes.push(outcome._tag === "ChannelFailed" ? `${outcome._tag}@${outcome.hopIndex}` : outcome._tag))
          )
      }
      return shape
    })).pipe(Layer.provide(real))
  }

  /** Restarts node `i` (channels from the persister, payments from its store) without reconnecting it. */
  restart(i: number): Effect.Effect<PaymentsShape> {
    const net = this
    return Effect.gen(function*() {
      yield* net.h.restart(i)
      net.payments[i] = undefined
      return yield* net.startPayments(i)
    })
  }
}

export const must = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`expected success: ${String(r.failure)}`)
  return r.success
}
