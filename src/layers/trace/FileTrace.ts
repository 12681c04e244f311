/**
 * The JSON-lines trace file: one record per line (`encodeTraceLine`: node, actor, sequence
 * number, kind, Schema-encoded data), appended in order. Lines are buffered and written with
 * `node:fs` when 256 KiB have gathered and when the sink closes (the scope of `layer` /
 * `makeFileSink`), so tracing to a file costs one string encoding per record and few system
 * calls. The file is created (truncated) at start.
 */
import { Data, Effect, Layer, type Schema, type Scope } from "effect"
import { closeSync, openSync, readFileSync, writeSync } from "node:fs"
import {
  decodeTraceLine,
  encodeTraceLine,
  forNode,
  Trace,
  type TraceKind,
  type TraceRecord,
  type TraceSink
} from "../../services/Trace.ts"

const FLUSH_AT = 256 * 1024

export interface FileTraceSink extends TraceSink {
  /** Writes what is buffered. */
  readonly flush: () => void
  /** Records appended so far. */
  readonly size: () => number
}

/** A sink writing `path` (closed, after a last flush, with the scope). */
export const makeFileSink = (path: string): Effect.Effect<FileTraceSink, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const fd = openSync(path, "w")
      let buffer: Array<string> = []
      let buffered = 0
      let seq = 0
      let open = true
      const flush = () => {
        if (buffer.length === 0 || !open) return
        writeSync(fd, buffer.join(""))
        buffer = []
        buffered = 0
      }
      const sink: FileTraceSink & { readonly close: () => void } = {
        append: (node: string, actor: string, kind: TraceKind, data: Schema.Json) => {
          const n = seq++
          if (!open) return n
          const line = `${encodeTraceLine({ node, actor, seq: n, kind, data })}\n`
          buffer.push(line)
          buffered += line.length
          if (buffered >= FLUSH_AT) flush()
          return n
        },
        flush,
        size: () => seq,
        close: () => {
          flush()
          open = false
          closeSync(fd)
        }
      }
      return sink
    }),
    (sink) => Effect.sync(() => sink.close())
  )

/** Layer: the node `node` traces into the file `path` (one file per layer build). */
export const layer = (path: string, node: string): Layer.Layer<never> =>
  Layer.effect(Trace, Effect.map(makeFileSink(path), (sink) => forNode(sink, node)))

/** Writes records to `path` as JSON lines. */
export const writeTraceFile = (path: string, records: ReadonlyArray<TraceRecord>): Effect.Effect<void> =>
  Effect.scoped(Effect.flatMap(makeFileSink(path), (sink) =>
    Effect.sync(() => {
      for (const r of records) sink.append(r.node, r.actor, r.kind, r.data)
    })))

/** A malformed line of a trace file (its 1-based number). */
export class TraceFileError extends Data.TaggedError("TraceFileError")<{ readonly line: number; readonly reason: string }> {
  override get message(): string {
    return `trace line ${this.line}: ${this.reason}`
  }
}

/** Reads a JSON-lines trace (empty lines skipped). */
export const readTraceFile = (path: string): Effect.Effect<ReadonlyArray<TraceRecord>, TraceFileError> =>
  Effect.try({
    try: () => readFileSync(path, "utf8"),
    catch: (e) => new TraceFileError({ line: 0, reason: `cannot read ${path}: ${String(e)}` })
  }).pipe(Effect.flatMap((text) =>
    Effect.try({
      try: () => {
        const out: Array<TraceRecord> = []
        const lines = text.split("\n")
        for (let i = 0; i < lines.length; i++) {
          const line = lines[i] ?? ""
          if (line.length === 0) continue
          try {
            out.push(decodeTraceLine(line))
          } catch (e) {
            throw new TraceFileError({ line: i + 1, reason: String(e) })
          }
        }
        return out
      },
      catch: (e) => e instanceof TraceFileError ? e : new TraceFileError({ line: 0, reason: String(e) })
    })
  ))
