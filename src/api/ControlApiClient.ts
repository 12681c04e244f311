/**
 * The typed client of a node's control API, from the same `HttpApi` declaration the server uses
 * (`ControlApi`): every endpoint is a method with typed payloads, answers and errors. It sends
 * the node's bearer token on every request (`ApiToken.ts`).
 *
 *     const client = yield* ControlApiClient.make({ baseUrl: "http://127.0.0.1:9736", token })
 *     const info = yield* client.node.info()
 *
 * Requires an `HttpClient` (e.g. `FetchHttpClient.layer` from `effect/http`).
 */
import { Effect, type Redacted } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { ControlApi } from "./ControlApi.ts"

export interface ControlApiClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:9736`. */
  readonly baseUrl: string | URL
  /** The node's bearer token (the content of its `api_token` file). */
  readonly token: Redacted.Redacted<string>
}

/** The client's type: one method per endpoint, grouped as in `ControlApi` (`node`, `peers`, ...). */
export type ControlApiClient = Effect.Success<ReturnType<typeof make>>

/** A typed client for the control API at `baseUrl`, authenticated with `token`. */
export const make = (options: ControlApiClientOptions) =>
  HttpApiClient.make(ControlApi, {
    baseUrl: options.baseUrl,
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(options.token))
  })
