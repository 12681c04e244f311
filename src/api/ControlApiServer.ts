/**
 * The control API served over HTTP (`node:http` through `@effect/platform-node`): the
 * `ControlApi` routes, their handlers, the OpenAPI document at `GET /openapi.json`, and the
 * JSON error translation. Requires the node's `PeerManager` and `ChannelManager`. Every request
 * must carry the node's bearer token (`BearerAuth.ts`, `ApiToken.ts`); there is no TLS, so keep it
 * on a loopback address or behind a TLS proxy.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Layer, type Redacted } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { createServer } from "node:http"
import { ApiShutdown } from "./ApiShutdown.ts"
import { BalancesHandlers } from "./BalancesHandlers.ts"
import { BearerAuth } from "./BearerAuth.ts"
import { ControlApi, OPENAPI_PATH } from "./ControlApi.ts"
import { ChannelsHandlers } from "./ChannelsHandlers.ts"
import { InvoicesHandlers } from "./InvoicesHandlers.ts"
import { JsonConventions } from "./JsonConventions.ts"
import { NodeHandlers } from "./NodeHandlers.ts"
import { PaymentsHandlers } from "./PaymentsHandlers.ts"
import { PeersHandlers } from "./PeersHandlers.ts"
import { WalletHandlers } from "./WalletHandlers.ts"

/** Every route of the API with its handlers (needs `PeerManager` and `ChannelManager`), without a server. */
export const ControlApiRoutes = (options: { readonly maxBodyBytes?: number } = {}) =>
  Layer.mergeAll(
    HttpApiBuilder.layer(ControlApi, { openapiPath: OPENAPI_PATH }).pipe(
      Layer.provide([NodeHandlers, PeersHandlers, InvoicesHandlers, ChannelsHandlers, PaymentsHandlers, BalancesHandlers, WalletHandlers])
    ),
    JsonConventions(options)
  )

export interface ControlApiServerOptions {
  readonly host: string
  /** 0 picks a free port; read the bound one from `HttpServer.HttpServer`'s `address`. */
  readonly port: number
  /** The bearer token every request must carry (`Authorization: Bearer <token>`); others get 401. */
  readonly token: Redacted.Redacted<string>
  readonly maxBodyBytes?: number
  /** Log every request through Effect's logger (default true). */
  readonly logRequests?: boolean
}

/**
 * Serves the control API on `host:port`; the server stops when the layer's scope closes. Event
 * streams end first (`ApiShutdown`), then the server lets the other requests finish (up to 20 s).
 */
export const ControlApiServer = (options: ControlApiServerOptions) =>
  ApiShutdown.layerSignal.pipe(
    Layer.provideMerge(
      HttpRouter.serve(Layer.mergeAll(ControlApiRoutes(options), BearerAuth(options.token)), {
        disableLogger: options.logRequests === false
      })
    ),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { host: options.host, port: options.port })),
    Layer.provide(ApiShutdown.layer)
  )
