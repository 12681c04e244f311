/**
 * A payment attempt's route as the payment layer keeps it (in results and in the store): the
 * hops after us, each with the node reached, the channel used to reach it, and the amount and
 * CLTV expiry of the HTLC that node receives. The router (src/services/Router.ts) computes
 * routes; `fromPath` keeps what a `Path` of its answer says about each hop.
 */
import type { ShortChannelId } from "../codec/index.ts"
import type { Path } from "../routing/types.ts"
import { type Msat, msat } from "../units.ts"

/** One hop of a route: the node reached over `shortChannelId`, with what its incoming HTLC carries. */
export interface RouteHop {
  readonly nodeId: Uint8Array
  readonly shortChannelId: ShortChannelId
  /** The amount of the HTLC this node receives. */
  readonly amountMsat: Msat
  /** The `cltv_expiry` of the HTLC this node receives. */
  readonly cltvExpiry: number
}

/** A route: at least one hop; the last one is the payee. */
export interface Route {
  readonly hops: ReadonlyArray<RouteHop>
}

export const fromPath = (path: Path): Route => ({
  hops: path.hops.map((h) => ({ nodeId: h.nodeId, shortChannelId: h.shortChannelId, amountMsat: h.amountMsat, cltvExpiry: h.cltvExpiry }))
})

/** The amount delivered to the payee. */
export const routeFinalAmount = (route: Route): Msat => route.hops[route.hops.length - 1]?.amountMsat ?? msat(0n)
/** The amount of the first HTLC (what leaves our channel). */
export const routeFirstAmount = (route: Route): Msat => route.hops[0]?.amountMsat ?? msat(0n)
/** The fees the route pays the forwarding nodes. */
export const routeFee = (route: Route): Msat => msat(routeFirstAmount(route) - routeFinalAmount(route))
