/**
 * The control API served over HTTP (`node:http` through `@effect/platform-node`): the
 * `ControlApi` routes, their handlers, the OpenAPI document at `GET /openapi.json`, and the
 * JSON error translation. Requires the node's `PeerManager` and `ChannelManager`; bind it to loopback unless you put
 * authentication in front of it (the API has none: anyone who reaches it controls the node).
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Layer } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { createServer } from "node:http"
import { apiShutdownLayer, signalApiShutdown } from "./ApiShutdown.ts"
import { ControlApi, OPENAPI_PATH } from "./ControlApi.ts"
import { ChannelsHandlers } from "./ChannelsHandlers.ts"
import { InvoicesHandlers } from "./InvoicesHandlers.ts"
import { JsonConventions } from "./JsonConventions.ts"
import { NodeHandlers } from "./NodeHandlers.ts"
import { PeersHandlers } from "./PeersHandlers.ts"

/** Every route of the API with its handlers (needs `PeerManager` and `ChannelManager`), without a server. */
export const ControlApiRoutes = (options: { readonly maxBodyBytes?: number } = {}) =>
  Layer.mergeAll(
    HttpApiBuilder.layer(ControlApi, { openapiPath: OPENAPI_PATH }).pipe(
      Layer.provide([NodeHandlers, PeersHandlers, InvoicesHandlers, ChannelsHandlers])
    ),
    JsonConventions(options)
  )

export interface ControlApiServerOptions {
  readonly host: string
  /** 0 picks a free port; read the bound one from `HttpServer.HttpServer`'s `address`. */
  readonly port: number
  readonly maxBodyBytes?: number
  /** Log every request through Effect's logger (default true). */
  readonly logRequests?: boolean
}

/**
 * Serves the control API on `host:port`; the server stops when the layer's scope closes. Event
 * streams end first (`ApiShutdown`), then the server lets the other requests finish (up to 20 s).
 */
export const ControlApiServer = (options: ControlApiServerOptions) =>
  signalApiShutdown.pipe(
    Layer.provideMerge(HttpRouter.serve(ControlApiRoutes(options), { disableLogger: options.logRequests === false })),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { host: options.host, port: options.port })),
    Layer.provide(apiShutdownLayer)
  )
