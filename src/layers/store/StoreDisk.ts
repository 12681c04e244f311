/**
 * The few file operations the files store needs, behind an interface so tests can run the store
 * on a simulated disk that loses what was not fsync'ed (`SimulatedDisk.ts`) and check it at every
 * possible crash point. `nodeStoreDisk` is the real one, over Effect's `FileSystem`.
 */
import { Data, Effect, FileSystem } from "effect"
import type { PlatformError } from "effect/PlatformError"

export class DiskError extends Data.TaggedError("DiskError")<{
  readonly operation: string
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.operation} ${this.path}: ${this.reason}`
  }
}

export interface StoreDisk {
  /** Creates the directory (and parents) if absent. */
  readonly makeDirectory: (path: string) => Effect.Effect<void, DiskError>
  /** Bare names of the entries of a directory. */
  readonly list: (dir: string) => Effect.Effect<ReadonlyArray<string>, DiskError>
  readonly read: (path: string) => Effect.Effect<Uint8Array, DiskError>
  /** Creates (or truncates) `path`, writes `data`, fsyncs the file, closes it. */
  readonly writeSynced: (path: string, data: Uint8Array) => Effect.Effect<void, DiskError>
  /** Atomically replaces `to` with `from` (POSIX rename). */
  readonly rename: (from: string, to: string) => Effect.Effect<void, DiskError>
  /** Removes a file; an absent file is not an error. */
  readonly remove: (path: string) => Effect.Effect<void, DiskError>
  /** fsyncs a directory, so the creations, renames and removals in it survive a crash. */
  readonly syncDirectory: (dir: string) => Effect.Effect<void, DiskError>
}

const fail = (operation: string, path: string) => (e: PlatformError) =>
  new DiskError({ operation, path, reason: e.message })

/** The real disk, through Effect's `FileSystem` (`NodeFileSystem.layer` in production). */
export const nodeStoreDisk: Effect.Effect<StoreDisk, never, FileSystem.FileSystem> = Effect.map(
  FileSystem.FileSystem,
  (fs: FileSystem.FileSystem): StoreDisk => ({
    makeDirectory: (path) => fs.makeDirectory(path, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(fail("mkdir", path))),
    list: (dir) => fs.readDirectory(dir).pipe(Effect.mapError(fail("readdir", dir))),
    read: (path) => fs.readFile(path).pipe(Effect.mapError(fail("read", path))),
    writeSynced: (path, data) =>
      Effect.gen(function*() {
        const file = yield* fs.open(path, { flag: "w", mode: 0o600 })
        yield* file.writeAll(data)
        yield* file.sync
      }).pipe(Effect.scoped, Effect.mapError(fail("write", path))),
    rename: (from, to) => fs.rename(from, to).pipe(Effect.mapError(fail("rename", from))),
    remove: (path) => fs.remove(path, { force: true }).pipe(Effect.mapError(fail("remove", path))),
    syncDirectory: (dir) =>
      fs.open(dir, { flag: "r" }).pipe(
        Effect.flatMap((d) => d.sync),
        Effect.scoped,
        Effect.mapError(fail("fsync directory", dir))
      )
  })
)
