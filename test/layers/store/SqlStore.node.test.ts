/**
 * `NodeLive` on the SQLite store (`--store sqlite`): the node keeps its three stores in
 * `DIR/<name>.sqlite`, a second node on the same data directory is refused with `StoreOwned`
 * while the first runs, and the node restarts on what it wrote.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, FileSystem, Layer } from "effect"
import { ChannelManager } from "../../../src/actors/ChannelManager.ts"
import * as NodeLive from "../../../src/node/NodeLive.ts"

describe("NodeLive with --store sqlite", () => {
  it.live("three SQLite stores in the data directory, one node at a time, and a restart", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-sqlnode-" })
      const options = { dataDir, listen: { host: "127.0.0.1", port: 0 }, store: { kind: "sqlite" } } as const
      yield* Effect.scoped(
        Effect.gen(function*() {
          const context = yield* Layer.build(NodeLive.layer(options))
          assert.deepStrictEqual(yield* Context.get(context, ChannelManager).listChannels, [])
          for (const name of ["channels", "payments", "graph"]) assert.isTrue(existsSync(join(dataDir, `${name}.sqlite`)), name)
          // a second node on the same data directory is refused while this one runs
          const second = yield* Effect.flip(Effect.scoped(Layer.build(NodeLive.layer(options))))
          assert.include(JSON.stringify(second), "StoreOwned")
        })
      )
      // stopped: the next start gets the stores
      const restarted = yield* Effect.scoped(
        Effect.flatMap(Layer.build(NodeLive.layer(options)), (context) => Context.get(context, ChannelManager).listChannels)
      )
      assert.deepStrictEqual(restarted, [])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
