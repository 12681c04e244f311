#!/usr/bin/env node
/**
 * The `effect-lightning` executable (`bin` of the package; `npm run cli -- ...` in the
 * repository): the node daemon (`start`) and the client of a running node. See
 * `commands.ts` for the commands and the exit codes.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit } from "effect"
import { CliError } from "effect/cli"
import { createRequire } from "node:module"
import { CliFailure, EXIT_USAGE, runCli } from "./commands.ts"

const packageVersion = (): string => {
  try {
    const pkg: unknown = createRequire(import.meta.url)("../../package.json")
    const version = typeof pkg === "object" && pkg !== null ? Reflect.get(pkg, "version") : undefined
    return typeof version === "string" ? version : "unknown"
  } catch {
    return "unknown"
  }
}

/** The exit code of a finished run: see `commands.ts`. A requested stop (SIGINT/SIGTERM) is 0. */
export const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return 0
  const error = Cause.squash(exit.cause)
  if (error instanceof CliFailure) return error.exitCode
  if (CliError.isCliError(error)) return EXIT_USAGE
  return 1
}

const program = runCli(process.argv.slice(2), packageVersion()).pipe(
  // Our own failures are printed here; the CLI module prints its parse errors itself.
  Effect.tapError((error) => (error instanceof CliFailure ? Console.error(`error: ${error.message}`) : Effect.void)),
  Effect.provide(NodeServices.layer)
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => onExit(exitCode(exit))
})
