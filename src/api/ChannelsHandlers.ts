/** Handlers of the `channels` group (`ChannelsApi.ts`), over the node's `ChannelManager`. */
import { Clock, Deferred, Duration, Effect, Option, Result, Schema, Stream } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { type ChannelCommandError, type ChannelInfo, ChannelManager, type NodeChannelEvent } from "../actors/ChannelManager.ts"
import { PeerManager } from "../actors/PeerManager.ts"
import { Wallet } from "../actors/Wallet.ts"
import { WalletFunding } from "../actors/WalletFunding.ts"
import { ChainSource } from "../services/ChainSource.ts"
import { equalBytes, fromHex, toHex } from "../protocol/bytes.ts"
import { ChannelIdSchema, parseShortChannelId } from "../protocol/codec/fields.ts"
import { channelIdFromFunding, fundingNeededFor } from "../protocol/channel/open.ts"
import { ChannelEventSchema, ChannelOutputSchema } from "../protocol/channel/io.ts"
import type { ChannelPhase } from "../protocol/channel/state.ts"
import { decodeTransaction, txid } from "../protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, sat } from "../protocol/units.ts"
import { ApiShutdown } from "./ApiShutdown.ts"
import { ControlApi } from "./ControlApi.ts"
import { channelToJson, describeTagged, nodeIdFromHex } from "./convert.ts"
import type { ChannelEventJson } from "./schemas.ts"
import {
  ChannelCommandRejected,
  ChannelNotFound,
  ChannelOpenRefused,
  ChannelUnavailable,
  InvalidRequest,
  OpenChannelFailed,
  PeerNotFound
} from "./errors.ts"
import { WalletSendRefused, WalletUnavailable } from "./WalletApi.ts"

/** How long `open` waits for `accept_channel` and `fund` for `funding_signed`. */
const PEER_ANSWER_WAIT = Duration.seconds(30)
const POLL_INTERVAL = Duration.millis(10)

/** Only for strings already validated by `ChannelIdHex`. */
const channelIdFromHex = (hex: string): ChannelId => Schema.decodeSync(ChannelIdSchema)(hex.toLowerCase())

const notFound = (channelId: Uint8Array) =>
  new ChannelNotFound({ channelId: toHex(channelId), message: `no channel ${toHex(channelId)}` })

/** The API error of a failed channel command. */
const commandError = (channelId: ChannelId) => (error: ChannelCommandError) => {
  switch (error._tag) {
    case "ChannelNotFound":
      return notFound(error.channelId)
    case "ChannelCommandRejected": {
      const reason = describeTagged(error.error)
      return new ChannelCommandRejected({
        channelId: toHex(error.channelId),
        command: error.input,
        reason,
        message: `channel ${toHex(error.channelId)} refused ${error.input}: ${reason}`
      })
    }
    case "ActorStopped":
    case "ActorCrashed":
      return new ChannelUnavailable({ channelId: toHex(channelId), message: `channel ${toHex(channelId)} is unavailable (${error._tag})` })
  }
}

const encodeChannelEvent = Schema.encodeSync(Schema.toCodecJson(ChannelEventSchema))
const encodeChainRequest = Schema.encodeSync(Schema.toCodecJson(ChannelOutputSchema))

/** A node channel event as the JSON of `GET /v1/channels/events`. */
export const channelEventToJson = (e: NodeChannelEvent): ChannelEventJson => ({
  nodeId: toHex(e.nodeId),
  channelId: toHex(e.channelId),
  type: e.event._tag,
  event: e.event._tag === "Broadcast" || e.event._tag === "WatchFunding" ? encodeChainRequest(e.event) : encodeChannelEvent(e.event)
})

export const ChannelsHandlers = HttpApiBuilder.group(
  ControlApi,
  "channels",
  Effect.fn(function*(handlers) {
    const channels = yield* ChannelManager
    const peers = yield* PeerManager
    const shutdown = yield* ApiShutdown
    const funder = yield* Effect.serviceOption(WalletFunding)
    const wallet = yield* Effect.serviceOption(Wallet)
    const chain = yield* Effect.serviceOption(ChainSource)

    /** The chain's tip height when the node follows a chain (and it answers), for `confirmations`. */
    const tipHeight: Effect.Effect<number | undefined> = Option.isSome(chain)
      ? chain.value.tip.pipe(Effect.map((tip): number | undefined => tip.height), Effect.orElseSucceed(() => undefined))
      : Effect.succeed(undefined)

    /** The channel as JSON, `connection` corrected by whether its peer is connected now. */
    const toJson = (info: ChannelInfo) =>
      Effect.gen(function*() {
        const peer = yield* Effect.result(peers.peer(info.nodeId))
        return channelToJson(info, Result.isSuccess(peer), yield* tipHeight)
      })

    const read = (channelId: ChannelId) =>
      channels.channel(channelId).pipe(
        Effect.mapError((error) =>
          error._tag === "ChannelNotFound"
            ? notFound(error.channelId)
            : new ChannelUnavailable({ channelId: toHex(channelId), message: `channel ${toHex(channelId)} is unavailable (${error._tag})` })
        )
      )

    /**
     * Polls the channel (under any of `ids`, first found wins) until its phase leaves `phases` or
     * `PEER_ANSWER_WAIT` passes; the last snapshot either way.
     */
    const settle = (ids: ReadonlyArray<ChannelId>, phases: ReadonlyArray<ChannelPhase>) =>
      Effect.gen(function*() {
        const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(PEER_ANSWER_WAIT)
        for (;;) {
          let info: ChannelInfo | undefined
          for (const id of ids) {
            const r = yield* Effect.result(channels.channel(id))
            if (Result.isSuccess(r)) {
              info = r.success
              break
            }
          }
          if (info === undefined) return yield* notFound(ids[0] ?? new Uint8Array(32))
          if (!phases.includes(info.phase) || (yield* Clock.currentTimeMillis) >= deadline) return info
          yield* Effect.sleep(POLL_INTERVAL)
        }
      })

    return handlers
      .handle("list", () =>
        Effect.gen(function*() {
          const list = [...(yield* channels.listChannels)].sort((a, b) =>
            toHex(a.nodeId).localeCompare(toHex(b.nodeId)) || toHex(a.channelId).localeCompare(toHex(b.channelId))
          )
          const connected = new Set((yield* peers.peers).map((p) => toHex(p.nodeId)))
          const tip = yield* tipHeight
          return list.map((info) => channelToJson(info, connected.has(toHex(info.nodeId)), tip))
        }))
      .handle("events", () =>
        Effect.succeed(
          // Subscribed first, then announced: the client knows nothing after `Subscribed` is missed
          // (and the response's headers go out at once).
          Stream.unwrap(
            Effect.map(channels.subscribe, (events) => {
              const subscribed: ChannelEventJson = { nodeId: toHex(peers.nodeId), channelId: null, type: "Subscribed", event: null }
              return Stream.concat(Stream.succeed(subscribed), Stream.map(events, channelEventToJson)).pipe(
                Stream.interruptWhen(Deferred.await(shutdown))
              )
            })
          )
        ))
      .handle("get", ({ params }) => Effect.flatMap(read(channelIdFromHex(params.channelId)), toJson))
      .handle("open", ({ payload }) =>
        Effect.gen(function*() {
          const nodeId = nodeIdFromHex(payload.nodeId)
          if (equalBytes(nodeId, peers.nodeId)) return yield* new InvalidRequest({ message: "cannot open a channel to our own node" })
          const fromWallet = payload.funding === "wallet" || (payload.funding === undefined && Option.isSome(funder))
          if (fromWallet) {
            if (Option.isNone(funder) || Option.isNone(wallet)) {
              return yield* new WalletUnavailable({ message: "this node runs without an on-chain wallet: open with funding \"external\" and fund it yourself" })
            }
            // Checked before anything is sent to the peer (the fee comes on top: the wallet may still refuse).
            const confirmed = (yield* wallet.value.balance).confirmed
            if (confirmed < BigInt(payload.amountSat)) {
              return yield* new WalletSendRefused({
                reason: "InsufficientFunds",
                message: `the wallet has ${confirmed} sat confirmed and spendable, the channel needs ${payload.amountSat} sat plus the fee`
              })
            }
          }
          const temporaryChannelId = yield* channels.openChannel(nodeId, sat(BigInt(payload.amountSat)), {
            pushAmount: msat(BigInt(payload.pushMsat ?? 0)),
            channelType: { name: payload.channelType ?? "static_remote_key", scidAlias: false, zeroConf: false },
            announce: payload.announce ?? false,
            ...(payload.feeratePerKw === undefined ? {} : { feeratePerKw: payload.feeratePerKw })
          }).pipe(
            Effect.mapError((error) =>
              error._tag === "PeerNotConnected"
                ? new PeerNotFound({ nodeId: toHex(nodeId), message: `peer ${toHex(nodeId)} is not connected: connect first (POST /v1/peers)` })
                : new OpenChannelFailed({ reason: error.reason, message: `open_channel not sent: ${error.reason}` })
            )
          )
          const funded = fromWallet && Option.isSome(funder) ? yield* funder.value.request(temporaryChannelId) : undefined
          const refused = () =>
            new ChannelOpenRefused({ channelId: toHex(temporaryChannelId), reason: "channel gone", message: "the channel disappeared during the open" })
          if (payload.wait === false) return yield* Effect.flatMap(read(temporaryChannelId).pipe(Effect.mapError(refused)), toJson)
          if (funded !== undefined) {
            // From the wallet: the channel leaves its temporary id as soon as it is funded, so wait on the funding itself.
            const finalId = yield* Deferred.await(funded).pipe(
              Effect.timeoutOption(PEER_ANSWER_WAIT),
              Effect.mapError((e) =>
                e.closed === undefined
                  ? new WalletSendRefused({ reason: "WalletFundingFailed", message: `the wallet did not fund the channel: ${e.reason}` })
                  : new ChannelOpenRefused({ channelId: toHex(temporaryChannelId), reason: e.closed, message: `the channel closed during the open: ${e.closed}` })
              )
            )
            if (Option.isNone(finalId)) return yield* toJson(yield* read(temporaryChannelId).pipe(Effect.mapError(refused)))
            return yield* toJson(yield* settle([finalId.value, temporaryChannelId], ["WaitFundingTx", "WaitFundingSigned"]).pipe(Effect.mapError(refused)))
          }
          const info = yield* settle([temporaryChannelId], ["WaitAcceptChannel"]).pipe(Effect.mapError(refused))
          const json = yield* toJson(info)
          if (json.closed !== null) {
            return yield* new ChannelOpenRefused({
              channelId: json.channelId,
              reason: json.closed.detail,
              message: `the peer refused the channel: ${json.closed.detail}`
            })
          }
          return json
        }))
      .handle("fund", ({ params, payload }) =>
        Effect.gen(function*() {
          const temporaryChannelId = channelIdFromHex(params.temporaryChannelId)
          const bytes = fromHex(payload.tx.toLowerCase())
          const decoded = decodeTransaction(bytes)
          if (Result.isFailure(decoded)) {
            return yield* new InvalidRequest({ message: `tx is not a transaction: ${describeTagged(decoded.failure)}` })
          }
          // The final id (BOLT 2: funding txid XOR output index) of the output paying the channel's
          // funding script: the channel is known by it as soon as the peer's funding_signed is in,
          // which may be before fundChannel's answer reaches us.
          const before = yield* read(temporaryChannelId)
          const script = before.state._tag === "WaitFundingTx" ? fundingNeededFor(before.state.negotiated).scriptPubKey : undefined
          const vout = script === undefined ? -1 : decoded.success.outputs.findIndex((o) => equalBytes(o.scriptPubKey, script))
          yield* channels.fundChannel(temporaryChannelId, bytes).pipe(Effect.mapError(commandError(temporaryChannelId)))
          const ids = vout < 0 ? [temporaryChannelId] : [channelIdFromFunding(txid(decoded.success), vout), temporaryChannelId]
          return yield* toJson(yield* settle(ids, ["WaitFundingTx", "WaitFundingSigned"]))
        }))
      .handle("close", ({ params, payload }) =>
        Effect.gen(function*() {
          const channelId = channelIdFromHex(params.channelId)
          if (payload.force === true) {
            if (payload.scriptPubKey !== undefined || payload.feeratePerKw !== undefined) {
              return yield* new InvalidRequest({ message: "force: true takes no scriptPubKey or feeratePerKw (our commitment pays the outputs it has)" })
            }
            yield* channels.forceClose(channelId, "force close requested through the control API").pipe(
              Effect.mapError(commandError(channelId))
            )
            return yield* toJson(yield* read(channelId))
          }
          yield* channels.closeChannel(channelId, {
            ...(payload.scriptPubKey === undefined ? {} : { scriptPubKey: fromHex(payload.scriptPubKey.toLowerCase()) }),
            ...(payload.feeratePerKw === undefined ? {} : { feeratePerKw: payload.feeratePerKw })
          }).pipe(Effect.mapError(commandError(channelId)))
          return yield* toJson(yield* read(channelId))
        }))
      .handle("forceClose", ({ params }) =>
        Effect.gen(function*() {
          const channelId = channelIdFromHex(params.channelId)
          yield* channels.forceClose(channelId, "force close requested through the control API").pipe(
            Effect.mapError(commandError(channelId))
          )
          return yield* toJson(yield* read(channelId))
        }))
      .handle("chain", ({ params, payload }) =>
        Effect.gen(function*() {
          const channelId = channelIdFromHex(params.channelId)
          const scid = payload.shortChannelId === undefined ? undefined : parseShortChannelId(payload.shortChannelId)
          if (payload.shortChannelId !== undefined && scid === undefined) {
            return yield* new InvalidRequest({ message: `shortChannelId out of range: ${payload.shortChannelId}` })
          }
          yield* channels.chainFact(channelId, {
            _tag: "FundingDepth",
            depth: payload.depth,
            ...(scid === undefined ? {} : { shortChannelId: scid })
          }).pipe(
            Effect.mapError((error) =>
              error._tag === "ChannelNotFound"
                ? notFound(error.channelId)
                : new ChannelUnavailable({ channelId: toHex(channelId), message: `channel ${toHex(channelId)} is unavailable (${error._tag})` })
            )
          )
        }))
  })
)
