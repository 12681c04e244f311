/**
 * The memory trace: records kept in an array (tests, simulations that compare two runs, replay's
 * own output). One sink serves many nodes (`forNode`), with one sequence over all of them.
 */
import { Layer, type Schema } from "effect"
import { encodeTraceLine, forNode, Trace, type TraceKind, type TraceRecord, type TraceSink } from "../../services/Trace.ts"

export interface MemoryTraceSink extends TraceSink {
  /** The records so far, in order (a copy). */
  readonly records: () => ReadonlyArray<TraceRecord>
  /** The record at `index`, if appended. */
  readonly at: (index: number) => TraceRecord | undefined
  /** The records so far as JSON lines (each `encodeTraceLine`, no newline). */
  readonly lines: () => ReadonlyArray<string>
  /** Stops recording: later appends are ignored (a recorder's end, before the process winds down). */
  readonly close: () => void
  /** How many records were appended. */
  readonly size: () => number
}

/** A sink in memory holding at most `limit` records (default 10 million); beyond it appends are dropped and counted. */
export const makeMemorySink = (limit = 10_000_000): MemoryTraceSink & { readonly dropped: () => number } => {
  const records: Array<TraceRecord> = []
  let closed = false
  let dropped = 0
  return {
    append: (node: string, actor: string, kind: TraceKind, data: Schema.Json) => {
      const seq = records.length
      if (closed) return seq
      if (records.length >= limit) {
        dropped += 1
        return seq
      }
      records.push({ node, actor, seq, kind, data })
      return seq
    },
    records: () => records.slice(),
    at: (index: number) => records[index],
    lines: () => records.map(encodeTraceLine),
    close: () => {
      closed = true
    },
    size: () => records.length,
    dropped: () => dropped
  }
}

/** Layer: the node `node` traces into `sink`. */
export const layer = (sink: TraceSink, node: string): Layer.Layer<never> => Layer.succeed(Trace, forNode(sink, node))
