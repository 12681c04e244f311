/**
 * The control API's bearer token: a random secret kept in a file (by default `api_token` in the
 * data directory, mode 0600 like the node seed). The daemon creates it at first start and
 * requires it on every request (`Authorization: Bearer <token>`, see `BearerAuth.ts`); the CLI
 * and other clients read it from the same file.
 *
 * File format: the token as text (64 hex characters when we create it), optionally followed by
 * a newline. A file chosen by the operator may hold any token of 16 to 512 printable ASCII
 * characters without spaces.
 *
 * Creation is atomic and race-free like the seed file's (`SeedFile.ts`): a fresh temporary file
 * (mode 0600, flag "wx"), fsync'ed, then hard-linked to the final name; `link` never replaces an
 * existing file, so two processes starting at once end up with the same token.
 */
import { Data, Effect, FileSystem, Path, Redacted } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { join } from "node:path"
import { toHex } from "../protocol/bytes.ts"
import { Entropy } from "../services/Entropy.ts"

export const API_TOKEN_FILE_NAME = "api_token"
/** Random bytes in a token we create (64 hex characters). */
export const API_TOKEN_BYTES = 32
const TOKEN_PATTERN = /^[\x21-\x7e]{16,512}$/

/** The token file exists but does not hold a usable token. It is left untouched. */
export class ApiTokenInvalid extends Data.TaggedError("ApiTokenInvalid")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `API token file ${this.path} is invalid: ${this.reason}`
  }
}

/** The file system refused an operation on the token file or its directory. */
export class ApiTokenFileError extends Data.TaggedError("ApiTokenFileError")<{
  readonly path: string
  readonly operation: string
  readonly cause: PlatformError
}> {
  override get message(): string {
    return `API token file ${this.path}: ${this.operation} failed: ${this.cause.message}`
  }
}

/** Parses the text of a token file (a trailing newline is allowed). */
export const parseApiToken = (text: string): Redacted.Redacted<string> | { readonly error: string } => {
  const token = text.replace(/\r?\n$/, "")
  if (token.length === 0) return { error: "the file is empty" }
  if (!TOKEN_PATTERN.test(token)) return { error: "expected 16 to 512 printable ASCII characters without spaces" }
  return Redacted.make(token)
}

/** The default location of the token: `<dataDir>/api_token`. */
export const defaultApiTokenFile = (dataDir: string): string => join(dataDir, API_TOKEN_FILE_NAME)

/** Reads an existing token file. */
export const readApiToken = Effect.fn("readApiToken")(function*(file: string) {
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs.readFileString(file).pipe(
    Effect.mapError((cause) => new ApiTokenFileError({ path: file, operation: "read", cause }))
  )
  const parsed = parseApiToken(text)
  return Redacted.isRedacted(parsed) ? parsed : yield* new ApiTokenInvalid({ path: file, reason: parsed.error })
})

/** Result of `loadOrCreateApiToken`: the token, and whether this call created the file. */
export interface LoadedApiToken {
  readonly token: Redacted.Redacted<string>
  readonly path: string
  readonly created: boolean
}

/**
 * Reads the token file, or creates its directory (mode 0700) and a new token (mode 0600) from
 * `Entropy` when there is none.
 */
export const loadOrCreateApiToken = Effect.fn("loadOrCreateApiToken")(function*(file: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const fail = (operation: string) => (cause: PlatformError) => new ApiTokenFileError({ path: file, operation, cause })
  const warnIfOpen = fs.stat(file).pipe(
    Effect.flatMap((info) =>
      (info.mode & 0o077) !== 0
        ? Effect.logWarning(`API token file ${file} is readable by others (mode ${(info.mode & 0o777).toString(8)})`)
        : Effect.void
    ),
    Effect.ignore
  )
  if (yield* fs.exists(file).pipe(Effect.mapError(fail("stat")))) {
    const token = yield* readApiToken(file)
    yield* warnIfOpen
    return { token, path: file, created: false } satisfies LoadedApiToken
  }

  const dir = path.dirname(file)
  yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(fail("create directory")))
  const entropy = yield* Entropy
  const text = toHex(yield* entropy.randomBytes(API_TOKEN_BYTES))
  const tmp = path.join(dir, `.${path.basename(file)}.${toHex(yield* entropy.randomBytes(8))}.tmp`)
  const removeTmp = Effect.ignore(fs.remove(tmp, { force: true }))
  yield* Effect.gen(function*() {
    const handle = yield* fs.open(tmp, { flag: "wx", mode: 0o600 })
    yield* handle.writeAll(new TextEncoder().encode(`${text}\n`))
    yield* handle.sync
  }).pipe(Effect.scoped, Effect.mapError(fail("write temporary file")), Effect.onError(() => removeTmp))
  const linked = yield* fs.link(tmp, file).pipe(
    Effect.as(true),
    Effect.catchReason("PlatformError", "AlreadyExists", () => Effect.succeed(false)),
    Effect.mapError(fail("link")),
    Effect.ensuring(removeTmp)
  )
  if (!linked) return { token: yield* readApiToken(file), path: file, created: false } satisfies LoadedApiToken
  yield* fs.open(dir, { flag: "r" }).pipe(Effect.flatMap((d) => d.sync), Effect.scoped, Effect.mapError(fail("sync directory")))
  yield* Effect.logInfo(`created a new API token in ${file}`)
  return { token: Redacted.make(text), path: file, created: true } satisfies LoadedApiToken
})
