/**
 * A `TraceSink` (src/services/Trace.ts) that keeps every record as one JSON line in memory: what
 * `runScenario(..., { trace: true })` returns. Lines are encoded as they arrive, so the trace of
 * a run is its bytes: two runs with the same seed give equal arrays.
 */
import { Schema } from "effect"
import { encodeTraceLine, type TraceKind, type TraceSink } from "../services/Trace.ts"

export class MemoryTraceSink implements TraceSink {
  readonly lines: Array<string> = []
  private seq = 0

  readonly append = (node: string, actor: string, kind: TraceKind, data: Schema.Json): number => {
    const seq = this.seq++
    this.lines.push(encodeTraceLine({ node, actor, seq, kind, data }))
    return seq
  }
}

/** A sink that hands each encoded line to `write` (a file stream, a hash) and keeps nothing. */
export const lineSink = (write: (line: string) => void): TraceSink & { readonly records: () => number } => {
  let seq = 0
  return {
    append: (node, actor, kind, data) => {
      const s = seq++
      write(encodeTraceLine({ node, actor, seq: s, kind, data }))
      return s
    },
    records: () => seq
  }
}
