/**
 * Router-wide middleware for the API's JSON conventions.
 *
 * Every request body is JSON: a body sent without a content type, or as
 * `application/x-www-form-urlencoded` (what `curl -d` sends by default), is read as JSON.
 *
 * The HTTP stack's own rejections become JSON with a message.
 *
 * `HttpApiBuilder` rejects a request whose path, query or body does not decode (including a
 * body that is not JSON) with an EMPTY 400, and the router answers an unknown route with an
 * empty 404. A caller deserves the reason, so those become
 * `{ "_tag": "InvalidRequest", "message": ... }` (400), `RouteNotFound` (404) and
 * `PayloadTooLarge` (413), `UnsupportedMediaType` (415), the same shape as the API's declared errors (`errors.ts`).
 * Bodies are capped at `maxBodyBytes` (default 64 KiB): the API takes only small JSON documents.
 */
import { ByteSize, Cause, Effect, Result } from "effect"
import { Headers, HttpIncomingMessage, HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiError } from "effect/http-api"

const jsonError = (status: number, tag: string, message: string) =>
  HttpServerResponse.jsonUnsafe({ _tag: tag, message }, { status })

/** The response for a cause we translate, or undefined to leave the cause alone. */
const translate = (cause: Cause.Cause<unknown>, maxBodyBytes: number): HttpServerResponse.HttpServerResponse | undefined => {
  const failure = Cause.findError(cause)
  if (Result.isSuccess(failure)) {
    const error = failure.success
    if (HttpServerError.isHttpServerError(error) && error.reason._tag === "RouteNotFound") {
      const request = error.reason.request
      return jsonError(404, "RouteNotFound", `no route for ${request.method} ${request.url}`)
    }
    return undefined
  }
  const defect = Cause.findDefect(cause)
  if (Result.isFailure(defect)) return undefined
  const value = defect.success
  if (HttpApiError.HttpApiSchemaError.is(value)) {
    // Body / ResponseHeaders are encoding failures of our own responses: a bug, not bad input.
    if (value.kind === "Body" || value.kind === "ResponseHeaders") return undefined
    const where = value.kind === "Payload" ? "request body" : `request ${value.kind.toLowerCase()}`
    return jsonError(400, "InvalidRequest", `invalid ${where}: ${value.cause.message.replace(/\n\s*/g, " ")}`)
  }
  if (HttpServerError.isHttpServerError(value) && value.reason._tag === "RequestParseError") {
    const tooLarge = value.reason.reason === "BodyTooLarge" || /maxBytes/.test(String(value.reason.cause))
    return tooLarge
      ? jsonError(413, "PayloadTooLarge", `request body larger than ${maxBodyBytes} bytes`)
      : jsonError(400, "InvalidRequest", "could not read the request body")
  }
  return undefined
}

/** The request with its body declared as JSON when it came without a (meaningful) content type. */
const assumeJson = (request: HttpServerRequest.HttpServerRequest): HttpServerRequest.HttpServerRequest => {
  const type = request.headers["content-type"]
  if (type !== undefined && !type.startsWith("application/x-www-form-urlencoded")) return request
  return request.modify({ headers: Headers.set(request.headers, "content-type", "application/json") })
}

export const JsonConventions = (options: { readonly maxBodyBytes?: number } = {}) => {
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024
  return HttpRouter.middleware(
    (httpEffect) =>
      httpEffect.pipe(
        Effect.updateService(HttpServerRequest.HttpServerRequest, assumeJson),
        Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxBodyBytes)),
        // HttpApiBuilder answers an unsupported content type with a plain-text 415.
        Effect.map((response) =>
          response.status === 415
            ? jsonError(415, "UnsupportedMediaType", "expected a JSON body (content-type: application/json)")
            : response
        ),
        Effect.catchCause((cause) => {
          const response = translate(cause, maxBodyBytes)
          return response === undefined ? Effect.failCause(cause) : Effect.succeed(response)
        })
      ),
    { global: true }
  )
}
