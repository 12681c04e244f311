/**
 * `done` (the end of every step) returns the state as it is when the step numbered no monitor
 * update, and a copy with the next update id otherwise (a `Normal` copied by `makeNormal`). The
 * first case is the fast path: it must keep the state object (a copy would be the same value, so
 * only identity shows it is taken).
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { done, newOut, persist, step } from "../../../src/protocol/channel/step.ts"
import { makeNormal } from "../../../src/protocol/channel/state.ts"
import { newPair } from "./step-harness.ts"

const normalState = () => {
  const p = newPair()
  p.open()
  const s = p.a.state
  if (s === undefined || s._tag !== "Normal") throw new Error(`expected Normal, got ${p.a.phase}`)
  return { p, s }
}

describe("done", () => {
  it("keeps the state object when no update was numbered (no copy)", () => {
    const { s } = normalState()
    const r = done(newOut(s.nextUpdateId), s)
    expect(Result.isSuccess(r) && r.success.state).toBe(s)
  })

  it("copies the state with the next update id when an update was numbered", () => {
    const { s } = normalState()
    const out = newOut(s.nextUpdateId)
    persist(out, { _tag: "PaymentPreimage", updateId: out.nextUpdateId, preimage: new Uint8Array(32) })
    const r = done(out, s)
    if (Result.isFailure(r)) throw new Error("done failed")
    expect(r.success.state).not.toBe(s)
    expect(r.success.state.nextUpdateId).toBe(s.nextUpdateId + 1n)
    // (The harness's state is the decoded one, without the optional fields it lacks: the copy has them all, `undefined`.)
    expect({ ...r.success.state, nextUpdateId: s.nextUpdateId }).toStrictEqual(makeNormal(s))
    expect(s.nextUpdateId).toBe(out.nextUpdateId - 1n)
  })

  it("numbers updates in order: an update made with another id than the next is refused (a bug), nothing emitted", () => {
    const out = newOut(7n)
    expect(() => persist(out, { _tag: "PaymentPreimage", updateId: 8n, preimage: new Uint8Array(32) })).toThrow(RangeError)
    expect(out.outputs).toStrictEqual([])
    persist(out, { _tag: "PaymentPreimage", updateId: out.nextUpdateId, preimage: new Uint8Array(32) })
    persist(out, { _tag: "PaymentPreimage", updateId: out.nextUpdateId, preimage: new Uint8Array(32) })
    expect(out.outputs.map((o) => (o._tag === "Persist" ? o.update.updateId : undefined))).toStrictEqual([7n, 8n])
    expect(out.nextUpdateId).toBe(9n)
  })

  it("a step that changes nothing returns its input state itself", () => {
    const { p, s } = normalState()
    const r = step(p.a.ctx, s, { _tag: "Tick", nowMillis: 0 })
    expect(Result.isSuccess(r) && r.success.state).toBe(s)
    expect(Result.isSuccess(r) && r.success.outputs).toStrictEqual([])
  })
})
