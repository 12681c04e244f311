/**
 * `channels` group of the control API: open a channel to a connected peer (we fund it: from the
 * node's on-chain wallet when it has one, or with a transaction the caller builds and signs:
 * "bring your own funding transaction", `funding: "external"`), list and read
 * channels, close them cooperatively or by force, and feed the funding transaction's depth by
 * hand (`POST /v1/channels/{channelId}/chain`: for a node run without a chain source; with
 * `--bitcoind-rpc` the chain watcher tells the channels).
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Schema } from "effect"
import {
  ChannelCommandRejected,
  ChannelNotFound,
  ChannelOpenRefused,
  ChannelUnavailable,
  InvalidRequest,
  OpenChannelFailed,
  PeerNotFound
} from "./errors.ts"
import { ChainFactRequest, Channel, ChannelEventJson, ChannelIdHex, CloseChannelRequest, FundChannelRequest, OpenChannelRequest } from "./schemas.ts"
import { WalletSendRefused, WalletUnavailable } from "./WalletApi.ts"

/** Body of `POST /v1/channels`: the open's parameters, where the funding comes from, and whether to wait. */
export const OpenChannelFundedRequest = Schema.Struct({
  ...OpenChannelRequest.fields,
  funding: Schema.optional(Schema.Literals(["wallet", "external"]).annotate({
    description: "wallet: the node's on-chain wallet pays the funding transaction (the default when the node has a wallet); " +
      "external: the caller funds it with POST /v1/channels/{temporaryChannelId}/fund (the default without a wallet)"
  })),
  wait: Schema.optional(Schema.Boolean.annotate({
    description: "false: answer at once (the open goes on in the background: watch GET /v1/channels and the event stream); " +
      "default true: answer after accept_channel (external funding) or once the funding transaction is signed by both sides (wallet)"
  }))
}).annotate({ title: "OpenChannelRequest" })

const byId = { channelId: ChannelIdHex }
const commandErrors = [InvalidRequest, ChannelNotFound, ChannelCommandRejected, ChannelUnavailable] as const

export class ChannelsApi extends HttpApiGroup.make("channels")
  .add(
    HttpApiEndpoint.get("list", "/v1/channels", { success: Schema.Array(Channel) }).annotate(
      OpenApi.Description,
      "Every channel of the node (opening, normal, closing and closed), with its phase, capacity, short channel id, " +
        "funding confirmations and, once it has commitments, balances."
    ),
    HttpApiEndpoint.get("events", "/v1/channels/events", {
      success: HttpApiSchema.StreamSse({ data: ChannelEventJson })
    }).annotate(
      OpenApi.Description,
      "Server-Sent Events: every channel event and chain request of the node from the moment of the request " +
        "(FundingNeeded, ChannelPending, ChannelReady, HtlcReceived, ShutdownStarted, ChannelClosed, Broadcast, " +
        "WatchFunding...), one `data:` JSON line each, after a first `Subscribed` event (from then on nothing is missed). The stream stays open until the client or the node closes it."
    ),
    HttpApiEndpoint.get("get", "/v1/channels/:channelId", {
      params: byId,
      success: Channel,
      error: [InvalidRequest, ChannelNotFound, ChannelUnavailable]
    }).annotate(OpenApi.Description, "One channel, by its current id (the temporary id until the funding transaction is known)."),
    HttpApiEndpoint.post("open", "/v1/channels", {
      payload: OpenChannelFundedRequest,
      success: Channel,
      error: [InvalidRequest, PeerNotFound, OpenChannelFailed, ChannelOpenRefused, WalletUnavailable, WalletSendRefused]
    }).annotate(
      OpenApi.Description,
      "Opens a channel to a connected peer, funded by us. From the wallet (the default when the node has one): the " +
        "node sends open_channel, pays the funding output from its wallet once the peer accepts (the inputs stay locked " +
        "until the channel confirms or the open fails), and answers (up to 30 s) with the channel under its final id in " +
        "WaitChannelReady; too little confirmed money is a 422 before anything is sent. With `funding: \"external\"`: the " +
        "answer (after accept_channel, up to 30 s) is the channel under its temporary id in WaitFundingTx with " +
        "`fundingOutput` (the P2WSH output the funding transaction must pay; then POST .../fund), or still " +
        "WaitAcceptChannel if the peer is slow. `wait: false` answers at once with the channel as it is. A refusal by " +
        "the peer is a 502."
    ),
    HttpApiEndpoint.post("fund", "/v1/channels/:temporaryChannelId/fund", {
      params: { temporaryChannelId: ChannelIdHex },
      payload: FundChannelRequest,
      success: Channel,
      error: commandErrors
    }).annotate(
      OpenApi.Description,
      "Funds a channel in phase WaitFundingTx with a signed transaction paying its `fundingOutput` (segwit inputs only). " +
        "The node signs the first commitment with the peer and waits (up to 30 s) for funding_signed: the answer is the " +
        "channel under its final id, in WaitChannelReady, after which the node would broadcast the transaction (no chain " +
        "connection yet: broadcast it yourself)."
    ),
    HttpApiEndpoint.post("close", "/v1/channels/:channelId/close", {
      params: byId,
      payload: CloseChannelRequest,
      success: Channel,
      error: commandErrors
    }).annotate(
      OpenApi.Description,
      "Starts a cooperative close (shutdown, then closing-fee negotiation). `scriptPubKey` defaults to the node's payout " +
        "script (a fresh wallet P2WPKH address when the node has a wallet, else P2WPKH to a key derived from the seed), " +
        "`feeratePerKw` to the node's estimate. Send `{}` for both defaults. `{\"force\": true}` closes unilaterally " +
        "instead (as POST .../force-close: an error to the peer, our latest commitment to the monitor to broadcast)."
    ),
    HttpApiEndpoint.post("forceClose", "/v1/channels/:channelId/force-close", {
      params: byId,
      success: Channel,
      error: commandErrors
    }).annotate(
      OpenApi.Description,
      "Fails the channel: sends an error to the peer and hands our latest commitment to the monitor to broadcast."
    ),
    HttpApiEndpoint.post("chain", "/v1/channels/:channelId/chain", {
      params: byId,
      payload: ChainFactRequest,
      success: HttpApiSchema.Accepted,
      error: [InvalidRequest, ChannelNotFound, ChannelUnavailable]
    }).annotate(
      OpenApi.Description,
      "Stand-in for a chain source (for a node run without one; with --bitcoind-rpc the chain watcher does it): tells the channel how many confirmations its funding transaction " +
        "has, and its short channel id once confirmed. At `minimumDepth` the channel sends channel_ready. Accepted (202) " +
        "at once; read the channel to see the effect."
    )
  )
  .annotateMerge(OpenApi.annotations({ title: "Channels" }))
{}
