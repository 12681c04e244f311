/**
 * The files store's owner lock (`LOCK`): one open store per directory. A second opener is
 * refused with `StoreOwned` while the holder runs (another store in this process, or another
 * live process), the lock goes at close, and a stale lock (dead pid, this pid with a token no
 * open store holds, unreadable) is taken over. The conformance suite (`conformance.test.ts`)
 * checks the same rule through the shared ownership case; here are the cases it cannot reach.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, FileSystem, Layer } from "effect"
import { ChannelManager } from "../../../src/actors/ChannelManager.ts"
import { PeerManager } from "../../../src/actors/PeerManager.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import * as NodeLive from "../../../src/node/NodeLive.ts"
import { LOCK_FILE, makeFileStore } from "../../../src/layers/store/FileStore.ts"
import { SimulatedDisk } from "../../../src/layers/store/SimulatedDisk.ts"
import { nodeStoreDisk } from "../../../src/layers/store/StoreDisk.ts"
import type { StoreShape } from "../../../src/services/Store.ts"

const DIR = "/data/store"
const LOCK = `${DIR}/${LOCK_FILE}`
const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))
const dump = (store: StoreShape) => Effect.map(store.list(""), (entries) => Object.fromEntries(entries.map((e) => [e.key, text(e.value)])))

/** A LOCK as another process (or an earlier instance) would have left it. */
const lockOf = (pid: number, token: string, owner: string) => bytes(`effect-lightning store lock\npid ${pid}\ntoken ${token}\nowner ${owner}\n`)

/** A pid that ran and is gone: a child that exited (and was reaped). */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", ""])
  if (child.pid === undefined) throw new Error("no child pid")
  return child.pid
}

describe("FileStore owner lock (simulated disk)", () => {
  it.effect("the LOCK names the holder while open, is removed at close, and a refused opener changes nothing", () =>
    Effect.gen(function*() {
      const disk = new SimulatedDisk()
      yield* Effect.scoped(
        Effect.gen(function*() {
          const s = yield* makeFileStore(disk, { directory: DIR, owner: "node 02ab" })
          yield* s.put("k", bytes("v"))
          const lock = text(disk.files().get(LOCK))
          assert.include(lock, "pid 1\n")
          assert.include(lock, "owner node 02ab\n")
          const files = new Map(disk.files())
          const refused = yield* Effect.flip(Effect.scoped(makeFileStore(disk, { directory: DIR, owner: "node 03cd" })))
          assert.strictEqual(refused._tag, "StoreOwned")
          assert.include(refused.message, "node 02ab")
          assert.deepStrictEqual(disk.files(), files)
          // the holder is unaffected
          yield* s.put("k2", bytes("w"))
        })
      )
      assert.isFalse(disk.files().has(LOCK))
      assert.deepStrictEqual(yield* Effect.scoped(Effect.flatMap(makeFileStore(disk, { directory: DIR }), dump)), { k: "v", k2: "w" })
    }))

  it.effect("the same directory on two simulated disks is two stores; two directories on one disk are two stores", () =>
    Effect.gen(function*() {
      const a = new SimulatedDisk()
      const b = new SimulatedDisk()
      yield* Effect.scoped(
        Effect.gen(function*() {
          const onA = yield* makeFileStore(a, { directory: DIR })
          const onB = yield* makeFileStore(b, { directory: DIR })
          const other = yield* makeFileStore(a, { directory: "/data/other" })
          yield* onA.put("k", bytes("a"))
          yield* onB.put("k", bytes("b"))
          yield* other.put("k", bytes("o"))
          assert.strictEqual(text((yield* onA.get("k"))?.value), "a")
        })
      )
    }))

  it.effect("another running process holds it: refused; once it is gone, its lock is stale and taken over", () =>
    Effect.gen(function*() {
      const disk = new SimulatedDisk()
      yield* Effect.scoped(Effect.flatMap(makeFileStore(disk, { directory: DIR }), (s) => s.put("k", bytes("v"))))
      disk.otherProcesses.add(4242)
      yield* disk.writeSynced(LOCK, lockOf(4242, "4242.1", "node elsewhere"))
      const refused = yield* Effect.flip(Effect.scoped(makeFileStore(disk, { directory: DIR })))
      assert.strictEqual(refused._tag, "StoreOwned")
      assert.include(refused.message, "node elsewhere (pid 4242)")
      assert.include(refused.message, `remove ${LOCK}`)
      assert.strictEqual(text(disk.files().get(LOCK)), text(lockOf(4242, "4242.1", "node elsewhere")))
      disk.otherProcesses.delete(4242)
      const seen = yield* Effect.scoped(
        Effect.gen(function*() {
          const s = yield* makeFileStore(disk, { directory: DIR, owner: "node here" })
          assert.include(text(disk.files().get(LOCK)), "owner node here\n")
          return yield* dump(s)
        })
      )
      assert.deepStrictEqual(seen, { k: "v" })
      assert.isFalse(disk.files().has(LOCK))
    }))

  it.effect("an instance of this process whose scope closed without removing its LOCK left a stale lock", () =>
    Effect.gen(function*() {
      const disk = new SimulatedDisk()
      yield* Effect.scoped(
        Effect.gen(function*() {
          yield* makeFileStore(disk, { directory: DIR, owner: "first" })
          // the removal of the LOCK at close fails (an I/O error): the file stays, complete
          disk.failNext(1)
        })
      )
      assert.include(text(disk.files().get(LOCK)), "owner first\n")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const s = yield* makeFileStore(disk, { directory: DIR, owner: "second" })
          yield* s.put("k", bytes("v"))
          assert.include(text(disk.files().get(LOCK)), "owner second\n")
          // while "second" is open, its LOCK (this pid, a held token) is not stale
          assert.strictEqual((yield* Effect.flip(Effect.scoped(makeFileStore(disk, { directory: DIR }))))._tag, "StoreOwned")
        })
      )
    }))

  it.effect("a crash while the store is open: the restart after power comes back takes the store over", () =>
    Effect.gen(function*() {
      for (const mode of ["durable", "metadata"] as const) {
        const disk = new SimulatedDisk()
        yield* Effect.scoped(Effect.flatMap(makeFileStore(disk, { directory: DIR }), (s) => s.put("k", bytes("v"))))
        disk.crashAfter(6)
        const run = yield* Effect.exit(
          Effect.scoped(
            Effect.gen(function*() {
              const s = yield* makeFileStore(disk, { directory: DIR, owner: "crashing" })
              for (let i = 0; i < 10; i++) yield* s.put(`c/${i}`, bytes("c"))
            })
          )
        )
        assert.isTrue(disk.isCrashed && run._tag === "Failure", mode)
        disk.recover(mode)
        const seen = yield* Effect.scoped(Effect.flatMap(makeFileStore(disk, { directory: DIR }), dump))
        assert.strictEqual(seen["k"], "v", mode)
      }
    }))
})

describe("FileStore owner lock (real disk)", () => {
  it.effect("two opens in this process, even by two spellings of the path, are refused; a live process's lock too; a dead one's is taken over", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-filelock-" })
      const disk = yield* nodeStoreDisk
      const directory = join(dir, "store")
      const lock = join(directory, LOCK_FILE)
      yield* Effect.scoped(
        Effect.gen(function*() {
          const s = yield* makeFileStore(disk, { directory, owner: "node a" })
          yield* s.put("k", bytes("v"))
          assert.include(readFileSync(lock, "utf8"), `pid ${process.pid}\n`)
          const alias = `${dir}/./elsewhere/../store`
          const refused = yield* Effect.flip(Effect.scoped(makeFileStore(disk, { directory: alias })))
          assert.strictEqual(refused._tag, "StoreOwned")
          assert.include(refused.message, "node a")
        })
      )
      assert.isFalse(existsSync(lock))

      // a live process that is not this one (our parent) holds it
      const foreign = lockOf(process.ppid, `${process.ppid}.1`, "node b")
      writeFileSync(lock, foreign)
      const refused = yield* Effect.flip(Effect.scoped(makeFileStore(disk, { directory })))
      assert.strictEqual(refused._tag, "StoreOwned")
      assert.include(refused.message, `node b (pid ${process.ppid})`)
      assert.deepStrictEqual(new Uint8Array(readFileSync(lock)), foreign)

      // its process is gone: stale, taken over; then released at close
      writeFileSync(lock, lockOf(deadPid(), "1.1", "node c"))
      const seen = yield* Effect.scoped(
        Effect.gen(function*() {
          const s = yield* makeFileStore(disk, { directory, owner: "node d" })
          assert.include(readFileSync(lock, "utf8"), "owner node d\n")
          return yield* dump(s)
        })
      )
      assert.deepStrictEqual(seen, { k: "v" })
      assert.isFalse(existsSync(lock))

      // an unreadable lock (torn by a crash while written) is taken over too
      writeFileSync(lock, new Uint8Array(0))
      assert.deepStrictEqual(yield* Effect.scoped(Effect.flatMap(makeFileStore(disk, { directory }), dump)), { k: "v" })
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.live("NodeLive on the files store: a second node on the same data directory is refused while the first runs", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-filenode-" })
      const options = { dataDir, listen: { host: "127.0.0.1", port: 0 } } as const
      yield* Effect.scoped(
        Effect.gen(function*() {
          const context = yield* Layer.build(NodeLive.layer(options))
          assert.deepStrictEqual(yield* Context.get(context, ChannelManager).listChannels, [])
          assert.isTrue(existsSync(join(dataDir, "channels", LOCK_FILE)))
          const second = yield* Effect.flip(Effect.scoped(Layer.build(NodeLive.layer(options))))
          assert.include(JSON.stringify(second), "StoreOwned")
          // The lock names the holder: this node.
          const nodeId = toHex(Context.get(context, PeerManager).nodeId)
          assert.include(readFileSync(join(dataDir, "channels", LOCK_FILE), "utf8"), `node ${nodeId}`)
          assert.include(String(second), `node ${nodeId}`)
        })
      )
      assert.isFalse(existsSync(join(dataDir, "channels", LOCK_FILE)))
      const restarted = yield* Effect.scoped(
        Effect.flatMap(Layer.build(NodeLive.layer(options)), (context) => Context.get(context, ChannelManager).listChannels)
      )
      assert.deepStrictEqual(restarted, [])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
