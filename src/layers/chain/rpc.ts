/**
 * A minimal Bitcoin Core JSON-RPC client over `fetch`: HTTP basic auth from the URL's
 * `user:password` or from a cookie file (`__cookie__:<secret>`, re-read after a 401 since
 * bitcoind writes a new one at each start), a timeout per call, and typed failures: the node
 * answered with an error (`RpcError`, its code and message) or could not be reached / answered
 * nonsense (`ChainSourceUnavailable`). Errors are read from the body whatever the HTTP status
 * (Bitcoin Core answers 500 or 404 with a JSON error; other nodes answer 200). Answers are read
 * up to `maxResponseBytes`.
 */
import { readFile } from "node:fs/promises"
import { Data, Effect } from "effect"
import { ChainSourceUnavailable } from "../../services/ChainSource.ts"

export class RpcError extends Data.TaggedError("RpcError")<{ readonly method: string; readonly code: number; readonly message: string }> {}

export interface RpcConfig {
  /** `http://user:password@host:port` (credentials optional when `cookieFile` is given). */
  readonly url: string
  readonly cookieFile?: string
  /** Per call (default 30 s). */
  readonly timeoutMs?: number
  /** The largest answer read (default 64 MiB: a 4 MB block is 8 MB of hex); larger fails the call. */
  readonly maxResponseBytes?: number
}

/** The body as text, refusing more than `max` bytes (a node's answer is not trusted to be small). */
const readBounded = async (response: Response, max: number): Promise<string> => {
  const declared = Number(response.headers.get("content-length") ?? "0")
  if (declared > max) throw new Error(`answer of ${declared} bytes exceeds ${max}`)
  const reader = response.body?.getReader()
  if (reader === undefined) return ""
  const chunks: Array<Uint8Array> = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.length
    if (total > max) {
      await reader.cancel()
      throw new Error(`answer exceeds ${max} bytes`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString("utf8")
}

export interface RpcClient {
  readonly call: (method: string, params: ReadonlyArray<unknown>) => Effect.Effect<unknown, RpcError | ChainSourceUnavailable>
}

/** The URL without credentials, and the credentials it carried. */
export const parseRpcUrl = (url: string): { readonly endpoint: string; readonly user?: string; readonly password?: string } => {
  const u = new URL(url)
  const user = u.username === "" ? undefined : decodeURIComponent(u.username)
  const password = u.password === "" ? undefined : decodeURIComponent(u.password)
  u.username = ""
  u.password = ""
  return { endpoint: u.toString(), ...(user === undefined ? {} : { user }), ...(password === undefined ? {} : { password }) }
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`

export const makeRpcClient = (config: RpcConfig): RpcClient => {
  const { endpoint, user, password } = parseRpcUrl(config.url)
  const timeoutMs = config.timeoutMs ?? 30_000
  const maxResponseBytes = config.maxResponseBytes ?? 64 * 1024 * 1024
  let cookieAuth: string | undefined
  let nextId = 0

  const readCookie = (file: string) =>
    Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (e) => new ChainSourceUnavailable({ reason: `cannot read the cookie file ${file}: ${String(e)}` })
    }).pipe(
      Effect.flatMap((text) => {
        const line = text.trim()
        const at = line.indexOf(":")
        return at < 0
          ? Effect.fail(new ChainSourceUnavailable({ reason: `the cookie file ${file} is not user:password` }))
          : Effect.succeed(basic(line.slice(0, at), line.slice(at + 1)))
      })
    )

  const authorization = (refresh: boolean): Effect.Effect<string | undefined, ChainSourceUnavailable> => {
    if (config.cookieFile !== undefined) {
      if (cookieAuth !== undefined && !refresh) return Effect.succeed(cookieAuth)
      return readCookie(config.cookieFile).pipe(Effect.tap((a) => Effect.sync(() => { cookieAuth = a })))
    }
    return Effect.succeed(user === undefined ? undefined : basic(user, password ?? ""))
  }

  const once = (method: string, params: ReadonlyArray<unknown>, refresh: boolean) =>
    Effect.gen(function*() {
      const auth = yield* authorization(refresh)
      const body = JSON.stringify({ jsonrpc: "1.0", id: ++nextId, method, params })
      const response = yield* Effect.tryPromise({
        try: (signal) =>
          fetch(endpoint, {
            method: "POST",
            headers: { "content-type": "application/json", ...(auth === undefined ? {} : { authorization: auth }) },
            body,
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
          }).then(async (r) => ({ status: r.status, text: await readBounded(r, maxResponseBytes) })),
        catch: (e) => new ChainSourceUnavailable({ reason: `${method}: ${e instanceof Error ? e.message : String(e)}` })
      })
      if (response.status === 401 || response.status === 403) {
        return { _tag: "Unauthorized" as const }
      }
      let json: unknown
      try {
        json = JSON.parse(response.text)
      } catch {
        return yield* Effect.fail(new ChainSourceUnavailable({ reason: `${method}: HTTP ${response.status}, not JSON: ${response.text.slice(0, 200)}` }))
      }
      if (typeof json !== "object" || json === null) return yield* Effect.fail(new ChainSourceUnavailable({ reason: `${method}: not a JSON-RPC answer` }))
      const error = "error" in json ? json.error : undefined
      if (error !== undefined && error !== null) {
        const code = typeof error === "object" && "code" in error && typeof error.code === "number" ? error.code : 0
        const message = typeof error === "object" && "message" in error && typeof error.message === "string" ? error.message : JSON.stringify(error)
        return yield* Effect.fail(new RpcError({ method, code, message }))
      }
      if (!("result" in json)) return yield* Effect.fail(new ChainSourceUnavailable({ reason: `${method}: HTTP ${response.status} without a result` }))
      return { _tag: "Result" as const, result: json.result }
    })

  return {
    call: (method, params) =>
      once(method, params, false).pipe(
        Effect.flatMap((r) => (r._tag === "Result" ? Effect.succeed(r) : once(method, params, true))),
        Effect.flatMap((r) =>
          r._tag === "Result" ? Effect.succeed(r.result) : Effect.fail(new ChainSourceUnavailable({ reason: `${method}: unauthorized (check the credentials or the cookie file)` }))
        )
      )
  }
}
