/**
 * Router: finds the route(s) of a payment (issue 8 "The router"). The payment layer asks
 * `findRoute` with the payer, payee, amount, limits, our channels with their real balances,
 * the invoice's route hints and what to avoid, and gets one path or a multi-part split, each hop
 * with what its BOLT 4 onion payload needs (`pathOnionHops` in src/protocol/routing builds
 * them), or a typed `NoRoute`. It reports every attempt's outcome back with `reportPath`, so
 * the next routes avoid what failed.
 *
 * The default layer (`DefaultRouter`, src/layers/router) reads the public graph from
 * `RouterGraph` and weighs channels through `Scorer`. Another router is a few lines of
 * `Layer.succeed(Router, Router.of({ findRoute, reportPath }))`; test/layers/router/DefaultRouter.test.ts
 * has one that only pays direct peers over `req.firstHops`.
 */
import { Context, Effect, Layer } from "effect"
import { emptyRoutingGraph, type RoutingGraph } from "../protocol/routing/graph.ts"
import type { NoRoute, Path, PathOutcome, Route, RouteRequest } from "../protocol/routing/types.ts"

export type {
  ExcludedChannel,
  FirstHop,
  NoRouteReason,
  Path,
  PathOutcome,
  PolicyUpdate,
  Route,
  RouteHop,
  RouteRequest
} from "../protocol/routing/types.ts"
export { NoRoute } from "../protocol/routing/types.ts"

export interface RouterShape {
  readonly findRoute: (request: RouteRequest) => Effect.Effect<Route, NoRoute>
  /** What became of a path of a route this router gave. */
  readonly reportPath: (path: Path, outcome: PathOutcome) => Effect.Effect<void>
}

export class Router extends Context.Service<Router, RouterShape>()("effect-lightning/Router") {}

export interface RouterGraphShape {
  /**
   * The public graph now: an immutable snapshot (`buildRoutingGraph`), cheap to return when
   * nothing changed; an adapter over a live gossip graph caches it and rebuilds it lazily.
   */
  readonly current: Effect.Effect<RoutingGraph>
}

/** Where the router reads the public channel graph. */
export class RouterGraph extends Context.Service<RouterGraph, RouterGraphShape>()("effect-lightning/RouterGraph") {
  /** No public graph: routes over our own channels and the invoice's route hints only. */
  static readonly layerEmpty: Layer.Layer<RouterGraph> = Layer.succeed(RouterGraph, RouterGraph.of({ current: Effect.succeed(emptyRoutingGraph) }))
  /** A fixed graph (tests, benchmarks, the snapshot file). */
  static readonly layerFixed = (graph: RoutingGraph): Layer.Layer<RouterGraph> =>
    Layer.succeed(RouterGraph, RouterGraph.of({ current: Effect.succeed(graph) }))
}
