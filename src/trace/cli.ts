/**
 * `npm run replay -- TRACE [--node NAME] [--out FILE]`: replays a JSON-lines trace file and
 * prints "identical: N records" or where it diverges (the record's index and `seq`, the recorded
 * and the replayed values). `--node` picks a node of a multi-node trace (default: the first with
 * a `start` record); `--out` writes what the replayed node wrote, for diffing.
 * Exit codes: 0 identical, 1 diverged, 2 usage or unreadable trace.
 */
import { Console, Data, Effect } from "effect"
import { readTraceFile, writeTraceFile } from "../layers/trace/FileTrace.ts"
import type { TraceRecord } from "../services/Trace.ts"
import { formatReport, replayTrace } from "./replay.ts"

export const EXIT_DIVERGED = 1
export const EXIT_USAGE = 2

/** A bad command line or an unreadable trace (exit code 2). */
export class ReplayUsage extends Data.TaggedError("ReplayUsage")<{ readonly message: string }> {}

export interface ReplayArgs {
  readonly file: string
  readonly node?: string
  readonly out?: string
}

export const parseArgs = (argv: ReadonlyArray<string>): ReplayArgs | string => {
  let file: string | undefined
  let node: string | undefined
  let out: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === "--node" || a === "--out") {
      const v = argv[++i]
      if (v === undefined) return `${a} needs a value`
      if (a === "--node") node = v
      else out = v
    } else if (a !== undefined && a.startsWith("--")) return `unknown option ${a}`
    else if (file === undefined) file = a
    else return `unexpected argument ${a}`
  }
  if (file === undefined) return "usage: npm run replay -- TRACE [--node NAME] [--out FILE]"
  return { file, ...(node === undefined ? {} : { node }), ...(out === undefined ? {} : { out }) }
}

/** Replays per `argv`, prints the report; the exit code. */
export const runReplay = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.gen(function*() {
    const args = parseArgs(argv)
    if (typeof args === "string") {
      yield* Console.error(args)
      return EXIT_USAGE
    }
    const records = yield* readTraceFile(args.file).pipe(Effect.mapError((e) => new ReplayUsage({ message: e.message })))
    let replayed: ReadonlyArray<TraceRecord> = []
    const report = yield* replayTrace(records, {
      ...(args.node === undefined ? {} : { node: args.node }),
      replayed: (r) => {
        replayed = r
      }
    }).pipe(Effect.mapError((e) => new ReplayUsage({ message: e.reason })))
    if (args.out !== undefined) yield* writeTraceFile(args.out, replayed)
    yield* Console.log(formatReport(report))
    return report._tag === "Identical" ? 0 : EXIT_DIVERGED
  }).pipe(Effect.catchTag("ReplayUsage", (e) => Effect.as(Console.error(`error: ${e.message}`), EXIT_USAGE)))
