/**
 * Moving a node's data from one `Store` to another (`npm start -- --migrate-store FROM TO`),
 * losing nothing: every key of the source is written to the target (which must be empty: a
 * copy never overwrites), in atomic batches whose puts are compare-and-set "absent", then both
 * are listed again and compared key by key and byte by byte; the counts and total bytes are
 * reported. Versions are not copied (each store numbers its own writes; callers only compare a
 * version with one the same store gave). The node must be stopped: the SQL stores refuse a
 * second owner, and a files store must not change during the copy.
 */
import { Data, Effect } from "effect"
import { equalBytes } from "../../protocol/bytes.ts"
import { putOp, type StoreError, type StoreInvalidRequest, type StoreShape, type StoreWriteError } from "../../services/Store.ts"

export interface StoreCopyReport {
  readonly keys: number
  readonly bytes: number
}

/** The target already holds data, or the copy does not match the source after writing. */
export class StoreCopyMismatch extends Data.TaggedError("StoreCopyMismatch")<{ readonly reason: string }> {
  override get message(): string {
    return `store copy refused: ${this.reason}`
  }
}

/** Keys per atomic write of the copy. */
const BATCH = 256

const summary = (entries: ReadonlyArray<{ readonly value: Uint8Array }>): StoreCopyReport => ({
  keys: entries.length,
  bytes: entries.reduce((n, e) => n + e.value.length, 0)
})

/** Copies every key of `from` into the empty `to` and verifies the copy; what was copied. */
export const copyStore = (
  from: StoreShape,
  to: StoreShape
): Effect.Effect<StoreCopyReport, StoreCopyMismatch | StoreError | StoreInvalidRequest | StoreWriteError> =>
  Effect.gen(function*() {
    const existing = yield* to.list("")
    if (existing.length > 0) return yield* new StoreCopyMismatch({ reason: `the target is not empty (${existing.length} keys)` })
    const source = yield* from.list("")
    for (let i = 0; i < source.length; i += BATCH)
      yield* to.write(source.slice(i, i + BATCH).map((e) => putOp(e.key, e.value, 0)))
    const copied = yield* to.list("")
    const again = yield* from.list("")
    if (copied.length !== again.length || again.length !== source.length)
      return yield* new StoreCopyMismatch({ reason: `${source.length} keys read, ${copied.length} in the target, ${again.length} in the source now` })
    for (let i = 0; i < again.length; i++) {
      const a = again[i]
      const b = copied[i]
      if (a === undefined || b === undefined || a.key !== b.key || !equalBytes(a.value, b.value))
        return yield* new StoreCopyMismatch({ reason: `key ${a?.key ?? b?.key ?? "?"} differs after the copy` })
    }
    const report = summary(again)
    const target = summary(copied)
    if (report.bytes !== target.bytes) return yield* new StoreCopyMismatch({ reason: `${report.bytes} bytes in the source, ${target.bytes} in the target` })
    return report
  })
