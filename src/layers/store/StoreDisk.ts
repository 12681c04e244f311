/**
 * The few file operations the files store needs, behind an interface so tests can run the store
 * on a simulated disk that loses what was not fsync'ed (`SimulatedDisk.ts`) and check it at every
 * possible crash point. `nodeStoreDisk` is the real one, over Effect's `FileSystem`. It also
 * answers what the store's owner lock needs: an exclusive create, this process's pid, whether a
 * pid is alive, and the namespace and resolved form of a path (the in-process registry's key).
 */
import * as fs from "node:fs"
import { resolve as resolvePath } from "node:path"
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

/** A file open for in-place rewrites (`StoreDisk.openOverwrite`). */
export interface OverwriteHandle {
  /**
   * Writes `data` over the start of the file (no truncation: bytes past `data.length` stay),
   * durably when it answers (its data, and its size if it grew: what fdatasync gives).
   */
  readonly overwriteSynced: (data: Uint8Array) => Effect.Effect<void, DiskError>
  /** Closes the file (errors ignored: nothing is written by a close). */
  readonly close: Effect.Effect<void>
}

export interface StoreDisk {
  /** Creates the directory (and parents) if absent. */
  readonly makeDirectory: (path: string) => Effect.Effect<void, DiskError>
  /** Bare names of the entries of a directory. */
  readonly list: (dir: string) => Effect.Effect<ReadonlyArray<string>, DiskError>
  readonly read: (path: string) => Effect.Effect<Uint8Array, DiskError>
  /** Creates (or truncates) `path`, writes `data`, fsyncs the file, closes it. */
  readonly writeSynced: (path: string, data: Uint8Array) => Effect.Effect<void, DiskError>
  /**
   * Opens the existing file `path` to be written over in place again and again (the files
   * store's log slots, kept open). Rewriting a file in place costs far less than truncating it
   * (measured here: ~50-120 us of JavaScript-thread CPU and ~0.5-1 ms wall per 10 KB write
   * against ~260-700 us and ~3-20 ms), and an open kept saves the open and close of each write.
   */
  readonly openOverwrite: (path: string) => Effect.Effect<OverwriteHandle, DiskError>
  /** Atomically replaces `to` with `from` (POSIX rename). */
  readonly rename: (from: string, to: string) => Effect.Effect<void, DiskError>
  /** Removes a file; an absent file is not an error. */
  readonly remove: (path: string) => Effect.Effect<void, DiskError>
  /** fsyncs a directory, so the creations, renames and removals in it survive a crash. */
  readonly syncDirectory: (dir: string) => Effect.Effect<void, DiskError>
  /**
   * Creates `path` holding `data` only if no such file exists (`O_CREAT | O_EXCL`, flag "wx"):
   * false if it exists. Not fsync'ed: used for the owner lock, which need not survive a crash.
   */
  readonly createExclusive: (path: string, data: Uint8Array) => Effect.Effect<boolean, DiskError>
  /**
   * The files this disk reaches: the same value for every disk over the same files (the
   * machine's file system; one simulated disk), and `resolve` a path to its key there. The
   * files store's in-process registry of open directories keys on both.
   */
  readonly namespace: object
  readonly resolve: (path: string) => string
  /** This process, as recorded in an owner lock, and whether a recorded process still runs. */
  readonly processId: number
  readonly isProcessAlive: (pid: number) => boolean
}

/** The machine's file system: one namespace for every `nodeStoreDisk`. */
const REAL_FILES: object = Object.freeze({ files: "the machine's file system" })

/**
 * Whether `pid` runs on this machine: signal 0 checks without signalling. `ESRCH` (no such
 * process) is the only "dead"; `EPERM` (another user's process) is alive.
 */
export const isNodeProcessAlive = (pid: number): boolean => {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return !(e instanceof Error && "code" in e && e.code === "ESRCH")
  }
}

/** `fs.writeFile` with flag "wx": false when the file already exists. */
const createExclusiveNode = (path: string, data: Uint8Array): Effect.Effect<boolean, DiskError> =>
  Effect.callback<boolean, DiskError>((resume) => {
    fs.writeFile(path, data, { flag: "wx", mode: 0o600 }, (e) => {
      if (e === null) return resume(Effect.succeed(true))
      if (e.code === "EEXIST") return resume(Effect.succeed(false))
      resume(ioFail("create", path, e))
    })
  })

const fail = (operation: string, path: string) => (e: PlatformError) =>
  new DiskError({ operation, path, reason: e.message })

const ioFail = (operation: string, path: string, e: Error): Effect.Effect<never, DiskError> =>
  Effect.fail(new DiskError({ operation, path, reason: e.message }))

/**
 * Creates (or truncates) `path`, writes `data` (looping over short writes), fsyncs and closes it:
 * four calls of `node:fs`'s callback API, answered in one `Effect.callback`.
 */
const writeSyncedNode = (path: string, data: Uint8Array): Effect.Effect<void, DiskError> =>
  Effect.callback<void, DiskError>((resume) => {
    const failed = (e: Error) => resume(ioFail("write", path, e))
    fs.open(path, "w", 0o600, (openError, fd) => {
      if (openError !== null) return failed(openError)
      const finish = (error: Error | null) =>
        fs.close(fd, (closeError) => {
          const e = error ?? closeError
          resume(e === null ? Effect.void : ioFail("write", path, e))
        })
      const writeFrom = (at: number): void => {
        if (at >= data.length) return fs.fsync(fd, finish)
        fs.write(fd, data, at, data.length - at, at, (writeError, written) => {
          if (writeError !== null) return finish(writeError)
          if (written <= 0) return finish(new Error("write made no progress"))
          writeFrom(at + written)
        })
      }
      writeFrom(0)
    })
  })

/**
 * `O_DSYNC` where the platform has it (Linux, macOS): each `write(2)` on such a file returns once
 * its data (and the size, if it grew) is durable, exactly what `fdatasync` after it gives
 * (POSIX "synchronized I/O data integrity completion"; Linux runs the same sync range inside the
 * write), in ONE call: one trip through libuv's thread pool per write instead of two (measured
 * here: about half the JavaScript-thread CPU and half the wall time of write + fdatasync).
 * Elsewhere (undefined): write, then fdatasync.
 */
const O_DSYNC: number | undefined = fs.constants.O_DSYNC

/**
 * Opens the existing `path` for writing without truncating it (read-write, no O_CREAT; with
 * `O_DSYNC` where available); each `overwriteSynced` writes at offset 0 (looping over short
 * writes) and is durable when it answers: each write synchronous (`O_DSYNC`), or an fdatasync
 * after the last.
 */
const openOverwriteNode = (path: string): Effect.Effect<OverwriteHandle, DiskError> =>
  Effect.callback<OverwriteHandle, DiskError>((resume) => {
    const dsync = O_DSYNC !== undefined
    fs.open(path, dsync ? fs.constants.O_RDWR | O_DSYNC : "r+", (openError, fd) => {
      if (openError !== null) return resume(ioFail("open", path, openError))
      resume(
        Effect.succeed({
          overwriteSynced: (data) =>
            Effect.callback<void, DiskError>((done) => {
              const finish = (e: Error | null) => done(e === null ? Effect.void : ioFail("write", path, e))
              const writeFrom = (at: number): void => {
                if (at >= data.length) return dsync ? finish(null) : fs.fdatasync(fd, finish)
                fs.write(fd, data, at, data.length - at, at, (writeError, written) => {
                  if (writeError !== null) return finish(writeError)
                  if (written <= 0) return finish(new Error("write made no progress"))
                  writeFrom(at + written)
                })
              }
              writeFrom(0)
            }),
          close: Effect.callback<void>((done) => fs.close(fd, () => done(Effect.void)))
        })
      )
    })
  })

/** fsyncs a directory: open read-only, fsync, close. */
const syncDirectoryNode = (dir: string): Effect.Effect<void, DiskError> =>
  Effect.callback<void, DiskError>((resume) => {
    fs.open(dir, "r", (openError, fd) => {
      if (openError !== null) return resume(ioFail("fsync directory", dir, openError))
      fs.fsync(fd, (syncError) =>
        fs.close(fd, (closeError) => {
          const e = syncError ?? closeError
          resume(e === null ? Effect.void : ioFail("fsync directory", dir, e))
        })
      )
    })
  })

const renameNode = (from: string, to: string): Effect.Effect<void, DiskError> =>
  Effect.callback<void, DiskError>((resume) => {
    fs.rename(from, to, (e) => resume(e === null ? Effect.void : ioFail("rename", from, e)))
  })

/**
 * The real disk. The cold operations (open, list, read, remove) go through Effect's `FileSystem`
 * (`NodeFileSystem.layer` in production); the three of every write (`writeSynced`, `rename`,
 * `syncDirectory`) call `node:fs` directly, each as one callback chain: the `FileSystem` path
 * (a scoped handle per file, an effect per call) cost about as much JavaScript-thread time per
 * write as the rest of a channel's persist.
 */
export const nodeStoreDisk: Effect.Effect<StoreDisk, never, FileSystem.FileSystem> = Effect.map(
  FileSystem.FileSystem,
  (fsys: FileSystem.FileSystem): StoreDisk => ({
    makeDirectory: (path) => fsys.makeDirectory(path, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(fail("mkdir", path))),
    list: (dir) => fsys.readDirectory(dir).pipe(Effect.mapError(fail("readdir", dir))),
    read: (path) => fsys.readFile(path).pipe(Effect.mapError(fail("read", path))),
    writeSynced: writeSyncedNode,
    openOverwrite: openOverwriteNode,
    rename: renameNode,
    remove: (path) => fsys.remove(path, { force: true }).pipe(Effect.mapError(fail("remove", path))),
    syncDirectory: syncDirectoryNode,
    createExclusive: createExclusiveNode,
    namespace: REAL_FILES,
    resolve: (path) => resolvePath(path),
    processId: process.pid,
    isProcessAlive: isNodeProcessAlive
  })
)
