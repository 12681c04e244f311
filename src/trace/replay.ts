/**
 * Replay: builds the node of a trace's `start` record over the replay layers
 * (`src/layers/trace/Replay.ts`), feeds it the recorded inputs in the recorded order, each once
 * the node is quiescent, and compares every record the replayed node writes with the recorded
 * one, line for line (same kind, actor and JSON data; sequence numbers aside).
 *
 * The result is `Identical` (every record reproduced) or `Diverged` at the first record that
 * differs, with both values: the recorded one (`expected`) and the replayed node's (`actual`,
 * absent when the node did not produce one), and why. Replay stops at a divergence: past it the
 * node is in a state the trace knows nothing of.
 */
import { Cause, Data, Deferred, Effect, Exit, Scheduler } from "effect"
import { makeChainReplay } from "../layers/trace/ChainTrace.ts"
import { makeMemorySink } from "../layers/trace/MemoryTrace.ts"
import { isDeliveredKind, makeReplayWorld } from "../layers/trace/Replay.ts"
import { Actors, field, numberField } from "../layers/trace/records.ts"
import { forNode, type TraceRecord } from "../services/Trace.ts"
import { buildNode, decodeCommand, decodeRecipe, type TracedNode } from "./node.ts"
import { makeCountingScheduler } from "./Quiescence.ts"

export type ReplayReport =
  | { readonly _tag: "Identical"; readonly node: string; readonly records: number }
  | {
    readonly _tag: "Diverged"
    readonly node: string
    /** Index of the record among the node's records (and its `seq` in the trace, if recorded). */
    readonly index: number
    readonly seq: number | undefined
    readonly expected: TraceRecord | undefined
    readonly actual: TraceRecord | undefined
    readonly reason: string
  }

/** The trace cannot be replayed at all (no `start` record, a recipe or command that does not decode). */
export class ReplayFailed extends Data.TaggedError("ReplayFailed")<{ readonly reason: string }> {}

const sameRecord = (a: TraceRecord, b: TraceRecord): boolean =>
  a.kind === b.kind && a.actor === b.actor && a.node === b.node && JSON.stringify(a.data) === JSON.stringify(b.data)

export interface ReplayOptions {
  /** Which node of the trace (default: the first with a `start` record). */
  readonly node?: string
  /** Called at the end with what the replayed node wrote (to keep or diff it). */
  readonly replayed?: (records: ReadonlyArray<TraceRecord>) => void
}

/** Replays one node of `recorded`. */
export const replayTrace = (
  recorded: ReadonlyArray<TraceRecord>,
  options: ReplayOptions = {}
): Effect.Effect<ReplayReport, ReplayFailed> => {
  const scheduler = makeCountingScheduler()
  return Effect.gen(function*() {
    const start = recorded.find((r) => r.kind === "start" && (options.node === undefined || r.node === options.node))
    if (start === undefined) return yield* Effect.fail(new ReplayFailed({ reason: "no start record" }))
    const node = start.node
    const mine = recorded.filter((r) => r.node === node)
    const recipe = yield* Effect.try({
      try: () => decodeRecipe(start.data),
      catch: (e) => new ReplayFailed({ reason: `bad start record: ${String(e)}` })
    })
    const sink = makeMemorySink()
    const trace = forNode(sink, node)

    const diverged = (index: number, reason: string): ReplayReport => ({
      _tag: "Diverged",
      node,
      index,
      seq: mine[index]?.seq,
      expected: mine[index],
      actual: sink.at(index),
      reason
    })
    let checked = 0
    /** Compares what the node wrote so far; `upTo`: how many records it should have written by now. */
    const compare = (upTo: number): ReplayReport | undefined => {
      const written = sink.size()
      for (; checked < Math.min(written, upTo); checked++) {
        const want = mine[checked]
        const got = sink.at(checked)
        if (want === undefined || got === undefined || !sameRecord(want, got)) return diverged(checked, "the replayed node wrote another record")
      }
      if (written > upTo) return diverged(upTo, "the replayed node wrote a record where the trace has the next input")
      if (written < upTo) return diverged(written, "the replayed node did not write this record before the next input")
      return undefined
    }

    const report = yield* Effect.scoped(Effect.gen(function*() {
      const world = yield* makeReplayWorld(mine, trace)
      const chain = makeChainReplay(trace)
      const ready = yield* Deferred.make<TracedNode, string>()
      yield* Effect.forkScoped(
        buildNode(recipe, { trace, ...world, chain: chain.chain, broadcaster: chain.broadcaster }).pipe(
          Effect.exit,
          Effect.flatMap((exit) =>
            Deferred.done(ready, Exit.isSuccess(exit) ? Exit.succeed(exit.value) : Exit.fail(Cause.pretty(exit.cause)))
          )
        )
      )
      for (let i = 0; i < mine.length; i++) {
        const r = mine[i]
        if (r === undefined || !isDeliveredKind(r.kind)) continue
        yield* scheduler.whenIdle
        const before = compare(i)
        if (before !== undefined) return before
        if (r.kind === "command") {
          const built = yield* Effect.exit(Deferred.await(ready))
          if (Exit.isFailure(built)) return diverged(i, `the node could not be built: ${Cause.pretty(built.cause)}`)
          const target = built.value
          const n = numberField(r.data, "n") ?? -1
          const command = yield* Effect.try({
            try: () => decodeCommand(field(r.data, "command")),
            catch: (e) => new ReplayFailed({ reason: `bad command record ${r.seq}: ${String(e)}` })
          })
          trace.emit(Actors.node, "command", r.data)
          yield* Effect.forkScoped(target.execute(command, n))
        } else {
          const why = r.kind === "chain" ? chain.deliver(r) : world.deliver(r)
          if (why !== undefined) return diverged(i, why)
        }
      }
      yield* scheduler.whenIdle
      const after = compare(mine.length)
      if (after !== undefined) return after
      const identical: ReplayReport = { _tag: "Identical", node, records: mine.length }
      return identical
    }))
    sink.close()
    options.replayed?.(sink.records())
    return report
  }).pipe(Effect.provideService(Scheduler.Scheduler, scheduler))
}

/** One line for a report: "identical: N records" or where it diverges. */
export const formatReport = (report: ReplayReport): string => {
  if (report._tag === "Identical") return `identical: ${report.records} records`
  const show = (r: TraceRecord | undefined) => (r === undefined ? "(none)" : `${r.actor} ${r.kind} ${JSON.stringify(r.data)}`)
  return [
    `diverged at record ${report.index}${report.seq === undefined ? "" : ` (seq ${report.seq})`} of node ${report.node}: ${report.reason}`,
    `  recorded: ${show(report.expected)}`,
    `  replayed: ${show(report.actual)}`
  ].join("\n")
}
