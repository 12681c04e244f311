/**
 * The node's network setting (mainnet, testnet, testnet4, signet, regtest): ONE value that the
 * `init` `networks` TLV (through `NodeLive`'s peer config), the invoice prefix of
 * `createInvoice`, the control API's `/v1/info` and the channel checks (`open_channel`'s
 * `chain_hash`) all read. A `Context.Reference`: regtest unless a layer or
 * `Effect.provideService(NodeNetwork, Networks.signet)` says otherwise; the daemon sets it
 * from `--network`.
 */
import { Context, Layer } from "effect"
import { defaultNetwork, type Network } from "../protocol/network.ts"

const NodeNetworkReference = Context.Reference<Network>("effect-lightning/NodeNetwork", {
  defaultValue: () => defaultNetwork
})

/** The reference, with its layer as `NodeNetwork.layer(network)`. */
export const NodeNetwork = Object.assign(NodeNetworkReference, {
  /** A layer that sets the node's network. */
  layer: (network: Network): Layer.Layer<never> => Layer.succeed(NodeNetworkReference, network)
})
