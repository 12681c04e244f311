/**
 * Router-wide bearer-token authentication of the control API: every request, whatever its
 * route (the OpenAPI document and unknown routes included), must carry
 * `Authorization: Bearer <token>` with the node's token (`ApiToken.ts`); anything else is
 * answered `401 { "_tag": "Unauthorized", "message": ... }` with a `WWW-Authenticate: Bearer`
 * header, before any handler runs or any body is read.
 *
 * Tokens are compared through their SHA-256 digests with `timingSafeEqual`, so the time taken
 * does not depend on how many leading characters of a guess are right.
 */
import { Effect, Redacted } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/** True when the `authorization` header value carries `token` (scheme case-insensitive). */
export const authorizes = (header: string | undefined, expected: Buffer): boolean => {
  if (header === undefined) return false
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header)
  const presented = match?.[1]
  return presented !== undefined && timingSafeEqual(digest(presented), expected)
}

const unauthorized = (message: string) =>
  HttpServerResponse.jsonUnsafe({ _tag: "Unauthorized", message }, {
    status: 401,
    headers: { "www-authenticate": "Bearer realm=\"effect-lightning\"" }
  })

/** The middleware layer: requests without the right bearer token get 401. */
export const BearerAuth = (token: Redacted.Redacted<string>) => {
  const expected = digest(Redacted.value(token))
  return HttpRouter.middleware(
    (httpEffect) =>
      Effect.gen(function*() {
        const header = (yield* HttpServerRequest.HttpServerRequest).headers["authorization"]
        if (authorizes(header, expected)) return yield* httpEffect
        return unauthorized(
          header === undefined
            ? "missing bearer token: send 'Authorization: Bearer <token>' (the token is in the node's api_token file)"
            : "wrong bearer token"
        )
      }),
    { global: true }
  )
}
