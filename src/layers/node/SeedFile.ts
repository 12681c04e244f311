/**
 * The node seed file: 32 random bytes kept in the data directory, from which every key of the
 * node is derived (see `SeedKeys.ts`). It is created once, on first start, and never replaced:
 * losing or changing it changes the node id and, later, loses channel funds.
 *
 * File format (44 bytes, binary), versioned so a future format can be told apart:
 *
 *     magic "ELNSEED1" (8 bytes) || seed (32 bytes) || checksum (4 bytes)
 *
 * where checksum = SHA256(magic || seed)[0..4]. A file of any other length, magic or checksum
 * is `SeedFileCorrupt`; the loader never overwrites an existing file, whatever it contains.
 *
 * Creation is atomic and race-free: the bytes go to a fresh temporary file (mode 0600, flag
 * "wx"), which is fsync'ed and then hard-linked to the final name. `link` fails when the
 * target exists, so two processes starting at once cannot both write a seed: the loser reads
 * the winner's. The directory is fsync'ed so the new name survives a crash.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Data, Effect, FileSystem, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { concatBytes, equalBytes, toHex } from "../../protocol/bytes.ts"
import { Entropy } from "../../services/Entropy.ts"

export const SEED_FILE_NAME = "node_seed"
export const SEED_LENGTH = 32
const MAGIC = new TextEncoder().encode("ELNSEED1")
const CHECKSUM_LENGTH = 4
export const SEED_FILE_LENGTH = MAGIC.length + SEED_LENGTH + CHECKSUM_LENGTH

/** The seed file exists but is not a valid seed file. It is left untouched. */
export class SeedFileCorrupt extends Data.TaggedError("SeedFileCorrupt")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `seed file ${this.path} is corrupt: ${this.reason}`
  }
}

/** The file system refused an operation on the data directory or the seed file. */
export class SeedFileError extends Data.TaggedError("SeedFileError")<{
  readonly path: string
  readonly operation: string
  readonly cause: PlatformError
}> {
  override get message(): string {
    return `seed file ${this.path}: ${this.operation} failed: ${this.cause.message}`
  }
}

/** Encodes a 32-byte seed in the file format above. */
export const encodeSeedFile = (seed: Uint8Array): Uint8Array => {
  const body = concatBytes(MAGIC, seed)
  return concatBytes(body, sha256(body).subarray(0, CHECKSUM_LENGTH))
}

/** Decodes the file format above; a description of the defect on failure. */
export const decodeSeedFile = (bytes: Uint8Array): { readonly seed: Uint8Array } | { readonly error: string } => {
  if (bytes.length !== SEED_FILE_LENGTH) {
    return { error: `expected ${SEED_FILE_LENGTH} bytes, found ${bytes.length}` }
  }
  if (!equalBytes(bytes.subarray(0, MAGIC.length), MAGIC)) return { error: "unknown format (bad magic)" }
  const body = bytes.subarray(0, MAGIC.length + SEED_LENGTH)
  const checksum = bytes.subarray(MAGIC.length + SEED_LENGTH)
  if (!equalBytes(sha256(body).subarray(0, CHECKSUM_LENGTH), checksum)) return { error: "checksum mismatch" }
  return { seed: bytes.slice(MAGIC.length, MAGIC.length + SEED_LENGTH) }
}

/** Result of `loadOrCreateSeed`: the seed, and whether this call created the file. */
export interface LoadedSeed {
  readonly seed: Uint8Array
  readonly path: string
  readonly created: boolean
}

/**
 * Reads `<dataDir>/node_seed`, or creates the directory (mode 0700) and a new seed file
 * (mode 0600) from `Entropy` when there is none.
 */
export const loadOrCreateSeed = Effect.fn("loadOrCreateSeed")(function*(dataDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const target = path.join(dataDir, SEED_FILE_NAME)
  const fail = (operation: string) => (cause: PlatformError) => new SeedFileError({ path: target, operation, cause })

  // Size first: a wrong file (a directory, a huge log...) is rejected without reading it.
  const read = Effect.gen(function*() {
    const info = yield* fs.stat(target).pipe(Effect.mapError(fail("stat")))
    if (info.type !== "File") return yield* new SeedFileCorrupt({ path: target, reason: `not a regular file (${info.type})` })
    if (Number(info.size) !== SEED_FILE_LENGTH) {
      return yield* new SeedFileCorrupt({ path: target, reason: `expected ${SEED_FILE_LENGTH} bytes, found ${info.size}` })
    }
    const decoded = decodeSeedFile(yield* fs.readFile(target).pipe(Effect.mapError(fail("read"))))
    return "seed" in decoded ? decoded.seed : yield* new SeedFileCorrupt({ path: target, reason: decoded.error })
  })
  const warnIfOpen = fs.stat(target).pipe(
    Effect.flatMap((info) =>
      (info.mode & 0o077) !== 0
        ? Effect.logWarning(`seed file ${target} is readable by others (mode ${(info.mode & 0o777).toString(8)})`)
        : Effect.void
    ),
    Effect.ignore
  )

  if (yield* fs.exists(target).pipe(Effect.mapError(fail("stat")))) {
    const seed = yield* read
    yield* warnIfOpen
    return { seed, path: target, created: false } satisfies LoadedSeed
  }

  yield* fs.makeDirectory(dataDir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(fail("create data directory")))
  const entropy = yield* Entropy
  const seed = yield* entropy.randomBytes(SEED_LENGTH)
  const nonce = yield* entropy.randomBytes(8)
  const tmp = path.join(dataDir, `.${SEED_FILE_NAME}.${toHex(nonce)}.tmp`)
  const removeTmp = Effect.ignore(fs.remove(tmp, { force: true }))

  yield* Effect.gen(function*() {
    const file = yield* fs.open(tmp, { flag: "wx", mode: 0o600 })
    yield* file.writeAll(encodeSeedFile(seed))
    yield* file.sync
  }).pipe(Effect.scoped, Effect.mapError(fail("write temporary file")), Effect.onError(() => removeTmp))

  // link, unlike rename, never replaces an existing file.
  const linked = yield* fs.link(tmp, target).pipe(
    Effect.as(true),
    Effect.catchReason("PlatformError", "AlreadyExists", () => Effect.succeed(false)),
    Effect.mapError(fail("link")),
    Effect.ensuring(removeTmp)
  )
  if (!linked) {
    // Another process created the seed between our check and our link: use theirs.
    return { seed: yield* read, path: target, created: false } satisfies LoadedSeed
  }
  yield* fs.open(dataDir, { flag: "r" }).pipe(
    Effect.flatMap((dir) => dir.sync),
    Effect.scoped,
    Effect.mapError(fail("sync data directory"))
  )
  yield* Effect.logInfo(`created a new node seed in ${target}`)
  return { seed, path: target, created: true } satisfies LoadedSeed
})
