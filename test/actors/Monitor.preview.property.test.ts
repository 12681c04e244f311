/**
 * `MonitorHandle.preview` + `commit` (the manager's persist path: the state after a write's
 * updates, computed once for the persister's compaction and then handed over) against the plain
 * form, `applyNow` one update at a time: for any valid log cut into writes, with updates refused on
 * the way (out of order, repeated, before `Opened`), the same state after every write and the same
 * refusals in the same order. A commit of a preview made from an older state applies its updates
 * again (same result as `applyNow`).
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { makeMonitorSync } from "../../src/actors/Monitor.ts"
import type { MonitorUpdate } from "../../src/protocol/monitor/update.ts"
import { arbitraryLog, secp } from "../protocol/monitor/fixtures.ts"

/** A log cut into writes, some updates dropped or repeated (refusals), or moved ahead. */
const writesArb = arbitraryLog(40).chain((log) =>
  fc
    .array(fc.record({ take: fc.integer({ min: 1, max: 5 }), fault: fc.constantFrom("none", "none", "none", "drop", "repeat", "swap") }), { maxLength: 30 })
    .map((cuts) => {
      const writes: Array<Array<MonitorUpdate>> = []
      let at = 0
      for (const { take, fault } of cuts) {
        if (at >= log.length) break
        const w = log.slice(at, at + take)
        at += take
        if (fault === "drop") w.shift()
        else if (fault === "repeat" && w[0] !== undefined) w.push(w[0])
        else if (fault === "swap" && w.length >= 2) w.reverse()
        writes.push(w)
      }
      return writes
    })
)

const describeRefusal = (u: MonitorUpdate, tag: string) => `${u.updateId} ${u._tag} ${tag}`

describe("Monitor preview and commit", () => {
  it("give the states and refusals of applyNow one by one", () => {
    fc.assert(
      fc.property(writesArb, fc.boolean(), (writes, staleEvery) => {
        const plain = makeMonitorSync({ name: "plain", secp })
        const previewed = makeMonitorSync({ name: "previewed", secp })
        /** Now and then, the next write's preview is made before this write is committed (stale then): commit applies it again. */
        let early: ReturnType<typeof previewed.preview> | undefined
        for (const [k, w] of writes.entries()) {
          const expected: Array<string> = []
          for (const u of w) {
            const refused = plain.applyNow(u)
            if (refused !== undefined) expected.push(describeRefusal(u, refused._tag))
          }
          const preview = early ?? previewed.preview(w)
          const next = writes[k + 1]
          early = staleEvery && k % 3 === 1 && next !== undefined ? previewed.preview(next) : undefined
          const refusals = previewed.commit(preview) ?? []
          assert.deepStrictEqual(refusals.map((r) => describeRefusal(r.update, r.error._tag)), expected)
          assert.deepStrictEqual(previewed.preview([]).state, plain.preview([]).state)
        }
      }),
      { numRuns: 150, seed: 7 }
    )
  })
})
