#!/usr/bin/env node
/** `npm run replay -- TRACE [--node NAME] [--out FILE]`: see `cli.ts`. */
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { runReplay } from "./cli.ts"

NodeRuntime.runMain(
  Effect.flatMap(runReplay(process.argv.slice(2)), (code) => Effect.sync(() => void (process.exitCode = code))),
  { disableErrorReporting: false }
)
