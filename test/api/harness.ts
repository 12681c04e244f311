/**
 * Shared pieces of the control API tests: PeerManager and ChannelManager doubles, the server on
 * 127.0.0.1 port 0, and a small fetch helper that returns status and parsed JSON body.
 */
import { Effect, Layer, Redacted, Schema, Stream } from "effect"
import { ChannelManager, ChannelNotFound, OpenChannelFailed } from "../../src/actors/ChannelManager.ts"
import { ChannelCommandRejected } from "../../src/actors/Channel.ts"
import { UnexpectedInput } from "../../src/protocol/channel/step.ts"
import type { ChannelState } from "../../src/protocol/channel/state.ts"
import { ChannelIdSchema } from "../../src/protocol/codec/fields.ts"
import { HttpServer } from "effect/http"
import {
  DisconnectReason,
  PeerConnectFailed,
  type PeerInfo,
  PeerNotConnected,
  SessionId,
  StaleSession
} from "../../src/actors/PeerEvent.ts"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import { ControlApiServer } from "../../src/api/ControlApiServer.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import type { NodeId } from "../../src/protocol/units.ts"

export const key = (n: number) => {
  const secret = new Uint8Array(32)
  secret[31] = n
  const publicKey = nobleSecp256k1.publicKey(secret)
  if (publicKey === undefined) throw new Error("bad test key")
  return publicKey as NodeId
}
export const ourId = key(1)
export const reachable = key(2)
export const unreachable = key(3)

/** A PeerManager double: `reachable` connects, anything else fails with TransportFailed. */
export const FakePeerManager = Layer.sync(PeerManager, () => {
  const connected = new Map<string, PeerInfo>()
  return PeerManager.of({
    nodeId: ourId,
    features: Uint8Array.of(0x02, 0x82, 0x02), // bits 1, 9, 15, 17
    listenAddress: { host: "127.0.0.1", port: 9735 },
    connect: (nodeId, address) =>
      Effect.suspend(() => {
        if (toHex(nodeId) !== toHex(reachable)) {
          return Effect.fail(
            new PeerConnectFailed({
              nodeId,
              address,
              reason: DisconnectReason.TransportFailed({ message: "connect ECONNREFUSED" })
            })
          )
        }
        const peer: PeerInfo = {
          session: SessionId(connected.size + 1),
          nodeId,
          address,
          direction: "outbound",
          localFeatures: Uint8Array.of(0x02, 0x82, 0x02),
          remoteFeatures: Uint8Array.of(0x82, 0x02),
          negotiatedFeatures: [7, 9],
          remoteNetworks: undefined
        }
        connected.set(toHex(nodeId), peer)
        return Effect.succeed(peer)
      }),
    peers: Effect.sync(() => [...connected.values()]),
    peer: (nodeId) =>
      Effect.suspend(() => {
        const p = connected.get(toHex(nodeId))
        return p === undefined ? Effect.fail(new PeerNotConnected({ nodeId })) : Effect.succeed(p)
      }),
    disconnect: (nodeId) =>
      Effect.suspend(() =>
        connected.delete(toHex(nodeId)) ? Effect.void : Effect.fail(new PeerNotConnected({ nodeId }))
      ),
    send: (session) => Effect.fail(new StaleSession({ session })),
    sendBytes: (session) => Effect.fail(new StaleSession({ session })),
    sessionEvents: Stream.empty,
    events: Stream.empty,
    subscribe: Effect.succeed(Stream.empty)
  })
})

/** The one channel the ChannelManager double knows: closed (its open was aborted). */
export const knownChannelId = Schema.decodeSync(ChannelIdSchema)("11".repeat(32))
const knownChannel: ChannelState = {
  _tag: "Closed",
  nextUpdateId: 0n,
  channelId: knownChannelId,
  reason: { _tag: "FundingAborted", reason: "test channel" }
}

/**
 * A ChannelManager double: lists `knownChannelId` (phase Closed); commands on it are refused as
 * the channel would (`UnexpectedInput`), other ids are `ChannelNotFound`; `openChannel` to
 * `reachable` is refused by the open rules, to anyone else `PeerNotConnected`.
 */
export const FakeChannelManager = Layer.succeed(ChannelManager, (() => {
  const info = { nodeId: reachable, channelId: knownChannelId, phase: knownChannel._tag, state: knownChannel, paused: false }
  const find = (channelId: Uint8Array) =>
    toHex(channelId) === toHex(knownChannelId)
      ? Effect.succeed(info)
      : Effect.fail(new ChannelNotFound({ channelId: Schema.decodeSync(ChannelIdSchema)(toHex(channelId)) }))
  const refuse = (input: "Close" | "ForceClose" | "FundingTransaction") => (channelId: Uint8Array) =>
    Effect.flatMap(find(channelId), () =>
      Effect.fail(
        new ChannelCommandRejected({
          channelId: knownChannelId,
          input,
          error: new UnexpectedInput({ phase: "Closed", input, detail: "the channel is closed" })
        })
      ))
  return ChannelManager.of({
    openChannel: (nodeId) =>
      toHex(nodeId) === toHex(reachable)
        ? Effect.fail(new OpenChannelFailed({ reason: "FundingTooSmall: below 10000 sat" }))
        : Effect.fail(new PeerNotConnected({ nodeId })),
    fundChannel: (channelId) => refuse("FundingTransaction")(channelId),
    listChannels: Effect.succeed([info]),
    channel: find,
    monitorState: (channelId) => Effect.as(find(channelId), undefined),
    closeChannel: (channelId) => refuse("Close")(channelId),
    forceClose: (channelId) => refuse("ForceClose")(channelId),
    addHtlc: (channelId) => Effect.flatMap(refuse("Close")(channelId), () => Effect.succeed(0n)),
    fulfillHtlc: (channelId) => refuse("Close")(channelId),
    claimPreimage: (channelId) => refuse("Close")(channelId),
    failHtlc: (channelId) => refuse("Close")(channelId),
    failMalformedHtlc: (channelId) => refuse("Close")(channelId),
    updateFee: (channelId) => refuse("Close")(channelId),
    chainFact: (channelId) => Effect.asVoid(find(channelId)),
    events: Stream.empty,
    subscribe: Effect.succeed(Stream.empty)
  })
})())

/** The bearer token of the test servers, and the header that carries it. */
export const apiToken = Redacted.make("test-token-0123456789abcdef")
export const auth = { authorization: `Bearer ${Redacted.value(apiToken)}` } as const

export const ServerLive = ControlApiServer({ host: "127.0.0.1", port: 0, token: apiToken, maxBodyBytes: 1024, logRequests: false }).pipe(
  Layer.provide([FakePeerManager, FakeChannelManager])
)

export const baseUrl = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const address = server.address
  if (address._tag === "UnixPathAddress") return yield* Effect.die("unexpected unix address")
  return `http://127.0.0.1:${address.port}`
})

export interface Reply {
  readonly status: number
  readonly body: unknown
}
/** A request with the test token (`headers` replace it, e.g. `{}` to send none). */
export const request = (
  method: string,
  path: string,
  body?: string,
  contentType = "application/json",
  headers: Record<string, string> = auth
) =>
  Effect.gen(function*() {
    const url = yield* baseUrl
    return yield* Effect.promise(async (): Promise<Reply> => {
      const init: RequestInit = body === undefined
        ? { method, headers }
        : { method, body, headers: { ...headers, "content-type": contentType } }
      const response = await fetch(`${url}${path}`, init)
      const text = await response.text()
      return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
    })
  })

export const field = (body: unknown, name: string): unknown =>
  typeof body === "object" && body !== null ? (body as Record<string, unknown>)[name] : undefined

