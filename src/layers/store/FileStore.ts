/**
 * `Store` over one directory, crash-safe at every point, with group commit.
 *
 * Layout: the store is a snapshot plus the batches written after it.
 *   - `<slot>.log` (log slots, `slot` < `logSlots`, all created empty at open and made durable
 *     with one directory fsync; empty means free): one batch each, a batch being one group of
 *     writes (one or many `write` calls, each applied on its own, each with its own version),
 *     `seq` counting batches from 1. Batch `seq` goes to slot `seq % logSlots`, written over the
 *     start of the slot in place (no truncation, which costs far more: a shorter batch leaves
 *     the tail of an older one after its CRC, never read) and fdatasync'ed, the slot's file kept
 *     open from its first write to the store's close (at most `logSlots` descriptors): ONE sync per batch,
 *     no rename (the slot's directory entry was made durable when the slot was created). Only
 *     then does any of its writes succeed. Batch `seq` is written only after batch `seq - 1` is
 *     durable, so the batches after a snapshot are contiguous, and a slot is overwritten only
 *     once the batch it holds is covered by a durable snapshot (a snapshot is taken first if
 *     not). A crash while a slot is written leaves it torn (its CRC fails) or with its older,
 *     covered batch: either way only the unacknowledged batch is lost.
 *   - `<seq>.batch`: a batch in the older layout (written to `<name>.tmp`, fsync'ed, renamed, the
 *     directory fsync'ed: two fsyncs), still read at start, removed by the next snapshot.
 *   - `<seq>.snapshot`: every key as of batch `seq` (written atomically: temp file, fsync,
 *     rename, directory fsync), when the batches since the last snapshot are many (at most
 *     `logSlots`) or outweigh it; then the `.batch` files it covers and the older snapshot are
 *     removed (a crash in between leaves files that the next start ignores and removes).
 *   - `*.tmp`: a snapshot that did not reach its rename (a crash, an I/O error): ignored and
 *     removed at start. Their content was never acknowledged.
 * At start: the newest snapshot, then every batch after it in order (`.batch` files, then the
 * slots holding later batches). Every file carries a CRC-32. A renamed file is complete (it was
 * fsync'ed before the rename): one that fails to decode is damage. A slot that fails to decode
 * is the slot a crash tore: at most one is tolerated (as the append-only logs of databases
 * tolerate a torn tail), and the batch it held, if any, was never acknowledged; a second one,
 * or a missing batch in the sequence (a slot torn before a later batch was written cannot
 * happen: batches are written in order), is damage. Damage is reported as `StoreCorrupt` with
 * nothing deleted. What this cannot tell apart: a bit flipped in the newest batch's slot after
 * it was acknowledged reads as a torn slot (that batch is lost, as a torn log tail is).
 *
 * Group commit: writes queue to one writer fiber, which takes every write waiting (up to
 * `maxGroupWrites`) and commits them in one batch: one fsync of its slot for all of them. Each write is still validated (compare-and-set) and applied on its
 * own, in submission order; a write refused by validation does not affect the others of its
 * group. An I/O error fails every write of the group and changes nothing visible; the batch
 * number is reused by the next group (its rename replaces any leftover of the failed one).
 *
 * Every key and value is also kept in memory (reads never touch the disk): sized for a node's
 * channel data, not for a general database.
 *
 * One owner per directory: at open, before reading anything, the store takes the owner lock
 * `LOCK`, a file created exclusively (flag "wx") holding the opener's pid, a token unique in that
 * process and an owner name; it is removed when the store's scope closes. A second opener is
 * refused with `StoreOwned` while the holder runs: another process (the pid is alive), or
 * another store of this process (a registry of the directories open in this process, checked
 * before the disk, and of the tokens it holds). A lock is stale when its pid is gone
 * (`kill(pid, 0)` fails with ESRCH), when it is this process's pid with a token no open store
 * holds (an instance whose scope was closed without removing it, e.g. after a simulated crash,
 * or an earlier process with the same pid), or when it is unreadable (a crash while it was
 * written): a stale lock is taken over, with a warning naming the previous holder. Limits: the
 * lock guards against mistakes, not against two processes starting within the same instant over
 * a stale lock; and after a reboot, a stale lock whose pid now belongs to an unrelated running
 * process is refused: remove `LOCK` by hand (the error says so) once no node uses the directory.
 * Format of both files (big-endian): magic "ELNSTORE", kind (u8: 1 batch, 2 snapshot), format
 * (u8: 1), seq (u64), last version given so far (u64), record count (u32), records, CRC-32 of
 * everything before (u32). A record: op (u8: 1 put, 2 delete), version (u64), key length (u16),
 * key (ASCII), and for a put: value length (u32), value.
 */
import { crc32 } from "node:zlib"
import { Deferred, Effect, Exit, FileSystem, Layer, Result, type Scope } from "effect"
import { equalBytes } from "../../protocol/bytes.ts"
import { decodeWith } from "../../protocol/codec/reader.ts"
import {
  deleteOp,
  putOp,
  Store,
  StoreCorrupt,
  StoreError,
  StoreOwned,
  type StoreOp,
  type StoreShape,
  type StoreVersion
} from "../../services/Store.ts"
import { startGroupCommit, type PendingWrite } from "./GroupCommit.ts"
import { DiskError, nodeStoreDisk, type OverwriteHandle, type StoreDisk } from "./StoreDisk.ts"
import { StoreTable } from "./table.ts"

export interface FileStoreOptions {
  readonly directory: string
  /** Snapshot after this many batches at most (default 4096, and never more than `logSlots`). */
  readonly compactAfterBatches?: number
  /** Or once the batches since the last snapshot weigh more than it and this many bytes (default 1 MiB). */
  readonly compactMinBytes?: number
  /**
   * Log slots (default 256, or `compactAfterBatches` if lower): the batches kept between
   * snapshots at most, and the `.log` files the directory holds at most (each one batch).
   */
  readonly logSlots?: number
  /** Writes grouped in one batch at most (default 1024). */
  readonly maxGroupWrites?: number
  /** Who opens the store, recorded in its `LOCK` and named to a refused opener (e.g. the node id). */
  readonly owner?: string
}

const MAGIC = new TextEncoder().encode("ELNSTORE")
const FORMAT = 1
const KIND_BATCH = 1
const KIND_SNAPSHOT = 2
const OP_PUT = 1
const OP_DELETE = 2
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const NAME = /^(\d{16})\.(batch|snapshot)$/
const SLOT_NAME = /^(\d{5})\.log$/
const MAX_LOG_SLOTS = 99_999

const fileName = (seq: number, kind: "batch" | "snapshot"): string => `${String(seq).padStart(16, "0")}.${kind}`
const slotName = (slot: number): string => `${String(slot).padStart(5, "0")}.log`

interface Record_ {
  readonly op: StoreOp
  readonly version: StoreVersion
}

/** Encodes a batch or snapshot file. */
export interface StoreFile {
  readonly kind: "batch" | "snapshot"
  readonly seq: number
  /** The highest version given by this file or any before it. */
  readonly lastVersion: StoreVersion
  readonly records: ReadonlyArray<Record_>
}

/**
 * Encodes a batch or snapshot file into one buffer of its exact size (one allocation, no copy
 * but each value's: a batch of a channel's write is ~8 KB, written at every persist).
 */
export const encodeStoreFile = (file: StoreFile): Uint8Array => {
  let size = MAGIC.length + 2 + 8 + 8 + 4 + 4
  for (const r of file.records) size += 1 + 8 + 2 + r.op.key.length + (r.op._tag === "Put" ? 4 + r.op.value.length : 0)
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  out.set(MAGIC)
  let at = MAGIC.length
  out[at++] = file.kind === "batch" ? KIND_BATCH : KIND_SNAPSHOT
  out[at++] = FORMAT
  view.setBigUint64(at, BigInt(file.seq))
  view.setBigUint64(at + 8, BigInt(file.lastVersion))
  view.setUint32(at + 16, file.records.length)
  at += 20
  for (const { op, version } of file.records) {
    out[at] = op._tag === "Put" ? OP_PUT : OP_DELETE
    view.setBigUint64(at + 1, BigInt(version))
    const key = op.key
    // keys are printable ASCII (checked before any write): one byte per character
    view.setUint16(at + 9, key.length)
    at += 11
    for (let i = 0; i < key.length; i++) out[at + i] = key.charCodeAt(i)
    at += key.length
    if (op._tag === "Put") {
      view.setUint32(at, op.value.length)
      out.set(op.value, at + 4)
      at += 4 + op.value.length
    }
  }
  view.setUint32(at, crc32(out.subarray(0, at)) >>> 0)
  return out
}

/** Where the CRC of the file at the start of `bytes` is (its records walked), or undefined if they do not fit. */
const crcOffset = (bytes: Uint8Array): number | undefined => {
  const walked = decodeWith(bytes, (r) => {
    r.bytes(MAGIC.length + 2 + 8 + 8)
    const count = r.u32()
    for (let i = 0; i < count; i++) {
      const op = r.u8()
      r.u64()
      r.bytes(r.u16())
      if (op === OP_PUT) r.bytes(r.u32())
      else if (op !== OP_DELETE) return undefined
    }
    r.u32() // the CRC must be there too
    return r.offset - 4
  })
  return Result.isSuccess(walked) ? walked.success : undefined
}

/**
 * Decodes a file written by `encodeStoreFile`; a description of the damage otherwise. With
 * `trailing` (a log slot, written over in place), bytes after the file's CRC are ignored.
 */
export const decodeStoreFile = (file: Uint8Array, options: { readonly trailing?: boolean } = {}): Result.Result<StoreFile, string> => {
  let bytes = file
  if (bytes.length < MAGIC.length + 2 + 8 + 8 + 4 + 4) return Result.fail("too short")
  if (options.trailing === true) {
    const at = crcOffset(bytes)
    if (at === undefined) return Result.fail("truncated record")
    bytes = bytes.subarray(0, at + 4)
  }
  const body = bytes.subarray(0, bytes.length - 4)
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(bytes.length - 4)
  if ((crc32(body) >>> 0) !== stored) return Result.fail("checksum mismatch")
  const decoded = decodeWith(body, (r) => {
    if (!equalBytes(r.bytes(MAGIC.length), MAGIC)) return "bad magic"
    const kind = r.u8()
    if (kind !== KIND_BATCH && kind !== KIND_SNAPSHOT) return `unknown kind ${kind}`
    const format = r.u8()
    if (format !== FORMAT) return `unknown format ${format}`
    const seq = r.u64()
    const lastVersion = r.u64()
    if (seq > MAX_SAFE || lastVersion > MAX_SAFE) return "sequence out of range"
    const count = r.u32()
    const records: Array<Record_> = []
    for (let i = 0; i < count; i++) {
      const op = r.u8()
      const version = r.u64()
      if (version > lastVersion) return "version out of range"
      const key = String.fromCharCode(...r.bytes(r.u16()))
      if (op === OP_PUT) records.push({ op: putOp(key, r.bytes(r.u32())), version: Number(version) })
      else if (op === OP_DELETE) records.push({ op: deleteOp(key), version: Number(version) })
      else return `unknown op ${op}`
    }
    if (!r.atEnd) return "trailing bytes"
    const file: StoreFile = { kind: kind === KIND_BATCH ? "batch" : "snapshot", seq: Number(seq), lastVersion: Number(lastVersion), records }
    return file
  })
  if (Result.isFailure(decoded)) return Result.fail(`truncated record (${decoded.failure._tag})`)
  return typeof decoded.success === "string" ? Result.fail(decoded.success) : Result.succeed(decoded.success)
}

// ---- the owner lock ----

/** The owner lock's file name in a store directory. */
export const LOCK_FILE = "LOCK"
const LOCK_HEADER = "effect-lightning store lock"

interface LockHolder {
  readonly pid: number
  readonly token: string
  readonly owner: string
}

const encodeLock = (holder: LockHolder): Uint8Array =>
  new TextEncoder().encode(`${LOCK_HEADER}\npid ${holder.pid}\ntoken ${holder.token}\nowner ${holder.owner}\n`)

/** The holder a `LOCK` names; undefined if it is not one (torn by a crash, or foreign). */
const decodeLock = (bytes: Uint8Array): LockHolder | undefined => {
  const lines = new TextDecoder().decode(bytes).split("\n")
  const field = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.slice(name.length + 1)
  const pid = Number(field("pid"))
  const token = field("token")
  const owner = field("owner")
  if (lines[0] !== LOCK_HEADER || !Number.isSafeInteger(pid) || pid <= 0 || token === undefined || owner === undefined) return undefined
  return { pid, token, owner }
}

/** Owner names are one printable line (they end up in a file and in error messages). */
const ownerName = (owner: string | undefined): string => {
  const clean = (owner ?? "").replace(/[^\x20-\x7e]/g, "?").slice(0, 200)
  return clean === "" ? "an unnamed files store" : clean
}

/** This process's open stores: per file namespace (`StoreDisk.namespace`), resolved directory -> its holder. */
const openDirectories = new WeakMap<object, Map<string, LockHolder>>()
/** The tokens of every lock this process holds (any disk). */
const heldTokens = new Set<string>()
let lockCount = 0

/**
 * Takes the owner lock of `dir` for the scope: first this process's registry (synchronously,
 * so two opens racing in this process cannot both pass), then the `LOCK` file. Released at
 * scope close, in reverse: the file is removed (ignoring errors: a crashed disk keeps it, and
 * the next opener finds it stale), then the registry entry.
 */
const takeOwnerLock = (disk: StoreDisk, dir: string, owner: string): Effect.Effect<void, StoreError | StoreOwned, Scope.Scope> =>
  Effect.gen(function*() {
    const key = disk.resolve(dir)
    let registry = openDirectories.get(disk.namespace)
    if (registry === undefined) {
      registry = new Map()
      openDirectories.set(disk.namespace, registry)
    }
    const open = registry
    const holder = yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const current = open.get(key)
        if (current !== undefined)
          return Effect.fail(new StoreOwned({ store: dir, reason: `already open in this process by ${current.owner}` }))
        lockCount += 1
        const mine: LockHolder = { pid: disk.processId, token: `${disk.processId}.${lockCount}`, owner }
        open.set(key, mine)
        heldTokens.add(mine.token)
        return Effect.succeed(mine)
      }),
      (mine) =>
        Effect.sync(() => {
          if (open.get(key) === mine) open.delete(key)
          heldTokens.delete(mine.token)
        })
    )
    const lockPath = `${dir}/${LOCK_FILE}`
    const bytes = encodeLock(holder)
    const io = (e: DiskError) => new StoreError({ operation: "open", reason: e.message })
    // a few rounds: each either takes the lock, or finds a live holder, or removes a stale lock
    for (let round = 0; round < 3; round++) {
      if (yield* disk.createExclusive(lockPath, bytes).pipe(Effect.mapError(io))) {
        yield* Effect.addFinalizer(() => Effect.ignore(disk.remove(lockPath)))
        return
      }
      const existing = yield* Effect.result(disk.read(lockPath))
      if (Result.isFailure(existing)) continue // removed in between: try again
      const previous = decodeLock(existing.success)
      if (previous !== undefined) {
        const alive = previous.pid === disk.processId ? heldTokens.has(previous.token) : disk.isProcessAlive(previous.pid)
        if (alive)
          return yield* new StoreOwned({
            store: dir,
            reason: `held by ${previous.owner} (pid ${previous.pid}${previous.pid === disk.processId ? ", this process" : ""}); ` +
              `if no node uses it, remove ${lockPath}`
          })
      }
      yield* Effect.logWarning(
        previous === undefined
          ? `store ${dir}: taking over an unreadable lock (a crash while it was written)`
          : `store ${dir}: taking over the stale lock of ${previous.owner} (pid ${previous.pid}, no longer running)`
      )
      yield* disk.remove(lockPath).pipe(Effect.mapError(io))
    }
    return yield* new StoreOwned({ store: dir, reason: "the lock changed hands repeatedly during the open" })
  })

const ioError = (operation: string) => (e: DiskError) => new StoreError({ operation, reason: e.message })

/**
 * Opens (or creates) the store in `options.directory` on `disk`, holding its owner lock for the
 * current scope (`StoreOwned` if another open store or a running process holds it). The writer
 * fiber lives in the scope; writes after the scope closed fail with `StoreError`.
 */
export const makeFileStore = (
  disk: StoreDisk,
  options: FileStoreOptions
): Effect.Effect<StoreShape, StoreError | StoreCorrupt | StoreOwned, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = options.directory
    const logSlots = Math.max(1, Math.min(MAX_LOG_SLOTS, Math.floor(options.logSlots ?? Math.min(256, options.compactAfterBatches ?? 256))))
    const compactAfterBatches = Math.min(options.compactAfterBatches ?? 4096, logSlots)
    const compactMinBytes = options.compactMinBytes ?? 1 << 20
    const maxGroupWrites = options.maxGroupWrites ?? 1024
    const path = (name: string) => `${dir}/${name}`

    // ---- open: newest snapshot, then the batches after it ----
    yield* disk.makeDirectory(dir).pipe(Effect.mapError(ioError("open")))
    yield* takeOwnerLock(disk, dir, ownerName(options.owner))
    const names = yield* disk.list(dir).pipe(Effect.mapError(ioError("open")))
    for (const n of names) if (n.endsWith(".tmp")) yield* disk.remove(path(n)).pipe(Effect.mapError(ioError("open")))
    const snapshots: Array<number> = []
    const batches: Array<number> = []
    const slots: Array<number> = []
    for (const n of names) {
      const slot = SLOT_NAME.exec(n)
      if (slot !== null) slots.push(Number(slot[1]))
      const m = NAME.exec(n)
      if (m === null) continue
      if (m[2] === "batch") batches.push(Number(m[1]))
      else snapshots.push(Number(m[1]))
    }
    snapshots.sort((a, b) => a - b)
    batches.sort((a, b) => a - b)

    const table = new StoreTable()
    const readFile = (name: string, kind: "batch" | "snapshot", seq: number) =>
      Effect.gen(function*() {
        const bytes = yield* disk.read(path(name)).pipe(Effect.mapError(ioError("open")))
        const decoded = decodeStoreFile(bytes)
        if (Result.isFailure(decoded)) return yield* new StoreCorrupt({ file: path(name), reason: decoded.failure })
        if (decoded.success.kind !== kind || decoded.success.seq !== seq)
          return yield* new StoreCorrupt({ file: path(name), reason: "content does not match the file name" })
        return { file: decoded.success, size: bytes.length }
      })

    let snapshotSeq = snapshots.at(-1) ?? 0
    let lastVersion = 0
    let snapshotBytes = 0
    if (snapshotSeq > 0) {
      const snap = yield* readFile(fileName(snapshotSeq, "snapshot"), "snapshot", snapshotSeq)
      for (const { op, version } of snap.file.records) if (op._tag === "Put") table.restore(op.key, version, op.value)
      snapshotBytes = snap.size
      lastVersion = snap.file.lastVersion
    }
    let nextSeq = snapshotSeq + 1
    let batchesSinceSnapshot = 0
    let batchBytes = 0
    for (const seq of batches) {
      if (seq <= snapshotSeq) continue
      if (seq !== nextSeq) return yield* new StoreCorrupt({ file: path(fileName(nextSeq, "batch")), reason: "missing batch" })
      const batch = yield* readFile(fileName(seq, "batch"), "batch", seq)
      lastVersion = batch.file.lastVersion
      for (const { op, version } of batch.file.records) {
        if (op._tag === "Put") table.restore(op.key, version, op.value)
        else table.remove(op.key)
      }
      nextSeq = seq + 1
      batchesSinceSnapshot += 1
      batchBytes += batch.size
    }
    // The log slots: the batches after those, in order; a slot holding a covered batch is free.
    /** The batch each slot holds that is not yet covered by the snapshot (a slot absent here is free). */
    const slotHolds = new Map<number, number>()
    /** The slots whose directory entry is durable. */
    const slotExists = new Set<number>()
    const fromSlots: Array<{ readonly slot: number; readonly file: StoreFile; readonly size: number }> = []
    let torn: number | undefined
    for (const slot of slots) {
      slotExists.add(slot)
      const bytes = yield* disk.read(path(slotName(slot))).pipe(Effect.mapError(ioError("open")))
      if (bytes.length === 0) continue // free (never written, or emptied after a failed write)
      const decoded = decodeStoreFile(bytes, { trailing: true })
      if (Result.isFailure(decoded) || decoded.success.kind !== "batch") {
        if (torn !== undefined)
          return yield* new StoreCorrupt({ file: path(slotName(slot)), reason: `a second damaged log slot (${slotName(torn)} is one)` })
        torn = slot
        continue
      }
      if (decoded.success.seq >= nextSeq) fromSlots.push({ slot, file: decoded.success, size: bytes.length })
    }
    fromSlots.sort((a, b) => a.file.seq - b.file.seq)
    for (const { slot, file, size } of fromSlots) {
      if (file.seq !== nextSeq) return yield* new StoreCorrupt({ file: path(slotName(slot)), reason: "missing batch" })
      lastVersion = file.lastVersion
      for (const { op, version } of file.records) {
        if (op._tag === "Put") table.restore(op.key, version, op.value)
        else table.remove(op.key)
      }
      slotHolds.set(slot, file.seq)
      nextSeq = file.seq + 1
      batchesSinceSnapshot += 1
      batchBytes += size
    }
    /** The `.batch` files (older layout) the next snapshot removes. */
    let legacyBatches = batches.filter((b) => b > snapshotSeq)
    // Every slot is created now, empty, and made durable with one directory fsync (a slot listed
    // here may also have been created just before a crash, its entry not yet durable): from the
    // first batch on, a batch costs one fsync.
    const missing: Array<number> = []
    for (let slot = 0; slot < logSlots; slot++) if (!slotExists.has(slot)) missing.push(slot)
    for (const slot of missing) yield* disk.createExclusive(path(slotName(slot)), new Uint8Array(0)).pipe(Effect.mapError(ioError("open")))
    yield* disk.syncDirectory(dir).pipe(Effect.mapError(ioError("open")))
    for (const slot of missing) slotExists.add(slot)

    // Leftovers of an interrupted compaction: covered by the snapshot, never read again.
    for (const seq of batches) if (seq <= snapshotSeq) yield* Effect.ignore(disk.remove(path(fileName(seq, "batch"))))
    for (const seq of snapshots) if (seq < snapshotSeq) yield* Effect.ignore(disk.remove(path(fileName(seq, "snapshot"))))

    // ---- writing ----
    const scope = yield* Effect.scope
    /** Every slot's file, kept open (closed with the store; a slot whose write failed is opened again by its next write). */
    const slotHandles = new Map<number, OverwriteHandle>()
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const open = [...slotHandles.values()]
        slotHandles.clear()
        return Effect.forEach(open, (h) => h.close, { discard: true })
      })
    )
    // Every slot opened now rather than at its first write (an open is a thread-pool trip of its
    // own: before, the first `logSlots` writes of a run paid one each). A slot that fails to open
    // here is opened at its first write.
    yield* Effect.forEach(
      Array.from({ length: logSlots }, (_, slot) => slot),
      (slot) =>
        Effect.match(disk.openOverwrite(path(slotName(slot))), {
          onFailure: () => undefined,
          onSuccess: (h) => void slotHandles.set(slot, h)
        }),
      { concurrency: 16, discard: true }
    )

    const writeAtomically = (name: string, bytes: Uint8Array): Effect.Effect<void, DiskError> =>
      Effect.gen(function*() {
        yield* disk.writeSynced(path(`${name}.tmp`), bytes)
        yield* disk.rename(path(`${name}.tmp`), path(name))
        yield* disk.syncDirectory(dir)
      })

    /** Every key as of the last batch (`nextSeq - 1`), encoded now: what a snapshot writes. */
    const captureSnapshot = (): { readonly seq: number; readonly bytes: Uint8Array } => {
      const seq = nextSeq - 1
      const records: Array<Record_> = []
      for (const [key, cell] of table.entries()) records.push({ op: putOp(key, cell.value), version: cell.version })
      return { seq, bytes: encodeStoreFile({ kind: "snapshot", seq, lastVersion, records }) }
    }

    /**
     * Writes snapshot `seq` (atomically: temp file, fsync, rename, directory fsync); once it is
     * durable, the files it covers go (the older snapshot, `.batch` files) and the slots holding
     * batches up to `seq` are free. False if it failed (logged; the next one retries).
     */
    const installSnapshot = (seq: number, bytes: Uint8Array): Effect.Effect<boolean> =>
      Effect.gen(function*() {
        const written = yield* Effect.result(writeAtomically(fileName(seq, "snapshot"), bytes))
        if (Result.isFailure(written)) {
          yield* Effect.ignore(disk.remove(path(`${fileName(seq, "snapshot")}.tmp`)))
          yield* Effect.logWarning(`store snapshot failed, will retry: ${written.failure.message}`)
          return false
        }
        const previous = snapshotSeq
        snapshotSeq = seq
        snapshotBytes = bytes.length
        for (const [slot, held] of slotHolds) if (held <= seq) slotHolds.delete(slot)
        for (const b of legacyBatches) if (b <= seq) yield* Effect.ignore(disk.remove(path(fileName(b, "batch"))))
        legacyBatches = legacyBatches.filter((b) => b > seq)
        if (previous > 0 && previous < seq) yield* Effect.ignore(disk.remove(path(fileName(previous, "snapshot"))))
        return true
      })

    /**
     * The snapshot being written in the background (undefined when none is). A snapshot is due when the batches
     * since the last one are many or weigh more than it; it is then taken of the state as of
     * the group just committed and written on a fiber of its own, while later groups go on into
     * other slots (before, its two fsyncs and its encoding delayed the group that made it due
     * and every write queued behind). A slot is still written over only once a durable snapshot
     * covers the batch it holds: a write that needs such a slot waits for the snapshot in flight
     * (or takes one itself).
     */
    let snapshotInFlight: Deferred.Deferred<void> | undefined
    /** Set at close: no new background snapshot (the one in flight is waited for). */
    let closing = false
    yield* Effect.addFinalizer(() => (snapshotInFlight === undefined ? Effect.void : Deferred.await(snapshotInFlight)))

    /** Counts the batches and bytes since the last snapshot taken (they go back if its write fails). */
    const startCounting = (): (() => void) => {
      const batches = batchesSinceSnapshot
      const bytes = batchBytes
      batchesSinceSnapshot = 0
      batchBytes = 0
      return () => {
        batchesSinceSnapshot += batches
        batchBytes += bytes
      }
    }

    /** Takes a snapshot now and waits for it (a slot to reuse is not covered yet). */
    const snapshotNow: Effect.Effect<void> = Effect.suspend(() => {
      const { seq, bytes } = captureSnapshot()
      const uncount = startCounting()
      return Effect.map(installSnapshot(seq, bytes), (ok) => {
        if (!ok) uncount()
      })
    })

    /** Starts a snapshot on its own fiber when one is due and none is in flight. */
    const snapshotIfDue = (): Effect.Effect<void> => {
      if (closing || snapshotInFlight !== undefined) return Effect.void
      if (!(batchesSinceSnapshot >= compactAfterBatches || (batchesSinceSnapshot >= 16 && batchBytes >= Math.max(snapshotBytes, compactMinBytes)))) return Effect.void
      const { seq, bytes } = captureSnapshot()
      const uncount = startCounting()
      const done = Deferred.makeUnsafe<void>()
      snapshotInFlight = done
      const run = Effect.ensuring(
        Effect.map(installSnapshot(seq, bytes), (ok) => {
          if (!ok) uncount()
        }),
        Effect.sync(() => {
          snapshotInFlight = undefined
          Deferred.doneUnsafe(done, Exit.void)
        })
      )
      // Uninterruptible from its start: the store's close waits for it (an interrupted fiber
      // that never started would leave `snapshotInFlight` unsettled).
      return Effect.asVoid(Effect.forkIn(run, scope, { uninterruptible: true }))
    }

    /** Whether `slot` is free: empty, or holding a batch a durable snapshot covers. */
    const slotFree = (slot: number): boolean => {
      const held = slotHolds.get(slot)
      return held === undefined || held <= snapshotSeq
    }

    /** Makes `slot` free (the snapshot in flight, else a new one); false if it could not. */
    const freeSlot = (slot: number): Effect.Effect<boolean> =>
      Effect.gen(function*() {
        if (snapshotInFlight !== undefined) yield* Deferred.await(snapshotInFlight)
        if (!slotFree(slot)) yield* snapshotNow
        return slotFree(slot)
      })

    /** Writes `bytes` over the start of `slot`'s file, durably (its file opened first if it is not). */
    const overwriteSlot = (slot: number, bytes: Uint8Array): Effect.Effect<void, DiskError> => {
      const handle = slotHandles.get(slot)
      const written = (h: OverwriteHandle): Effect.Effect<void, DiskError> =>
        Effect.catch(h.overwriteSynced(bytes), (e) => {
          // opened again by the next write of this slot
          slotHandles.delete(slot)
          return Effect.andThen(h.close, Effect.fail(e))
        })
      if (handle !== undefined) return written(handle)
      return Effect.flatMap(disk.openOverwrite(path(slotName(slot))), (h) => {
        slotHandles.set(slot, h)
        return written(h)
      })
    }

    /**
     * Writes batch `seq` to its slot, once the slot is free (false if it could not be freed:
     * nothing written); the directory fsync'ed after the slot's first write if its entry was
     * not known durable.
     */
    const writeBatch = (seq: number, bytes: Uint8Array): Effect.Effect<boolean, DiskError> => {
      const slot = seq % logSlots
      const write: Effect.Effect<boolean, DiskError> = Effect.flatMap(overwriteSlot(slot, bytes), () => {
        slotHolds.set(slot, seq)
        if (slotExists.has(slot)) return Effect.succeed(true)
        return Effect.map(disk.syncDirectory(dir), () => {
          slotExists.add(slot)
          return true
        })
      })
      if (slotFree(slot)) return write
      return Effect.flatMap(freeSlot(slot), (free) => (free ? write : Effect.succeed(false)))
    }

    const commitGroup = (group: ReadonlyArray<PendingWrite>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const seq = nextSeq
        let version = lastVersion
        const pending = new Map<string, StoreVersion>()
        const accepted: Array<{ readonly write: PendingWrite; readonly version: StoreVersion }> = []
        const records: Array<Record_> = []
        for (const w of group) {
          const bad = table.check(w.ops, pending)
          if (bad !== undefined) {
            Deferred.doneUnsafe(w.done, Exit.fail(bad))
            continue
          }
          version += 1
          accepted.push({ write: w, version })
          for (const op of w.ops) {
            pending.set(op.key, op._tag === "Put" ? version : 0)
            records.push({ op, version })
          }
        }
        if (accepted.length === 0) return Effect.void
        const bytes = encodeStoreFile({ kind: "batch", seq, lastVersion: version, records })
        return Effect.flatMap(Effect.result(writeBatch(seq, bytes)), (written) => {
          if (Result.isFailure(written) || !written.success) {
            // Nothing acknowledged; the number (and its slot) is reused by the next group. The
            // slot is emptied so a batch that landed anyway is not read at start (it stays torn
            // if that fails too, which the start tolerates).
            const reason = Result.isFailure(written) ? written.failure.message : "the snapshot before reusing a log slot failed"
            const error = Exit.fail(new StoreError({ operation: "write", reason }))
            const fail = Effect.sync(() => {
              for (const a of accepted) Deferred.doneUnsafe(a.write.done, error)
            })
            return Result.isFailure(written) ? Effect.andThen(Effect.ignore(disk.writeSynced(path(slotName(seq % logSlots)), new Uint8Array(0))), fail) : fail
          }
          nextSeq = seq + 1
          lastVersion = version
          batchesSinceSnapshot += 1
          batchBytes += bytes.length
          for (const a of accepted) {
            table.apply(a.write.ops, a.version)
            Deferred.doneUnsafe(a.write.done, Exit.succeed(a.version))
          }
          return snapshotIfDue()
        })
      })

    const write = yield* startGroupCommit({ commitGroup, maxGroupWrites, closed: new StoreError({ operation: "write", reason: "store closed" }) })
    // Runs before the group commit's own close (finalizers run in reverse): a group still in
    // flight then starts no snapshot, and the one in flight is waited for above.
    yield* Effect.addFinalizer(() => Effect.sync(() => void (closing = true)))

    return {
      get: (key) => Effect.sync(() => table.get(key)),
      list: (prefix) => Effect.sync(() => table.list(prefix)),
      put: (key, value, ifVersion) => write([putOp(key, value, ifVersion)]),
      delete: (key, ifVersion) => Effect.asVoid(write([deleteOp(key, ifVersion)])),
      write
    } satisfies StoreShape
  })

/** The files store on the real disk. */
export const layer = (options: FileStoreOptions): Layer.Layer<Store, StoreError | StoreCorrupt | StoreOwned, FileSystem.FileSystem> =>
  Layer.effect(Store, Effect.flatMap(nodeStoreDisk, (disk) => makeFileStore(disk, options)))

/** The files store on a given disk (e.g. a `SimulatedDisk`). */
export const layerOn = (disk: StoreDisk, options: FileStoreOptions): Layer.Layer<Store, StoreError | StoreCorrupt | StoreOwned> =>
  Layer.effect(Store, makeFileStore(disk, options))
