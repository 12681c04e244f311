/**
 * A disk in memory that forgets, on a simulated power loss, exactly what a real one may forget:
 * file contents not fsync'ed, and (in `durable` mode) directory changes (creations, renames,
 * removals) not made durable by fsync'ing their directory. Used to check the files store at
 * every crash point and the order of its fsyncs; deterministic, no I/O.
 *
 * - `crashAfter(n)`: the n-th mutating step from now (0 = the next) does not happen, nor does
 *   anything after it: every operation fails with `DiskError("crashed")` until `recover`.
 *   Mutating steps: write (a `writeSynced` or a handle's `overwriteSynced` is two steps: write, then fsync), fsync, rename,
 *   remove, fsync directory, mkdir, create (`createExclusive`: a file never fsync'ed).
 * - `recover(mode)`: the power comes back. `durable`: only fsync'ed directory entries remain;
 *   `metadata`: every directory change remains (some file systems persist a rename before the
 *   data it points to); in both, file contents are what was last fsync'ed (a never-synced file
 *   is empty: torn).
 * - `failNext(n, after)`: after `after` more steps, the next n mutating steps fail with an I/O
 *   error (and do nothing); no crash.
 * - Processes (for the files store's owner lock): this disk's machine runs one process,
 *   `processId` (1), plus the pids a test adds to `otherProcesses` (other nodes still running).
 */
import { Effect } from "effect"
import { DiskError, type OverwriteHandle, type StoreDisk } from "./StoreDisk.ts"

interface Inode {
  data: Uint8Array
  synced: Uint8Array | undefined
}

export type DiskEvent =
  | { readonly op: "write" | "fsync" | "remove" | "fsyncDirectory" | "mkdir" | "create"; readonly path: string }
  | { readonly op: "rename"; readonly path: string; readonly to: string }

export type RecoveryMode = "durable" | "metadata"

const parentOf = (path: string): string => {
  const i = path.lastIndexOf("/")
  return i <= 0 ? "/" : path.slice(0, i)
}
const nameOf = (path: string): string => path.slice(path.lastIndexOf("/") + 1)

export class SimulatedDisk implements StoreDisk {
  private visible = new Map<string, Inode>()
  private durable = new Map<string, Inode>()
  private directories = new Set<string>()
  private stepsUntilCrash: number | undefined = undefined
  private crashed = false
  private failures = 0
  private stepsUntilFailure = 0
  /** Every mutating step performed, in order. */
  readonly events: Array<DiskEvent> = []
  /** Mutating steps performed (or attempted) so far. */
  steps = 0
  /** The files of this disk: a namespace of their own. */
  readonly namespace: object = this
  /** The process using this disk. */
  readonly processId = 1
  /** Other processes running on this disk's machine (alive for an owner lock's check). */
  readonly otherProcesses = new Set<number>()

  crashAfter(n: number | undefined): void {
    this.stepsUntilCrash = n
  }

  failNext(n: number, after = 0): void {
    this.failures = n
    this.stepsUntilFailure = after
  }

  get isCrashed(): boolean {
    return this.crashed
  }

  recover(mode: RecoveryMode): void {
    const names = mode === "durable" ? this.durable : this.visible
    const next = new Map<string, Inode>()
    const seen = new Map<Inode, Inode>()
    for (const [path, inode] of names) {
      let copy = seen.get(inode)
      if (copy === undefined) {
        const data = inode.synced ?? new Uint8Array()
        copy = { data, synced: data }
        seen.set(inode, copy)
      }
      next.set(path, copy)
    }
    this.visible = next
    this.durable = new Map(next)
    this.crashed = false
    this.stepsUntilCrash = undefined
    this.failures = 0
  }

  /** What a read sees now. */
  files(): ReadonlyMap<string, Uint8Array> {
    return new Map([...this.visible].map(([p, i]) => [p, i.data]))
  }

  /** Replaces a file's content, durably (simulates corruption on the medium). */
  corrupt(path: string, f: (data: Uint8Array) => Uint8Array): void {
    const inode = this.visible.get(path)
    if (inode === undefined) throw new Error(`no file ${path}`)
    inode.data = f(inode.data)
    inode.synced = inode.data
  }

  private step(event: DiskEvent): DiskError | undefined {
    if (this.crashed) return new DiskError({ operation: event.op, path: event.path, reason: "crashed" })
    this.steps += 1
    if (this.stepsUntilCrash !== undefined) {
      if (this.stepsUntilCrash === 0) {
        this.crashed = true
        return new DiskError({ operation: event.op, path: event.path, reason: "crashed" })
      }
      this.stepsUntilCrash -= 1
    }
    if (this.failures > 0 && this.stepsUntilFailure > 0) this.stepsUntilFailure -= 1
    else if (this.failures > 0) {
      this.failures -= 1
      return new DiskError({ operation: event.op, path: event.path, reason: "injected I/O error" })
    }
    this.events.push(event)
    return undefined
  }

  private run<A>(event: DiskEvent, f: () => A | DiskError): Effect.Effect<A, DiskError> {
    return Effect.suspend(() => {
      const e = this.step(event)
      if (e !== undefined) return Effect.fail(e)
      const r = f()
      return r instanceof DiskError ? Effect.fail(r) : Effect.succeed(r)
    })
  }

  private readOnly<A>(operation: string, path: string, f: () => A | DiskError): Effect.Effect<A, DiskError> {
    return Effect.suspend(() => {
      if (this.crashed) return Effect.fail(new DiskError({ operation, path, reason: "crashed" }))
      const r = f()
      return r instanceof DiskError ? Effect.fail(r) : Effect.succeed(r)
    })
  }

  private requireDirectory(operation: string, path: string): DiskError | undefined {
    return this.directories.has(parentOf(path)) ? undefined : new DiskError({ operation, path, reason: "no such directory" })
  }

  readonly makeDirectory = (path: string): Effect.Effect<void, DiskError> =>
    this.run({ op: "mkdir", path }, () => {
      this.directories.add(path)
    })

  readonly list = (dir: string): Effect.Effect<ReadonlyArray<string>, DiskError> =>
    this.readOnly("list", dir, () => [...this.visible.keys()].filter((p) => parentOf(p) === dir).map(nameOf))

  readonly read = (path: string): Effect.Effect<Uint8Array, DiskError> =>
    this.readOnly("read", path, () => {
      const inode = this.visible.get(path)
      return inode === undefined ? new DiskError({ operation: "read", path, reason: "not found" }) : Uint8Array.from(inode.data)
    })

  readonly writeSynced = (path: string, data: Uint8Array): Effect.Effect<void, DiskError> =>
    Effect.andThen(
      this.run({ op: "write", path }, () => {
        const missing = this.requireDirectory("write", path)
        if (missing !== undefined) return missing
        const existing = this.visible.get(path)
        if (existing !== undefined) existing.data = Uint8Array.from(data)
        else this.visible.set(path, { data: Uint8Array.from(data), synced: undefined })
      }),
      this.run({ op: "fsync", path }, () => {
        const inode = this.visible.get(path)
        if (inode !== undefined) inode.synced = inode.data
      })
    )

  /**
   * A handle on `path` (which must exist; opening is no step): each `overwriteSynced` puts its data
   * over the start of the file the path names then, the rest kept, then fsyncs it.
   */
  readonly openOverwrite = (path: string): Effect.Effect<OverwriteHandle, DiskError> =>
    this.readOnly("open", path, () =>
      this.visible.has(path)
        ? { overwriteSynced: (data: Uint8Array) => this.overwriteSynced(path, data), close: Effect.void }
        : new DiskError({ operation: "open", path, reason: "not found" })
    )

  private readonly overwriteSynced = (path: string, data: Uint8Array): Effect.Effect<void, DiskError> =>
    Effect.andThen(
      this.run({ op: "write", path }, () => {
        const existing = this.visible.get(path)
        if (existing === undefined) return new DiskError({ operation: "write", path, reason: "not found" })
        const merged = new Uint8Array(Math.max(data.length, existing.data.length))
        merged.set(existing.data)
        merged.set(data)
        existing.data = merged
      }),
      this.run({ op: "fsync", path }, () => {
        const inode = this.visible.get(path)
        if (inode !== undefined) inode.synced = inode.data
      })
    )

  readonly rename = (from: string, to: string): Effect.Effect<void, DiskError> =>
    this.run({ op: "rename", path: from, to }, () => {
      const inode = this.visible.get(from)
      if (inode === undefined) return new DiskError({ operation: "rename", path: from, reason: "not found" })
      this.visible.delete(from)
      this.visible.set(to, inode)
    })

  readonly remove = (path: string): Effect.Effect<void, DiskError> =>
    this.run({ op: "remove", path }, () => {
      this.visible.delete(path)
    })

  readonly createExclusive = (path: string, data: Uint8Array): Effect.Effect<boolean, DiskError> =>
    this.run({ op: "create", path }, () => {
      const missing = this.requireDirectory("create", path)
      if (missing !== undefined) return missing
      if (this.visible.has(path)) return false
      this.visible.set(path, { data: Uint8Array.from(data), synced: undefined })
      return true
    })

  readonly resolve = (path: string): string => path

  readonly isProcessAlive = (pid: number): boolean => pid === this.processId || this.otherProcesses.has(pid)

  readonly syncDirectory = (dir: string): Effect.Effect<void, DiskError> =>
    this.run({ op: "fsyncDirectory", path: dir }, () => {
      for (const p of [...this.durable.keys()]) if (parentOf(p) === dir && !this.visible.has(p)) this.durable.delete(p)
      for (const [p, inode] of this.visible) if (parentOf(p) === dir) this.durable.set(p, inode)
    })
}
