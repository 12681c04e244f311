/**
 * The router's view of the gossip graph (`RouterGraph`, helper E's interface): each channel of
 * the `NetworkGraph` as a `ChannelInfo`, leaving out what BOLT 7 says not to route through:
 * - a channel whose announcement has unknown even features (both directions);
 * - the directions published by a node whose announcement has unknown even features (routing
 *   THROUGH it; paying TO it stays possible);
 * - a direction with `htlc_maximum_msat` below `htlc_minimum_msat` or above the capacity.
 * The routing graph is rebuilt lazily: on `current`, when the graph's version changed and at
 * least `minRebuildMillis` passed since the last build (default 10 s).
 */
import { Clock, Effect, Layer } from "effect"
import type { DirectionView, ChannelView, NodeView } from "../../protocol/gossip/views.ts"
import { buildRoutingGraph, type ChannelInfo, type DirectionPolicy, type RoutingGraph } from "../../protocol/routing/graph.ts"
import { NetworkGraph } from "../../services/NetworkGraph.ts"
import { RouterGraph } from "../../services/Router.ts"

const policyOf = (d: DirectionView | undefined): DirectionPolicy | undefined =>
  d === undefined || d.unroutable !== undefined
    ? undefined
    : {
      feeBaseMsat: d.feeBaseMsat,
      feeProportionalMillionths: d.feeProportionalMillionths,
      cltvExpiryDelta: d.cltvExpiryDelta,
      htlcMinimumMsat: d.htlcMinimumMsat,
      htlcMaximumMsat: d.htlcMaximumMsat,
      enabled: d.enabled
    }

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

/** One graph channel as the router's `ChannelInfo`; `blockedNodes` = hex ids with unknown even features. */
export const toChannelInfo = (c: ChannelView, blockedNodes: ReadonlySet<string>): ChannelInfo => {
  const usable = !c.unknownEvenFeatures
  return {
    shortChannelId: c.shortChannelId,
    node1: c.nodeId1,
    node2: c.nodeId2,
    capacityMsat: c.capacitySat === undefined ? undefined : c.capacitySat * 1000n,
    oneToTwo: usable && !blockedNodes.has(hex(c.nodeId1)) ? policyOf(c.directions[0]) : undefined,
    twoToOne: usable && !blockedNodes.has(hex(c.nodeId2)) ? policyOf(c.directions[1]) : undefined
  }
}

/** The routing graph of a set of channels and nodes. */
export const routingGraphOf = (channels: ReadonlyArray<ChannelView>, nodes: ReadonlyArray<NodeView>): RoutingGraph => {
  const blocked = new Set<string>()
  for (const n of nodes) if (n.announcement?.unknownEvenFeatures === true) blocked.add(hex(n.nodeId))
  return buildRoutingGraph(channels.map((c) => toChannelInfo(c, blocked)))
}

/** `RouterGraph` over the `NetworkGraph`, cached on its version. */
export const layer = (options?: { readonly minRebuildMillis?: number }): Layer.Layer<RouterGraph, never, NetworkGraph> =>
  Layer.effect(
    RouterGraph,
    Effect.gen(function*() {
      const graph = yield* NetworkGraph
      const minRebuild = options?.minRebuildMillis ?? 10_000
      let cached: { readonly version: number; readonly at: number; readonly graph: RoutingGraph } | undefined
      const current = Effect.gen(function*() {
        const { version } = yield* graph.stats
        const now = yield* Clock.currentTimeMillis
        if (cached !== undefined && (cached.version === version || now - cached.at < minRebuild)) return cached.graph
        const built = routingGraphOf(yield* graph.channels, yield* graph.nodes)
        cached = { version, at: now, graph: built }
        return built
      })
      return RouterGraph.of({ current })
    })
  )
