/**
 * The in-memory table both store layers keep: key -> (version, value), with the validation of
 * a write (key syntax, distinct keys, compare-and-set) shared so the layers agree exactly.
 */
import {
  invalidWrite,
  StoreConflict,
  StoreInvalidRequest,
  type StoreEntry,
  type StoreOp,
  type StoreVersion
} from "../../services/Store.ts"

interface Cell {
  readonly version: StoreVersion
  readonly value: Uint8Array
}

export class StoreTable {
  private readonly cells = new Map<string, Cell>()

  get size(): number {
    return this.cells.size
  }

  versionOf(key: string): StoreVersion {
    return this.cells.get(key)?.version ?? 0
  }

  get(key: string): StoreEntry | undefined {
    const c = this.cells.get(key)
    return c === undefined ? undefined : { key, version: c.version, value: c.value.slice() }
  }

  list(prefix: string): ReadonlyArray<StoreEntry> {
    const out: Array<StoreEntry> = []
    for (const [key, c] of this.cells) if (key.startsWith(prefix)) out.push({ key, version: c.version, value: c.value.slice() })
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** Every entry, unordered, without copying (for snapshots). */
  entries(): IterableIterator<[string, Cell]> {
    return this.cells.entries()
  }

  /**
   * Checks a write against the table and against `pending` (versions given by earlier writes of
   * the same group, not applied yet: `pendingVersion` for a put, 0 for a delete).
   */
  check(
    ops: ReadonlyArray<StoreOp>,
    pending?: ReadonlyMap<string, StoreVersion>
  ): StoreConflict | StoreInvalidRequest | undefined {
    const malformed = invalidWrite(ops)
    if (malformed !== undefined) return malformed
    for (const op of ops) {
      if (op.ifVersion !== undefined) {
        const actual = pending?.get(op.key) ?? this.versionOf(op.key)
        if (actual !== op.ifVersion) return new StoreConflict({ key: op.key, expected: op.ifVersion, actual })
      }
    }
    return undefined
  }

  /** Applies a checked write; puts take `version`. Values are copied (callers may reuse buffers), but given ones (`givenPutOp`). */
  apply(ops: ReadonlyArray<StoreOp>, version: StoreVersion): void {
    for (const op of ops) {
      if (op._tag === "Put") this.cells.set(op.key, { version, value: op.given === true ? op.value : op.value.slice() })
      else this.cells.delete(op.key)
    }
  }

  /** Sets one cell as read from disk (its own version). */
  restore(key: string, version: StoreVersion, value: Uint8Array): void {
    this.cells.set(key, { version, value })
  }

  remove(key: string): void {
    this.cells.delete(key)
  }
}
