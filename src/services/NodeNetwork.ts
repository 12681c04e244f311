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

export const NodeNetwork = Context.Reference<Network>("effect-lightning/NodeNetwork", {
  defaultValue: () => defaultNetwork
})

/** A layer that sets the node's network. */
export const nodeNetworkLayer = (network: Network): Layer.Layer<never> => Layer.succeed(NodeNetwork, network)
