/**
 * The control API of a running node: HTTP + JSON, declared with Effect's `HttpApi` so that the
 * server, a typed client (`HttpApiClient.make(ControlApi)`) and the OpenAPI document
 * (`GET /openapi.json`) all come from this one declaration.
 *
 * To add a feature area (e.g. `POST /v1/invoices/decode`), declare a group in its own module
 * (like `PeersApi.ts`), `.add` it here, and give `ControlApiServer` its handler layer.
 */
import { HttpApi, OpenApi } from "effect/http-api"
import { ChannelsApi } from "./ChannelsApi.ts"
import { InvoicesApi } from "./InvoicesApi.ts"
import { NodeApi } from "./NodeApi.ts"
import { PaymentsApi } from "./PaymentsApi.ts"
import { PeersApi } from "./PeersApi.ts"

export class ControlApi extends HttpApi.make("effect-lightning")
  .add(NodeApi)
  .add(PeersApi)
  .add(InvoicesApi)
  .add(ChannelsApi)
  .add(PaymentsApi)
  .annotateMerge(OpenApi.annotations({
    title: "effect-lightning node control API",
    version: "1",
    description: "Control a running effect-lightning node: identity, peer connections, invoice decoding and channels."
  }))
{}

export const OPENAPI_PATH = "/openapi.json"
