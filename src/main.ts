/**
 * The runnable node (`npm start`): parses the flags, then runs `runNode` (`daemon/NodeDaemon.ts`):
 * a production node (TCP peers, seed-file key, OS randomness) with the HTTP control API in
 * front of it. See `--help` and the README section "Running a node".
 *
 * Exit codes: 0 after SIGINT/SIGTERM (a requested stop is a clean stop), 1 when the node
 * cannot start (corrupt seed, address in use...) or fails, 2 for bad command-line flags.
 */
import { Result } from "effect"
import { parseFlags, usage } from "./daemon/NodeFlags.ts"

const parsed = parseFlags(process.argv.slice(2))
if (Result.isFailure(parsed)) {
  process.stderr.write(`error: ${parsed.failure}\n\n${usage}`)
  process.exitCode = 2
} else if (parsed.success._tag === "Help") {
  process.stdout.write(usage)
} else if (parsed.success._tag === "MigrateStore") {
  // --migrate-store FROM TO: copy the node's stores, verify, exit (SqlStoreChoice.migrateNodeStores)
  const { dataDir, from, to } = parsed.success
  void Promise.all([import("@effect/platform-node"), import("./layers/store/SqlStoreChoice.ts")]).then(([{ NodeRuntime }, { migrateNodeStores }]) =>
    NodeRuntime.runMain(migrateNodeStores(dataDir, from, to))
  )
} else {
  // Loaded only to run a node: the HTTP and peer stacks take a moment to import. (No top-level
  // await: every module of the package can be `require`d.)
  const config = parsed.success.config
  void Promise.all([import("@effect/platform-node"), import("./daemon/NodeDaemon.ts")]).then(([{ NodeRuntime }, { runNode, teardown }]) =>
    NodeRuntime.runMain(runNode(config), { disableErrorReporting: true, teardown })
  )
}
