/**
 * The node daemon behind `npm start` (`src/main.ts`): a production `NodeLive` (TCP peers,
 * channels stored under the data directory, seed-file keys, OS randomness) with the control
 * API served in front of it, logging through
 * Effect's logger. The API's bearer token is read from `config.apiTokenFile` (default
 * `<dataDir>/api_token`), created at first start (mode 0600). `main.ts` parses the flags first and loads this module only to run a node,
 * so `--help` and bad flags answer quickly. `config.network` is provided as `NodeNetwork` to
 * everything the daemon builds (peers' `init`, `/v1/info`, invoices, channels).
 */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Cause, Context, Effect, Exit, Layer } from "effect"
import { HttpServer } from "effect/http"
import { ChannelManager } from "../actors/ChannelManager.ts"
import { PeerManager } from "../actors/PeerManager.ts"
import { defaultApiTokenFile, loadOrCreateApiToken } from "../api/ApiToken.ts"
import { OPENAPI_PATH } from "../api/ControlApi.ts"
import { ControlApiServer } from "../api/ControlApiServer.ts"
import { toHex } from "../protocol/bytes.ts"
import { devChannelSettings, forwardingPolicyOf, type NodeConfig } from "./NodeFlags.ts"
import * as NodeLive from "../node/NodeLive.ts"
import * as OsEntropy from "../layers/node/OsEntropy.ts"
import { Networks } from "../protocol/network.ts"
import { NodeNetwork } from "../services/NodeNetwork.ts"
import { formatAddress } from "../services/Transport.ts"

/** A startup failure as one line for the log: typed errors carry a message, defects a trace. */
const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (!(typeof error === "object" && error !== null && "message" in error && typeof error.message === "string")) {
    return Cause.pretty(cause)
  }
  const tag = "_tag" in error && typeof error._tag === "string" ? `${error._tag}: ` : ""
  // Wrappers such as ServeError keep the Node error (EADDRINUSE...) in `cause`.
  const inner = "cause" in error && error.cause instanceof Error ? error.cause.message : ""
  // Errors without a message (the channel store's) carry a `reason`.
  const reason = error.message === "" && "reason" in error && typeof error.reason === "string" ? error.reason : ""
  return `${tag}${[error.message, reason, inner].filter((s) => s.length > 0).join(": ")}`
}

/** A URL for the log: user and password removed. */
const withoutCredentials = (url: string): string => {
  try {
    const u = new URL(url)
    u.username = ""
    u.password = ""
    return u.toString()
  } catch {
    return "(an invalid URL)"
  }
}

export const runNode = (config: NodeConfig) =>
  Effect.gen(function*() {
    yield* Effect.logInfo(`starting node on ${config.network}, data directory ${config.dataDir}`)
    const { token, path: tokenPath } = yield* loadOrCreateApiToken(config.apiTokenFile ?? defaultApiTokenFile(config.dataDir)).pipe(
      Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, OsEntropy.layer))
    )
    const context = yield* Layer.build(
      ControlApiServer({ ...config.api, token }).pipe(
        Layer.provideMerge(
          NodeLive.layer({
            dataDir: config.dataDir,
            listen: config.listen,
            ...(config.bitcoind === undefined ? {} : { bitcoind: config.bitcoind }),
            ...(config.walletBirthday === undefined ? {} : { walletBirthday: config.walletBirthday }),
            // Conformance-suite hooks (`--dev`, regtest only; NodeFlags refuses them otherwise).
            ...(config.dev?.nodeSecret === undefined ? {} : { nodeSecret: config.dev.nodeSecret }),
            ...(config.dev?.channelSecrets === undefined ? {} : { channelSecrets: config.dev.channelSecrets }),
            ...(config.dev?.walletSeed === undefined ? {} : { walletSeed: config.dev.walletSeed }),
            // Our node_announcement (--alias, --color, --announce-addr).
            ...(config.announce === undefined ? {} : { announce: config.announce }),
            ...(config.dev === undefined ? {} : { channels: devChannelSettings(config.dev) }),
            forwardingPolicy: forwardingPolicyOf(config.forwarding),
            ...(config.store === undefined ? {} : { store: config.store }),
            ...(config.otlpEndpoint === undefined ? {} : { otlpEndpoint: config.otlpEndpoint })
          })
        )
      )
    )
    const peers = Context.get(context, PeerManager)
    const channels = yield* Context.get(context, ChannelManager).listChannels
    const http = Context.get(context, HttpServer.HttpServer)
    const apiPort = http.address._tag === "UnixPathAddress" ? config.api.port : http.address.port
    const apiUrl = `http://${formatAddress({ host: config.api.host, port: apiPort })}`
    yield* Effect.logInfo(`node id ${toHex(peers.nodeId)}`)
    if (config.dev !== undefined) yield* Effect.logWarning("--dev: conformance-suite hooks enabled (regtest only)")
    if (config.bitcoind !== undefined) yield* Effect.logInfo(`following bitcoind at ${withoutCredentials(config.bitcoind.url)}`)
    yield* Effect.logInfo(
      peers.listenAddress === undefined ? "not listening for peers" : `listening for peers on ${formatAddress(peers.listenAddress)}`
    )
    yield* Effect.logInfo(
      `${channels.length} channel${channels.length === 1 ? "" : "s"} restored from ${config.dataDir}/channels`
    )
    yield* Effect.logInfo(`control API on ${apiUrl} (OpenAPI document: ${apiUrl}${OPENAPI_PATH}), bearer token in ${tokenPath}`)
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provideService(NodeNetwork, Networks[config.network]),
    Effect.onInterrupt(() => Effect.logInfo("stopped")),
    Effect.tapCause((cause) =>
      Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logError(`node stopped: ${describeFailure(cause)}`)
    )
  )

/** SIGINT/SIGTERM interrupt the node: that is a clean stop (0); any failure is 1. */
export const teardown = <E, A>(exit: Exit.Exit<A, E>, onExit: (code: number) => void) =>
  onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)

