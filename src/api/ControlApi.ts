/**
 * The control API of a running node: HTTP + JSON, declared with Effect's `HttpApi` so that the
 * server, a typed client (`HttpApiClient.make(ControlApi)`) and the OpenAPI document
 * (`GET /openapi.json`) all come from this one declaration.
 *
 * To add a feature area (e.g. `POST /v1/invoices/decode`), declare a group in its own module
 * (like `PeersApi.ts`), `.add` it here, and give `ControlApiServer` its handler layer.
 */
import { HttpApi, OpenApi } from "effect/http-api"
import { BalancesApi } from "./BalancesApi.ts"
import { ChannelsApi } from "./ChannelsApi.ts"
import { InvoicesApi } from "./InvoicesApi.ts"
import { NodeApi } from "./NodeApi.ts"
import { PaymentsApi } from "./PaymentsApi.ts"
import { PeersApi } from "./PeersApi.ts"
import { WalletApi } from "./WalletApi.ts"

const record = (u: unknown): Record<string, unknown> => (typeof u === "object" && u !== null ? { ...u } : {})

/**
 * The bearer scheme `BearerAuth` enforces on every route, declared in the OpenAPI document (the
 * middleware is router-wide, so `HttpApi` does not see it): `components.securitySchemes` and a
 * top-level `security` requirement.
 */
const withBearerScheme = (spec: Record<string, unknown>): Record<string, unknown> => {
  const components = record(spec["components"])
  return {
    ...spec,
    components: {
      ...components,
      securitySchemes: {
        ...record(components["securitySchemes"]),
        bearerAuth: { type: "http", scheme: "bearer", description: "The token in the node's `<data-dir>/api_token` file." }
      }
    },
    security: [{ bearerAuth: [] }]
  }
}

export class ControlApi extends HttpApi.make("effect-lightning")
  .add(NodeApi)
  .add(PeersApi)
  .add(InvoicesApi)
  .add(ChannelsApi)
  .add(PaymentsApi)
  .add(BalancesApi)
  .add(WalletApi)
  .annotateMerge(OpenApi.annotations({
    title: "effect-lightning node control API",
    version: "1",
    description: "Control a running effect-lightning node: identity, peer connections, invoice decoding and channels.",
    transform: withBearerScheme
  }))
{}

export const OPENAPI_PATH = "/openapi.json"
