/**
 * Store throughput (issue 12, "SQL stores"): monitor-update-sized writes per second per `Store`
 * layer, with one writer and with 100 concurrent channels.
 *
 * One write is what the local persister writes for one monitor update of one channel: ONE
 * atomic `Store.write` of the channel's state (1,500 bytes, put over the previous one) and the
 * update (300 bytes, `monitor/<channel>/u/<id>`, put with compare-and-set "absent"). One writer:
 * each write starts when the previous one is durable. 100 channels: 100 fibers, each writing its
 * own channel's updates one after the other; the layers group what arrives while a commit is in
 * flight (files: one fsync'ed batch file; SQL: one transaction).
 *
 * Layers: memory (no disk), files (`FileStore` on the real disk, in a temp directory under
 * os.tmpdir()), SQLite (`node:sqlite`, WAL, synchronous = FULL, a temp file), Postgres (a
 * throwaway server from `test/support/postgres.ts`, fsync on, default `synchronous_commit`;
 * skipped when PostgreSQL is not installed). Each run lasts STORE_BENCH_MS (default 2000) of
 * wall time after a short warm-up. Targets (issue 12): Postgres with group commit >= 2,000
 * updates/s from 100 channels; SQLite >= 5,000/s. Figures are printed against them, never asserted
 * (a shared machine, a slow disk).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, type Scope } from "effect"
import { makeFileStore } from "../src/layers/store/FileStore.ts"
import { makeMemoryStore } from "../src/layers/store/MemoryStore.ts"
import { makePostgresStore, makeSqliteStore } from "../src/layers/store/SqlStore.ts"
import { nodeStoreDisk } from "../src/layers/store/StoreDisk.ts"
import { putOp, type StoreShape } from "../src/services/Store.ts"
import { findPostgresBin, startPostgres } from "../test/support/postgres.ts"

const RUN_MS = Number(process.env["STORE_BENCH_MS"] ?? 2000)
const WARMUP_MS = 300
const STATE = new Uint8Array(1500).fill(7)
const UPDATE = new Uint8Array(300).fill(9)

interface Figure {
  /** Writes per second of wall time. */
  readonly rate: number
  /** CPU microseconds of this process per write (user + system: JavaScript, SQLite, fsync calls; not the Postgres server's). */
  readonly cpu: number
}

/** Writes per second with `writers` channels writing back to back for `ms`. */
const measure = (store: StoreShape, writers: number, ms: number, tag: string) =>
  Effect.gen(function*() {
    let done = 0
    const cpu0 = process.cpuUsage()
    const deadline = performance.now() + ms
    yield* Effect.forEach(
      Array.from({ length: writers }, (_, i) => i),
      (ch) =>
        Effect.gen(function*() {
          for (let id = 0; performance.now() < deadline; id++) {
            yield* store.write([putOp(`monitor/${tag}${ch}/state`, STATE), putOp(`monitor/${tag}${ch}/u/${String(id).padStart(20, "0")}`, UPDATE, 0)])
            done += 1
          }
        }),
      { concurrency: "unbounded", discard: true }
    )
    const cpu = process.cpuUsage(cpu0)
    const figure: Figure = { rate: (done * 1000) / ms, cpu: done === 0 ? 0 : (cpu.user + cpu.system) / done }
    return figure
  })

interface Row {
  readonly layer: string
  readonly one: Figure
  readonly hundred: Figure
  readonly target?: number
}

const runLayer = (layer: string, open: Effect.Effect<StoreShape, unknown, Scope.Scope>, target?: number) =>
  Effect.scoped(
    Effect.gen(function*() {
      const store = yield* open
      yield* measure(store, 1, WARMUP_MS, "w")
      const one = yield* measure(store, 1, RUN_MS, "a")
      const hundred = yield* measure(store, 100, RUN_MS, "b")
      const row: Row = target === undefined ? { layer, one, hundred } : { layer, one, hundred, target }
      return row
    })
  )

const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), prefix))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

const fmt = (f: Figure) => `${Math.round(f.rate).toLocaleString("en-US")} (${Math.round(f.cpu)} us)`

export const run = async (): Promise<void> => {
  console.log(`monitor-update writes (1,500-byte state + 300-byte update, one atomic write) per second, ${RUN_MS} ms per run`)
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${availableParallelism()} cores; in parentheses: CPU us of this process per write`)
  const rows: Array<Row> = []
  const program = Effect.gen(function*() {
    rows.push(yield* runLayer("memory", Effect.sync(() => makeMemoryStore().store)))
    rows.push(
      yield* runLayer(
        "files (fsync)",
        Effect.gen(function*() {
          const dir = yield* tempDir("effect-lightning-bench-files-")
          const disk = yield* nodeStoreDisk
          return yield* makeFileStore(disk, { directory: join(dir, "store") })
        }).pipe(Effect.provide(NodeFileSystem.layer))
      )
    )
    rows.push(
      yield* runLayer(
        "sqlite (WAL, synchronous=FULL)",
        Effect.flatMap(tempDir("effect-lightning-bench-sqlite-"), (dir) => makeSqliteStore({ filename: join(dir, "store.sqlite"), owner: "bench" })),
        5000
      )
    )
  })
  await Effect.runPromise(program)
  if (findPostgresBin() === undefined) console.log("postgres: skipped (PostgreSQL not installed: apt-get install -y postgresql)")
  else {
    const server = await startPostgres({ fsync: true })
    try {
      rows.push(await Effect.runPromise(runLayer("postgres (fsync on)", makePostgresStore({ url: server.url, owner: "bench" }), 2000)))
    } finally {
      await server.stop()
    }
  }
  console.log(`${"layer".padEnd(32)} ${"1 writer/s".padStart(16)} ${"100 channels/s".padStart(18)}   target (100 channels)`)
  for (const r of rows) {
    const verdict = r.target === undefined ? "" : `>= ${r.target.toLocaleString("en-US")}/s: ${r.hundred.rate >= r.target ? "met" : "NOT met"}`
    console.log(`${r.layer.padEnd(32)} ${fmt(r.one).padStart(16)} ${fmt(r.hundred).padStart(18)}   ${verdict}`)
  }
}
