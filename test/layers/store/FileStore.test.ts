import { assert, describe, it } from "@effect/vitest"
import { NodeFileSystem } from "@effect/platform-node"
import { Deferred, Effect, Exit, Fiber, FileSystem, Result, Scope } from "effect"
import { decodeStoreFile, encodeStoreFile, makeFileStore, type FileStoreOptions } from "../../../src/layers/store/FileStore.ts"
import { SimulatedDisk, type RecoveryMode } from "../../../src/layers/store/SimulatedDisk.ts"
import { nodeStoreDisk, type StoreDisk } from "../../../src/layers/store/StoreDisk.ts"
import { deleteOp, putOp, type StoreOp, type StoreShape } from "../../../src/services/Store.ts"
import { storeContract } from "./contract.ts"

const DIR = "/data/store"
const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))

const openOn = (disk: SimulatedDisk, options: Partial<FileStoreOptions> = {}) => makeFileStore(disk, { directory: DIR, ...options })

/** Opens the store on `disk`, runs `f`, closes it (a process lifetime). */
const session = <A, E>(disk: SimulatedDisk, f: (s: StoreShape) => Effect.Effect<A, E>, options: Partial<FileStoreOptions> = {}) =>
  Effect.scoped(Effect.flatMap(openOn(disk, options), f))

/** Every key and value, as text. */
const dump = (store: StoreShape) =>
  Effect.map(store.list(""), (entries) => Object.fromEntries(entries.map((e) => [e.key, text(e.value)])))

storeContract("FileStore (simulated disk)", () => openOn(new SimulatedDisk()))
storeContract("FileStore (simulated disk, snapshot every 2 batches)", () => openOn(new SimulatedDisk(), { compactAfterBatches: 2 }))


/** `sim` whose snapshot temp files wait for `gate` before they are written (a disk slow for snapshots only). */
const snapshotsAfter = (sim: SimulatedDisk, gate: Deferred.Deferred<void>): StoreDisk => ({
  ...sim,
  writeSynced: (path, data) => (path.endsWith(".snapshot.tmp") ? Effect.andThen(Deferred.await(gate), sim.writeSynced(path, data)) : sim.writeSynced(path, data))
})
describe("FileStore: files", () => {
  it.effect("a restart reads back exactly what was written, versions included", () =>
    Effect.gen(function*() {
      const disk = new SimulatedDisk()
      const before = yield* session(disk, (s) =>
        Effect.gen(function*() {
          yield* s.write([putOp("a", bytes("1")), putOp("b", bytes("2"))])
          yield* s.put("a", bytes("3"))
          yield* s.delete("b")
          yield* s.put("c", new Uint8Array(0))
          return yield* s.list("")
        })
      )
      const after = yield* session(disk, (s) => s.list(""))
      assert.deepStrictEqual(after, before)
      // versions keep increasing past a restart, even for a deleted-then-recreated key
      const v = yield* session(disk, (s) => s.put("b", bytes("new")))
      assert.isAbove(v, Math.max(...before.map((e) => e.version)))
    }))

  it.effect("a write is: its log slot (created at open) written and fsync'ed, then acknowledged", () =>
    Effect.gen(function*() {
      const disk = new SimulatedDisk()
      yield* session(
        disk,
        (s) =>
          Effect.gen(function*() {
            const start = disk.events.length
            yield* s.put("k", bytes("v"))
            assert.deepStrictEqual(disk.events.slice(start).map((e) => `${e.op} ${e.path.slice(DIR.length + 1)}`), ["write 00001.log", "fsync 00001.log"])
            // the ring: a snapshot every 4 batches, after which the slots are written over
            for (let i = 0; i < 8; i++) yield* s.put("k", bytes(String(i)))
            const again = disk.events.length
            yield* s.put("k", bytes("w"))
            assert.deepStrictEqual(disk.events.slice(again).map((e) => `${e.op} ${e.path.slice(DIR.length + 1)}`), ["write 00002.log", "fsync 00002.log"])
          }),
        { compactAfterBatches: 4 }
      )
      assert.deepStrictEqual(yield* session(disk, dump, { compactAfterBatches: 4 }), { k: "w" })
      // the slots were made durable at open: after a power loss they are all there
      disk.recover("durable")
      assert.deepStrictEqual([...disk.files().keys()].filter((p) => p.endsWith(".log")).length, 4)
    }))

  it.effect("concurrent writes are grouped into fewer fsyncs, each validated on its own", () =>
    Effect.gen(function*() {
      const disk = new SimulatedDisk()
      yield* session(disk, (s) =>
        Effect.gen(function*() {
          yield* s.put("taken", bytes("x"))
          const start = disk.events.length
          const results = yield* Effect.forEach(
            Array.from({ length: 200 }, (_, i) => i),
            (i) => Effect.exit(i % 50 === 7 ? s.put("taken", bytes("y"), 0) : s.put(`k/${i}`, bytes(String(i)))),
            { concurrency: "unbounded" }
          )
          const fsyncs = disk.events.slice(start).filter((e) => e.op === "fsyncDirectory").length
          assert.isBelow(fsyncs, 20)
          assert.strictEqual(results.filter(Exit.isFailure).length, 4)
          assert.strictEqual((yield* s.list("k/")).length, 196)
        })
      )
      assert.strictEqual((yield* session(disk, (s) => s.list("k/"))).length, 196)
    }))

  it.effect("group commit: a write with no group in flight commits at once; writes meanwhile form the next group; a close waits for the group in flight and fails what is queued", () =>
    Effect.gen(function*() {
      const sim = new SimulatedDisk()
      // every slot write waits for the gate (the disk is slow) and is counted
      const gate = yield* Deferred.make<void>()
      let slotWrites = 0
      const disk: StoreDisk = {
        ...sim,
        openOverwrite: (path) =>
          Effect.map(sim.openOverwrite(path), (h) => ({
            ...h,
            overwriteSynced: (data: Uint8Array) => Effect.andThen(Effect.andThen(Deferred.await(gate), Effect.sync(() => void slotWrites++)), h.overwriteSynced(data))
          }))
      }
      const scope = yield* Scope.make()
      const s = yield* makeFileStore(disk, { directory: DIR }).pipe(Scope.provide(scope))
      // the first write takes the disk at once; three more queue behind it
      const first = yield* Effect.forkChild(s.put("a", bytes("1")))
      yield* Effect.yieldNow
      const queued = yield* Effect.forkChild(Effect.forEach(["b", "c", "d"], (k) => s.put(k, bytes(k)), { concurrency: "unbounded" }))
      yield* Effect.yieldNow
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(first), 1)
      assert.deepStrictEqual(yield* Fiber.join(queued), [2, 3, 4])
      assert.strictEqual(slotWrites, 2) // [a], then [b, c, d] as one batch
      // a close while a group is being written: it waits for that group; a write queued behind it fails
      const gate2 = yield* Deferred.make<void>()
      const slowDisk: StoreDisk = { ...disk, openOverwrite: (path) => Effect.map(disk.openOverwrite(path), (h) => ({ ...h, overwriteSynced: (data: Uint8Array) => Effect.andThen(Deferred.await(gate2), h.overwriteSynced(data)) })) }
      const scope2 = yield* Scope.make()
      const s2 = yield* makeFileStore(slowDisk, { directory: `${DIR}2` }).pipe(Scope.provide(scope2))
      const inFlight = yield* Effect.forkChild(s2.put("x", bytes("1")))
      yield* Effect.yieldNow
      const behind = yield* Effect.forkChild(Effect.exit(s2.put("y", bytes("2"))))
      yield* Effect.yieldNow
      const closing = yield* Effect.forkChild(Scope.close(scope2, Exit.void))
      yield* Effect.yieldNow
      assert.isUndefined(closing.pollUnsafe()) // still waiting for the write in flight
      const refused = yield* Fiber.join(behind)
      assert.isTrue(Exit.isFailure(refused))
      yield* Deferred.succeed(gate2, undefined)
      assert.strictEqual(yield* Fiber.join(inFlight), 1)
      yield* Fiber.join(closing)
      assert.isTrue(Exit.isFailure(yield* Effect.exit(s2.put("z", bytes("3")))))
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* Effect.scoped(Effect.flatMap(makeFileStore(sim, { directory: `${DIR}2` }), dump)), { x: "1" })
      assert.deepStrictEqual(yield* session(sim, dump), { a: "1", b: "b", c: "c", d: "d" })
    }))

  it.effect("a snapshot is written in the background: the writes go on into free slots meanwhile; a slot it must free waits for it", () =>
    Effect.gen(function*() {
      const sim = new SimulatedDisk()
      // the snapshot's temp file waits for the gate (the disk is slow for it)
      const gate = yield* Deferred.make<void>()
      const disk = snapshotsAfter(sim, gate)
      const scope = yield* Scope.make()
      // a ring of 4 slots, a snapshot every 4 batches
      const s = yield* makeFileStore(disk, { directory: DIR, compactAfterBatches: 4 }).pipe(Scope.provide(scope))
      for (let i = 1; i <= 4; i++) assert.strictEqual(yield* s.put(`k${i}`, bytes(String(i))), i) // batch 4 makes the snapshot due
      yield* Effect.yieldNow
      assert.isFalse([...sim.files().keys()].some((p) => p.endsWith(".snapshot")))
      // batch 5 goes to slot 1, which holds batch 1: not covered until the snapshot is durable
      const fifth = yield* Effect.forkChild(s.put("k5", bytes("5")))
      yield* Effect.yieldNow
      assert.isUndefined(fifth.pollUnsafe())
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(fifth), 5)
      assert.isTrue(sim.files().has(`${DIR}/0000000000000004.snapshot`))
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* session(sim, dump, { compactAfterBatches: 4 }), { k1: "1", k2: "2", k3: "3", k4: "4", k5: "5" })
      // a close waits for the snapshot in flight
      const gate2 = yield* Deferred.make<void>()
      const slow = snapshotsAfter(sim, gate2)
      const scope2 = yield* Scope.make()
      const s2 = yield* makeFileStore(slow, { directory: DIR, compactAfterBatches: 4 }).pipe(Scope.provide(scope2))
      for (let i = 6; i <= 8; i++) yield* s2.put(`k${i}`, bytes(String(i))) // batch 8: a snapshot due
      const closing = yield* Effect.forkChild(Scope.close(scope2, Exit.void))
      yield* Effect.yieldNow
      assert.isUndefined(closing.pollUnsafe())
      yield* Deferred.succeed(gate2, undefined)
      yield* Fiber.join(closing)
      assert.isTrue(sim.files().has(`${DIR}/0000000000000008.snapshot`))
      assert.isFalse(sim.files().has(`${DIR}/0000000000000004.snapshot`))
      assert.strictEqual(Object.keys(yield* session(sim, dump, { compactAfterBatches: 4 })).length, 8)
    }))

  it.effect("a torn temp file (crash before its rename) is ignored and removed at start", () =>
    Effect.gen(function*() {
      const disk = new SimulatedDisk()
      yield* session(disk, (s) => s.put("k", bytes("v")))
      yield* disk.writeSynced(`${DIR}/0000000000000002.batch.tmp`, new Uint8Array([1, 2, 3]))
      yield* disk.writeSynced(`${DIR}/0000000000000009.snapshot.tmp`, new Uint8Array(0))
      yield* session(disk, (s) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* dump(s), { k: "v" })
          yield* s.put("k2", bytes("w"))
        })
      )
      assert.isFalse([...disk.files().keys()].some((p) => p.endsWith(".tmp")))
      assert.deepStrictEqual(yield* session(disk, dump), { k: "v", k2: "w" })
    }))

  it.effect("a slot's file is opened once and kept open for the store's life, then closed", () =>
    Effect.gen(function*() {
      const sim = new SimulatedDisk()
      let opened = 0
      let closed = 0
      // (the simulated disk's operations are arrow fields bound to it: a spread keeps them)
      const disk: StoreDisk = {
        ...sim,
        openOverwrite: (path) =>
          Effect.map(sim.openOverwrite(path), (h) => {
            opened++
            return { ...h, close: Effect.andThen(h.close, Effect.sync(() => void closed++)) }
          })
      }
      yield* Effect.scoped(Effect.gen(function*() {
        const s = yield* makeFileStore(disk, { directory: DIR, compactAfterBatches: 4 })
        for (let i = 0; i < 20; i++) yield* s.put("k", bytes(String(i)))
        assert.strictEqual(opened, 4) // 20 batches over a ring of 4 slots
        assert.strictEqual(closed, 0)
      }))
      assert.strictEqual(closed, 4)
      assert.deepStrictEqual(yield* session(sim, dump, { compactAfterBatches: 4 }), { k: "19" })
    }))

  it.effect("a slot is written over in place: a shorter batch leaves an older batch's tail after its CRC, ignored at start", () =>
    Effect.gen(function*() {
      const disk = new SimulatedDisk()
      const options = { compactAfterBatches: 2 }
      // batch 1 (long) in slot 1, batch 2 in slot 0, a snapshot; batch 3 (short) over slot 1
      yield* session(disk, (s) => Effect.gen(function*() {
        yield* s.put("long", bytes("x".repeat(500)))
        yield* s.put("a", bytes("1"))
        yield* s.put("b", bytes("2"))
      }), options)
      const slot = disk.files().get(`${DIR}/00001.log`)!
      const decoded = Result.getOrThrow(decodeStoreFile(slot, { trailing: true }))
      assert.strictEqual(decoded.seq, 3)
      assert.isAbove(slot.length, encodeStoreFile(decoded).length) // the older batch's tail is there
      assert.isTrue(Result.isFailure(decodeStoreFile(slot))) // (a whole file must end at its CRC)
      disk.recover("durable")
      assert.deepStrictEqual(yield* session(disk, dump, options), { long: "x".repeat(500), a: "1", b: "2" })
      // the tail of a slot never makes a torn or missing batch readable: cut inside the batch, it is torn
      disk.corrupt(`${DIR}/00001.log`, (d) => Uint8Array.from([...d.subarray(0, 40), ...d.subarray(60)]))
      assert.deepStrictEqual(yield* session(disk, dump, options), { long: "x".repeat(500), a: "1" })
    }))

  it.effect("damage is refused at open, and nothing is deleted; a torn newest slot loses only its batch", () =>
    Effect.gen(function*() {
      const three = (disk: SimulatedDisk) => session(disk, (s) => Effect.forEach([1, 2, 3], (i) => s.put(`k${i}`, bytes(String(i)))))
      const flip = (d: Uint8Array) => d.map((b, i) => (i === 30 ? b ^ 1 : b))

      const middle = new SimulatedDisk()
      yield* three(middle)
      const files = new Map(middle.files())
      middle.corrupt(`${DIR}/00002.log`, flip)
      assert.deepInclude(yield* Effect.flip(session(middle, dump)), { _tag: "StoreCorrupt", reason: "missing batch" })
      assert.deepStrictEqual([...middle.files().keys()].sort(), [...files.keys()].sort())

      const gap = new SimulatedDisk()
      yield* three(gap)
      yield* gap.remove(`${DIR}/00002.log`)
      assert.deepInclude(yield* Effect.flip(session(gap, dump)), { _tag: "StoreCorrupt", reason: "missing batch" })

      const two = new SimulatedDisk()
      yield* three(two)
      two.corrupt(`${DIR}/00003.log`, flip)
      two.corrupt(`${DIR}/00001.log`, flip)
      const refused = yield* Effect.flip(session(two, dump))
      assert.strictEqual(refused._tag, "StoreCorrupt")

      // a crash tearing the newest slot: its batch (never acknowledged) is lost, the rest loads, writing goes on
      const torn = new SimulatedDisk()
      yield* three(torn)
      torn.corrupt(`${DIR}/00003.log`, (d) => d.subarray(0, 20))
      assert.deepStrictEqual(yield* session(torn, dump), { k1: "1", k2: "2" })
      yield* session(torn, (s) => s.put("k4", bytes("4")))
      assert.deepStrictEqual(yield* session(torn, dump), { k1: "1", k2: "2", k4: "4" })
    }))

  it.effect("batch files of the older layout are read at start and removed by the next snapshot", () =>
    Effect.gen(function*() {
      const disk = new SimulatedDisk()
      yield* disk.makeDirectory(DIR)
      const put = (key: string, value: string, version: number) => ({ op: putOp(key, bytes(value)), version })
      yield* disk.writeSynced(`${DIR}/0000000000000001.batch`, encodeStoreFile({ kind: "batch", seq: 1, lastVersion: 1, records: [put("a", "1", 1)] }))
      yield* disk.writeSynced(`${DIR}/0000000000000002.batch`, encodeStoreFile({ kind: "batch", seq: 2, lastVersion: 2, records: [put("b", "2", 2)] }))
      const options = { compactAfterBatches: 4 }
      yield* session(disk, (s) => Effect.gen(function*() {
        assert.deepStrictEqual(yield* dump(s), { a: "1", b: "2" })
        assert.strictEqual(yield* s.put("c", bytes("3")), 3)
      }), options)
      assert.isTrue(disk.files().has(`${DIR}/00003.log`))
      yield* session(disk, (s) => Effect.forEach([4, 5], (i) => s.put(`k${i}`, bytes(String(i)))), options)
      const names = [...disk.files().keys()].map((p) => p.slice(DIR.length + 1)).sort()
      assert.deepStrictEqual(names.filter((n) => n.endsWith(".batch")), [])
      assert.deepStrictEqual(yield* session(disk, dump, options), { a: "1", b: "2", c: "3", k4: "4", k5: "5" })
    }))

  it.effect("an I/O error at any step of a write fails it, changes nothing, and the next write goes on", () =>
    Effect.gen(function*() {
      // the steps of a write: write its slot, fsync it
      for (let step = 0; step < 2; step++) {
        const disk = new SimulatedDisk()
        yield* session(disk, (s) =>
          Effect.gen(function*() {
            yield* s.put("k", bytes("1"))
            disk.failNext(1, step)
            const failed = yield* Effect.flip(s.put("k", bytes("2")))
            assert.strictEqual(failed._tag, "StoreError")
            assert.strictEqual(text((yield* s.get("k"))?.value), "1")
            assert.deepStrictEqual(yield* dump(s), { k: "1" })
          })
        )
        assert.deepStrictEqual(yield* session(disk, dump), { k: "1" }, `after a failure at step ${step}`)
        yield* session(disk, (s) => s.put("k", bytes("3")))
        assert.deepStrictEqual(yield* session(disk, dump), { k: "3" })
        assert.isFalse([...disk.files().keys()].some((p) => p.endsWith(".tmp")))
      }
    }))

  it.effect("snapshots cover the batches before them; a restart reads snapshot + later batches", () =>
    Effect.gen(function*() {
      const disk = new SimulatedDisk()
      const expected = yield* session(
        disk,
        (s) =>
          Effect.gen(function*() {
            for (let i = 0; i < 25; i++) yield* s.write([putOp(`k/${i % 7}`, bytes(String(i))), ...(i % 5 === 4 ? [deleteOp(`k/${(i + 1) % 7}`)] : [])])
            return yield* s.list("")
          }),
        { compactAfterBatches: 8 }
      )
      const names = [...disk.files().keys()].map((p) => p.slice(DIR.length + 1)).sort()
      // the snapshot of batch 24, and the 8 slots (only the one of batch 25 is read: the others hold covered batches)
      assert.deepStrictEqual(names, ["00000.log", "0000000000000024.snapshot", "00001.log", "00002.log", "00003.log", "00004.log", "00005.log", "00006.log", "00007.log"])
      assert.deepStrictEqual(yield* session(disk, (s) => s.list("")), expected)
    }))
})

/**
 * The crash test: run `script` (a sequence of writes) on a fresh disk that crashes at mutating
 * step k, for every k until the script completes; after each crash, recover the disk (both
 * modes) and reopen. The store must hold exactly the state after some prefix of the writes, at
 * least every acknowledged one, at most one more (the one in flight).
 */
const crashEverywhere = (
  script: ReadonlyArray<ReadonlyArray<StoreOp>>,
  options: Partial<FileStoreOptions>,
  mode: RecoveryMode
) =>
  Effect.gen(function*() {
    // the states after each prefix, from a run without crash
    const states: Array<Record<string, string | undefined>> = []
    const clean = new SimulatedDisk()
    yield* session(
      clean,
      (s) =>
        Effect.gen(function*() {
          states.push(yield* dump(s))
          for (const ops of script) {
            yield* s.write(ops)
            states.push(yield* dump(s))
          }
        }),
      options
    )
    let crashes = 0
    for (let k = 0; ; k++) {
      const disk = new SimulatedDisk()
      let acknowledged = 0
      disk.crashAfter(k)
      const run = yield* Effect.exit(
        session(
          disk,
          (s) =>
            Effect.gen(function*() {
              for (const ops of script) {
                yield* s.write(ops)
                acknowledged += 1
              }
            }),
          options
        )
      )
      if (Exit.isSuccess(run) && !disk.isCrashed) break
      crashes += 1
      disk.recover(mode)
      const recovered = yield* session(disk, dump, options)
      const candidates = [acknowledged, acknowledged + 1].filter((i) => i < states.length)
      assert.isTrue(
        candidates.some((i) => JSON.stringify(states[i]) === JSON.stringify(recovered)),
        `crash at step ${k} (${mode}): ${JSON.stringify(recovered)} is not state ${candidates.join(" or ")}`
      )
      // and the recovered store keeps working
      yield* session(disk, (s) => s.put("after-crash", bytes("ok")), options)
      assert.strictEqual((yield* session(disk, dump, options))["after-crash"], "ok")
    }
    // a write is two steps (slot write, fsync), and the open creates the slots
    assert.isAbove(crashes, script.length * 2)
  })

const script: ReadonlyArray<ReadonlyArray<StoreOp>> = [
  [putOp("a", bytes("1")), putOp("b", bytes("1"))],
  [putOp("a", bytes("2")), putOp("b", bytes("2")), putOp("c", bytes("2"))],
  [deleteOp("c"), putOp("a", bytes("3"))],
  [putOp("b", bytes("4"))],
  [putOp("a", bytes("5")), putOp("c", bytes("5"))],
  [deleteOp("a"), deleteOp("b")]
]

describe("FileStore: a crash at any point loses nothing acknowledged and tears nothing", () => {
  for (const mode of ["durable", "metadata"] as const) {
    // (16 slots rather than the default 256: the open creates every slot, one crash point each)
    it.effect(`writes (${mode})`, () => crashEverywhere(script, { logSlots: 16 }, mode))
    it.effect(`writes with snapshots (${mode})`, () => crashEverywhere(script, { compactAfterBatches: 2 }, mode))
    it.effect(`writes reusing one slot (${mode})`, () => crashEverywhere(script, { logSlots: 1 }, mode))
  }
})

describe("FileStore: format", () => {
  it("round-trips and rejects any single flipped bit", () => {
    const file = encodeStoreFile({
      kind: "batch",
      seq: 7,
      lastVersion: 9,
      records: [
        { op: putOp("a/b", bytes("value")), version: 8 },
        { op: deleteOp("c"), version: 9 }
      ]
    })
    const back = decodeStoreFile(file)
    assert.isTrue(Result.isSuccess(back))
    if (Result.isSuccess(back)) {
      assert.strictEqual(back.success.seq, 7)
      assert.strictEqual(back.success.records.length, 2)
    }
    for (let i = 0; i < file.length * 8; i += 7) {
      const damaged = Uint8Array.from(file)
      damaged[i >> 3] = (damaged[i >> 3] ?? 0) ^ (1 << (i & 7))
      assert.isTrue(Result.isFailure(decodeStoreFile(damaged)), `bit ${i}`)
    }
    assert.isTrue(Result.isFailure(decodeStoreFile(file.subarray(0, file.length - 1))))
  })
})

describe("FileStore: on the real disk", () => {
  it.effect("writes, reopens, and leaves only its files", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const disk = yield* nodeStoreDisk
      const options = { directory: `${dir}/store` }
      yield* Effect.scoped(
        Effect.gen(function*() {
          const s = yield* makeFileStore(disk, options)
          const fibers = yield* Effect.forEach(Array.from({ length: 30 }, (_, i) => i), (i) => Effect.forkChild(s.put(`k/${i}`, bytes(String(i)))))
          yield* Effect.forEach(fibers, Fiber.join)
          yield* s.write([putOp("x", bytes("1")), deleteOp("k/0")])
        })
      )
      const reopened = yield* Effect.scoped(Effect.flatMap(makeFileStore(disk, options), (s) => s.list("")))
      assert.strictEqual(reopened.length, 30)
      assert.isFalse((yield* fs.readDirectory(`${dir}/store`)).some((n) => n.endsWith(".tmp")))
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
